"""Fields of a phone bill or Customer Service Record, read from its text.

The text is a page layout (parsers/pdf.py keeps column gaps as runs of
spaces) or OCR lines. A line is split into cells at runs of 2+ spaces; a
label's value is the rest of its cell, else the next cell to its right, else
the cell below it in the same column (a table header, an address block).
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources

from parsers.address import address_key, ends_like_a_place, parse_address
from parsers.dates import FoundDate, find_dates
from parsers.model import Address, BillFields
from parsers.phone import NANP_PATTERN, parse_phone, to_e164
from parsers.text import DocText, uncertain_fields

# --- layout --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    line: int
    col: int
    text: str

    @property
    def end(self) -> int:
        return self.col + len(self.text)


_CELL_RE = re.compile(r"\S+(?: \S+)*")
_MAX_LINE = 400  # characters of one layout line: a landscape page at 2 points a column


class Layout:
    """The lines of a document as cells with their column positions."""

    def __init__(self, text: str) -> None:
        # Lines capped before any pattern sees them: a hostile PDF's 100k-character line
        # costs no more than a real bill's widest one.
        self.lines = [line[:_MAX_LINE] for line in text.replace("\f", "").split("\n")]
        self.cells: list[list[Cell]] = [
            [Cell(i, m.start(), m.group(0)) for m in _CELL_RE.finditer(line)]
            for i, line in enumerate(self.lines)
        ]

        # Read once per layout, on first need (several fields ask for them).
        self.parts: dict[str, str] | None = None  # see _labelled_parts
        self.blocks: list[tuple[Cell, _Block]] | None = None  # see _unlabelled_blocks
        # Page of each line: pages are joined with a form feed (DocText.text).
        self._pages: list[int] = []
        page = 0
        for line in text.split("\n"):
            if "\f" in line:
                page += 1
            self._pages.append(page)

    def page_of(self, line: int) -> int:
        return self._pages[line] if line < len(self._pages) else 0

    def all_cells(self) -> Iterator[Cell]:
        for row in self.cells:
            yield from row

    def right_of(self, cell: Cell) -> Cell | None:
        row = self.cells[cell.line]
        for other in row:
            if other.col > cell.col:
                return other
        return None

    def below(self, cell: Cell, *, max_lines: int = 6, skip_blank: int = 1) -> Iterator[Cell]:
        """Cells under `cell` in the same column, top to bottom, until a gap in the column."""
        blanks = 0
        for i in range(cell.line + 1, min(len(self.cells), cell.line + 1 + max_lines)):
            under = [c for c in self.cells[i] if _overlaps(c, cell)]
            if not under:
                blanks += 1
                if blanks > skip_blank:
                    return
                continue
            blanks = 0
            yield under[0]


def _overlaps(a: Cell, b: Cell) -> bool:
    # Same column: the cells' spans overlap, or their left edges are close.
    return abs(a.col - b.col) <= 3 or (a.col < b.end and b.col < a.end)


# --- labels --------------------------------------------------------------------------------

_DATE_LABEL = re.compile(
    r"\b(?:bill(?:ing)?\s+date|statement\s+(?:issue\s+)?date|invoice\s+date|issue\s+date"
    r"|date\s+of\s+(?:bill|statement|invoice|issue)|date\s+issued|bill\s+issued"
    r"|report\s+date|print(?:ed)?\s+date|date\s+printed|csr\s+date|date\s+prepared"
    r"|invoice\s+issued|closing\s+date"
    r"|date\s+(?:de\s+(?:la\s+)?)?(?:factur(?:e|ation)|relev[ée])|date\s+d['’][ée]mission"
    r"|date\s+du\s+relev[ée])(?!\w)\s*[:#.-]?",
    re.IGNORECASE,
)
# A bare "Date:" (a CSR's, or a statement header's) counts when nothing better does.
_BARE_DATE_LABEL = re.compile(r"^date\s*[:.]", re.IGNORECASE)
_NOT_BILL_DATE = re.compile(
    r"\b(?:due|pay(?:ment)?s?\s+by|pay\s+by|please\s+pay|payment|paid|received|period|"
    r"service\s+(?:from|dates?|period)|through|thru|from|until|autopay|auto\s+pay|"
    r"scheduled|debit(?:ed)?|previous|last|next|expir\w*|since|start|end|effective|"
    r"activated|installed|disconnect\w*|late|[ée]ch[ée]ance|avant|p[ée]riode)\b",
    re.IGNORECASE,
)
_ACCOUNT_LABEL = re.compile(
    r"\b(?:billing\s+account\s+(?:number|no\.?|#)(?:\s*\(BAN\))?|account\s+(?:number|no\.?|#)"
    r"|acc(?:oun)?t\.?\s*(?:no\.?|number|#|nbr|num|id)|customer\s+(?:account\s+)?(?:number|no\.?|#|id)"
    r"|BAN|num[ée]ro\s+(?:de\s+|du\s+)compte|n[o°º]\.?\s+(?:de\s+)?compte"
    r"|compte\s+(?:n[o°º]\.?|#))(?!\w)\s*[:#.]?",
    re.IGNORECASE,
)
_BARE_ACCOUNT_LABEL = re.compile(r"\baccount\s*:", re.IGNORECASE)
_NAME_LABEL = re.compile(
    r"\b(?:account\s+name|cust(?:omer)?\.?\s+name|company\s+name|business\s+name|name\s+on\s+account"
    r"|account\s+holder|listed\s+name|billing\s+name|subscriber\s+name|(?:customer|company)(?=\s*:)"
    r"|bill(?:ed)?\s+to|prepared\s+for|sold\s+to|service\s+for"
    r"|nom\s+(?:du\s+client|du\s+compte|de\s+l['’]entreprise|sur\s+la\s+facture)"
    r"|titulaire(?:\s+du\s+compte)?|client(?=\s*:)|(?<!printed\s)(?<!print\s)name(?=\s*:))"
    r"(?!\w)\s*[:.]?",
    re.IGNORECASE,
)
_SERVICE_ADDRESS_LABEL = re.compile(
    r"\b(?:service\s+(?:address|location)|(?:svc|serv)\.?\s+addr(?:ess)?|location\s+of\s+service"
    r"|installation\s+address"
    r"|premises\s+address|site\s+address|service\s+at"
    r"|adresse\s+(?:de\s+|du\s+)service|lieu\s+(?:de\s+|du\s+)service"
    r"|adresse\s+d['’]installation|adresse\s+desservie)(?!\w)\s*[:.]?",
    re.IGNORECASE,
)
_OTHER_ADDRESS_LABEL = re.compile(
    r"\b(?:billing\s+address|mailing\s+address|customer\s+address|bill(?:ed)?\s+to"
    r"|(?:address|adresse)(?=\s*:)|adresse\s+(?:de\s+facturation|postale|de\s+correspondance))"
    r"(?!\w)\s*[:.]?",
    re.IGNORECASE,
)
_REMIT = re.compile(
    r"\b(?:remit|send\s+(?:your\s+)?payments?|payment\s+address|mail\s+(?:your\s+)?payments?"
    r"|checks?\s+payable|payable\s+to|pay\s+by\s+mail|return\s+(?:this|with)|mail\s+to"
    r"|payment\s+center|payments?\s+to|lockbox|veuillez\s+retourner|libellez)\b",
    re.IGNORECASE,
)
_CARRIERS = re.compile(
    r"\b(?:at&t|at\s*&\s*t|verizon|comcast|xfinity|spectrum|charter|ringcentral|bell|rogers|"
    r"telus|frontier|centurylink|lumen|windstream|cox|vonage|8x8|t-mobile|sprint|altice|"
    r"optimum|mediacom|consolidated|brightspeed|zoom|dialpad|nextiva|ooma|grasshopper|"
    r"shaw|vid[ée]otron|cogeco|fido|koodo|freedom\s+mobile|granite|lingo|earthlink)\b",
    re.IGNORECASE,
)
_BTN_LABEL = re.compile(
    r"\b(?:billing\s+tel(?:ephone)?\.?\s*(?:number|no\.?|#)|billing\s+phone\s+(?:number|no\.?|#)"
    r"|BTN|account\s+(?:tele)?phone\s+(?:number|no\.?|#)|main\s+(?:tele)?phone\s+(?:number|no\.?|#)"
    r"|main\s+(?:company\s+)?(?:number|line)|main\s+company\s+(?:phone\s+)?number"
    r"|primary\s+(?:phone|telephone|line|number)(?:\s+(?:number|no\.?|#))?"
    r"|billing\s+number|account\s+main\s+number"
    r"|t[ée]l[ée]phone\s+(?:de\s+facturation|principal)|num[ée]ro\s+(?:de\s+t[ée]l[ée]phone\s+)?"
    r"(?:de\s+facturation|principal))(?!\w)\s*(?:\(BTN\))?\s*[:#.]?",
    re.IGNORECASE,
)

# Any label: a value stops where the next one starts ("Account #: 123  Bill Date: ...").
_ANY_LABEL = re.compile(
    "|".join(
        p.pattern
        for p in (
            _DATE_LABEL,
            _ACCOUNT_LABEL,
            _NAME_LABEL,
            _SERVICE_ADDRESS_LABEL,
            _OTHER_ADDRESS_LABEL,
            _BTN_LABEL,
        )
    )
    + r"|\b(?:(?:payment\s+)?due\s+date|payment\s+due|amount\s+due|total\s+(?:amount\s+)?due"
    r"|balance|billing\s+period|service\s+period|statement\s+period|page\s+\d|invoice\s+(?:number|#)"
    r"|total|due\s+by|pay\s+by|please\s+pay|post\s+office|montant\s+d[ûu]|date\s+d['’][ée]ch[ée]ance"
    r"|total\s+[àa]\s+payer|solde)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class LabelHit:
    cell: Cell
    start: int  # of the label in the cell text
    end: int
    value: str  # rest of the cell after the label, up to the next label


# What may follow a label before its value: "(BAN)", "(as shown on bill)", ":".
LABEL_TAIL = re.compile(r"^\s*(?:\((?=[^)]*[A-Za-z])[^)]{0,40}\)\s*)?[:#.\-]?\s*")


_MAX_HITS = 40  # a real bill prints a label a few times; a page of labels is no bill


def find_labels(layout: Layout, label: re.Pattern[str]) -> list[LabelHit]:
    hits: list[LabelHit] = []
    for cell in layout.all_cells():
        if len(hits) >= _MAX_HITS:
            break
        for m in label.finditer(cell.text):
            tail = LABEL_TAIL.match(cell.text[m.end() :])
            end = m.end() + (tail.end() if tail else 0)
            rest = cell.text[end:]
            nxt = _ANY_LABEL.search(rest)
            value = rest[: nxt.start()] if nxt else rest
            hits.append(LabelHit(cell, m.start(), end, value.strip(" :#-\t|").lstrip(".")))
    return hits


def value_cells(layout: Layout, hit: LabelHit) -> list[str]:
    """Candidate values of a label, best first: its own cell, right of it, below it."""
    out: list[str] = []
    if hit.value:
        out.append(hit.value)
    if hit.value and hit.end < len(hit.cell.text):
        return out  # a value in the label's own cell is the value
    right = layout.right_of(hit.cell)
    if right is not None and (_ANY_LABEL.match(right.text) or _REMIT.search(right.text)):
        right = None
    below = None
    for under in layout.below(hit.cell, max_lines=2, skip_blank=0):
        if not _ANY_LABEL.match(under.text) and not _REMIT.search(under.text):
            below = under.text
        break
    # "Label:   value" reads across; a heading without a colon heads a column.
    order = [right.text if right else None, below]
    if not _has_colon(hit):
        order.reverse()
    out.extend(v for v in order if v)
    return out


def _has_colon(hit: LabelHit) -> bool:
    return ":" in hit.cell.text[hit.start : hit.end] or hit.cell.text[hit.end :].startswith(":")


# --- values --------------------------------------------------------------------------------

_RANGE_SEP = re.compile(r"^\s*(?:-|–|—|to|through|thru)\s*$", re.IGNORECASE)


def _standalone_dates(text: str) -> list[FoundDate]:
    """Dates that are not one end of a range ("Oct 3 - Nov 2, 2026")."""
    found = find_dates(text)
    out = []
    for i, f in enumerate(found):
        before = text[max(0, f.start - 12) : f.start]
        after = text[f.end : f.end + 12]
        if re.search(r"(?:-|–|—|\bto|\bthrough|\bthru)\s*$", before, re.IGNORECASE):
            continue
        if re.match(r"\s*(?:-|–|—|to\b|through\b|thru\b)", after, re.IGNORECASE):
            continue
        if i + 1 < len(found) and _RANGE_SEP.match(text[f.end : found[i + 1].start]):
            continue
        out.append(f)
    # "Oct 3 - Nov 2, 2026": the first end has no year, so it is not a date; the
    # second is preceded by "-" and dropped above.
    return out


def _date_from_hit(layout: Layout, hit: LabelHit) -> dt.date | None:
    if hit.value:
        dates = _standalone_dates(hit.value)
        if dates:
            return dates[0].date
        if hit.end < len(hit.cell.text) and not _ANY_LABEL.match(hit.cell.text[hit.end :].strip()):
            return None  # the label's own cell holds something else
    right = layout.right_of(hit.cell)
    if right is not None and not _ANY_LABEL.match(right.text):
        dates = _standalone_dates(right.text)
        if dates and dates[0].start == 0:
            return dates[0].date
    for under in layout.below(hit.cell, max_lines=1, skip_blank=0):
        if _ANY_LABEL.match(under.text):
            break
        dates = _standalone_dates(under.text)
        if not dates:
            break
        # A header row of labels over a row of values in one cell (OCR lines):
        # take the date in the same order as the date labels in the header.
        nth = sum(
            1
            for m in _ANY_LABEL.finditer(hit.cell.text[: hit.start])
            if re.search(r"date|due|period|pay", m.group(0), re.IGNORECASE)
        )
        if len(dates) > 1 and nth < len(dates):
            return dates[nth].date
        return dates[0].date
    return None


def _bill_date(layout: Layout) -> dt.date | None:
    for label in (_DATE_LABEL, _BARE_DATE_LABEL):
        for hit in find_labels(layout, label):
            before = hit.cell.text[: hit.start]
            if label is _BARE_DATE_LABEL and _NOT_BILL_DATE.search(before[-25:]):
                continue  # "Payment Due Date:", "Service Start Date:"
            if label is _DATE_LABEL and re.search(r"\b(?:due|payment)\s*$", before, re.IGNORECASE):
                continue
            date = _date_from_hit(layout, hit)
            if date is not None:
                return date
    return _unlabelled_date(layout)


def _unlabelled_date(layout: Layout) -> dt.date | None:
    """A date standing alone near the top of page one, with no due/period words around."""
    seen = 0
    for row in layout.cells:
        if not row:
            continue
        seen += 1
        if seen > 25:
            break
        for cell in row:
            dates = find_dates(cell.text)
            if len(dates) != 1 or _NOT_BILL_DATE.search(cell.text):
                continue
            rest = cell.text.replace(dates[0].text, "").strip(" ,:-")
            if rest and not re.fullmatch(r"(?:date|dated|as of|on)", rest, re.IGNORECASE):
                continue
            above = (
                [c for c in layout.cells[cell.line - 1] if _overlaps(c, cell)] if cell.line else []
            )
            if any(_NOT_BILL_DATE.search(c.text) or _ANY_LABEL.search(c.text) for c in above):
                continue
            return dates[0].date
    return None


_ACCOUNT_VALUE = re.compile(r"(?<![\w-])(?=[\w-]*\d)[A-Za-z0-9][\w-]*(?:[ ](?=[\w-]*\d)[\w-]+)*")


def _account_number(layout: Layout) -> str | None:
    for label in (_ACCOUNT_LABEL, _BARE_ACCOUNT_LABEL):
        for hit in find_labels(layout, label):
            for value in value_cells(layout, hit):
                if find_dates(value) and find_dates(value)[0].start == 0:
                    continue
                m = _ACCOUNT_VALUE.search(value)
                if m and not value[: m.start()].strip(" :#"):
                    token = m.group(0)
                    # "287654321 11/02/2026" (a header row's values): stop at the date.
                    for found in find_dates(value):
                        if m.start() < found.start < m.end():
                            token = value[m.start() : found.start]
                    token = token.strip(" -")
                    if sum(ch.isdigit() for ch in token) >= 4:
                        return token
    return None


_NAME_VALUE_BAD = re.compile(
    r"^\d|@|\b(?:number|date|address|account|page|total|due|amount|service|phone|www)\b",
    re.IGNORECASE,
)


def _words(name: str) -> frozenset[str]:
    text = resources.files("parsers").joinpath("data/bill_words.toml").read_text("utf-8")
    return frozenset(str(tomllib.loads(text)[name]).split())


# A line made only of these is a heading ("PLANS"), not the customer: data, see the file.
_HEADING_WORDS = _words("heading")


def _name_ok(text: str) -> bool:
    text = text.strip()
    if len(text) < 2 or not re.search(r"[^\W\d_]{2}", text):
        return False
    if _NAME_VALUE_BAD.search(text) or NANP_PATTERN.search(text) or text.startswith("-"):
        return False
    if "|" in text or len(re.findall(r"(?<!\S)[^\W\d_](?!\S)", text)) >= 3:
        return False  # OCR's reading of a logo: "CO MCAST B U S | N ES S |"
    words = re.findall(r"[^\W\d_][\w'’-]*", text.lower())
    if not words or all(w in _HEADING_WORDS for w in words):
        return False
    return parse_address(text) is None


def _cut_at_label(value: str) -> str:
    """ "CITY OF SPRINGFIELD Post Office: SPRINGFIELD": the value ends where a label starts."""
    m = _INNER_LABEL.search(value)
    return value[: m.start()].rstrip(" ,;") if m else value


# A label inside a value: one to three words (the first capitalised) and a colon.
_INNER_LABEL = re.compile(r"\s[A-Z][\w.'’/&-]*(?:\s[\w.'’/&-]+){0,2}\s?:(?:\s|$)")


def _account_name(layout: Layout) -> str | None:
    for hit in find_labels(layout, _NAME_LABEL):
        for value in value_cells(layout, hit):
            value = _cut_at_label(value).strip(" :,")
            if _name_ok(value):
                return value
    return None


_ZIP_TAIL = re.compile(
    r"(?:\b[A-Z]{2}\.?,?\s+\d{5}(?:-\d{4})?|[A-Z]\d[A-Z]\s?\d[A-Z]\d"
    # a postal code with an OCR slip ("T5J ON3") after a province
    r"|\b(?:AB|BC|MB|NB|NL|NS|NT|NU|ON|PE|QC|SK|YT)\.?,?\s+[A-Z][0-9OIlS][A-Z0-9]\s?[0-9OIlS][A-Z0-9][0-9OIlS])"
    r"\s*(?:,?\s*(?:USA|US|Canada))?$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class _Block:
    lines: tuple[str, ...]
    name: str | None  # a name line heading the block
    address: Address
    carrier: bool = False  # named by a carrier only: the carrier's own address


_CARRIER_NAME_WORDS = _words("carrier_name")


def _is_carrier_name(text: str) -> bool:
    """ "VERIZON WIRELESS", "Comcast Business": a carrier's name and nothing more."""
    m = _CARRIERS.search(text)
    if m is None:
        return False
    rest = (text[: m.start()] + " " + text[m.end() :]).lower()
    return all(w in _CARRIER_NAME_WORDS for w in re.findall(r"[\w&]+", rest))


_CARE_OF = re.compile(r"^\s*(?:attn|attention|c/o|care\s+of)\b", re.IGNORECASE)


def _block_from(lines: list[str]) -> _Block | None:
    """An address from block lines, leading name lines set aside."""
    lines = [ln.strip() for ln in lines if ln.strip()]
    # Cut after the line holding the ZIP / postal code.
    for i, line in enumerate(lines):
        if _ZIP_TAIL.search(line):
            lines = lines[: i + 1]
            break
    else:
        return None
    names: list[str] = []
    start = 0
    while (
        start < len(lines) - 1
        and not re.search(r"\d", lines[start])
        and not re.match(
            r"\s*(?:p\.?\s*o\.?\s*box|one|two|three|four|five|post\s+office)\b",
            lines[start],
            re.IGNORECASE,
        )
    ):
        if _name_ok(lines[start]) and not _CARE_OF.match(lines[start]):
            names.append(lines[start])
        start += 1
    body = lines[start:]
    # A line above the last that ends like a place ("..., SACRAMENTO CA") ends an
    # address of its own: a table of addresses, not one block.
    for k in range(len(body) - 2, -1, -1):
        if ends_like_a_place(body[k]) or re.search(r",\s*[A-Z]{2}\s*$", body[k]):
            return None
    address = parse_address(body)
    if address is None:
        return None
    # A carrier's logo right over the customer's block is not the customer's name; a
    # block named by a carrier alone is the carrier's own address.
    customer = [n for n in names if not _is_carrier_name(n)]
    carrier = bool(names) and not customer
    return _Block(tuple(body), customer[0] if customer else None, address, carrier)


_PART_LABEL = re.compile(
    r"(?:^|\s)(?P<label>post\s+office|city|town|ville|municipality|state\s*/\s*zip|"
    r"state|province|zip(?:\s+code)?|postal\s+code|code\s+postal)\s*:\s*",
    re.IGNORECASE,
)


def _labelled_parts(layout: Layout) -> dict[str, str]:
    """ "Post Office: LAS VEGAS", "State/Zip: NV 89101": an address given part by part.

    Read once per layout (every labelled address may ask)."""
    if layout.parts is None:
        layout.parts = _read_labelled_parts(layout)
    return layout.parts


def _read_labelled_parts(layout: Layout) -> dict[str, str]:
    parts: dict[str, str] = {}
    for line in layout.lines:
        for m in _PART_LABEL.finditer(line):
            rest = line[m.end() :]
            nxt = _INNER_LABEL.search(rest) or re.search(r"\s{2,}", rest)
            value = (rest[: nxt.start()] if nxt else rest).strip(" ,")
            label = re.sub(r"\s+", " ", m.group("label").lower())
            if not value:
                continue
            if label in ("post office", "city", "town", "ville", "municipality"):
                parts.setdefault("city", value)
            elif label in ("state/zip", "state / zip"):
                found = re.match(r"([A-Za-z]{2})\.?,?\s+(\d{5}(?:-\d{4})?)\b", value)
                if found:
                    parts.setdefault("state", found.group(1).upper())
                    parts.setdefault("zip", found.group(2))
            elif label in ("state", "province") and re.fullmatch(r"[A-Za-z]{2}", value):
                parts.setdefault("state", value.upper())
            elif re.fullmatch(r"\d{5}(?:-\d{4})?|[A-Za-z]\d[A-Za-z] ?\d[A-Za-z]\d", value):
                parts.setdefault("zip", value.upper())
    return parts


def _block_in_parts(layout: Layout, value: str) -> _Block | None:
    """ "Service Address: 3578 OAK DR  State/Zip: NV 89101" with "Post Office: LAS VEGAS"."""
    cut = _PART_LABEL.search(value) or _INNER_LABEL.search(value)
    street = _street_only([value[: cut.start()] if cut else value])
    if street is None:
        return None
    parts = _labelled_parts(layout)
    address = Address(
        street=street.address.street,
        city=parts.get("city"),
        state=parts.get("state"),
        zip=parts.get("zip"),
        po_box=street.address.po_box,
    )
    return _Block(street.lines, None, address)


def _block_at(layout: Layout, hit: LabelHit) -> _Block | None:
    first = hit.value
    if first and (_INNER_LABEL.search(first) or _PART_LABEL.search(first)):
        return _block_in_parts(layout, first)
    if first and _ZIP_TAIL.search(first):
        block = _block_from([first])
        if block is not None:
            return block
    lines = [first] if first else []
    anchor = hit.cell
    if not first:
        right = layout.right_of(hit.cell)
        if right is not None and (_ANY_LABEL.match(right.text) or _REMIT.search(right.text)):
            right = None
        under = next(iter(layout.below(hit.cell, max_lines=1, skip_blank=0)), None)
        # "Label:  value" reads across; a heading without a colon heads a column,
        # unless nothing stands under it.
        if right is not None and (_has_colon(hit) or under is None):
            lines.append(right.text)
            anchor = right
    # One line of another column's text may fall between two lines of the block.
    for under in layout.below(anchor, max_lines=6, skip_blank=1):
        if _ANY_LABEL.match(under.text) or _GENERIC_LABEL.match(under.text):
            break  # the next field of a labelled header, not a line of this address
        lines.append(under.text)
        if _ZIP_TAIL.search(under.text):
            break
    block = _block_from(lines)
    if block is None and lines:
        # "Service Address: 6555 BROADWAY RD" with "State/Zip:" in a cell of its own.
        if first and any(k in _labelled_parts(layout) for k in ("city", "zip")):
            return _block_in_parts(layout, first)
        return _street_only(lines)
    return block


def _street_only(lines: list[str]) -> _Block | None:
    """ "Service Address: 12 OAK ST" with no city line: the street, the rest unread."""
    first = lines[0].strip()
    if not _STREET_START.match(first) or _PO_BOX_START.match(first) or len(first) > 60:
        return None
    if ends_like_a_place(first):
        return None  # a whole address whose ZIP did not read: unread, not a street
    # Normalised as a US street line (Street = St) under a stand-in city line.
    found = parse_address([first, "X, AK 99999"])
    if found is None or found.street is None:
        return None
    return _Block(
        (first,),
        None,
        Address(street=found.street, city=None, state=None, zip=None, po_box=found.po_box),
    )


_STREET_START = re.compile(r"^\d+[A-Za-z]?(?:-\d+)?,?\s+\S")
_PO_BOX_START = re.compile(r"^\s*p\.?\s*o\.?\s*box\b", re.IGNORECASE)
# Any "Word Word:" label, known or not ("Post Office:", "Meter No:").
_GENERIC_LABEL = re.compile(r"^[^\W\d_][\w.'’/&-]*(?:\s[\w.'’/&()-]+){0,3}\s?:(?:\s|$)")


def _carriers_block(layout: Layout, top: Cell, bottom: Cell, block: _Block) -> bool:
    """Is this the carrier's remit-to or own address rather than the customer's?

    Remit words ("Remit to", "Make checks payable to") on the block's lines or the one
    above it in its column; a carrier's name as the block's name (or, for a block with
    no name, right above it); a web address or a phone number just under it (a
    letterhead). A carrier's logo over the customer's named block does not count.
    """
    column = [
        c
        for i in range(max(0, top.line - 1), bottom.line + 1)
        for c in layout.cells[i]
        if _overlaps(c, top) or _overlaps(c, bottom)
    ]
    if any(_REMIT.search(c.text) for c in column):
        return True
    if block.carrier:
        return True
    if block.name is None:
        # The first line over a nameless block, in its column: a carrier's name (its logo).
        for i in range(top.line - 1, max(-1, top.line - 3), -1):
            over = [c for c in layout.cells[i] if _overlaps(c, top)]
            if over:
                if _is_carrier_name(over[0].text):
                    return True
                break
    for i in range(bottom.line + 1, min(len(layout.cells), bottom.line + 3)):
        for c in layout.cells[i]:
            if _overlaps(c, bottom) and (
                _LETTERHEAD.search(c.text)
                or NANP_PATTERN.fullmatch(c.text.strip())
                or re.fullmatch(r"1[-. ]?8\d\d[-. ]\d{3}[-. ]\d{4}", c.text.strip())
            ):
                return True  # the carrier's phone or web address under its own address
    return False


_LETTERHEAD = re.compile(r"www\.|https?:|\.com\b|\.ca\b|@|^\s*(?:tel|phone|call)\b", re.IGNORECASE)


_UNIT_LINE = re.compile(
    r"^\s*(?:#|(?:ste|suite|unit|apt|rm|room|fl|floor|bureau|local)\.?\s*#?)\s*\w{1,6}\s*$",
    re.IGNORECASE,
)


def _address_line(cell: Cell) -> bool:
    """Could this cell be a line of an address block (a name, street or unit line)?"""
    text = cell.text
    if _UNIT_LINE.match(text):
        return True  # "#3", "STE 4" on a line of its own
    return bool(re.search(r"[^\W\d_]{2}", text)) and not NANP_PATTERN.search(text)


def _segments(layout: Layout, line: int, max_gap: int = 4) -> list[Cell]:
    """The cells of a line, neighbours closer than `max_gap` spaces merged.

    "PORTLAND  OR  97209" printed in three runs is one address line; the columns of
    a two-column header stay apart.
    """
    out: list[Cell] = []
    for cell in layout.cells[line]:
        if out and cell.col - out[-1].end <= max_gap:
            last = out[-1]
            out[-1] = Cell(line, last.col, last.text + " " * (cell.col - last.end) + cell.text)
        else:
            out.append(cell)
    return [Cell(c.line, c.col, re.sub(r" {2,}", " ", c.text)) for c in out]


def _unlabelled_blocks(layout: Layout) -> list[tuple[Cell, _Block]]:
    """Customer blocks found by their form: a ZIP / postal code line, street and name above."""
    if layout.blocks is None:
        layout.blocks = _find_unlabelled_blocks(layout)
    return layout.blocks


def _find_unlabelled_blocks(layout: Layout) -> list[tuple[Cell, _Block]]:
    out: list[tuple[Cell, _Block]] = []
    for i in range(len(layout.cells)):
        for cell in _segments(layout, i):
            if len(cell.text) > 90 or not _ZIP_TAIL.search(cell.text):
                continue
            if _ANY_LABEL.match(cell.text):
                continue  # a labelled address is read from its label
            stack = [cell.text]
            top = cell
            gap = False
            for j in range(cell.line - 1, max(-1, cell.line - 8), -1):
                row = _segments(layout, j)
                above = [c for c in row if _overlaps(c, cell)]
                if not above and not gap and len(stack) < 5:
                    gap = True  # one line of another column's text between two block lines
                    continue
                gap = False
                if not above or _ANY_LABEL.search(above[0].text) or not _address_line(above[0]):
                    break
                if _ZIP_TAIL.search(above[0].text):
                    break  # the last line of another block (a letterhead) right above
                left = [c for c in row if c.end <= above[0].col]
                if left and _ANY_LABEL.search(left[-1].text):
                    break  # the value of a label to its left, not a block line
                stack.insert(0, above[0].text)
                top = above[0]
            block = _block_from(stack)
            if block is not None and not _carriers_block(layout, top, cell, block):
                out.append((top, block))
    return out


def _best_block(layout: Layout) -> _Block | None:
    """The customer's block among the unlabelled ones.

    A physical address before a PO Box; one printed twice (the mailing block and the
    payment stub) before one printed once (a letterhead, a tax table); a block with a
    name line over it; then the first.
    """
    blocks = _unlabelled_blocks(layout)
    if not blocks:
        return None
    keys = [address_key(b.address) for _, b in blocks]

    def rank(k: int) -> tuple[int, int, int, int, int]:
        top, block = blocks[k]
        # A whole address on one line under a logo is a letterhead; a customer's block
        # puts the street on a line of its own.
        return (
            int(block.address.po_box),
            -keys.count(keys[k]),
            int(block.name is None),
            int(len(block.lines) < 2),
            layout.page_of(top.line),
        )

    return blocks[min(range(len(blocks)), key=rank)][1]


def _name_above(layout: Layout, cell: Cell) -> str | None:
    """ "LES ENTREPRISES MORIN LTÉE" printed right over "Adresse de service :"."""
    for i in range(cell.line - 1, max(-1, cell.line - 3), -1):
        above = [c for c in layout.cells[i] if _overlaps(c, cell)]
        if not above:
            continue
        text = above[0].text.strip()
        if _ANY_LABEL.search(text) or _GENERIC_LABEL.match(text) or not _name_ok(text):
            return None
        return None if _is_carrier_name(text) else text
    return None


def _service_address(layout: Layout) -> tuple[Address | None, str | None]:
    """The service address and the name line over it, if any."""
    for hit in find_labels(layout, _SERVICE_ADDRESS_LABEL):
        block = _block_at(layout, hit)
        if block is not None:
            return block.address, block.name or _name_above(layout, hit.cell)
    labelled = []
    for hit in find_labels(layout, _OTHER_ADDRESS_LABEL):
        if _REMIT.search(hit.cell.text):
            continue
        block = _block_at(layout, hit)
        if block is not None and block.address.city is not None:
            labelled.append(block)
    if labelled:
        return labelled[0].address, labelled[0].name
    chosen = _best_block(layout)
    return (chosen.address, chosen.name) if chosen else (None, None)


def _name_over_blocks(layout: Layout) -> str | None:
    """The customer's name printed over their (mailing) address, where not labelled."""
    best = _best_block(layout)
    if best is not None and best.name:
        return best.name
    for _, block in _unlabelled_blocks(layout):
        if block.name:
            return block.name
    return None


# A bare "Telephone Number" / "Phone" in the account's header: the account's own number,
# unless the words around it make it the carrier's (customer service, fax, support).
_PHONE_LABEL = re.compile(
    r"(?<!\w)(?:(?:tele)?phone\s+(?:number|no\.?|#)|t[ée]l[ée]phone|phone|tel)(?!\w)\s*[:#.]?",
    re.IGNORECASE,
)
_NOT_ACCOUNT_PHONE = re.compile(
    r"service|support|care|fax|call|contact|question|help|repair|sales|toll|clientele|client[èe]le"
    r"|cell|mobile|direct",
    re.IGNORECASE,
)


def _btn(layout: Layout) -> str | None:
    for label in (_BTN_LABEL, _PHONE_LABEL):
        for hit in find_labels(layout, label):
            if label is _PHONE_LABEL and _NOT_ACCOUNT_PHONE.search(hit.cell.text[: hit.end]):
                continue
            for value in value_cells(layout, hit):
                m = NANP_PATTERN.search(value)
                if m and not value[: m.start()].strip(" :#"):
                    e164 = to_e164(m.group(0))
                    # The carrier's toll-free line is never the account's own number.
                    if e164 is not None and not (
                        label is _PHONE_LABEL and parse_phone(e164).kind == "toll-free"
                    ):
                        return e164
    return None


# --- Customer Service Records with field codes ----------------------------------------

# "BN1 CEDAR POINT REALTY", "BA1 410 MAIN ST STE 20", "PO SALEM OR 97301", "SA ...",
# "ATN 503 555 0100": the field codes of an ILEC's CSR, a code then its value.
_CSR_LINE = re.compile(
    r"^\s*/?(?P<code>BN[\dlIL|]?|LN|BA[\dlIL|]?|PO|SA|LA|A[TI1l]N|B[TI1l]N|ZIP|LOC)\b\s*[:.-]?\s+"
    r"(?P<value>\S.{0,120})$"
)


def _csr_code(raw: str) -> str:
    """The field code as printed, OCR's slips undone ("BAL" for BA1, "BIN" for BTN)."""
    code = raw.upper()
    if code[:2] in ("BN", "BA") and len(code) == 3:
        return code[:2] + "1"
    if code.endswith("N") and len(code) == 3 and code[0] in "AB":
        return code[0] + "TN"
    return code


_CSR_NAME_CODES = ("BN1", "BN", "LN")


@dataclass(frozen=True)
class _CsrFields:
    name: str | None
    address: Address | None
    btn: str | None


def _csr_fields(layout: Layout) -> _CsrFields | None:
    """Name, service address and BTN of a CSR laid out in field codes; None if it is not one."""
    codes: list[tuple[str, str]] = []
    for line in layout.lines:
        m = _CSR_LINE.match(line)
        if m:
            codes.append((_csr_code(m.group("code")), m.group("value").strip()))
    found = {code for code, _ in codes}
    if len(found & {"BN1", "BN", "LN", "BA1", "BA", "SA", "ATN", "BTN"}) < 2:
        return None
    name = next(
        (v for want in _CSR_NAME_CODES for c, v in codes if c == want and _name_ok(v)), None
    )

    def address_after(prefix: tuple[str, ...]) -> Address | None:
        for k, (code, value) in enumerate(codes):
            if code not in prefix:
                continue
            lines = [value]
            for nxt_code, nxt in codes[k + 1 : k + 4]:
                if (
                    nxt_code in prefix
                    or nxt_code in ("PO", "ZIP", "LOC")
                    or (nxt_code.startswith("BA") and code.startswith("BA"))
                ):
                    lines.append(nxt)
                    if _ZIP_TAIL.search(nxt):
                        break
                else:
                    break
            block = _block_from(lines)
            if block is not None:
                return block.address
            alone = _street_only(lines)
            if alone is not None:
                return alone.address
        return None

    service, billing = address_after(("SA",)), address_after(("BA1", "BA"))
    address = service or billing
    if (
        service is not None
        and service.city is None
        and billing is not None
        and address_key(service)[0] == address_key(billing)[0]
    ):
        # "SA 410 MAIN ST" with no city line: the billing block has the same street.
        address = billing
    btn = None
    for code, value in codes:
        if code in ("ATN", "BTN"):
            m = NANP_PATTERN.search(value)
            btn = to_e164(m.group(0)) if m else None
            if btn:
                break
    return _CsrFields(name, address, btn)


_CSR_ACCOUNT = re.compile(
    r"\b(?:ACCT|ACCOUNT|CUST(?:OMER)?|BAN)\b\.?\s*(?:NO\.?|NBR|#)?\s*[:#]?\s*"
    r"(?P<v>\d[\d -]{3,30}\d)(?![\d/])"
)
_CSR_DATE = re.compile(r"\b(?:(?:CSR\s+)?DATE|AS\s+OF)\b\s*[:.]?\s*")


def _csr_account_and_date(layout: Layout) -> tuple[str | None, dt.date | None]:
    account: str | None = None
    date: dt.date | None = None
    for line in layout.lines[:40]:
        m = _CSR_ACCOUNT.search(line)
        if account is None and m:
            value = m.group("v")
            for found in find_dates(value):  # "503 555 0100 812 11/18/2026": stop at the date
                value = value[: found.start]
            account = value.strip(" -") or None
        for dm in _CSR_DATE.finditer(line):
            dates = find_dates(line[dm.end() : dm.end() + 20])
            if date is None and dates and dates[0].start == 0:
                date = dates[0].date
    return account, date


# --- entry points --------------------------------------------------------------------------


def read_bill(doc: DocText) -> BillFields:
    """The fields of a bill or CSR that the rules compare with the request."""
    layout = Layout(doc.text)
    csr = _csr_fields(layout)
    address, block_name = _service_address(layout)
    name = _account_name(layout) or block_name or _name_over_blocks(layout)
    account_number = _account_number(layout)
    bill_date = _bill_date(layout)
    btn = _btn(layout)
    if csr is not None:
        # Field codes say what each value is: they win over the general reading.
        address = csr.address or address
        name = csr.name or name
        btn = csr.btn or btn
        csr_account, csr_date = _csr_account_and_date(layout)
        account_number = account_number or csr_account
        bill_date = bill_date or csr_date
    street = address.street if address else None
    return BillFields(
        bill_date=bill_date,
        account_name=name,
        account_number=account_number,
        service_address=address,
        billing_telephone_number=btn,
        uncertain=uncertain_fields(
            doc, {"account_name": name, "account_number": account_number, "service_address": street}
        ),
    )


_BILL_WORDS: tuple[tuple[str, int], ...] = (
    (r"customer\s+service\s+record|\bcsr\b", 4),
    (r"\bbill\s+date|statement\s+date|invoice\s+date|issue\s+date|billing\s+date", 3),
    (r"amount\s+due|total\s+due|balance\s+due|please\s+pay|payment\s+due|due\s+date", 3),
    (r"billing\s+period|service\s+period|statement\s+period", 2),
    (r"previous\s+balance|payments?\s+received|new\s+charges|current\s+charges", 2),
    (r"account\s+(?:number|no|#)|acct\.?\s*(?:no|#)|\bban\b", 2),
    (r"service\s+address|service\s+location|billing\s+telephone|\bbtn\b", 2),
    (r"taxes|surcharges?|fees", 1),
    (r"monthly\s+(?:service|charges)|plan\b|usage|long\s+distance", 1),
    (r"\binvoice\b|\bstatement\b|your\s+bill", 1),
    (r"remit|autopay|paperless", 1),
)


def weighted_matcher(words: tuple[tuple[str, int], ...]) -> Callable[[str], list[int]]:
    """The weights of the patterns found in a text.

    Patterns are lower case and run on the lower-cased text: several times
    faster than IGNORECASE alternations, and scoring runs on every document.
    """
    compiled = [(re.compile(p), w) for p, w in words]

    def weights(text: str) -> list[int]:
        low = text.lower()
        return [w for c, w in compiled if c.search(low)]

    return weights


_BILL_WEIGHTS = weighted_matcher(_BILL_WORDS)


def bill_score(doc: DocText) -> int:
    """How much the text reads like a bill or CSR (0: not at all; 6+: clearly)."""
    text = doc.text[:20000]
    found = _BILL_WEIGHTS(text)
    # One strong sign alone (an "invoice date" in a brochure) does not make a bill.
    strong = sum(1 for w in found if w >= 2)
    return sum(found) if strong >= 2 else min(sum(found), 3)
