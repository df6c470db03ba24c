"""A Letter of Authorization (LOA) filled in from the assessment, for the customer to sign.

`render_loa_form(assessment, template)` is pure: the same assessment and template
give the same bytes (reportlab's invariant mode: no clock, no random document id).

What goes on it, and from where (`loa_values`):
- the name exactly as on the bill, the service address, the billing telephone
  number (BTN), the current (losing) carrier, the account number: the request's
  values, which the bill filled where the email left them out;
- every number to be ported: the request's numbers that could be ported (an
  invalid, foreign or toll-free number is no use on a carrier's form);
- signature, printed name, title and date lines, left empty.

Nothing is guessed: a field the bot does not know is a blank line, and a field
whose stated value the bill contradicts (a `bill_*_mismatch` problem) is left
blank too, since the bot cannot tell which of the two is right. A PIN never goes
on the form, nor SSN digits.

The layout is one the bot's own LOA reader (parsers/loa.py) reads back, as text,
scan and photo: labelled fields one per line, the numbers under a heading in a
table of their own, the signature label left of its line. Up to
`numbers_first_page` numbers are listed on page 1; more go on the pages after it,
each under the heading again, and page 1 says where they are.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from reportlab.lib.pagesizes import letter
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen import canvas

from parsers.model import Address
from parsers.phone import parse_phone
from rules.assessment import Assessment

PAGE_W, PAGE_H = letter
MARGIN = 54.0
FILENAME = "LOA-to-sign.pdf"

DEFAULT_TITLE = "Letter of Authorization (LOA)"
DEFAULT_AUTHORIZATION = (
    "The customer named below authorizes {company} and its carrier partners to port "
    "(transfer) the telephone numbers listed on this letter from the current carrier "
    "to {company}, and to give the current carrier the account details on this letter "
    "for that purpose. The customer understands that the current carrier's service on "
    "these numbers ends when the port completes, and that any charges owed to the "
    "current carrier remain due."
)
DEFAULT_ATTESTATION = (
    "I confirm that I am authorized to make this request for the account named above "
    "and that the details on this letter are correct."
)
DEFAULT_FOOTER = (
    "Prepared by {company} from your porting request. Check every detail, fill in any "
    "blank line, sign and date the letter, and send it back to us."
)

NUMBER_COLUMNS = 4
ROWS_PER_PAGE = 46  # rows of the numbers table on a continuation page


@dataclass(frozen=True)
class LoaTemplate:
    """The company's wording of the LOA (`{company}` stands for `company_name`)."""

    company_name: str = "our company"
    title: str = DEFAULT_TITLE
    authorization: str = DEFAULT_AUTHORIZATION
    attestation: str = DEFAULT_ATTESTATION
    footer: str = DEFAULT_FOOTER
    numbers_first_page: int = 16  # more numbers than this: listed from page 2 on

    def __post_init__(self) -> None:
        if not self.company_name.strip():
            raise ValueError("the LOA needs a company name")
        if not 1 <= self.numbers_first_page <= 24:
            raise ValueError("numbers_first_page must be between 1 and 24")
        for name in ("title", "authorization", "attestation", "footer"):
            text = getattr(self, name)
            try:
                text.format(company=self.company_name)
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(
                    f"LOA {name}: only {{company}} may stand in braces ({exc})"
                ) from exc

    def words(self, text: str) -> str:
        return text.format(company=self.company_name)


@dataclass(frozen=True)
class LoaValues:
    """What the form shows; None is a blank line."""

    account_name: str | None
    service_address: str | None
    billing_telephone_number: str | None
    current_carrier: str | None
    account_number: str | None
    numbers: tuple[str, ...]  # E.164


@dataclass(frozen=True)
class LoaForm:
    pdf: bytes
    pages: int
    # where the customer signs: page index and (left, top, right, bottom) in points
    # from the page's top left (the tests sign there)
    signature_page: int
    signature_box: tuple[float, float, float, float]
    date_box: tuple[float, float, float, float]


def wants_loa_form(assessment: Assessment) -> bool:
    """Whether the customer should get a filled-in LOA: theirs is missing or has a
    problem, and there is something to port (a Follow Up Boss request follows
    another process)."""
    return (
        assessment.checklist.get("loa") in ("missing", "problem")
        and not assessment.follow_up_boss
        and bool(loa_values(assessment).numbers)
    )


def show_number(e164: str) -> str:
    digits = e164[2:] if e164.startswith("+1") and len(e164) == 12 else None
    if digits is None:
        return e164
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"


def _address_line(address: Address | None) -> str | None:
    if address is None or address.po_box:
        return None
    tail = " ".join(p for p in (address.state, address.zip) if p)
    parts = [p for p in (address.street, address.city, tail) if p]
    # Half an address is a guess at the rest: the street and city at least.
    if not address.street or not address.city:
        return None
    return ", ".join(parts)


def loa_values(assessment: Assessment) -> LoaValues:
    """The request's values the form may carry; contradicted ones are left out."""
    r = assessment.request
    codes = {p.code for p in assessment.problems}
    unfit = {p.number for p in assessment.problems if p.item == "numbers" and p.number}
    numbers: list[str] = []
    for entry in assessment.numbers:
        phone = parse_phone(entry.raw)
        if phone.valid and phone.key not in unfit and phone.key not in numbers:
            numbers.append(phone.key)
    btn = r.billing_telephone_number
    return LoaValues(
        account_name=None if "bill_name_mismatch" in codes else r.account_name,
        service_address=None
        if "bill_address_mismatch" in codes or "address_not_physical" in codes
        else _address_line(r.service_address),
        billing_telephone_number=show_number(btn)
        if btn and "bill_btn_mismatch" not in codes
        else None,
        current_carrier=None if assessment.follow_up_boss else r.current_carrier,
        account_number=None if "bill_account_mismatch" in codes else r.account_number,
        numbers=tuple(numbers),
    )


# --- drawing -------------------------------------------------------------------------------

BLANK = "_" * 34


def _paragraph(c: canvas.Canvas, text: str, y: float, size: float = 10.0) -> float:
    c.setFont("Helvetica", size)
    for line in simpleSplit(text, "Helvetica", size, PAGE_W - 2 * MARGIN):
        c.drawString(MARGIN, y, line)
        y -= size * 1.35
    return y


def _field(c: canvas.Canvas, label: str, value: str | None, y: float) -> float:
    c.setFont("Helvetica-Bold", 10.5)
    c.drawString(MARGIN, y, f"{label}:")
    c.setFont("Helvetica", 10.5)
    x = MARGIN + c.stringWidth(f"{label}:", "Helvetica-Bold", 10.5) + 8
    c.drawString(x, y, value if value else BLANK)
    return y - 19


def _numbers_table(c: canvas.Canvas, numbers: Sequence[str], y: float) -> float:
    c.setFont("Helvetica", 11)
    col_w = (PAGE_W - 2 * MARGIN) / NUMBER_COLUMNS
    for start in range(0, len(numbers), NUMBER_COLUMNS):
        for k, number in enumerate(numbers[start : start + NUMBER_COLUMNS]):
            c.drawString(MARGIN + 8 + k * col_w, y, show_number(number))
        y -= 15
    return y


def _heading(c: canvas.Canvas, text: str, y: float) -> float:
    c.setFont("Helvetica-Bold", 11)
    c.drawString(MARGIN, y, text)
    return y - 18


def _chunks(numbers: Sequence[str], size: int) -> list[Sequence[str]]:
    return [numbers[i : i + size] for i in range(0, len(numbers), size)]


def _draw(assessment: Assessment, template: LoaTemplate) -> LoaForm:
    v = loa_values(assessment)
    rest: list[Sequence[str]] = []
    first: Sequence[str] = v.numbers
    if len(v.numbers) > template.numbers_first_page:
        first = ()
        rest = _chunks(v.numbers, ROWS_PER_PAGE * NUMBER_COLUMNS)
    pages = 1 + len(rest)
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=letter, invariant=1, pageCompression=1)
    c.setTitle(template.words(template.title))
    c.setAuthor(template.company_name)

    y = PAGE_H - MARGIN - 8
    c.setFont("Helvetica-Bold", 16)
    c.drawString(MARGIN, y, template.words(template.title))
    y -= 26
    y = _paragraph(c, template.words(template.authorization), y)
    y -= 10
    y = _heading(c, "Customer and account", y)
    y = _field(c, "Name as it appears on the bill", v.account_name, y)
    y = _field(c, "Service address", v.service_address, y)
    y = _field(c, "Billing telephone number (BTN)", v.billing_telephone_number, y)
    y = _field(c, "Current carrier", v.current_carrier, y)
    # The form travels by email, and an account number never does (the standard for
    # every email): the customer writes it in; the agent has it in the private note.
    y = _field(c, "Account number", f"{BLANK}  (as on your bill)", y)
    y = _field(c, "New provider", template.company_name, y)
    y -= 8
    if first:
        y = _heading(c, f"Telephone numbers to be ported ({len(first)}):", y)
        y = _numbers_table(c, first, y)
    else:
        y = _heading(c, "Telephone numbers to be ported:", y)
        c.setFont("Helvetica", 10.5)
        later = "page 2" if pages == 2 else f"pages 2 to {pages}"
        c.drawString(MARGIN + 8, y, f"All {len(v.numbers)} numbers are listed on {later}.")
        y -= 15
    y -= 10
    y = _paragraph(c, template.words(template.attestation), y)
    # The signature block: each label printed under its line, so that a signature
    # written across the line leaves the label's own line legible on a scan; the
    # date on a row of its own, away from the signature's strokes.
    y -= 44
    sig_y, date_y = y, y - 92
    right_left = MARGIN + 340
    c.setFont("Helvetica-Bold", 10)
    for line_y, left_label, right_label in (
        (sig_y, "Authorized signature", None),
        (sig_y - 46, "Printed name", "Title"),
        (date_y, "Date", None),
    ):
        c.line(MARGIN, line_y, MARGIN + 300, line_y)
        c.drawString(MARGIN, line_y - 12, left_label)
        if right_label:
            c.line(right_left, line_y, PAGE_W - MARGIN, line_y)
            c.drawString(right_left, line_y - 12, right_label)
    y = date_y - 40
    c.setFont("Helvetica-Oblique", 8.5)
    for line in simpleSplit(
        template.words(template.footer), "Helvetica-Oblique", 8.5, PAGE_W - 2 * MARGIN
    ):
        c.drawString(MARGIN, y, line)
        y -= 11
    if y < MARGIN / 2:
        raise ValueError("the LOA template's wording is too long for one page")
    c.showPage()

    for n, chunk in enumerate(rest, start=2):
        y = PAGE_H - MARGIN - 8
        c.setFont("Helvetica-Bold", 12)
        c.drawString(MARGIN, y, f"{template.words(template.title)}, page {n} of {pages}")
        y -= 24
        y = _heading(c, f"Telephone numbers to be ported ({len(chunk)} of {len(v.numbers)}):", y)
        _numbers_table(c, chunk, y)
        c.showPage()
    c.save()
    top = PAGE_H - sig_y
    return LoaForm(
        pdf=buf.getvalue(),
        pages=pages,
        signature_page=0,
        signature_box=(MARGIN + 20, top - 36, MARGIN + 280, top + 2),
        date_box=(MARGIN, PAGE_H - date_y - 16, MARGIN + 300, PAGE_H - date_y + 2),
    )


def loa_form(assessment: Assessment, template: LoaTemplate) -> LoaForm:
    """The filled-in LOA with where it is to be signed."""
    return _draw(assessment, template)


def render_loa_form(assessment: Assessment, template: LoaTemplate) -> bytes:
    """The filled-in LOA as PDF bytes."""
    return _draw(assessment, template).pdf


__all__ = [
    "FILENAME",
    "LoaForm",
    "LoaTemplate",
    "LoaValues",
    "loa_form",
    "loa_values",
    "render_loa_form",
    "wants_loa_form",
]
