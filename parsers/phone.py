"""Phone numbers: the one place that talks to `phonenumbers`.

A 10-digit number is read as NANP (+1). The facts returned here (validity,
region, type) are judged by the rules against the policy; nothing here decides
what may be ported.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType

# Types that are geographic lines a customer can port as a local number.
_LOCAL_TYPES = frozenset(
    {
        PhoneNumberType.FIXED_LINE,
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
        PhoneNumberType.VOIP,
    }
)

_TYPE_NAMES = {
    PhoneNumberType.TOLL_FREE: "toll-free",
    PhoneNumberType.PREMIUM_RATE: "premium-rate",
    PhoneNumberType.SHARED_COST: "shared-cost",
    PhoneNumberType.PERSONAL_NUMBER: "personal (5XX)",
    PhoneNumberType.PAGER: "pager",
    PhoneNumberType.UAN: "non-geographic",
    PhoneNumberType.VOICEMAIL: "voicemail",
}

# Something that looks like a NANP number in running text: optional +1/1,
# area code with or without parentheses, separators . - space.
NANP_PATTERN = re.compile(
    r"(?<![\w+])(?:\+?1[\s.\-]?)?\(?([2-9]\d{2})\)?[\s.\-]?(\d{3})[\s.\-]?(\d{4})(?![\w])"
)


@dataclass(frozen=True)
class Phone:
    """What is known of one written number.

    `key` is the number as portbot reports it: E.164 when it parses, else "+1"
    and the ten digits when ten NANP digits were given, else the digits as
    written.
    """

    raw: str
    key: str
    valid: bool
    region: str | None  # "US", "CA", "JM", ... when valid
    local: bool  # a geographic line (not toll-free, premium, ...)
    kind: str  # plain words for the type: "local", "toll-free", ...


def digits_of(raw: str) -> str:
    return re.sub(r"\D", "", raw)


# A pure function asked about the same few numbers many times per request
# (lists, LOA, rules); phonenumbers' metadata matching dominates the CPU time.
@functools.lru_cache(maxsize=4096)
def parse_phone(raw: str) -> Phone:
    """Read one number as written ("(512) 555-0101", "512.555.0101", "+1 512 555 0101")."""
    text = raw.strip()
    digits = digits_of(text)
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) == 10 and (not text.startswith("+") or text.startswith("+1")):
        candidate = "+1" + digits
        key = candidate
    elif text.startswith("+") and digits:
        candidate = "+" + digits_of(text)
        key = candidate
    else:
        return Phone(
            raw=raw, key=digits or text, valid=False, region=None, local=False, kind="invalid"
        )
    try:
        parsed = phonenumbers.parse(candidate, None)
    except phonenumbers.NumberParseException:
        return Phone(raw=raw, key=key, valid=False, region=None, local=False, kind="invalid")
    if not phonenumbers.is_valid_number(parsed):
        return Phone(raw=raw, key=key, valid=False, region=None, local=False, kind="invalid")
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    ntype = phonenumbers.number_type(parsed)
    local = ntype in _LOCAL_TYPES
    return Phone(
        raw=raw,
        key=e164,
        valid=True,
        region=phonenumbers.region_code_for_number(parsed),
        local=local,
        kind="local" if local else _TYPE_NAMES.get(ntype, "non-geographic"),
    )


def to_e164(raw: str) -> str | None:
    """E.164 of a valid number, else None. For fields (BTN, LOA lists)."""
    phone = parse_phone(raw)
    return phone.key if phone.valid else None


def find_numbers(text: str) -> list[str]:
    """NANP-looking numbers in running text, as written, in order of appearance."""
    return [m.group(0) for m in NANP_PATTERN.finditer(text)]
