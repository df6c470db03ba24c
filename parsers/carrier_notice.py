"""Carrier-partner notification emails: what happened to a port, and which port.

A message is a notice when it comes from a known partner (by sender, or by the
original sender of a forward), talks about porting, names a port order (the
partner's id or our reference) and says a status the partner's data knows. The
partners, their wording, reason words and reject codes are data
(`parsers/data/carrier_notices.toml`, replaceable through `NoticePatterns`).

Everything else, a partner's marketing mail included, is not a notice: None.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal, cast, get_args

from parsers.dates import find_dates
from parsers.model import Message
from parsers.phone import find_numbers, parse_phone

__all__ = [
    "CarrierNotice",
    "NoticeKind",
    "NoticePatterns",
    "Partner",
    "ReasonCode",
    "classify_reason",
    "default_patterns",
    "load_patterns",
    "read_notice",
]

NoticeKind = Literal["submitted", "approved", "rejected", "foc", "completed", "cancelled"]
ReasonCode = Literal[
    "wrong_pin",
    "name_mismatch",
    "address_mismatch",
    "btn_mismatch",
    "account_number_mismatch",
    "unauthorised_requester",
    "pending_order",
    "number_not_portable",
    "other",
]
NOTICE_KINDS: tuple[str, ...] = get_args(NoticeKind)
REASON_CODES: tuple[str, ...] = get_args(ReasonCode)


@dataclass(frozen=True)
class CarrierNotice:
    """What a partner's email says about one port order.

    `numbers` are E.164 keys (as the assessment reports them). `reason` is the
    carrier's own words (several reasons joined by "; "), `reason_codes` their
    normalised codes in order. `authenticated`: True when the receiving server
    vouched for the partner's domain (DKIM or DMARC pass), False when it said
    the check failed, None when the message carries no verdict.
    """

    partner: str
    kind: NoticeKind
    status: str  # the partner's name for the status: "FOC date confirmed", "EXCEPTION"
    order_id: str | None
    customer_ref: str | None
    numbers: tuple[str, ...]
    date: dt.date | None
    reason: str | None
    reason_codes: tuple[ReasonCode, ...]
    message_id: str | None
    authenticated: bool | None = None

    @property
    def reason_code(self) -> ReasonCode | None:
        return self.reason_codes[0] if self.reason_codes else None


# --- the patterns, as data ---------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    kind: NoticeKind
    status: str
    patterns: tuple[re.Pattern[str], ...]


@dataclass(frozen=True)
class Partner:
    name: str
    senders: tuple[str, ...]
    port_words: tuple[re.Pattern[str], ...]
    order_id: tuple[re.Pattern[str], ...]
    customer_ref: tuple[re.Pattern[str], ...]
    date: tuple[re.Pattern[str], ...]
    reason: tuple[re.Pattern[str], ...]
    statuses: tuple[Status, ...]
    reject_codes: Mapping[str, ReasonCode]
    ignore_numbers: frozenset[str] = frozenset()

    def sends(self, address: str | None) -> bool:
        if not address:
            return False
        address = address.lower()
        domain = address.rpartition("@")[2]
        return any(address == s or domain == s or domain.endswith("." + s) for s in self.senders)


@dataclass(frozen=True)
class NoticePatterns:
    """`events`: how any partner may word each event, tried after the partner's own
    statuses (first the subject, then the body); `date_labels`: labels after which
    any partner's porting date follows."""

    partners: tuple[Partner, ...]
    reasons: tuple[tuple[ReasonCode, re.Pattern[str]], ...]
    events: tuple[Status, ...] = ()
    date_labels: tuple[re.Pattern[str], ...] = ()


def _compile(where: str, raw: Any) -> tuple[re.Pattern[str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(p, str) for p in raw):
        raise ValueError(f"{where}: expected a list of patterns (strings)")
    out = []
    for pattern in raw:
        try:
            out.append(re.compile(pattern, re.IGNORECASE))
        except re.error as exc:
            raise ValueError(f"{where}: bad pattern {pattern!r}: {exc}") from exc
    return tuple(out)


def _reason_code(where: str, value: Any) -> ReasonCode:
    if value not in REASON_CODES:
        known = ", ".join(REASON_CODES)
        raise ValueError(f"{where}: unknown reason code {value!r}; known: {known}")
    return cast(ReasonCode, value)


def _partner(i: int, entry: Mapping[str, Any]) -> Partner:
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"partner #{i + 1}: needs a name")
    where = f"partner {name}"
    senders = entry.get("senders")
    if not isinstance(senders, list) or not senders or not all(isinstance(s, str) for s in senders):
        raise ValueError(f"{where}: senders must list at least one address or domain")
    statuses = []
    for j, status in enumerate(entry.get("status", [])):
        kind = status.get("kind")
        if kind not in NOTICE_KINDS:
            raise ValueError(
                f"{where}, status #{j + 1}: kind must be one of "
                f"{', '.join(NOTICE_KINDS)}, not {kind!r}"
            )
        pats = _compile(f"{where}, status {status.get('status', kind)}", status.get("patterns"))
        statuses.append(Status(cast(NoticeKind, kind), str(status.get("status", kind)), pats))
    if not statuses:
        raise ValueError(f"{where}: no [[partner.status]] entries")
    codes = {
        str(k): _reason_code(f"{where}, reject code {k}", v)
        for k, v in entry.get("reject_codes", {}).items()
    }
    id_patterns = _compile(f"{where}, order_id", entry.get("order_id"))
    for pattern in (*id_patterns, *_compile(f"{where}, customer_ref", entry.get("customer_ref"))):
        if pattern.groups < 1:
            raise ValueError(f"{where}: pattern {pattern.pattern!r} needs a group for the id")
    reasons = _compile(f"{where}, reason", entry.get("reason"))
    for pattern in reasons:
        if "reason" not in pattern.groupindex:
            raise ValueError(f"{where}: reason pattern {pattern.pattern!r} needs (?P<reason>...)")
    ignore = frozenset(parse_phone(str(n)).key for n in entry.get("ignore_numbers", []))
    return Partner(
        name=name.strip(),
        senders=tuple(s.strip().lower().lstrip("@") for s in senders),
        port_words=_compile(f"{where}, port_words", entry.get("port_words")),
        order_id=id_patterns,
        customer_ref=_compile(f"{where}, customer_ref", entry.get("customer_ref")),
        date=_compile(f"{where}, date", entry.get("date")),
        reason=reasons,
        statuses=tuple(statuses),
        reject_codes=codes,
        ignore_numbers=ignore,
    )


def load_patterns(text: str) -> NoticePatterns:
    """Patterns from TOML text (the package's file, or a deployment's replacement).

    Raises ValueError naming the partner and pattern that is wrong.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"carrier notice patterns: not valid TOML: {exc}") from exc
    partners = tuple(_partner(i, e) for i, e in enumerate(data.get("partner", [])))
    if not partners:
        raise ValueError("carrier notice patterns: no [[partner]] entries")
    reasons: list[tuple[ReasonCode, re.Pattern[str]]] = []
    for j, entry in enumerate(data.get("reason", [])):
        code = _reason_code(f"reason #{j + 1}", entry.get("code"))
        reasons += [(code, p) for p in _compile(f"reason {code}", entry.get("patterns"))]
    events = []
    for j, entry in enumerate(data.get("event", [])):
        kind = entry.get("kind")
        if kind not in NOTICE_KINDS:
            raise ValueError(
                f"event #{j + 1}: kind must be one of {', '.join(NOTICE_KINDS)}, not {kind!r}"
            )
        pats = _compile(f"event {kind}", entry.get("patterns"))
        events.append(Status(cast(NoticeKind, kind), str(entry.get("status", kind)), pats))
    labels = _compile("date_labels", data.get("date_labels"))
    return NoticePatterns(partners, tuple(reasons), tuple(events), labels)


@cache
def default_patterns() -> NoticePatterns:
    text = resources.files("parsers").joinpath("data/carrier_notices.toml").read_text("utf-8")
    return load_patterns(text)


# --- reading a notice --------------------------------------------------------------------

_CODE_NAME = re.compile(r"\b(" + "|".join(REASON_CODES) + r")\b", re.I)
_DATE_REACH = 80  # characters after a date label where the date must start


def classify_reason(
    text: str,
    patterns: NoticePatterns | None = None,
    reject_codes: Mapping[str, ReasonCode] | None = None,
) -> tuple[ReasonCode, ...]:
    """Reason codes for a carrier's (or agent's) words, in the order the text gives them.

    A partner's numeric reject codes count first where they appear; a code's own
    name ("wrong_pin") is read as itself. Nothing recognised: ("other",).
    """
    patterns = patterns or default_patterns()
    spans: list[tuple[int, int, int, ReasonCode]] = []  # start, rank, end, code
    for m in _CODE_NAME.finditer(text):
        spans.append((m.start(), -2, m.end(), cast(ReasonCode, m.group(1).lower())))
    for number, code in (reject_codes or {}).items():
        for m in re.finditer(rf"(?<!\d){re.escape(number)}(?!\d)", text):
            spans.append((m.start(), -1, m.end(), code))
    for rank, (code, pattern) in enumerate(patterns.reasons):
        for m in pattern.finditer(text):
            spans.append((m.start(), rank, m.end(), code))
    # The most specific claim on a stretch of text wins: rank order, then position.
    taken: list[tuple[int, int, ReasonCode]] = []
    for start, _rank, end, code in sorted(spans, key=lambda s: (s[1], s[0])):
        if any(start < e and s < end for s, e, _ in taken):
            continue
        taken.append((start, end, code))
    codes = list(dict.fromkeys(c for _s, _e, c in sorted(taken)))
    return tuple(codes) if codes else ("other",)


def _partner_for(message: Message, patterns: NoticePatterns) -> tuple[Partner, str] | None:
    """The partner and the text of its notice (for a forward, only the forwarded part)."""
    for partner in patterns.partners:
        if partner.sends(message.sender):
            return partner, message.body or ""
        if partner.sends(message.forwarded_from) and message.forwarded_from:
            # The colleague's note above the forward has their own signature and numbers.
            head = re.compile(
                rf"^[ \t>]*From:.*{re.escape(message.forwarded_from)}"
                r"|^-+ Attached message from ",
                re.I | re.M,
            )
            m = head.search(message.body or "")
            return partner, (message.body or "")[m.start() :] if m else message.body or ""
    return None


def _first_group(text: str, pats: Iterable[re.Pattern[str]]) -> str | None:
    for pattern in pats:
        m = pattern.search(text)
        if m:
            return m.group(1)
    return None


def _status(partner: Partner, events: Iterable[Status], subject: str, body: str) -> Status | None:
    """The event the notice reports: the partner's own status names first, then the
    words any partner uses for each event (in the order of the data: completed before
    cancelled before rejected ...); each time the subject before the body."""
    for text in (subject, body):
        for status in partner.statuses:
            if any(p.search(text) for p in status.patterns):
                return status
    for text in (subject, body):
        for event in events:
            for pattern in event.patterns:
                m = pattern.search(text)
                if m:
                    words = re.sub(r"\s+", " ", m.group(0)).strip(" :|").lower()
                    return Status(event.kind, words or event.status, event.patterns)
    return None


_CELLS = re.compile(r"\s+\|\s+")


def table_lines(text: str) -> str:
    """A table's rows as "label: value" lines, so labels read alike in every layout.

    HTML tables reach the body as "a | b" lines: a two-cell row is a label and its
    value; a row of headings (no digits) over rows of as many cells labels each cell.
    """
    out: list[str] = []
    heads: list[str] | None = None
    for line in text.splitlines():
        cells = _CELLS.split(line.strip()) if " | " in line else []
        if len(cells) < 2:
            heads = None
            continue
        if heads is not None and len(cells) == len(heads):
            out += [f"{h}: {c}" for h, c in zip(heads, cells, strict=True)]
            continue
        if len(cells) == 2:
            out.append(f"{cells[0]}: {cells[1]}")
        heads = cells if not any(ch.isdigit() for ch in line) else None
    return "\n".join(out)


def _date(partner: Partner, text: str, shared: Iterable[re.Pattern[str]] = ()) -> dt.date | None:
    for pattern in (*partner.date, *shared):
        for m in pattern.finditer(text):
            line_end = text.find("\n", m.end())
            tail = text[m.end() : line_end if line_end >= 0 else None][: _DATE_REACH + 40]
            found = find_dates(tail)
            if found and found[0].start <= _DATE_REACH:
                return found[0].date
    return None


def _numbers(partner: Partner, text: str) -> tuple[str, ...]:
    keys: list[str] = []
    for raw in find_numbers(text):
        phone = parse_phone(raw)
        # Toll-free and other non-local lines in a notice are the partner's own
        # contact numbers; the ports here are of local numbers.
        if phone.valid and not phone.local:
            continue
        if phone.key in partner.ignore_numbers or phone.key in keys:
            continue
        keys.append(phone.key)
    return tuple(keys)


_NEW_ITEM = re.compile(
    r"^\s*(?:[-*\u2022]|\d{3,5}\s*[-:]|[A-Za-z][\w ()/#'-]{0,40}\s*[:|](?:\s|$))"
)


def _wrapped_end(text: str, end: int, limit: int = 3) -> int:
    """Where a reason ends that the notice's mailer wrapped: the lines after it that
    go on with the same sentence (not blank, not a new label, code or bullet), up to
    `limit` lines, and never past a line that ends a sentence."""
    for _ in range(limit):
        if end >= len(text) or text[end] != "\n" or text[:end].rstrip().endswith((".", "!", "?")):
            break
        nl = text.find("\n", end + 1)
        line = text[end + 1 : nl if nl >= 0 else len(text)]
        if not line.strip() or _NEW_ITEM.match(line):
            break
        end = nl if nl >= 0 else len(text)
    return end


def _reasons(partner: Partner, text: str) -> list[str]:
    found: list[tuple[int, int, str]] = []  # start, end, words
    for pattern in partner.reason:
        for m in pattern.finditer(text):
            start, end = m.span("reason")
            end = _wrapped_end(text, end)
            value = re.sub(r"\s+", " ", text[start:end]).strip(" .;")
            # Two patterns may read the same line; one reason stated twice is one reason.
            if not value or any(s < end and start < e for s, e, _ in found):
                continue
            if any(v.casefold() == value.casefold() for _s, _e, v in found):
                continue
            found.append((start, end, value))
    return [v for _s, _e, v in sorted(found)]


_AUTH_PASS = re.compile(
    r"\b(?:dkim=pass\b[^;]*?header\.[di]=@?([\w.-]+)|dmarc=pass\b[^;]*?header\.from=([\w.-]+))",
    re.I,
)
_AUTH_FAIL = re.compile(r"\b(?:dkim|dmarc)=(?:fail|permerror)\b", re.I)


def _authenticated(partner: Partner, message: Message) -> bool | None:
    # Only the topmost Authentication-Results counts: our own receiving server
    # adds it last (on top); any below it came with the message and can be forged.
    results = [v for k, v in message.headers if k.lower() == "authentication-results"]
    if not results:
        return None
    verdict = results[0]
    domains = [s.rpartition("@")[2] for s in partner.senders]
    for m in _AUTH_PASS.finditer(verdict):
        d = (m.group(1) or m.group(2) or "").lower()
        if any(d == s or d.endswith("." + s) for s in domains):
            return True
    return False if _AUTH_FAIL.search(verdict) else None


def read_notice(message: Message, patterns: NoticePatterns | None = None) -> CarrierNotice | None:
    """The notice `message` is, or None when it is not a partner's port notice."""
    patterns = patterns or default_patterns()
    found = _partner_for(message, patterns)
    if found is None:
        return None
    partner, body = found
    subject = message.subject or ""
    tables = table_lines(body)
    if tables:
        body = f"{body}\n{tables}"
    text = f"{subject}\n{body}"
    if partner.port_words and not any(p.search(text) for p in partner.port_words):
        return None
    status = _status(partner, patterns.events, subject, body)
    if status is None:
        return None
    order_id = _first_group(text, partner.order_id)
    customer_ref = _first_group(text, partner.customer_ref)
    numbers = _numbers(partner, text)
    if order_id is None and customer_ref is None:
        # About porting in general (news, marketing), not about an order: every
        # partner names the order in its notices; numbers alone prove nothing.
        return None
    reasons: list[str] = []
    codes: tuple[ReasonCode, ...] = ()
    if status.kind == "rejected":
        reasons = _reasons(partner, body) or _reasons(partner, subject)
        codes = (
            classify_reason("\n".join(reasons), patterns, partner.reject_codes)
            if reasons
            else ("other",)
        )
    return CarrierNotice(
        partner=partner.name,
        kind=status.kind,
        status=status.status,
        order_id=order_id,
        customer_ref=customer_ref,
        numbers=numbers,
        date=_date(partner, body, patterns.date_labels)
        or _date(partner, subject, patterns.date_labels),
        reason="; ".join(reasons) or None,
        reason_codes=codes,
        message_id=message.message_id,
        authenticated=_authenticated(partner, message),
    )
