"""Dates as bills and LOAs print them, read in US month/day order.

"November 2, 2026", "Nov 02, 2026", "Nov 2 2026", "11/02/2026", "11/02/26",
"2026-11-02", "02-NOV-2026", "2 November 2026".
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_MONTHS = {
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "may": 5,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
    # French (Québec bills): janvier, février, mars, avril, mai, juin, juillet, août, ...
    "fév": 2,
    "fev": 2,
    "avr": 4,
    "mai": 5,
    "aoû": 8,
    "aou": 8,
    "déc": 12,  # juin, juil: below
}

_MONTH = (
    r"(?P<mon>jan(?:uary|vier)?|feb(?:ruary)?|f[ée]v(?:rier)?|mar(?:ch|s)?|apr(?:il)?|avr(?:il)?"
    r"|may|mai|june?|juin|july?|juil(?:let)?|aug(?:ust)?|ao[uû]t|sep(?:t(?:ember|embre)?)?"
    r"|oct(?:ober|obre)?|nov(?:ember|embre)?|d[ée]c(?:ember|embre)?)\.?"
)

# Each alternative names its groups; the order matters only for overlaps.
_PATTERNS: tuple[re.Pattern[str], ...] = (
    # 2026-11-02, 2026/11/02
    re.compile(r"(?<!\d)(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})(?!\d)"),
    # 11/02/2026, 11-02-26, 11.02.2026
    re.compile(r"(?<![\d/.-])(?P<m>\d{1,2})([-/.])(?P<d>\d{1,2})\2(?P<y>\d{4}|\d{2})(?![\d/])"),
    # November 2, 2026 / Nov 02 2026 / Nov. 2nd, 2026
    re.compile(
        rf"(?<![A-Za-z]){_MONTH}\s*(?P<d>\d{{1,2}})(?:st|nd|rd|th)?(?!\d)\s*,?\s*(?P<y>\d{{4}})(?!\d)",
        re.IGNORECASE,
    ),
    # 02-NOV-2026, 2 November 2026, 02 Nov, 2026, 1er décembre 2026
    re.compile(
        rf"(?<!\d)(?P<d>\d{{1,2}})(?:st|nd|rd|th|er)?[\s\-/]*{_MONTH}(?![A-Za-z])[\s\-/,]*(?P<y>\d{{4}}|\d{{2}})(?!\d)",
        re.IGNORECASE,
    ),
)


@dataclass(frozen=True)
class FoundDate:
    date: dt.date
    start: int
    end: int
    text: str


def _month_number(word: str) -> int:
    low = word.lower().rstrip(".")
    if low.startswith("juil"):
        return 7
    if low.startswith("juin"):
        return 6
    return _MONTHS.get(low[:3], 0)


def _year(raw: str) -> int:
    year = int(raw)
    if len(raw) == 2:
        year += 2000 if year < 70 else 1900
    return year


def _build(match: re.Match[str]) -> dt.date | None:
    groups = match.groupdict()
    mon = groups.get("mon")
    month = _month_number(mon) if mon else int(groups["m"])
    day = int(groups["d"])
    year = _year(groups["y"])
    if not mon and month > 12 and day <= 12:
        month, day = day, month  # 13/02/2026 can only be day first (Canadian bills)
    if not 1900 <= year <= 2200:
        return None
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def find_dates(text: str) -> list[FoundDate]:
    """All dates in `text`, in order of appearance, overlaps resolved left-first."""
    found: list[FoundDate] = []
    for pattern in _PATTERNS:
        for match in pattern.finditer(text):
            date = _build(match)
            if date is None:
                continue
            start, end = match.span()
            if any(f.start < end and start < f.end for f in found):
                continue
            found.append(FoundDate(date, start, end, match.group(0)))
    found.sort(key=lambda f: f.start)
    return found


def first_date(text: str) -> dt.date | None:
    found = find_dates(text)
    return found[0].date if found else None


def parse_date(text: str) -> dt.date | None:
    """The date that `text` is (surrounding spaces and punctuation aside), else None."""
    stripped = text.strip().strip(".,;:")
    for found in find_dates(stripped):
        if found.start == 0 and found.end == len(stripped):
            return found.date
    return None
