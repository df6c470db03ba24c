"""What a customer stated in the new text of one message.

Each field has one small reader (one rule, one place). Readers look at the
customer's lines only: the signature, contact lines ("Cell: ...") and the
header block of a forwarded message are set aside first. Values are kept as
written (trimmed); a field not stated is None, never "".

Within one text the first statement of a field wins: in a forward, the
colleague's note above the forwarded request is the newer word.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from parsers.address import parse_address
from parsers.carriers import find_carrier, stated_carrier
from parsers.model import Address, NumberEntry, Statements
from parsers.numberlist import rows_from_table
from parsers.phone import NANP_PATTERN, digits_of

__all__ = ["read_statements"]

_MAX_TEXT = 100_000  # characters read; a request is never longer
_MAX_LINE = 1_000  # characters of one line the patterns look at


# --- lines ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    n: int  # index in the text
    text: str  # normalised: no markdown bold, no NBSP, trimmed


def _normalise(line: str) -> str:
    line = line.replace("\u00a0", " ").replace("\u200b", "")
    line = re.sub(r"\*\*|__|(?<!\w)\*(?=\S)|(?<=\S)\*(?!\w)", "", line)  # bold markers
    return line[:_MAX_LINE].rstrip()


_SIGN_OFF = re.compile(
    r"^\s*(?:thanks?(?:\s+(?:you|again|so\s+much))?|thx|ty|regards|best(?:\s+regards)?|"
    r"kind\s+regards|warm\s+regards|warmly|cheers|sincerely|respectfully|take\s+care|"
    r"many\s+thanks|all\s+the\s+best|merci|cordialement)\b[\s,.!-]*(?:\w+[\s,.!]*)?$",
    re.I,
)
_SIG_DELIMITER = re.compile(
    r"^(?:--\s?|—|__+|sent\s+from\s+my\b.*|get\s+outlook\s+for\b.*|sent\s+from\s+\w+\s+for\b.*)$",
    re.I,
)
# Labels that show the customer is still giving details after a sign-off-like line.
_DETAIL_LABEL = re.compile(
    r"\b(?:numbers?\s+to\s+port|account|acct|pin|passcode|btn|billing|service\s+address|"
    r"carrier|ssn|port|porting|transfer)\b|^\W*+(?:phone\s+)?(?:numbers?|lines)\s*:",
    re.I,
)


_CLOSING = re.compile(r"^[^\W\d_][^\W\d_']*(?:\s+[^\W\d_']+){0,3},$")  # "Fair winds,"


def _is_person_line(line: str) -> bool:
    line = _normalise(line).strip()
    return 0 < len(line) <= 40 and bool(_NAME.fullmatch(line))


def _signature_start(lines: list[str]) -> int:
    """Index of the first signature line (len(lines) when there is none)."""
    for i, raw in enumerate(lines):
        line = raw.strip()
        if _SIG_DELIMITER.match(line):
            return i
        if not any(r.strip() for r in lines[:i]):
            continue  # "Thanks!" opening the message is not a sign-off
        rest = lines[i + 1 : i + 12]
        if any(_DETAIL_LABEL.search(r) for r in rest) or len(line) >= 40:
            continue
        if _SIGN_OFF.match(line):
            return i
        following = next((r for r in rest if r.strip()), "")
        if _CLOSING.match(line) and _is_person_line(following):
            return i
    # No sign-off: a last paragraph that starts with a name ("Bill Carver\nCarver Heating\n...").
    last = max((i for i, r in enumerate(lines) if not r.strip()), default=-1) + 1
    block = [r for r in lines[last:] if r.strip()]
    if (
        1 < len(block) <= 6
        and _is_person_line(block[0])
        and not any(_DETAIL_LABEL.search(r) or _SECTION_START.search(r) for r in block)
    ):
        return last
    return len(lines)


_HEADER_LINE = re.compile(
    r"^[\s>]*(?:from|sent|to|cc|bcc|date|subject|reply-to|von|gesendet|an|betreff|envoy[ée]|"
    r"objet|enviado|asunto|inviato|oggetto)\s*:",
    re.I,
)
_ATTACHED_SEPARATOR = re.compile(r"^-{3,}\s*(?:attached message|forwarded message|original)", re.I)
_FORWARD_MARKERS = re.compile(
    r"^\s*(?:-{2,}\s?[^-\n]{3,60}?\s?-{2,}|begin forwarded message:?)\s*$", re.I
)


def _customer_lines(text: str) -> list[_Line]:
    """The lines a customer wrote: signature and forwarded header blocks set aside."""
    raw = text[:_MAX_TEXT].replace("\r\n", "\n").replace("\r", "\n").split("\n")
    # A forwarded message has its own signature: cut each part (note, forwarded text) apart.
    out: list[_Line] = []
    start = 0
    parts: list[tuple[int, int]] = []
    for i, line in enumerate(raw):
        if _FORWARD_MARKERS.match(line) or _ATTACHED_SEPARATOR.match(line):
            parts.append((start, i))
            start = i + 1
        elif re.match(r"^[\s>*]*from\s*:", line, re.I) and any(
            _HEADER_LINE.match(_normalise(r)) for r in raw[i + 1 : i + 5]
        ):
            parts.append((start, i))  # an Outlook header block starts a forwarded message
            start = i
    parts.append((start, len(raw)))
    for begin, end in parts:
        chunk = raw[begin:end]
        # Skip the header block at the top of a forwarded part before looking for a signature.
        head = 0
        while head < len(chunk) and (not chunk[head].strip() or _HEADER_LINE.match(chunk[head])):
            head += 1
        cut = head + _signature_start(chunk[head:])
        for j in range(head, cut):
            text_j = _normalise(chunk[j])
            if _HEADER_LINE.match(text_j):
                continue
            out.append(_Line(begin + j, text_j))
    return out


def _value_lines(lines: list[_Line], i: int, limit: int) -> list[str]:
    """Up to `limit` lines after line i that continue a value (stop at blank or label)."""
    out: list[str] = []
    for line in lines[i + 1 : i + 1 + limit]:
        if line.n != lines[i].n + len(out) + 1 or not line.text.strip():
            break
        if _LABEL_LIKE.match(line.text) and out:
            break
        out.append(line.text.strip())
    return out


_LABEL_LIKE = re.compile(r"^[ \t]*(?:[-*•][ \t]*)?[A-Za-z][\w .#/&()'-]{0,40}:")
_BULLET = r"^[ \t]*(?:(?:[-*•·>]|\d{1,2}[.)])[ \t]*)?"  # unambiguous: no backtracking
_SEP = (
    r"\s*(?:[:=#]|-(?!\d)|–|—|\bis\b|\bare\b)+\s*"
    r"(?:(?:it|that|this)\s*(?:is|'s|’s|should\s+be)\s+|should\s+be\s+|actually\s+)?"
)


def _clean_value(value: str) -> str | None:
    value = value.strip().strip("\"'“”‘’*_").strip()
    value = re.sub(r"[\s,;.:]+$", "", value).strip()
    return value or None


# --- account number ------------------------------------------------------------------------

_ACCOUNT_NUMBER = re.compile(
    r"(?:\b(?:account|acct|a/c)\.?(?:\s*(?:number|num|nbr|no|#|id)\b\.?|\s*#)?"
    r"|\bBAN\b|\bbilling\s+account\s+(?:number|#|no)\.?)"
    r"\s*(?:\([^)\n]{0,30}\)\s*)?"  # "(BAN)", "(with AT&T)"
    r"(?:(?:with|at|for|from)\s+[\w&.' -]{1,30}?)?"
    r"(?:" + _SEP + r"|\s+|(?<=[#.]))"  # "Acct 287654321", "Acct #287654321"
    r"(?:#\s*)?(?P<v>(?=[A-Za-z0-9-]*\d)[A-Za-z0-9][A-Za-z0-9-]*"
    r"(?:[ ](?=[A-Za-z0-9-]*\d)[A-Za-z0-9][A-Za-z0-9-]*){0,4})",
    re.I,
)
_SECRET_WORDS = re.compile(r"\b(?:pin|passcode|ssn|social|tax\s*id)\b", re.I)


def _account_number(lines: list[_Line]) -> str | None:
    for line in lines:
        for m in _ACCOUNT_NUMBER.finditer(line.text):
            if _SECRET_WORDS.search(line.text[: m.start("v")]):
                continue  # "PIN on the account: 4821"
            value = _clean_value(m.group("v").strip("-"))
            if value and len(digits_of(value)) >= 4:
                return value
    return None


# --- account name --------------------------------------------------------------------------

# After a label: a separator and the value, or nothing (the value is on the next lines).
_LABEL_END = (
    r"\s*(?:\([^)\n]{0,40}\))?"
    r"(?:\s*(?:[:=]|-(?!\w)|–|—|\bis\b)\s*(?P<v>.*)|(?P<bare>\s*))$"
)


def _label_value(m: re.Match[str]) -> str | None:
    """The value after a label; None for a one-word label with no separator ("Company")."""
    if m.group("bare") is not None:
        return "" if " " in m.group("label").strip() else None
    return m.group("v") or ""


_NAME_LABEL = re.compile(
    _BULLET + r"(?P<label>name\s+on\s+(?:the\s+)?(?:account|acct|bill|invoice)"
    r"|(?:account|acct)\.?\s+(?:holder(?:'s)?\s+)?name|account\s+holder|account\s+owner"
    r"|(?:business|company|legal|customer|registered)\s+name"
    r"(?:\s+on\s+(?:the\s+)?(?:account|bill|invoice))?"
    r"|name\s+of\s+(?:the\s+)?(?:account(?:\s+holder)?|business|company)|company|business)"
    + _LABEL_END,
    re.I,
)
_NAME_SENTENCE = re.compile(
    r"(?:\baccount\s+(?:is\s+)?(?:under|in\s+the\s+name\s+of|registered\s+to|listed\s+under|"
    r"is\s+in\s+the\s+name\s+of|belongs\s+to)\s+(?:the\s+name\s+)?"
    r"|\b(?:business|company|account|legal)\s+name\s+(?:on\s+(?:the\s+)?(?:account|bill)\s+)?is\s+)"
    r"(?P<v>[^\n]+)$",
    re.I,
)
# A line that is only a business name: "Harbourview Realty Ltd."
_BUSINESS_LINE = re.compile(
    r"^[^\W\d_][\w&'’.,\- ]{1,80}?[ ,]+(?:LLC|L\.L\.C\.|Inc\.?|Incorporated|Ltd\.?|Limited|"
    r"Corp\.?|Corporation|Co\.|Company|PLLC|LLP|L\.P\.|P\.A\.|PA|P\.C\.|PC|Ltée|Lt[ée]e)$"
)
_ABBREVIATIONS = frozenset(
    {"inc", "co", "ltd", "corp", "jr", "sr", "bros", "assn", "intl", "mfg", "svc", "svcs",
     "dept", "cie", "ltée", "ltee", "esq", "dr", "st", "p.a", "p.c", "l.l.c", "l.p", "s.a"}
)  # fmt: skip


def _account_name(lines: list[_Line]) -> str | None:
    for i, line in enumerate(lines):
        m = _NAME_LABEL.match(line.text)
        given = _label_value(m) if m else None
        if given is not None:
            value = _name_value(given)
            if value is None and not given.strip():
                nxt = _value_lines(lines, i, 1)
                value = _name_value(nxt[0]) if nxt else None
            if value:
                return value
        m = _NAME_SENTENCE.search(line.text)
        if m:
            sentence = re.split(r"(?<![A-Z][a-z])(?<!\b[A-Z])[.;!?](?:\s|$)", m.group("v"))[0]
            value = _name_value(re.split(r"\s+(?:and|but|with)\s+", sentence)[0])
            if value:
                return value
    return _unlabelled_name(lines)


def _unlabelled_name(lines: list[_Line]) -> str | None:
    """A business name on a line of its own, or before an unlabelled address on its line."""
    for line in lines:
        text = line.text.strip()
        if _BUSINESS_LINE.match(text) and not _LABEL_LIKE.match(text):
            return _name_value(text)
    for line in lines:
        split = _name_before_address(line.text)
        if split is not None:
            return split[0]
    return None


def _name_before_address(text: str) -> tuple[str, Address] | None:
    """ "Maple Street Bakery, 212 Maple St, Burlington, VT 05401" -> (name, address)."""
    m = re.match(r"^\s*([^\W\d_][^,\d:]{1,60}),\s*(\d.*)$", text)
    if not m or _LABEL_LIKE.match(text):
        return None
    found = parse_address(m.group(2))
    name = _name_value(m.group(1))
    if found is None or name is None:
        return None
    return name, found


def _name_value(value: str) -> str | None:
    value = re.split(r"\s{2,}|\t|\|", value.strip())[0]
    cleaned = _clean_value(value)
    if cleaned is None or len(cleaned) > 100 or "@" in cleaned:
        return None
    last = cleaned.split()[-1].lower()
    if value.rstrip().endswith(".") and (last in _ABBREVIATIONS or len(last) == 1):
        cleaned += "."  # "Acme Inc." is written so; a sentence's full stop is not
    if re.fullmatch(r"(?i)(?:n/?a|none|same(?:\s+as\s+\w+)*|see\s+\w+.*|unknown|tbd|\?+)", cleaned):
        return None
    return cleaned


# --- service address -----------------------------------------------------------------------

_ADDRESS_LABEL = re.compile(
    _BULLET
    + r"(?P<label>(?:service|physical|site|installation|install|location|business|street|premises?|"
    r"property|office|account|store)\s+address|address\s+on\s+(?:the\s+)?(?:account|bill|file)"
    r"|service\s+location|address|location)" + _LABEL_END,
    re.I,
)
_ADDRESS_SENTENCE = re.compile(
    r"\b(?:service\s+)?address\s+(?:(?:on|of|for)\s+(?:the\s+)?(?:account|bill|service)\s+)?"
    r"is\s+(?P<v>[^\n]+)$",
    re.I,
)


def _service_address(lines: list[_Line]) -> Address | None:
    for i, line in enumerate(lines):
        m = _ADDRESS_LABEL.match(line.text) or _ADDRESS_SENTENCE.search(line.text)
        if not m or re.search(r"\b(?:e-?mail|billing|mailing|ip|web)\s+address", line.text, re.I):
            continue
        given = _label_value(m) if "bare" in m.groupdict() else m.group("v")
        if given is None:
            continue
        first = given.strip()
        if not _ADDRESS_LABEL.match(line.text):  # a sentence: the address ends with it
            first = re.split(r"(?<=\w{2})[.;!?]\s+(?=[A-Z])|\s+and\s+(?:the|our)\b", first)[0]
        parts = ([first] if first else []) + _value_lines(lines, i, 4)
        found = _address_from(parts)
        if found is not None:
            return found
    return _unlabelled_address(lines)


def _unlabelled_address(lines: list[_Line]) -> Address | None:
    """An address the customer wrote without a label, on one line or two."""
    for k, line in enumerate(lines):
        text = line.text.strip()
        if not re.match(r"^\d", text) and _name_before_address(text) is None:
            continue
        if _LABEL_LIKE.match(text) or NANP_PATTERN.search(text):
            continue
        split = _name_before_address(text)
        if split is not None:
            return split[1]
        found = _address_from([text, *_value_lines(lines, k, 1)])
        if found is not None:
            return found
    return None


def _address_from(parts: list[str]) -> Address | None:
    """The shortest run of the value lines that reads as an address."""
    parts = [re.sub(r"[.;]\s*$", "", p) for p in parts if p]
    starts = [0]
    if parts and not re.search(r"\d|\bp\.?\s*o\.?\s*box\b", parts[0], re.I):
        starts.insert(0, 1)  # a name line above the street is not part of it
    for s in starts:
        for k in range(s + 1, len(parts) + 1):
            found = parse_address(parts[s:k])
            if found is not None:
                return found
    return None


# --- billing telephone number ------------------------------------------------------------

_BTN_LABEL = re.compile(
    r"(?:\bBTN\b|\bATN\b|\bbilling\s+(?:telephone|phone|tel\.?)(?:\s+(?:number|no\.?|#))?"
    r"|\bbilling\s+TN\b|\bbilling\s+(?:number|#)|\bmain\s+(?:phone\s+|telephone\s+|business\s+|"
    r"company\s+|office\s+)?(?:number|line|#|no\.?)|\baccount\s+(?:telephone|phone)\s+number"
    r"|\bprimary\s+(?:phone\s+|telephone\s+)?(?:number|line))"
    r"(?:\s+(?:on|for|of)\s+(?:the\s+)?(?:account|bill))?"
    r"\s*(?:\([^)\n]{0,30}\))?\s*(?:[:=#]|-(?!\d)|–|—|\bis\b|\bof\b)*\s*",
    re.I,
)


_BTN_AFTER = re.compile(
    r"\s*\((?:this\s+is\s+|it's\s+|also\s+)?(?:also\s+)?(?:the\s+|our\s+)?(?:BTN|billing\s+"
    r"(?:telephone\s+|phone\s+)?(?:number|TN)|main\s+(?:number|line))\b[^)]*\)",
    re.I,
)


def _btn_match(line: str) -> re.Match[str] | None:
    """The BTN number on a line that states it, if any."""
    for label in _BTN_LABEL.finditer(line):
        number = NANP_PATTERN.search(line, label.end())
        if number and number.start() - label.end() <= 3:
            return number
    return None


def _btn_named_after(line: str) -> re.Match[str] | None:
    """ "(802) 863-4410 (also the billing number)": a number to port that is also the BTN."""
    for number in NANP_PATTERN.finditer(line):
        if _BTN_AFTER.match(line, number.end()):
            return number
    return None


def _btn(lines: list[_Line]) -> str | None:
    for i, line in enumerate(lines):
        number = _btn_match(line.text) or _btn_named_after(line.text)
        if number:
            return number.group(0).strip()
        label = _BTN_LABEL.search(line.text)
        if label and not line.text[label.end() :].strip() and re.search(r"[:#]\s*$", line.text):
            nxt = _value_lines(lines, i, 1)
            found = NANP_PATTERN.search(nxt[0]) if nxt else None
            if found and found.start() <= 3:
                return found.group(0).strip()
    return None


# --- SSN last four -------------------------------------------------------------------------

_SSN_WORD = r"(?:SSN|SS#|social(?:\s+security)?(?:\s+(?:number|no\.?|#))?|tax\s*ID|EIN|TIN|SIN)"
_SSN_PATTERNS = (
    re.compile(
        r"\blast\s+(?:4|four)(?:\s+digits)?\s+(?:of\s+)?(?:the\s+|my\s+|our\s+|your\s+)?"
        + _SSN_WORD
        + r"\s*(?:number|#)?(?:\s+on\s+(?:the\s+)?(?:account|file))?"
        r"\s*(?:[:#=\-–]|\bis\b|\bare\b)*\s*(?P<v>\d{4})\b",
        re.I,
    ),
    re.compile(
        r"\b" + _SSN_WORD + r"\s*\(?\s*last\s+(?:4|four)(?:\s+digits)?\s*\)?"
        r"\s*(?:[:#=\-–]|\bis\b|\bare\b)*\s*(?P<v>\d{4})\b",
        re.I,
    ),
    re.compile(
        r"\b"
        + _SSN_WORD
        + r"\s*(?:[:#=\-–]|\bis\b)+\s*(?:(?:x{3}|\*{3}|\d{3})[- ]?(?:x{2}|\*{2}|\d{2})"
        r"[- ]?)?(?P<v>\d{4})\b(?!-)",
        re.I,
    ),
)


def _ssn_last4(lines: list[_Line]) -> str | None:
    for line in lines:
        for pattern in _SSN_PATTERNS:
            m = pattern.search(line.text)
            if m:
                return m.group("v")
    return None


# --- PINs ----------------------------------------------------------------------------------

_PIN_WORD = (
    r"(?:(?:port(?:ing)?[\s-]*out|number\s+transfer|transfer|port|account|security|wireless)\s+)?"
    r"(?:PIN|passcode|pass\s+code|security\s+code|NTP|account\s+password)\b"
)
_PIN_VALUE = r"(?P<pin>(?=[A-Za-z0-9]*\d)[A-Za-z0-9]{3,12})\b"
_PIN_STATED = re.compile(
    r"\b" + _PIN_WORD + r"(?:\s+(?:number|#|no\.?|code))?"
    r"(?:\s*\((?:for\s+)?[^)\n]{0,30}\))?"
    r"(?:\s+(?:for|on)\s+(?:all|every|each|both|the)\s+[\w\s]{0,25}?)?"
    r"\s*(?:[:=#]|-(?!\d)|–|—|\bis\b|\bof\b)*\s*"
    r"(?:(?:it|that|this)\s*(?:is|'s|’s|should\s+be)\s+)?" + _PIN_VALUE,
    re.I,
)
_PIN_FOR_ALL_SENTENCE = re.compile(
    r"\bsame\s+" + _PIN_WORD + r"\s+(?:for|on)\s+(?:all|every|each|both)\b[^:\n]{0,30}?"
    r"(?:[:=]|\bis\b|-|–)\s*" + _PIN_VALUE,
    re.I,
)
_NO_PIN = (
    re.compile(
        r"\b(?:there\s+is|there's|there\s+isn't|we\s+have|i\s+have|it\s+has|has)\s+no\s+"
        r"(?:port(?:[\s-]*out)?\s+|account\s+|transfer\s+)?(?:pin|passcode)s?\b",
        re.I,
    ),
    re.compile(
        r"\bno\s+(?:port(?:[\s-]*out)?\s+|account\s+|transfer\s+)?(?:pin|passcode)s?\s+"
        r"(?:on|set|for|required|needed|is\s+(?:set|needed|required)|exists|associated|at\s+all)\b",
        re.I,
    ),
    re.compile(
        r"\b(?:don'?t|do\s+not|doesn'?t|does\s+not|didn'?t|did\s+not|never)\s+(?:have|has|had|"
        r"set\s+up|set|use|require)\s+(?:a|an|any)\s+(?:port(?:[\s-]*out)?\s+|account\s+|"
        r"transfer\s+|security\s+)?(?:pin|passcode)s?\b",
        re.I,
    ),
    re.compile(
        r"\b(?:pin|passcode)s?\s*(?:\([^)\n]{0,30}\))?\s*(?:[:=#\-–]|\bis\b)\s*(?:none|n/?a|no\s+pin|"
        r"not\s+(?:set|applicable|required|needed)|nothing|there\s+is\s+none|no)\b",
        re.I,
    ),
    re.compile(r"\bwithout\s+(?:a|any)\s+(?:pin|passcode)\b|\bnot\s+pin[\s-]protected\b", re.I),
    re.compile(r"^\W*no\s+(?:port[\s-]*out\s+)?(?:pin|passcode)\W*$", re.I),
)


def _no_pin_stated(lines: list[_Line]) -> bool:
    return any(p.search(line.text) for line in lines for p in _NO_PIN)


def _pin_in(text: str) -> str | None:
    m = _PIN_STATED.search(text)
    if m and not NANP_PATTERN.fullmatch(m.group("pin")):
        return m.group("pin")
    return None


# --- numbers to port -----------------------------------------------------------------------

_SECTION_START = re.compile(
    r"\b(?:numbers?\s+(?:to\s+(?:be\s+)?port(?:ed)?|we\s+(?:want|need|would\s+like)\s+to\s+"
    r"(?:port|transfer|move)|being\s+ported|to\s+(?:transfer|move))"
    r"|(?:port|transfer|move)(?:ing)?\s+(?:over\s+)?(?:the\s+)?(?:following|these|below)"
    r"|^\W*(?:phone\s+|telephone\s+)?(?:numbers?|lines|DIDs?)\s*(?:\([^)]*\))?\s*:)",
    re.I,
)
_CONTACT_LABEL = re.compile(
    _BULLET + r"(?:cell(?:\s*phone)?|mobile|mob|m|phone|ph|p|tel|telephone|t|office|o|direct|dir|d|"
    r"fax|f|work|w|c|main|toll[\s-]*free|text|sms|whatsapp)\s*(?:#|no\.?|number)?\s*[:.]",
    re.I,
)
_CONTACT_SENTENCE = re.compile(
    r"\b(?:call|text|reach|contact)\s+me\b|\bmy\s+(?:cell|mobile|direct|phone|number)\b|"
    r"\bcall\s*back\s+(?:number|#)|\bcallback\b|\bcontact\s+(?:number|phone)|"
    r"\bbest\s+number\s+to\s+reach|\bcan\s+be\s+reached\b",
    re.I,
)
_EMAIL = re.compile(r"[\w.+'’-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}")
_NAME_WORD = r"[^\W\d_a-zà-ÿ][^\W\d_]*(?:[-'’.][^\W\d_]+)*\.?"
_NAME = re.compile(rf"{_NAME_WORD}(?:\s+(?:(?:de|la|van|von|da|del|di|le)\s+)?{_NAME_WORD}){{0,3}}")
_DESCRIPTORS = frozenset(
    [
        "main",
        "fax",
        "line",
        "cell",
        "mobile",
        "toll",
        "free",
        "port",
        "pin",
        "number",
        "numbers",
        "primary",
        "billing",
        "btn",
        "direct",
        "voicemail",
        "the",
        "and",
        "or",
        "for",
        "to",
        "with",
        "our",
        "my",
        "please",
        "ported",
        "porting",
        "transfer",
        "assign",
        "assigned",
        "user",
        "agent",
        "phone",
        "tel",
        "new",
        "old",
        "existing",
        "line1",
        "line2",
        "account",
        "acct",
        "code",
        "passcode",
        "is",
        "are",
        "na",
        "n/a",
    ]
)


@dataclass
class _Found:
    entry: NumberEntry
    listed: bool  # from a list or table (duplicates there are real duplicates)


def _numbers(lines: list[_Line], excluded: set[int]) -> list[NumberEntry]:
    """Numbers to port, with what each line (or table row) says of them."""
    found: list[_Found] = []
    table_lines: set[int] = set()
    for block in _tables(lines):
        if any(line.n in table_lines for line in block):
            continue  # already read as a table of another kind (pipes before commas)
        number_list = rows_from_table([_cells(line.text) for line in block])
        if number_list is not None and number_list.rows:
            found.extend(_Found(entry, True) for entry in number_list.rows)
            table_lines.update(line.n for line in block)
    in_section = False
    previous_blank = True
    for line in lines:
        text = line.text
        if not text.strip():
            in_section = in_section and not previous_blank
            previous_blank = True
            continue
        previous_blank = False
        if line.n in table_lines or line.n in excluded:
            continue
        if _SECTION_START.search(text):
            in_section = True
        matches = [
            m for m in NANP_PATTERN.finditer(text)
            if not _btn_overlaps(text, m)
        ]  # fmt: skip
        if not matches:
            continue
        if not in_section and (_CONTACT_LABEL.match(text) or _CONTACT_SENTENCE.search(text)):
            continue
        listed = in_section or matches[0].start() <= len(re.match(_BULLET, text).group(0)) + 1  # type: ignore[union-attr]
        for j, m in enumerate(matches):
            end = matches[j + 1].start() if j + 1 < len(matches) else len(text)
            prefix = text[: m.start()] if len(matches) == 1 and _NAME_PREFIX.match(text) else ""
            lead = text[matches[j - 1].end() if j else 0 : m.start()]
            entry = _entry(m.group(0).strip(), text[m.end() : end], prefix, lead)
            found.append(_Found(entry, listed))
    return _merge(found)


_NAME_PREFIX = re.compile(_BULLET + rf"{_NAME.pattern}\s*(?:[:=]|-|–|—)\s*[(+\d]")


def _btn_overlaps(text: str, number: re.Match[str]) -> bool:
    btn = _btn_match(text)
    return btn is not None and btn.start() == number.start()


def _merge(found: list[_Found]) -> list[NumberEntry]:
    """Listed numbers as listed (duplicates kept: they are the customer's); prose ones once."""
    out: list[NumberEntry] = []
    listed_keys = {_key(f.entry.raw) for f in found if f.listed}
    seen: set[str] = set()
    for f in found:
        key = _key(f.entry.raw)
        if not f.listed and (key in listed_keys or key in seen):
            continue
        seen.add(key)
        out.append(f.entry)
    return out


def _key(raw: str) -> str:
    digits = digits_of(raw)
    return digits[1:] if len(digits) == 11 and digits.startswith("1") else digits


_PIN_BEFORE = re.compile(_PIN_WORD + r"\s+(?:for|on|of)\s*$", re.I)
_VALUE_AFTER = re.compile(r"^\s*(?:(?:[:=]|-|–|\bis\b)\s*)?" + _PIN_VALUE, re.I)


def _entry(raw: str, after: str, before: str, lead: str = "") -> NumberEntry:
    pin = _pin_in(after)
    if pin is None and _PIN_BEFORE.search(lead):  # "the PIN for 512-555-0101 is 4821"
        value = _VALUE_AFTER.match(after)
        pin = value.group("pin") if value else None
    email = _EMAIL.search(after)
    name = _assignee_name(after) or (_assignee_name(before) if before else None)
    if email is None and before:
        email = _EMAIL.search(before)
    return NumberEntry(
        raw=raw,
        pin=pin,
        assignee_name=name,
        assignee_email=email.group(0).strip(".").lower() if email else None,
    )


def _assignee_name(segment: str) -> str | None:
    """The person (or desk) a number goes to, from the words beside it on its line."""
    text = _EMAIL.sub("|\x00|", segment)  # keep where the email was: the name is beside it
    text = _PIN_STATED.sub(" ", text)
    text = re.sub(r"\b(?:ext|x)\.?\s*\d+\b", " ", text)
    chunks = re.split(
        r"\s*(?:->|=>|→|(?:^|\s)[-–—]+(?=\s|$)|[:|,;()<>\[\]/]|\b(?:assign(?:ed)?\s+to|goes\s+to|"
        r"for|user|agent|name|to|and)\b)\s*",
        text,
    )
    names: list[str] = []
    for chunk in chunks:
        chunk = chunk.strip(" '\"-–—")
        if chunk == "\x00" and names:
            return names[-1]  # the name written right before the email
        if not chunk or not _NAME.fullmatch(chunk):
            continue
        words = chunk.split()
        if all(w.lower().strip(".") in _DESCRIPTORS for w in words):
            continue
        names.append(chunk)
    if not names:
        return None
    several = [n for n in names if " " in n]
    return several[-1] if several else names[-1]


# --- tables pasted into the body -------------------------------------------------------------


def _cells(text: str) -> list[str]:
    if "|" in text:
        cells = [c.strip() for c in text.strip().split("|")]
        if cells and not cells[0]:
            cells = cells[1:]
        if cells and not cells[-1]:
            cells = cells[:-1]
        return cells
    if "\t" in text:
        return [c.strip() for c in text.split("\t")]
    return [c.strip() for c in text.split(",")]


_RULE_CHARS = frozenset("-|:+ \t")


def _tables(lines: list[_Line]) -> Iterator[list[_Line]]:
    """Runs of consecutive lines that look like rows: pipes, tabs or even commas."""
    kinds = ("|", "\t", ",")
    for kind in kinds:
        run: list[_Line] = []
        for line in [*(x for x in lines if x.text.strip()), _Line(-2, "")]:
            is_rule = "---" in line.text and set(line.text) <= _RULE_CHARS  # |---|---|
            ok = line.text.count(kind) >= (1 if kind != "," else 2)
            # Rows may be a blank line apart (HTML tables turned to text by some clients).
            consecutive = not run or 0 < line.n - run[-1].n <= 2
            if is_rule and run and consecutive:
                run.append(_Line(line.n, ""))
                continue
            if ok and consecutive:
                run.append(line)
                continue
            yield from _table_run(run, kind)
            run = [line] if ok else []


def _table_run(run: list[_Line], kind: str) -> Iterator[list[_Line]]:
    rows = [line for line in run if line.text]
    if not rows or not any(NANP_PATTERN.search(line.text) for line in rows):
        return
    if kind == "," and (len(rows) < 2 or len({line.text.count(",") for line in rows}) != 1):
        return  # commas make a table only when every row has the same number of them
    if len(rows) == 1 and kind != "|":
        return
    yield rows


# --- the whole text --------------------------------------------------------------------------


def _excluded_lines(lines: list[_Line]) -> set[int]:
    """Lines whose digits are not numbers to port: account number, SSN, address, dates."""
    out: set[int] = set()
    for line in lines:
        if (
            (_ACCOUNT_NUMBER.search(line.text) and not _NUMBER_FIRST.match(line.text))
            or any(p.search(line.text) for p in _SSN_PATTERNS)
            or _OTHER_REFERENCE.search(line.text)
        ):
            out.add(line.n)
    return out


# Reference numbers that can have ten digits: "Invoice #: 5125550100".
_OTHER_REFERENCE = re.compile(
    r"\b(?:invoice|order|ticket|case|ref(?:erence)?|confirmation|tracking|claim|transaction|"
    r"customer\s+id|meter|serial|imei|iccid|sim|po)\s*(?:#|no\.?|number|id)?\s*[:#]",
    re.I,
)


_NUMBER_FIRST = re.compile(_BULLET + r"\(?\+?1?[\s.-]?\(?[2-9]\d{2}")


def _pin_for_all(lines: list[_Line]) -> str | None:
    """A PIN stated on a line with no number on it, or "same PIN for all lines: X"."""
    for line in lines:
        m = _PIN_FOR_ALL_SENTENCE.search(line.text)
        if m:
            return m.group("pin")
    for line in lines:
        if NANP_PATTERN.search(line.text) or _CONTACT_LABEL.match(line.text):
            continue
        pin = _pin_in(line.text)
        if pin:
            return pin
    return None


def read_statements(text: str) -> Statements:
    """The values stated in one message's new text. None (or empty) for what is not stated."""
    lines = _customer_lines(text)
    joined = "\n".join(line.text for line in lines)
    entries = _numbers(lines, _excluded_lines(lines))
    entries, pin_lines = _pins_under_numbers(lines, entries)
    pin_for_all = _pin_for_all([line for line in lines if line.n not in pin_lines])
    no_pin = _no_pin_stated(lines)
    return Statements(
        current_carrier=find_carrier(joined) or stated_carrier(joined),
        account_number=_account_number(lines),
        account_name=_account_name(lines),
        service_address=_service_address(lines),
        billing_telephone_number=_btn(lines),
        ssn_last4=_ssn_last4(lines),
        pin_for_all=pin_for_all,
        # "No PIN" beside a PIN for the whole account contradicts it: the PIN wins.
        no_pin_stated=no_pin and pin_for_all is None,
        numbers=tuple(entries),
    )


def _pins_under_numbers(
    lines: list[_Line], entries: list[NumberEntry]
) -> tuple[list[NumberEntry], set[int]]:
    """ "512-555-0101\\nPIN: 4821\\n512-555-0102\\nPIN: 1111": each PIN line is its number's.

    Only when at least two numbers have their own PIN line; a single PIN line under a
    list is for all of them. Returns the entries and the PIN lines used.
    """
    pins: dict[str, str] = {}
    used: set[int] = set()
    for k, line in enumerate(lines[:-1]):
        nxt = lines[k + 1]
        numbers = list(NANP_PATTERN.finditer(line.text))
        if len(numbers) != 1 or nxt.n != line.n + 1 or NANP_PATTERN.search(nxt.text):
            continue
        pin = _pin_in(nxt.text)
        if pin and _pin_in(line.text) is None:
            pins[_key(numbers[0].group(0))] = pin
            used.add(nxt.n)
    if len(pins) < 2:
        return entries, set()
    return [
        NumberEntry(e.raw, e.pin or pins.get(_key(e.raw)), e.assignee_name, e.assignee_email)
        for e in entries
    ], used
