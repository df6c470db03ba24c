"""The contract's matching rules, one function each."""

from __future__ import annotations

import re
import unicodedata

from parsers.address import address_key
from parsers.model import Address


def fold_name(name: str) -> str:
    """Case, accents, punctuation and spacing folded; '&' read as 'and'."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = text.replace("&", " and ")
    text = re.sub(r"[^\w\s]", "", text)
    return " ".join(text.split())


def names_equal(a: str, b: str) -> bool:
    return fold_name(a) == fold_name(b)


def fold_account(number: str) -> str:
    return re.sub(r"[\s\-]", "", number).casefold()


def accounts_equal(a: str, b: str) -> bool:
    return fold_account(a) == fold_account(b)


ADDRESS_PARTS = ("street", "unit", "city", "state", "zip")

_UNIT_KEY = re.compile(r"^(?P<base>.*?)\s*\bUNIT (?P<unit>\w+)$")


def address_parts(a: Address) -> dict[str, str | None]:
    """The compared parts of an address (folded, USPS-normalised); None where absent.

    The unit is its own part: a street line read without the unit that the other
    side has is a part unread, while two different units are a mismatch.
    """
    street, city, state, zip_code = address_key(a)
    m = _UNIT_KEY.match(street)
    base, unit = (m.group("base"), m.group("unit")) if m else (street, "")
    return {
        "street": base or None,
        "unit": unit or None,
        "city": city or None,
        "state": state or None,
        "zip": zip_code or None,
    }


def compare_addresses(stated: Address, found: Address) -> tuple[list[str], list[str]]:
    """(parts that differ, parts `found` lacks), comparing only what both sides have.

    `found` lacking street, city, state or ZIP is always reported; lacking the unit
    only when `stated` has one.
    """
    a, b = address_parts(stated), address_parts(found)
    differ = [k for k in ADDRESS_PARTS if a[k] and b[k] and a[k] != b[k]]
    unread = [k for k in ADDRESS_PARTS if not b[k] and (k != "unit" or (a[k] and b["street"]))]
    if b["unit"] and not a["unit"] and b["street"] and a["street"] == b["street"]:
        differ.append("unit")  # the bill has a unit the address given leaves out
    return differ, unread


def edit_distance(a: str, b: str, limit: int = 3) -> int:
    """Levenshtein distance, stopping early past `limit` (for OCR near-misses)."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        if min(cur) > limit:
            return limit + 1
        prev = cur
    return prev[-1]


# Characters Tesseract confuses on bills: a letter read for a digit and back.
_OCR_CONFUSIONS = str.maketrans(
    {
        "O": "0",
        "o": "0",
        "D": "0",
        "I": "1",
        "l": "1",
        "|": "1",
        "S": "5",
        "s": "5",
        "B": "8",
        "Z": "2",
        "z": "2",
    }
)


# Upper case: what OCR mistakes for what once case is set aside ("ltée" read "Itée",
# "ROSSI" read "ROSS!").
_OCR_UPPER = str.maketrans(
    {
        "O": "0",
        "D": "0",
        "Q": "0",
        "I": "1",
        "L": "1",
        "|": "1",
        "!": "1",
        "S": "5",
        "B": "8",
        "Z": "2",
    }
)


def ocr_confusable(a: str, b: str) -> bool:
    """Two strings that differ only where Tesseract confuses characters (5/S, 0/O, 1/I/l)."""
    ua, ub = (" ".join(x.upper().split()) for x in (a, b))
    if ua == ub:
        return False
    # OCR also drops or adds spaces and hyphens ("MAPLE LEAF-BUILDERS").
    fa, fb = (re.sub(r"[\s\-.,]+", "", x).translate(_OCR_UPPER) for x in (ua, ub))
    return fa == fb


def ocr_near_miss(a: str, b: str) -> bool:
    """Two different strings that one OCR slip could explain (one character off)."""
    fa, fb = a.translate(_OCR_CONFUSIONS), b.translate(_OCR_CONFUSIONS)
    return fa == fb or edit_distance(fa, fb, 1) <= 1
