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
import tomllib
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources

from parsers.address import parse_address
from parsers.carriers import find_carrier, stated_carrier
from parsers.model import Address, NumberEntry, Statements
from parsers.numberlist import rows_from_table
from parsers.phone import NANP_PATTERN, digits_of

__all__ = ["read_statements", "reference_digits"]

_MAX_TEXT = 100_000  # characters read; a request is never longer
_MAX_LINE = 1_000  # characters of one line the patterns look at


# --- lines ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    """A line of the text, or one statement (segment) of a line.

    A segment keeps its line's index `n`; `text` may be rewritten with the
    canonical label ("Numéro de compte : 1" -> "Account number: 1"). A position
    in the value part of `text` plus `shift` is its position in the line.
    """

    n: int  # index in the text
    text: str  # normalised: no markdown bold, no NBSP, trimmed
    field: str | None = None  # the label's field, for a segment that starts with one
    shift: int = 0
    canonical: bool = False  # the label was rewritten: only its field's reader reads it


def _reads(line: _Line, field: str) -> bool:
    """Whether the reader of `field` looks at this line or segment."""
    return not line.canonical or line.field == field


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
    end = len(lines)
    while end and not lines[end - 1].strip():
        end -= 1  # blank lines at the very end
    last = max((i for i, r in enumerate(lines[:end]) if not r.strip()), default=-1) + 1
    block = [r for r in lines[last:end] if r.strip()]
    # "Dana Ortiz | Ortiz Law | 503-555-0177" on one line, below the request
    one_line = len(block) == 1 and "|" in block[0] and _is_person_line(block[0].split("|")[0])
    if (
        last > 0
        and ((1 < len(block) <= 6 and _is_person_line(block[0])) or one_line)
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


# --- label vocabulary and statements (segments) ------------------------------------------


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.replace("’", "'"))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(text.casefold().split())


@dataclass(frozen=True)
class _Vocabulary:
    labels: re.Pattern[str]  # any label of any field
    field_of: dict[str, str]  # folded label -> field
    canonical: dict[str, str]  # field -> the label the readers know ("" = keep the words)
    words: dict[str, str]  # field -> regex alternation of its labels (accents optional)


def _phrase(label: str) -> str:
    """A label as a pattern: any spacing, accented letters also unaccented."""
    out: list[str] = []
    for word in label.split():
        chars = []
        for c in word:
            plain = _fold(c)
            if c.isalpha() and plain != c.casefold():
                chars.append(f"[{re.escape(c)}{re.escape(plain)}]")
            elif c in "'’":
                chars.append("['’]")
            else:
                chars.append(re.escape(c))
        out.append("".join(chars))
    return r"\s+".join(out)


def _alternation(labels: list[str]) -> str:
    ordered = sorted(set(labels), key=len, reverse=True)  # longest first
    return r"(?<![\w#])(?:" + "|".join(_phrase(a) for a in ordered) + r")(?![\w])"


@cache
def _vocabulary() -> _Vocabulary:
    text = resources.files("parsers").joinpath("data/labels.toml").read_text("utf-8")
    data = tomllib.loads(text)["field"]
    field_of: dict[str, str] = {}
    canonical: dict[str, str] = {}
    words: dict[str, str] = {}
    every: list[str] = []
    for name, entry in data.items():
        labels = [str(a) for a in entry["labels"]]
        canonical[name] = str(entry.get("canonical", ""))
        words[name] = _alternation(labels)
        for label in labels:
            field_of.setdefault(_fold(label), name)
        every.extend(labels)
    return _Vocabulary(re.compile(_alternation(every), re.I), field_of, canonical, words)


# After a label: a note in brackets, then a separator, a verb or a space before the value.
_AFTER_LABEL = re.compile(
    r"\.?[ \t]*(?:\((?![\d+])[^()\n]{0,40}\)[ \t]*)?"
    r"(?P<sep>(?:[:=#–—]|-(?!\d))[ \t:=#–—-]{0,4}|(?:is|are|est|sont|should\s+be)\b[ \t]*"
    r"(?:(?:now|actually)[ \t]+)?)?[ \t]*"
)
# Words between a delimiter and a label: "..., and the PIN is 4821".
_FILLERS = frozenset(
    {
        "and",
        "the",
        "our",
        "my",
        "also",
        "plus",
        "with",
        "et",
        "le",
        "la",
        "l",
        "notre",
        "mon",
        "ma",
        "votre",
        "new",
        "correct",
        "nouveau",
        "nouvelle",
    }
)
_MAX_STATEMENTS = 6  # statements read on one line; the rest stays in the last one
_BULLET_CHARS = " \t-*•·>"


def _value_fits(field: str | None, value: str) -> bool:
    """Whether a value has the form its label's field wants (else the words are kept)."""
    first = value.lstrip("# \t").split(" ", 1)[0].rstrip(".,;")
    if field == "account_number":
        return any(c.isdigit() for c in first[:20])
    if field == "btn":
        return value[:1] in "0123456789(+"
    if field in ("pin", "pin_all"):
        return any(c.isdigit() for c in first) or first.casefold() in ("none", "n/a", "na", "aucun")
    return True


def _starts_statement(before: str) -> int | None:
    """Where the statement before a label ends, if a statement can start at the label."""
    bare = before.strip(_BULLET_CHARS)
    if not bare or (bare[:-1].isdigit() and len(bare) <= 3 and bare[-1] in ".)"):
        return 0  # the line's start, after a bullet
    end = len(before.rstrip())
    joined = False  # "... Supply and the service address is ...": "and" starts a statement
    for _ in range(3):  # drop fillers: "..., and the PIN"
        words = before[:end].rsplit(None, 1)
        if len(words) == 2 and words[1].casefold().strip("'’") in _FILLERS:
            joined = joined or words[1].casefold() in ("and", "et")
            end = len(before[:end].rstrip()) - len(words[1])
            end = len(before[:end].rstrip())
        elif len(words) == 1 and words[0].casefold() in _FILLERS:
            return 0
        else:
            break
    if end == 0:
        return 0
    if joined:
        return end
    last = before[end - 1]
    dash = end >= 2 and last in "-–—" and before[end - 2].isspace()
    return end if last in ",;|•(/.!?)–—" or last.isdigit() or dash else None


def _segments(lines: list[_Line]) -> list[_Line]:
    """Each line cut into statements where a known label starts one; labels made canonical."""
    vocabulary = _vocabulary()
    out: list[_Line] = []
    for line in lines:
        cuts: list[tuple[int, int, int]] = []  # (statement start, label start, label end)
        for m in vocabulary.labels.finditer(line.text):
            if len(cuts) == _MAX_STATEMENTS:
                break
            previous = cuts[-1][2] if cuts else 0
            before = line.text[previous : m.start()]
            if cuts and not before.strip():
                continue  # a label right after a label: "Account Name" is one
            end = _starts_statement(before)
            if end is not None:
                cuts.append((previous + end, m.start(), m.end()))
        if not cuts:
            out.append(line)
            continue
        if cuts[0][0] > 0:
            out.append(_Line(line.n, line.text[: cuts[0][0]].rstrip(" ,;|")))
        for k, (_, label_start, label_end) in enumerate(cuts):
            stop = cuts[k + 1][0] if k + 1 < len(cuts) else len(line.text)
            out.append(_segment(line, label_start, label_end, stop))
    return out


def _segment(line: _Line, start: int, label_end: int, stop: int) -> _Line:
    vocabulary = _vocabulary()
    text = line.text[:stop].rstrip(" ,;|")
    label = _fold(text[start:label_end])
    field = vocabulary.field_of.get(label) or vocabulary.field_of.get(label.rstrip(".# "))
    after = _AFTER_LABEL.match(text, label_end)
    canonical = vocabulary.canonical.get(field or "", "")
    if after is None or not canonical:
        return _Line(line.n, text[start:], field, start)
    value_at = after.end()
    value = text[value_at:]
    if value and not _value_fits(field, value):
        return _Line(line.n, text[start:], field, start)
    marked = after.group("sep") is not None or label.endswith("#")
    spaced = value_at > label_end and text[label_end].isspace()
    # "account holder Granite Builders Inc.": a label of several words, a space, a capital.
    named = (
        spaced
        and " " in label
        and value[:1].isupper()
        and field in ("account_name", "current_carrier")
    )
    if (marked and value) or (value and value[0] in "0123456789(+#" and spaced) or named:
        head = f"{canonical}: "
        rewritten = (head + value)[:_MAX_LINE]
        return _Line(line.n, rewritten, field, value_at - len(head), canonical=True)
    if not value and marked:
        return _Line(line.n, canonical + ":", field, start, canonical=True)
    return _Line(line.n, text[start:], field, start)


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
        if not _reads(line, "account_number"):
            continue
        secret = _SECRET_WORDS.search(line.text)
        for m in _ACCOUNT_NUMBER.finditer(line.text):
            if secret is not None and secret.start() < m.start("v"):
                continue  # "PIN on the account: 4821"
            if sum(c.isdigit() for c in m.group("v")) < 4:
                continue  # no call per short match on a hostile line
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
    {
        "inc",
        "co",
        "ltd",
        "corp",
        "jr",
        "sr",
        "bros",
        "assn",
        "intl",
        "mfg",
        "svc",
        "svcs",
        "dept",
        "cie",
        "ltée",
        "ltee",
        "esq",
        "dr",
        "st",
        "p.a",
        "p.c",
        "l.l.c",
        "l.p",
        "s.a",
    }
)


# After an account number: "account number 5551212 under ACME LLC at 12 Main St".
_NAME_AFTER_ACCOUNT = re.compile(
    r"[\s,]*(?:under|in\s+the\s+name\s+of|au\s+nom\s+de)\s+(?P<v>[^,;\n]{2,80}?)"
    r"(?=\s+(?:at|located\s+at|au)\s+\d|\s*[,;]|\.\s|\.?$)",
    re.I,
)


def _name_after_account(line: _Line) -> str | None:
    folded = line.text.casefold()
    if not any(w in folded for w in (" under ", "in the name of", "au nom de")):
        return None
    m = _ACCOUNT_NUMBER.search(line.text)
    after = _NAME_AFTER_ACCOUNT.match(line.text, m.end()) if m else None
    return _name_value(after.group("v")) if after else None


def _account_name(lines: list[_Line]) -> str | None:
    for line in lines:
        if line.field == "account_number":
            name = _name_after_account(line)
            if name:
                return name
    for i, line in enumerate(lines):
        if not _reads(line, "account_name"):
            continue
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
        if not _reads(line, "account_name"):
            continue
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
        if not _reads(line, "service_address"):
            continue
        m = _ADDRESS_LABEL.match(line.text) or _ADDRESS_SENTENCE.search(line.text)
        if not m or (not line.canonical and _OTHER_ADDRESS.search(line.text)):
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


_OTHER_ADDRESS = re.compile(r"\b(?:e-?mail|billing|mailing|ip|web)\s+address", re.I)
# "... at 12 Main St, Boise, ID 83702": where an address may start inside a sentence.
_AT_ADDRESS = re.compile(r"\b(?:at|located\s+at|is\s+at|au|situ[ée]e?\s+au)\s+(?=\d)", re.I)
_SENTENCE_END = re.compile(r"(?<=\w{2})[.;!?]\s+(?=[A-Z])|\s+and\s+(?:the|our)\b")


def _address_in_sentence(text: str) -> Address | None:
    """An address by its form after "at": "account 5551212 under ACME LLC at 12 Main St, ..."."""
    folded = text.casefold()
    if " at " not in folded and " au " not in folded:
        return None
    for k, m in enumerate(_AT_ADDRESS.finditer(text)):
        if k == 2:
            break  # an address follows one of the first "at"s, or none
        candidate = _SENTENCE_END.split(text[m.end() :], maxsplit=1)[0]
        if NANP_PATTERN.search(candidate):
            continue
        found = parse_address(candidate)
        if found is not None:
            return found
    return None


def _unlabelled_address(lines: list[_Line]) -> Address | None:
    """An address the customer wrote without a label: on one line or two, or after "at"."""
    for line in lines:
        found = _address_in_sentence(line.text)
        if found is not None:
            return found
    for k, line in enumerate(lines):
        if not _reads(line, "service_address"):
            continue
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
    parts = [p.rstrip().rstrip(".;").rstrip() for p in parts if p]
    head = parts[0].casefold().replace(".", "").replace(" ", "") if parts else ""
    named = bool(parts) and not any(c.isdigit() for c in head) and "pobox" not in head
    starts = [1, 0] if named else [0]  # a name line above the street is not part of it
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
        if not _reads(line, "btn"):
            continue
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

_SSN_WORD = (
    r"(?:SSN|SS#|social(?:\s+security)?(?:\s+(?:number|no\.?|#))?|tax\s*ID|EIN|TIN|SIN|NAS"
    r"|num[ée]ro\s+d['’]assurance\s+sociale)"
)
_SSN_PATTERNS = (
    # "4 derniers chiffres du NAS : 7469" (Québec)
    re.compile(
        r"\b(?:4|quatre)\s+derniers\s+chiffres\s+(?:du\s+|de\s+la\s+|de\s+)?"
        + _SSN_WORD
        + r"\s*(?:[:#=\-–]|\best\b|\bsont\b)*\s*(?P<v>\d{4})\b",
        re.I,
    ),
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
    r"(?:PIN|passcode|pass\s+code|security\s+code|NTP|account\s+password|"
    + _vocabulary().words["pin"]
    + r")\b"
)
_PIN_VALUE = r"(?P<pin>(?=[A-Za-z0-9]*\d)[A-Za-z0-9]{3,12})\b"
_PIN_STATED = re.compile(
    r"\b" + _PIN_WORD + r"(?:\s+(?:number|#|no\.?|code))?"
    r"(?:\s*\((?:for\s+)?[^)\n]{0,30}\))?"
    r"(?:\s+(?:for|on)\s+(?:all|every|each|both|the)\s+[\w\s]{0,25}?)?"
    r"\s*(?:[:=#]|-(?!\d)|–|—|\bis\b|\bof\b)*\s*"
    r"(?:(?:it|that|this)\s*(?:is|'s|’s|should\s+be)\s+)?(?:(?:now|actually)\s+)?" + _PIN_VALUE,
    re.I,
)
# "use 3190 as the PIN (for ...)"
_PIN_USE_AS = re.compile(
    r"\buse\s+" + _PIN_VALUE + r"\s+as\s+(?:the\s+|our\s+)?(?:new\s+|correct\s+)?" + _PIN_WORD,
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
    # "No PIN.", "No PIN - the carrier confirmed there isn't one.", "No passcode, sorry"
    re.compile(r"^\W*no\s+(?:port[\s-]*out\s+)?(?:pin|passcode)s?(?:\W*$|\s*[-–—,;:.(])", re.I),
    # French: "aucun NIP", "pas de NIP", "NIP : aucun"
    re.compile(r"\b(?:aucun|pas\s+de|sans)\s+(?:NIP|PIN|code)\b|\bNIP\s*[:=\-–]\s*aucun\b", re.I),
)


def _no_pin_stated(lines: list[_Line]) -> bool:
    return any(p.search(line.text) for line in lines for p in _NO_PIN)


def _pin_in(text: str) -> str | None:
    m = _PIN_STATED.search(text) or _PIN_USE_AS.search(text)
    if m and not NANP_PATTERN.fullmatch(m.group("pin")):
        return m.group("pin")
    return None


# --- numbers to port -----------------------------------------------------------------------

_SECTION_START = re.compile(
    r"\b(?:numbers?\s+(?:to\s+(?:be\s+)?port(?:ed)?|we\s+(?:want|need|would\s+like)\s+to\s+"
    r"(?:port|transfer|move)|being\s+ported|to\s+(?:transfer|move))"
    r"|(?:port|transfer|move)(?:ing)?\s+(?:over\s+)?(?:the\s+)?(?:following|these|below)"
    r"|^\W*(?:phone\s+|telephone\s+)?(?:numbers?|lines|DIDs?)\s*(?:\([^)]*\))?\s*:"
    r"|^\W*" + _vocabulary().words["numbers"] + r")",
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
# Loose on purpose: an address the customer mistyped ("dana@acme", "dana@@acme.com",
# "dana@acme..com") is still their email, and the rules call it invalid.
_EMAIL = re.compile(r"[\w.+'’-]{1,64}@{1,2}[\w-]{1,63}(?:\.{1,2}[\w-]{1,63}){0,8}")
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
    enumerated: bool = False  # listed by a sentence ("we want to move A, B and C")


# "…0199", "...0199", "the line ending in 0199": a listed number named by its last four digits.
_REFERENCE = re.compile(
    r"(?:…|(?<!\.)\.{2,3}|\b(?:ending|ends)\s+(?:in|with)\s+|\bthe\s+(?=\d{4}\s+(?:line|number)\b))"
    r"(?P<d>\d{4})(?![\w-])",
    re.I,
)
# Québec: "Le 7275 va à Sophie Gagnon", "NIP du 7275 : 9597", "le numéro se terminant par 7275".
_REFERENCE_FR = re.compile(
    r"(?:\b(?:le|du|au)\s+(?=\d{4}\s*(?:va\s|ira\s|sera\s|est\s|:|=))"
    r"|\bse\s+terminant\s+par\s+)(?P<d>\d{4})\b",
    re.I,
)
_REFERENCE_MARK = "…"


def reference_digits(raw: str) -> str | None:
    """The four digits of a number named by its last four digits ("…0199"), else None."""
    if raw.startswith(_REFERENCE_MARK) and len(raw) == 5 and raw[1:].isdigit():
        return raw[1:]
    return None


Spans = dict[int, list[tuple[int, int]]]


def _claimed(segments: list[_Line]) -> Spans:
    """Per line, the spans that are an account number or the BTN: not numbers to port."""
    out: Spans = {}
    for seg in segments:
        spans = out.setdefault(seg.n, [])
        if not (_reads(seg, "account_number") or _reads(seg, "btn")):
            continue
        secret = _SECRET_WORDS.search(seg.text)
        for m in _ACCOUNT_NUMBER.finditer(seg.text):
            if secret is None or secret.start() > m.start("v"):
                spans.append((m.start("v") + seg.shift, m.end("v") + seg.shift))
        btn = _btn_match(seg.text)
        if btn is not None:
            spans.append((btn.start() + seg.shift, btn.end() + seg.shift))
    return out


def _port_matches(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int, str]]:
    """(start, end, raw) of the numbers on a line that may be numbers to port, and references."""
    btn = _btn_match(text)  # once per line, not once per number
    found = [
        (m.start(), m.end(), m.group(0).strip())
        for m in NANP_PATTERN.finditer(text)
        if not (btn is not None and btn.start() == m.start())
        and not any(a <= m.start() < b for a, b in spans)
    ]
    first = _LISTED_FIRST.match(text)
    if (
        first is not None
        and not any(a <= first.start("n") < b for a, b, _ in found)
        and not any(a <= first.start("n") < b for a, b in spans)
    ):
        # A listed number with an impossible area code ("(150) 379-8898") is still the
        # customer's: the rules call it invalid rather than it silently vanishing.
        found.append((first.start("n"), first.end("n"), first.group("n").strip()))
    for pattern in (_REFERENCE, _REFERENCE_FR):
        for m in pattern.finditer(text):
            start = m.start() if pattern is _REFERENCE else m.start("d")  # "NIP du |7275"
            if not any(a < m.end() and start < b for a, b, _ in found):
                found.append((start, m.end(), _REFERENCE_MARK + m.group("d")))
    return sorted(found)


def _numbers(lines: list[_Line], excluded: set[int], claimed: Spans) -> list[NumberEntry]:
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
    for block, cells in _aligned_tables(lines):
        if any(line.n in table_lines for line in block) or max(len(c) for c in cells) < 2:
            continue
        number_list = rows_from_table(cells)
        if number_list is not None and number_list.rows:
            # A column of notes ("main line", "fax") is no column of users.
            found.extend(
                _Found(
                    replace(
                        entry,
                        assignee_name=_assignee_name(entry.assignee_name)
                        if entry.assignee_name
                        else None,
                    ),
                    True,
                )
                for entry in number_list.rows
            )
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
        matches = _port_matches(text, claimed.get(line.n, []))
        if not matches:
            continue
        if not in_section and (_CONTACT_LABEL.match(text) or _CONTACT_SENTENCE.search(text)):
            continue
        listed = in_section or matches[0][0] <= len(re.match(_BULLET, text).group(0)) + 1  # type: ignore[union-attr]
        # "503-555-0199 goes to Dana Ortiz" says more of a listed number; it lists none.
        listed = listed and not _SENTENCE_WORDS.search(text)
        # "We want to move A, B and A.": the sentence that enumerates them lists them,
        # a number with an impossible area code included (the rules call it invalid).
        first = _LOOSE_TEN.search(text)
        verb = _PORT_VERB_BEFORE.search(text[: first.start()]) if first else None
        enumerated_until = -1
        if first is not None and verb is not None:
            stop_at = re.search(r"[.;!?](?:\s|$)", text[first.end() :])
            enumerated_until = first.end() + stop_at.start() if stop_at else len(text)
            spans = claimed.get(line.n, [])
            for m in _LOOSE_TEN.finditer(text, first.start(), enumerated_until):
                if not any(a < m.end() and m.start() < b for a, b, _ in matches) and not any(
                    a <= m.start() < b for a, b in spans
                ):
                    matches.append((m.start(), m.end(), m.group(0).strip()))
            matches.sort()
        for j, (start, stop, raw) in enumerate(matches):
            listed_here = listed or start < enumerated_until
            end = matches[j + 1][0] if j + 1 < len(matches) else len(text)
            prefix = text[:start] if len(matches) == 1 and _NAME_PREFIX.match(text) else ""
            lead = text[matches[j - 1][1] if j else 0 : start]
            entry = _entry(raw, text[stop:end], prefix, lead)
            found.append(
                _Found(
                    entry,
                    listed_here and reference_digits(raw) is None,
                    enumerated=not listed and listed_here,
                )
            )
    # A sentence's enumeration stands for the list only where no list names the number.
    in_lists = {_key(f.entry.raw) for f in found if f.listed and not f.enumerated}
    for f in found:
        if f.enumerated and _key(f.entry.raw) in in_lists:
            f.listed = False
    return _resolve_references(_merge(found))


_LOOSE_TEN = re.compile(
    r"(?<![\w+/])(?:\+?1[\s.\-]?)?\(?\d{3}\)?[\s.\-]?\d{3}[\s.\-]?\d{4}(?![\w/])"
)
_PORT_VERB_BEFORE = re.compile(
    r"\b(?:port|move|transfer|bring\s+over|switch|transf[ée]rer|porter)(?:\s+over)?"
    r"(?:\s+(?:the\s+|our\s+|these\s+|nos\s+|les\s+)?(?:following\s+)?"
    r"(?:numbers?|lines?|num[ée]ros?|lignes?))?\s*:?\s*$",
    re.I,
)


_SENTENCE_WORDS = re.compile(
    r"\b(?:goes\s+to|gets|give|assign(?:ed)?\s+to|should\s+(?:be|get|go)|will\s+(?:be|get|go)|"
    r"belongs\s+to|is\s+for|the\s+PIN\s+for|use\s+\w+\s+as|va\s+[àa]|ira\s+[àa]|"
    r"attribu[ée]e?\s+[àa])\b",
    re.I,
)


def _resolve_references(entries: list[NumberEntry]) -> list[NumberEntry]:
    """A number named by its last four digits fills in what its listed number lacks.

    A reference that matches no number of this text (or several) is kept as it is:
    the thread resolves it against the numbers listed in earlier messages.
    """
    out = [e for e in entries if reference_digits(e.raw) is None]
    kept: list[NumberEntry] = []
    for ref in entries:
        digits = reference_digits(ref.raw)
        if digits is None:
            continue
        hits = [i for i, e in enumerate(out) if _key(e.raw).endswith(digits)]
        if len({_key(out[i].raw) for i in hits}) != 1:
            kept.append(ref)
            continue
        for i in hits:
            out[i] = _fill(out[i], ref)
    return out + kept


_NAME_PREFIX = re.compile(_BULLET + rf"{_NAME.pattern}\s*(?:[:=]|-|–|—)\s*[(+\d]")


def _btn_overlaps(text: str, number: re.Match[str]) -> bool:
    btn = _btn_match(text)
    return btn is not None and btn.start() == number.start()


def _merge(found: list[_Found]) -> list[NumberEntry]:
    """Listed numbers as listed (duplicates kept: they are the customer's); prose ones once."""
    out: list[NumberEntry] = []
    listed_keys = {_key(f.entry.raw) for f in found if f.listed}
    first: dict[str, int] = {}
    for f in found:
        key = _key(f.entry.raw)
        if not f.listed and (key in listed_keys or key in first):
            if key in first:  # "Dana Ortiz gets 503-555-0199" under the list: fill its gaps
                out[first[key]] = _fill(out[first[key]], f.entry)
            continue
        first.setdefault(key, len(out))
        out.append(f.entry)
    return out


def _fill(base: NumberEntry, extra: NumberEntry) -> NumberEntry:
    """`base` with what it lacks taken from `extra` (the same number, said again)."""
    return NumberEntry(
        base.raw,
        base.pin or extra.pin,
        base.assignee_name or extra.assignee_name,
        base.assignee_email or extra.assignee_email,
    )


def _key(raw: str) -> str:
    digits = digits_of(raw)
    return digits[1:] if len(digits) == 11 and digits.startswith("1") else digits


_PIN_BEFORE = re.compile(
    _PIN_WORD + r"\s+(?:for|on|of|du|de|pour)\s+(?:the\s+|le\s+|la\s+)?"
    r"(?:(?:line|number|phone|ligne|num[ée]ro)\s+)?$",
    re.I,
)
_VALUE_AFTER = re.compile(
    r"^\s*(?:(?:line|number|phone)\s+)?(?:(?:[:=]|-|–|\bis\b|\bshould\s+be\b|\bwill\s+be\b)\s*)?"
    r"(?:(?:now|actually)\s+)?" + _PIN_VALUE,
    re.I,
)
# "Dana Ortiz gets 503-555-0199"
_NAME_GETS = re.compile(
    _BULLET + rf"(?P<name>{_NAME.pattern})\s+(?:gets|takes|uses|receives|(?:will|should)\s+"
    r"(?:get|take|use|have))\s+(?:the\s+)?(?:(?:line|number)\s+)?$"
)


def _entry(raw: str, after: str, before: str, lead: str = "") -> NumberEntry:
    pin = _pin_in(after)
    if pin is None and _PIN_BEFORE.search(lead):  # "the PIN for 512-555-0101 is 4821"
        value = _VALUE_AFTER.match(after)
        pin = value.group("pin") if value else None
        use_as = _PIN_USE_AS.search(lead)  # "use 3190 as the PIN for 512-555-0101"
        pin = pin or (use_as.group("pin") if use_as else None)
    email = _EMAIL.search(after)
    gets = _NAME_GETS.match(lead)
    name = _assignee_name(after) or (_assignee_name(before) if before else None)
    if name is None and gets is not None:
        name = gets.group("name")
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
        r"\s*(?:->|=>|→|(?:^|\s)[-–—]+(?=\s|$)|[:|,;()<>\[\]/]|(?<=[a-z]{2})\.(?=\s|$)"
        r"|\b(?:assign(?:ed)?\s+to|goes\s+to|"
        r"for|user|agent|name|to|and|va\s+[àa]|ira\s+[àa]|pour|et|utilisateur)(?!\w))\s*",
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
    name = several[-1] if several else names[-1]
    return name[:-1] if name.endswith(".") and len(name.split()[-1]) > 3 else name


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


_GAP = re.compile(r"\S {2,}\S")


# Ten digits opening a line (after a bullet), whatever the area code.
_LISTED_FIRST = re.compile(
    _BULLET + r"(?P<n>(?:\+?1[\s.\-]?)?\(?\d{3}\)?[\s.\-]?\d{3}[\s.\-]?\d{4})(?![\w/.-]\d)"
)


def _aligned_tables(lines: list[_Line]) -> Iterator[tuple[list[_Line], list[list[str]]]]:
    """Rows whose columns are lined up with spaces ("503-555-0101   Dana Ortiz   4821"),
    a header line above them included, each cut at the columns blank on every row."""
    run: list[_Line] = []
    for line in [*lines, _Line(-2, "")]:
        starts = bool(_LISTED_FIRST.match(line.text)) and bool(_GAP.search(line.text))
        if (
            starts
            and "\t" not in line.text
            and "|" not in line.text
            and (not run or line.n == run[-1].n + 1)
        ):
            run.append(line)
            continue
        if run:
            above = [x for x in lines if x.n == run[0].n - 1]
            if above and _GAP.search(above[0].text) and not re.search(r"\d", above[0].text):
                run.insert(0, above[0])  # "Number      Name       PIN"
            cells = _cut_columns([x.text for x in run])
            widest = max(len(re.split(r" {2,}", x.text.strip())) for x in run)
            if cells and len(cells[0]) == widest:  # columns lined up, else the lines say it
                yield run, cells
        run = [line] if starts and line.text else []


def _cut_columns(texts: list[str]) -> list[list[str]]:
    width = max(len(t) for t in texts)
    padded = [t.ljust(width) for t in texts]
    blank = [all(t[i] == " " for t in padded) for i in range(width)]
    cuts: list[tuple[int, int]] = []
    start, i = 0, 0
    while i < width:
        if blank[i] and i + 1 < width and blank[i + 1]:
            j = i
            while j < width and blank[j]:
                j += 1
            if i > start:
                cuts.append((start, i))
            start, i = j, j
            continue
        i += 1
    if start < width:
        cuts.append((start, width))
    return [[t[a:b].strip() for a, b in cuts] for t in padded]


def _table_run(run: list[_Line], kind: str) -> Iterator[list[_Line]]:
    rows = [line for line in run if line.text]
    if not rows or not any(NANP_PATTERN.search(line.text) for line in rows):
        return
    if kind == "," and (len(rows) < 2 or len({line.text.count(",") for line in rows}) != 1):
        return  # commas make a table only when every row has the same number of them
    if len(rows) == 1 and kind != "|" and not (kind == "\t" and _LISTED_FIRST.match(rows[0].text)):
        return  # one line with commas is a sentence; one tabbed line opening on a number, a row
    yield rows


# --- the whole text --------------------------------------------------------------------------


def _excluded_lines(lines: list[_Line]) -> set[int]:
    """Lines whose digits are not numbers to port: SSN and other references.

    (The account number and the BTN are set aside by their spans: see `_claimed`.)
    """
    out: set[int] = set()
    for line in lines:
        if any(p.search(line.text) for p in _SSN_PATTERNS) or _OTHER_REFERENCE.search(line.text):
            out.add(line.n)
    return out


# Reference numbers that can have ten digits: "Invoice #: 5125550100".
_OTHER_REFERENCE = re.compile(
    r"\b(?:invoice|order|ticket|case|ref(?:erence)?|confirmation|tracking|claim|transaction|"
    r"customer\s+id|meter|serial|imei|iccid|sim|po)\s*(?:#|no\.?|number|id)?\s*[:#]",
    re.I,
)


_NUMBER_FIRST = re.compile(_BULLET + r"\(?\+?1?[\s.-]?\(?[2-9]\d{2}")


def _pin_for_all(segments: list[_Line], porting: set[int]) -> str | None:
    """A PIN stated for all lines, or on a line with no number to port on it."""
    segments = [s for s in segments if _reads(s, "pin") or s.field == "pin_all"]
    for seg in segments:
        m = _PIN_FOR_ALL_SENTENCE.search(seg.text)
        if m:
            return m.group("pin")
        if seg.field == "pin_all" and _pin_in(seg.text):
            return _pin_in(seg.text)
    for seg in segments:
        if seg.n in porting or _CONTACT_LABEL.match(seg.text):
            continue
        pin = _pin_in(seg.text)
        if pin:
            return pin
    return None


def read_statements(text: str) -> Statements:
    """The values stated in one message's new text. None (or empty) for what is not stated."""
    lines = _customer_lines(text)
    segments = _segments(lines)
    claimed = _claimed(segments)
    joined = "\n".join(seg.text for seg in segments)
    excluded = _excluded_lines(lines)
    entries = _numbers(lines, excluded, claimed)
    entries, pin_lines = _pins_under_numbers(lines, entries)
    porting = {
        line.n
        for line in lines
        if line.n not in excluded and _port_matches(line.text, claimed.get(line.n, []))
    }
    pin_for_all = _pin_for_all([s for s in segments if s.n not in pin_lines], porting)
    no_pin = _no_pin_stated(lines)
    return Statements(
        current_carrier=find_carrier(joined) or stated_carrier(joined),
        account_number=_account_number(segments),
        account_name=_account_name(segments),
        service_address=_service_address(segments),
        billing_telephone_number=_btn(segments),
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
