"""Bills laid out as real carriers print them, read through the real PDF path.

Each layout is drawn with reportlab at page positions, read back by
`parsers.documents.read_attachment` (pdfium's text layer, no OCR), and the bill's
fields must come out as printed, whatever the casing, the ZIP+4, where the unit is
written, where the block stands and what the file is called.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pytest
from reportlab.lib.pagesizes import letter
from reportlab.pdfgen import canvas

from parsers.address import address_key, parse_address
from parsers.documents import read_attachment
from parsers.limits import Limits
from parsers.model import Attachment, BillFields

Item = tuple[float, float, str, float, str]  # x, y from the top, text, size, font


def _pdf(pages: Sequence[Sequence[Item]]) -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=letter, invariant=True)
    for items in pages:
        for x, y, text, size, font in items:
            c.setFont(font, size)
            c.drawString(x, 792 - y, text)
        c.showPage()
    c.save()
    return buf.getvalue()


def _t(x: float, y: float, text: str, size: float = 9, font: str = "Helvetica") -> Item:
    return (x, y, text, size, font)


@dataclass(frozen=True)
class Customer:
    name: str
    street: str  # without the unit
    unit: str  # "STE 310" or ""
    city: str
    state: str
    zip: str
    account: str
    date: dt.date

    def cased(self, upper: bool) -> Customer:
        if not upper:
            return self
        return Customer(
            self.name.upper(),
            self.street.upper(),
            self.unit.upper(),
            self.city.upper(),
            self.state,
            self.zip,
            self.account,
            self.date,
        )


HARBOR = Customer(
    "Harborview Dental Group LLC",
    "1450 Harbor Blvd",
    "Ste 310",
    "Portland",
    "OR",
    "97209-3318",
    "842019377-00001",
    dt.date(2026, 11, 12),
)
LAKEVIEW = Customer(
    "Lakeview Homes Inc.",
    "88 Elm Street",
    "Suite 4",
    "Boise",
    "ID",
    "83702",
    "8347 10 044 0012345",
    dt.date(2026, 11, 21),
)
OTTAWA = Customer(
    "Rideau Physio Clinic",
    "150 Elgin Street",
    "Unit 1200",
    "Ottawa",
    "ON",
    "K1P 5J2",
    "514 555 0123 456",
    dt.date(2026, 11, 3),
)


def _block(c: Customer, x: float, y: float, unit_line: bool) -> list[Item]:
    lines = [c.name]
    if unit_line and c.unit:
        lines += [c.street, c.unit]
    else:
        lines.append(f"{c.street} {c.unit}".strip())
    lines.append(f"{c.city} {c.state}  {c.zip}")
    return [_t(x, y + 12 * i, line) for i, line in enumerate(lines)]


def unlabelled_with_stub(c: Customer, unit_line: bool) -> list[list[Item]]:
    """A wireless bill: logo, summary box, a bare block, section headings, a payment stub,
    and a tax table with other addresses on page 2."""
    page1 = [
        _t(40, 30, "verizon", 20, "Helvetica-Bold"),
        _t(360, 30, "Bill Date"),
        _t(460, 30, c.date.strftime("%B %d, %Y")),
        _t(360, 42, "Account Number"),
        _t(460, 42, c.account),
        _t(360, 54, "Invoice Number"),
        _t(460, 54, "9912345678"),
        *_block(c, 40, 70, unit_line),
        _t(40, 150, "Your bill at a glance", 12),
        _t(40, 166, "Total due December 5, 2026"),
        _t(300, 166, "$412.88"),
        _t(40, 200, "PLANS", 12, "Helvetica-Bold"),
        _t(40, 214, "Business Unlimited Plus"),
        _t(40, 240, "SURCHARGES & FEES", 12, "Helvetica-Bold"),
        _t(40, 620, "Please return this portion with your payment", 7),
        _t(40, 650, f"Account number {c.account}"),
        _t(300, 650, "Amount due $412.88"),
        *_block(c, 40, 668, unit_line),
        _t(330, 668, "VERIZON WIRELESS"),
        _t(330, 680, "PO BOX 660108"),
        _t(330, 692, "DALLAS TX 75266-0108"),
    ]
    page2 = [
        _t(40, 30, "Taxes, Governmental Surcharges and Fees", 12),
        _t(40, 50, "County 911 Tax"),
        _t(300, 50, "$1.25"),
        _t(40, 74, "MULTNOMAH COUNTY"),
        _t(40, 86, "501 SE HAWTHORNE BLVD"),
        _t(40, 98, "PORTLAND OR 97214"),
    ]
    return [page1, page2]


def two_column_header(c: Customer, unit_line: bool) -> list[list[Item]]:
    """Cable style: customer block left, an account summary box right on the same lines."""
    block = _block(c, 40, 60, unit_line)
    return [
        [
            _t(40, 30, "COMCAST BUSINESS", 16, "Helvetica-Bold"),
            *block,
            _t(330, 60, "Account Summary", 11, "Helvetica-Bold"),
            _t(330, 72, "Account Number"),
            _t(450, 72, c.account),
            _t(330, 84, "Statement Date"),
            _t(450, 84, c.date.strftime("%m/%d/%y")),
            _t(330, 96, "Payment Due"),
            _t(450, 96, "12/11/26"),
            _t(330, 108, "Service Period"),
            _t(450, 108, "11/20/26 - 12/19/26"),
            _t(40, 160, "New charges"),
            _t(300, 160, "$188.20"),
        ]
    ]


def labelled_header(c: Customer, unit_line: bool) -> list[list[Item]]:
    """A municipal-style header: two labels a line, the service address labelled."""
    street = f"{c.street} {c.unit}".strip()
    rows = [
        _t(40, 30, "CITY UTILITIES TELECOM", 14),
        _t(40, 70, f"Customer: {c.name}"),
        _t(330, 70, f"Post Office: {c.city}"),
        _t(40, 84, f"Service Address: {street}"),
        _t(330, 84, f"Account No: {c.account}"),
        _t(40, 98, f"{c.city}, {c.state} {c.zip}"),
        _t(40, 112, f"Bill Date: {c.date.strftime('%m/%d/%Y')}"),
        _t(330, 112, "Due Date: 12/10/2026"),
        _t(40, 126, "Mailing Address: PO BOX 300, SPRINGFIELD, IL 62701"),
        _t(40, 160, "Amount Due"),
        _t(300, 160, "$88.10"),
    ]
    return [rows]


def csr(c: Customer, unit_line: bool) -> list[list[Item]]:
    mono = "Courier"
    street = f"{c.street} {c.unit}".strip().upper()
    lines = [
        "CUSTOMER SERVICE RECORD",
        f"DATE {c.date.strftime('%m/%d/%Y')}  ACCT {c.account}",
        "--LIST",
        f"BN1 {c.name.upper()}",
        f"BA1 {street}",
        f"PO {c.city.upper()} {c.state} {c.zip}",
        "--BILL",
        "ATN 503 555-0100",
        "--S&E",
        f"SA {street} {c.city.upper()} {c.state} {c.zip}",
        "TN 503 555-0101  1FB",
    ]
    return [[_t(40, 40 + 12 * i, line, 9, mono) for i, line in enumerate(lines)]]


LAYOUTS: dict[str, Callable[[Customer, bool], list[list[Item]]]] = {
    "unlabelled_with_stub": unlabelled_with_stub,
    "two_column_header": two_column_header,
    "labelled_header": labelled_header,
    "csr": csr,
}


def _read(pages: list[list[Item]], filename: str = "scan0001.pdf") -> BillFields:
    doc = read_attachment(Attachment(filename, "application/pdf", _pdf(pages)), Limits())
    assert doc.error is None
    assert doc.kind == "bill", doc.kind
    assert doc.bill is not None
    return doc.bill


def _fold(text: str | None) -> str:
    return " ".join("".join(ch for ch in (text or "").upper() if ch.isalnum() or ch == " ").split())


def _same_address(bill: BillFields, c: Customer) -> bool:
    want = parse_address([f"{c.street} {c.unit}".strip(), f"{c.city}, {c.state} {c.zip}"])
    assert want is not None and bill.service_address is not None
    return address_key(bill.service_address) == address_key(want)


CASES = list(itertools.product(LAYOUTS, (HARBOR, LAKEVIEW, OTTAWA), (False, True), (False, True)))


@pytest.mark.parametrize(
    ("layout", "customer", "upper", "unit_line"),
    CASES,
    ids=[
        f"{lay}-{c.city}-{'caps' if up else 'title'}-{'unitline' if ul else 'inline'}"
        for lay, c, up, ul in CASES
    ],
)
def test_a_bill_reads_the_same_whatever_its_layout_case_and_unit_placement(
    layout: str, customer: Customer, upper: bool, unit_line: bool
) -> None:
    c = customer.cased(upper)
    bill = _read(LAYOUTS[layout](c, unit_line))
    assert _fold(bill.account_name) == _fold(c.name)
    assert bill.account_number is not None
    assert bill.account_number.replace(" ", "").replace("-", "") == c.account.replace(
        " ", ""
    ).replace("-", "")
    assert bill.bill_date == c.date
    assert _same_address(bill, c), bill.service_address


def test_a_section_heading_is_never_the_account_name() -> None:
    bill = _read(unlabelled_with_stub(HARBOR.cased(True), False))
    assert bill.account_name == "HARBORVIEW DENTAL GROUP LLC"


def test_the_customer_block_wins_over_a_tax_table_address_on_a_later_page() -> None:
    bill = _read(unlabelled_with_stub(HARBOR.cased(True), False))
    assert bill.service_address is not None and bill.service_address.zip == "97209-3318"


def test_the_next_label_is_not_glued_onto_the_name() -> None:
    bill = _read(labelled_header(LAKEVIEW.cased(True), False))
    assert bill.account_name == "LAKEVIEW HOMES INC."


@pytest.mark.parametrize("filename", ["statement.pdf", "scan0001.pdf", "document.pdf", "loa.pdf"])
def test_what_a_document_is_comes_from_its_content_not_its_name(filename: str) -> None:
    bill = _read(two_column_header(HARBOR, False), filename)
    assert bill.account_name == HARBOR.name


@pytest.mark.parametrize(
    "line",
    [
        "A" * 5000,
        "12 MAIN ST AUSTIN TX 78701",
        "Account: Service Address: " * 40,
        "BN1 X  BA1 1 MAIN ST  PO AUSTIN TX 78701",
        "1 " * 2000,
    ],
)
def test_hostile_layout_text_costs_work_in_proportion_to_its_size(line: str) -> None:
    # Work, not time: twice the lines may cost at most a little over twice the work.
    import parsers.bill
    from parsers.bill import read_bill
    from parsers.text import DocText, PageText
    from tests.work_count import regex_work

    counts = []
    for n in (100, 200):
        with regex_work(parsers.bill) as work:
            read_bill(DocText((PageText((line + "\n") * n),)))
        counts.append(work)
    assert counts[1].calls <= 2.5 * counts[0].calls + 50
    assert counts[1].chars <= 2.5 * counts[0].chars + 5_000
    assert counts[1].longest <= 1_000
