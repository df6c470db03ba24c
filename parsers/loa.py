"""Fields of a Letter of Authorization (LOA): numbers, customer name, signature, date.

Signature evidence comes from three places: the PDF itself (a filled
signature field, an ink annotation or image in the signature area, see
parsers/pdf.py), OCR of a scan (`PageText.signature_ink`), and the text
(a typed "/s/ Name", a name typed after "Signature:", an e-signature
certificate page).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

from parsers.bill import LABEL_TAIL, Cell, Layout, weighted_matcher
from parsers.dates import find_dates
from parsers.model import LoaFields
from parsers.phone import NANP_PATTERN, to_e164
from parsers.text import DocText, uncertain_fields

_NUMBERS_HEADING = re.compile(
    r"\b(?:(?:tele)?phone\s+numbers?|numbers?|TNs?|DIDs?|lines?)\s*(?:\(s\))?\s*"
    r"(?:to\s+(?:be\s+)?(?:port(?:ed)?|transfer(?:red)?|move[d]?)|being\s+ported|for\s+port(?:ing)?)"
    r"|\blist\s+of\s+(?:tele)?(?:phone\s+)?numbers|\b(?:tele)?phone\s+number\s*\(s\)"
    r"|\bnumbers?\s+(?:requested|included)|\bported\s+numbers|\btelephone\s+numbers\b"
    r"|\bnum[ée]ros?\s+(?:[àa]\s+(?:transf[ée]rer|porter)|de\s+t[ée]l[ée]phone)",
    re.IGNORECASE,
)
# Lines whose numbers are not ones to port: contacts, the carrier's support line, the BTN.
_NOT_PORT_LINE = re.compile(
    r"\b(?:fax|call\s+(?:us|me)?|contact|support|questions?|customer\s+(?:service|care)"
    r"|help(?:\s*desk)?|callback|call\s*back|reach\s+(?:us|me)|billing\s+tel(?:ephone)?"
    r"|billing\s+(?:phone|number)|BTN|account\s+(?:number|no\.?|#)|acct|main\s+(?:number|line)"
    r"|toll[\s-]?free|office|direct|cell(?:ular)?\s*(?:phone|#|:)|mobile\s*(?:phone|#|:)"
    r"|contact\s+(?:phone|number))\b",
    re.IGNORECASE,
)
# Looser than NANP_PATTERN: a listed number with a bad area code is still listed.
_LISTED_NUMBER = re.compile(
    r"(?<![\w+/])(?:\+?1[\s.\-]?)?\(?\d{3}\)?[\s.\-]?\d{3}[\s.\-]?\d{4}(?![\w/])"
)
_HEADER_CONTACT = re.compile(r"\b(?:tel|phone|ph|www|http)\b|@|\.com\b", re.IGNORECASE)
_SIGNATURE_SECTION = re.compile(
    r"\b(?:authori[sz]ed\s+signature|signature|sign\s+here|authori[sz]ed\s+(?:by|signer|person))\b",
    re.IGNORECASE,
)
_LOA_NAME_LABELS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\b(?:business|company|organi[sz]ation|legal\s+business|legal\s+entity)\s+name\b",
        r"\bname\s+(?:exactly\s+)?as\s+(?:it\s+)?(?:appears|shown|listed)\s+on\s+(?:the\s+|your\s+)?"
        r"(?:current\s+)?(?:bill|account|invoice|statement)",
        r"\bname\s+on\s+(?:the\s+)?(?:account|bill)\b",
        r"\b(?:account|billing)\s+name\b",
        r"\b(?:customer|subscriber|end[\s-]user|account\s+holder)(?:'s)?\s+name\b",
        r"\baccount\s+holder\b|\bcustomer\s*(?=:)",
        r"\b(?:company|business|organi[sz]ation|entreprise|soci[ée]t[ée])\s*(?=:)",
        # French (Quebec) forms.
        r"\bnom\s+(?:du|de\s+la|de\s+l['’])\s*(?:client|cliente|titulaire|abonn[ée]e?|entreprise"
        r"|soci[ée]t[ée]|compagnie)\b|\braison\s+sociale\b|\bnom\s+(?:au|sur\s+le)\s+compte\b",
    )
)
_GENERIC_NAME_LABEL = re.compile(
    r"(?<!print )(?<!printed )(?<!authorized )(?<!authorised )(?<!contact )(?<!signer )"
    r"(?<!your )(?<!user )\bname\s*:",
    re.IGNORECASE,
)
_ANY_LOA_LABEL = re.compile(
    r"\b(?:authori[sz]ed|signature|signed|print(?:ed)?\s+name|title|date|phone|tel(?:ephone)?|"
    r"e-?mail|address|account|billing|service|current\s+(?:carrier|provider)|carrier|provider|"
    r"pin|passcode|btn|city|state|zip|contact|name|business|company|customer|"
    r"nom|num[ée]ro|adresse|fournisseur|t[ée]l[ée]phone|courriel|ville|province|titre)\b"
    r"[^:\n]{0,30}:",
    re.IGNORECASE,
)
_DATE_LABEL = re.compile(
    r"\b(?:date(?:\s+signed)?|signed\s+(?:on|date)|dated)\s*[:.]?", re.IGNORECASE
)
_ESIGN = re.compile(
    r"\bsigned\s+electronically\b|\belectronically\s+signed\b|\bdigitally\s+signed\b"
    r"|\be-?signed\s+(?:by|on)\b|\bcertificate\s+of\s+completion\b|\bsignature\s+certificate\b"
    r"|\besignature\s+by\b|\bdocusigned\s+by\b|\bsign[ée]\s+[ée]lectroniquement\b",
    re.IGNORECASE,
)
_AUDIT_TRAIL = re.compile(
    r"\baudit\s+trail\b|\b(?:dropbox\s+sign|hellosign|adobe\s+(?:acrobat\s+)?sign|pandadoc"
    r"|signnow|docusign)\b",
    re.IGNORECASE,
)
_AUDIT_SIGNED = re.compile(
    r"\bsigned\s+by\b|\bsigned\b.{0,40}\b(?:at|on)\b|\bcompleted\b|\bsigner\s+events\b",
    re.IGNORECASE,
)
_SLASH_S = re.compile(r"/s/\s*[^\W\d_]{2,}")
_TYPED_SIGNATURE = re.compile(
    r"\bsignature\s*[:.]|\b(?:signature\s+(?:du|de\s+la|of(?:\s+the)?)\s+[^\W\d_]+|signed"
    r"|sign[ée])\s*:",
    re.IGNORECASE,
)
_NAME_LIKE = re.compile(r"^[^\W\d_][\w.'\-]*(?:\s+[^\W\d_][\w.'\-]*){0,4}$")
_LABEL_WORDS = re.compile(
    r"\b(?:date|title|print|printed|name|signature|sign|here|authori[sz]ed|by|of|x|nom|titre)\b",
    re.IGNORECASE,
)


def _value_after(text: str) -> str:
    """A label's value in the rest of its cell, up to the next label."""
    nxt = _ANY_LOA_LABEL.search(text)
    value = text[: nxt.start()] if nxt else text
    return value.strip(" :#-_\t|").lstrip(".")


def _is_heading(line: str) -> bool:
    """A heading over the list of numbers, not a sentence that mentions numbers."""
    m = _NUMBERS_HEADING.search(line)
    if m is None:
        return False
    rest = line[m.end() :]
    return len(line) < 70 or rest.lstrip().startswith(":") or bool(_LISTED_NUMBER.search(rest))


def _numbers(doc: DocText) -> tuple[str, ...]:
    found: list[str] = []
    for page in doc.pages:
        layout = Layout(page.text)
        nonblank = [i for i, row in enumerate(layout.cells) if row]
        edges = set(nonblank[:3]) | set(nonblank[-3:])
        section = False
        for i in nonblank:
            line = " ".join(c.text for c in layout.cells[i])
            heading = _is_heading(line)
            if heading:
                section = True
            elif section and _SIGNATURE_SECTION.search(line) and not _LISTED_NUMBER.search(line):
                section = False
            before_cells = ""
            for cell in layout.cells[i]:
                for m in _LISTED_NUMBER.finditer(cell.text):
                    # What labels the number: the text before it on its line.
                    if _NOT_PORT_LINE.search(_last_label(before_cells, cell.text[: m.start()])):
                        continue
                    if not section and i in edges and _HEADER_CONTACT.search(line):
                        continue  # the carrier's letterhead or footer
                    if not section and not heading and _NOT_PORT_LINE.search(line):
                        continue
                    found.append(to_e164(m.group(0)) or m.group(0).strip())
                before_cells += cell.text + " | "
    return tuple(dict.fromkeys(found))


def _last_label(before_cells: str, before_in_cell: str) -> str:
    """The text that labels a number: earlier in its cell, else the cell to its left."""
    own = before_in_cell[-45:]
    if re.search(r"[^\W\d_]{2}", own):
        return own
    previous = before_cells.rstrip(" |").rsplit(" | ", 1)[-1]
    return previous[-45:] + " " + own


def _name_values(
    layout: Layout, label: re.Pattern[str], skip_lines: frozenset[int] = frozenset()
) -> Iterable[str]:
    for cell in layout.all_cells():
        if cell.line in skip_lines:
            continue
        for m in label.finditer(cell.text):
            rest = cell.text[m.end() :]
            tail = LABEL_TAIL.match(rest)
            value = _value_after(rest[tail.end() if tail else 0 :])
            if value:
                yield value
                continue
            right = layout.right_of(cell)
            if right is not None and not _ANY_LOA_LABEL.match(right.text):
                yield _value_after(right.text)
            for under in layout.below(cell, max_lines=1, skip_blank=0):
                if not _ANY_LOA_LABEL.search(under.text):
                    yield _value_after(under.text)


def _good_name(value: str) -> bool:
    value = value.strip()
    return (
        len(value) >= 2
        and re.search(r"[^\W\d_]{2}", value) is not None
        and not NANP_PATTERN.search(value)
        and "@" not in value
        and not re.fullmatch(r"[_\s.\-]+", value)
    )


# A letter of agency names the account in its prose: "held in the name of Acme LLC",
# "on behalf of Acme LLC", "au nom de ...", or only its writer: "I, Dana Ortiz, authorize".
_PROSE_ACCOUNT = re.compile(
    r"\b(?:in\s+the\s+name\s+of|on\s+behalf\s+of|account\s+holder\s+is|au\s+nom\s+de"
    r"|(?:authori[sz]ed|empowered)\s+to\s+act\s+for|pour\s+le\s+compte\s+de)\s+"
    r"(?!my\b|me\b|our\b|the\s+(?:undersigned|customer|company)\b|mon\b|ma\b)",
    re.IGNORECASE,
)
_PROSE_WRITER = re.compile(
    r"(?:^|[\s(])(?:I|\||l|Je\s+soussign[ée]e?|We)\s*,\s*([^\W\d_][^,;:\n]{1,60}),\s*"
    r"(?:the\s+undersigned,\s*)?(?:(?:do\s+)?hereby\s+)?(?:authori[sz]e|autorise|confirm)",
)
# Where a name in running text ends: punctuation, or the prose going on.
_PROSE_NAME_END = re.compile(
    r"[.,:;()\n]|\s(?:to|and|for|with|from|at|who|which|is|as|et|pour|à|a)\s|\s{3}", re.IGNORECASE
)


def _prose_name(text: str, *, writer_too: bool = True) -> str | None:
    flat = re.sub(r"[ \t]+", " ", text)
    for m in _PROSE_ACCOUNT.finditer(flat):
        rest = flat[m.end() : m.end() + 120].replace("\n", " ")
        end = _PROSE_NAME_END.search(rest)
        value = (rest[: end.start()] if end else rest).strip()
        if _good_name(value) and len(value.split()) <= 8 and value[:1].isupper():
            return value
    writer = _PROSE_WRITER.search(flat) if writer_too else None
    if writer and _good_name(writer.group(1)) and len(writer.group(1).split()) <= 5:
        return writer.group(1).strip()
    return None


def _account_name(layout: Layout, text: str) -> str | None:
    """The account's name: a labelled one, the one the prose acts for, then a bare
    "Name:" that is not the signer's (the printed name by the signature line)."""
    for label in _LOA_NAME_LABELS:
        for value in _name_values(layout, label):
            if _good_name(value):
                return value.strip(" ,")
    prose = _prose_name(text, writer_too=False)
    if prose is not None:
        return prose
    signer = frozenset(c.line + k for c in _signature_cells(layout) for k in range(-2, 4))
    for value in _name_values(layout, _GENERIC_NAME_LABEL, signer):
        if _good_name(value):
            return value.strip(" ,")
    return _prose_name(text)


def _signature_cells(layout: Layout) -> list[Cell]:
    return [c for c in layout.all_cells() if _SIGNATURE_SECTION.search(c.text)]


def _dates_of_label(layout: Layout, cell: Cell, start: int) -> list[dt.date]:
    rest = cell.text[start:]
    nxt = _ANY_LOA_LABEL.search(rest)
    value = rest[: nxt.start()] if nxt else rest
    dates = [f.date for f in find_dates(value)]
    if dates:
        return dates
    right = layout.right_of(cell)
    if right is not None:
        dates = [f.date for f in find_dates(right.text)]
        if dates and find_dates(right.text)[0].start == 0:
            return dates[:1]
    for under in layout.below(cell, max_lines=1, skip_blank=0):
        found = find_dates(under.text)
        if found:
            return [found[0].date]
    # A date written on the line above a "Date" label printed under the line.
    if cell.line > 0:
        above = [c for c in layout.cells[cell.line - 1] if abs(c.col - cell.col) <= 12]
        for c in above:
            found = find_dates(c.text)
            if found:
                return [found[0].date]
    return []


def _signed_date(layout: Layout) -> dt.date | None:
    signatures = _signature_cells(layout)
    candidates: list[tuple[int, dt.date]] = []
    for cell in layout.all_cells():
        for m in _DATE_LABEL.finditer(cell.text):
            before = cell.text[: m.start()].lower()
            if re.search(r"\b(?:due|bill|birth|start|effective|port|due|requested)\s*$", before):
                continue
            dates = _dates_of_label(layout, cell, m.end())
            if not dates:
                continue
            distance = min((abs(cell.line - s.line) for s in signatures), default=50)
            candidates.append((distance, dates[0]))
    if candidates:
        candidates.sort(key=lambda c: c[0])
        return candidates[0][1]
    # An e-signature certificate: "Signed: 11/20/2026 10:31 AM", "Completed 11/20/2026".
    for row in layout.cells:
        for cell in row:
            if re.search(r"\b(?:signed|completed|signature)\b", cell.text, re.IGNORECASE):
                found = find_dates(cell.text)
                if found:
                    return found[0].date
    return None


def _typed_signature(layout: Layout) -> bool:
    for cell in layout.all_cells():
        for m in _TYPED_SIGNATURE.finditer(cell.text):
            values = [_value_after(cell.text[m.end() :])]
            if not values[0]:
                right = layout.right_of(cell)
                if right is not None and right.line == cell.line:
                    values.append(_value_after(right.text))
            for value in values:
                if (
                    value
                    and _NAME_LIKE.match(value)
                    and len(value.replace(" ", "")) >= 4
                    and not _LABEL_WORDS.search(value)
                ):
                    return True
    return False


def _esigned(text: str) -> bool:
    if _ESIGN.search(text):
        return True
    return bool(_AUDIT_TRAIL.search(text) and _AUDIT_SIGNED.search(text))


def read_loa(doc: DocText, *, signature_field_filled: bool, signature_ink: bool) -> LoaFields:
    """The fields of an LOA that the rules check: signature, date, name, numbers."""
    text = doc.text
    layout = Layout(text)
    signed = (
        signature_field_filled
        or signature_ink
        or any(p.signature_ink for p in doc.pages)
        or bool(_SLASH_S.search(text))
        or _esigned(text)
        or _typed_signature(layout)
    )
    name = _account_name(layout, text)
    return LoaFields(
        signed=signed,
        signed_date=_signed_date(layout),
        account_name=name,
        numbers=_numbers(doc),
        uncertain=uncertain_fields(doc, {"account_name": name}),
    )


_LOA_WORDS: tuple[tuple[str, int], ...] = (
    (r"letter\s+of\s+(?:authori[sz]ation|agency)|lettre\s+d['’]autorisation", 6),
    (r"\bloa\b", 3),
    (r"authori[sz]ation\s+to\s+(?:port|transfer|switch)|port(?:ing)?\s+authori[sz]ation", 5),
    (r"\bauthori[sz]e[sd]?\b|\bautorise\b", 2),
    (
        r"numbers?\s+to\s+(?:be\s+)?port|\bport(?:ed|ing|s)?\b|num[ée]ros?\s+[àa]\s+transf"
        r"|\btransfert\b|portabilit[ée]",
        2,
    ),
    (r"signature|/s/", 2),
    (r"current\s+(?:carrier|provider|service\s+provider)|losing\s+carrier|fournisseur\s+actuel", 2),
    (r"authori[sz]ed\s+(?:signer|person|representative|by)|print(?:ed)?\s+name|title\s*:", 1),
)


# Without one of these, a text is not an LOA however often it says "signature".
_LOA_CORE = re.compile(
    r"letter\s+of\s+(?:authori[sz]ation|agency)|\bLOA\b|authori[sz]ation\s+to\s+(?:port|transfer)"
    r"|port(?:ing)?\s+authori[sz]ation|lettre\s+d['’]autorisation"
    r"|autorisation\s+de\s+(?:transfert|portabilit)",
    re.IGNORECASE,
)
_AUTHORIZE = re.compile(r"\bauthori[sz]|\bautoris", re.IGNORECASE)
_PORT = re.compile(r"\bport(?:ed|ing|s)?\b|\btransf[ée]r|\bportabilit", re.IGNORECASE)
_LOA_WEIGHTS = weighted_matcher(_LOA_WORDS)


def loa_score(doc: DocText) -> int:
    """How much the text reads like an LOA (0: not at all; 8+: clearly)."""
    text = doc.text[:20000]
    score = sum(_LOA_WEIGHTS(text))
    core = _LOA_CORE.search(text) or (_AUTHORIZE.search(text) and _PORT.search(text))
    return score if core else min(score, 3)
