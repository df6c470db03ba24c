"""What an attachment is comes from its content, never from its file name.

Bills, CSRs, LOAs and number lists under neutral names ("scan0001.pdf",
"document.pdf", "IMG_2231.jpg") and misleading ones ("loa.pdf" that is a bill);
the name only says what an unreadable attachment was meant to be.
"""

from __future__ import annotations

import io
import random
from collections.abc import Sequence

import pytest
from pypdf import PdfReader, PdfWriter
from reportlab.lib.pagesizes import letter
from reportlab.pdfgen import canvas

from fixtures.build_ocr import degrade
from fixtures.build_ocr.render import render_page
from parsers.documents import read_attachment
from parsers.limits import Limits
from parsers.model import Attachment, Document
from tests import loa_variants


def pdf(lines: Sequence[str], size: int = 11) -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=letter, invariant=1)
    c.setFont("Helvetica", size)
    for i, line in enumerate(lines):
        c.drawString(54, 740 - (size + 5) * i, line)
    c.save()
    return buf.getvalue()


def read(name: str, data: bytes, ctype: str = "application/octet-stream") -> Document:
    return read_attachment(Attachment(name, ctype, data), Limits())


ENGLISH_BILL = [
    "AT&T",
    "Questions? Call 1-800-288-2020",
    "Payment Due: Nov 27, 2026",
    "Issue Date: Nov 02, 2026",
    "Account Number: 287654321",
    "Amount Due: $245.18",
    "ACME REALTY LLC",
    "123 MAIN ST STE 200",
    "AUSTIN TX 78701",
]
FRENCH_BILL = [
    "Vidéotron Affaires",
    "Facture",
    "Numéro de compte : 4410 2287 93",
    "Date de facturation : 2 novembre 2026",
    "Montant dû : 142,37 $",
    "Boulangerie Tremblay Inc.",
    "1200 rue Saint-Denis",
    "Montréal QC H2X 3J6",
    "TPS 5 %   TVQ 9,975 %",
]
CSR = [
    "CUSTOMER SERVICE RECORD          ACCT 512 555-0100 123",
    "BN1  ACME REALTY LLC",
    "BA1  PO BOX 1200 AUSTIN TX 78767",
    "SA   123 MAIN ST STE 200 AUSTIN TX 78701",
    "BTN  512 555-0100",
    "--LIST",
    "TN   512 555-0101    1FB",
    "TN   512 555-0102    1FB",
]
CSR_CODES_ONLY = CSR[1:]  # no "Customer Service Record" heading at all
WIRELESS_PAGE_ONE = [
    "verizon",
    "Your bill",
    "Account number 482019375-00001",
    "Bill date November 2, 2026",
    "Plans",
    "Unlimited Welcome",
    "Talk & Text",
    "Devices",
    "Device payment 18 of 36",
    "Equipment charges",
    "Surcharges & fees",
    "Total amount due $312.48",
]
TMOBILE_PAGE_ONE = [
    "T-Mobile",
    "Hi Dana, here's your bill for November.",
    "Account 958112044",
    "PLANS   $140.00",
    "EQUIPMENT   $35.00",
    "SERVICES   $5.00",
    "ONE-TIME CHARGES   $0.00",
    "TOTAL   $180.00",
    "Due Dec 1, 2026",
]
UTILITY = [
    "City of Springfield Utilities Department",
    "Utility Statement",
    "Account Number: 0044-551-02",
    "Statement Date: 11/02/2026",
    "Service Address: 742 Evergreen Terrace",
    "Water 4,200 gallons   $38.10",
    "Sewer   $22.40",
    "Stormwater   $6.00",
    "Amount Due: $66.50",
]


@pytest.mark.parametrize(
    ("lines", "name"),
    [
        (ENGLISH_BILL, "scan0001.pdf"),
        (ENGLISH_BILL, "document.pdf"),
        (ENGLISH_BILL, "loa.pdf"),  # misleading name: the content is a bill
        (ENGLISH_BILL, "Letter of Authorization.pdf"),
        (FRENCH_BILL, "scan0001.pdf"),
        (CSR, "document.pdf"),
        (CSR_CODES_ONLY, "loa_signed.pdf"),
        (WIRELESS_PAGE_ONE, "document.pdf"),
        (TMOBILE_PAGE_ONE, "loa.pdf"),
        (UTILITY, "scan0001.pdf"),
    ],
)
def test_bills_are_bills_whatever_their_name(lines: list[str], name: str) -> None:
    doc = read(name, pdf(lines), "application/pdf")
    assert doc.kind == "bill", doc
    assert doc.error is None
    assert doc.bill is not None


@pytest.mark.parametrize("name", ["statement.pdf", "bill_nov.pdf", "document.pdf", "csr.pdf"])
def test_an_loa_is_an_loa_whatever_its_name(name: str) -> None:
    sheet = loa_variants.form("slash")
    doc = read(name, sheet.pdf, "application/pdf")
    assert doc.kind == "loa"
    assert doc.loa is not None and doc.loa.signed


@pytest.mark.parametrize("layout", ["letter", "french"])
def test_letter_and_french_loas_are_loas(layout: str) -> None:
    sheet = loa_variants.LAYOUTS[layout]("none")
    doc = read("scan0001.pdf", sheet.pdf, "application/pdf")
    assert doc.kind == "loa"


@pytest.mark.parametrize("name", ["bill.pdf", "statement.pdf", "loa.pdf", "document.pdf"])
def test_a_page_of_neither_is_other_whatever_its_name(name: str) -> None:
    lines = [
        "Minutes of the board meeting",
        "Coffee was served at nine.",
        "The new office chairs arrive on Tuesday.",
    ]
    doc = read(name, pdf(lines), "application/pdf")
    assert doc.kind == "other"
    assert doc.error is None


def test_a_number_list_is_read_from_its_content_under_any_name() -> None:
    data = b"number,user\n(512) 555-0101,Jane Doe\n(512) 555-0102,John Roe\n"
    doc = read("export.csv", data, "text/csv")
    assert doc.kind == "number_list"
    assert doc.number_list is not None and len(doc.number_list.rows) == 2


def test_an_encrypted_pdf_is_named_by_its_file_name_only() -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf(ENGLISH_BILL))))
    writer.encrypt("secret")
    out = io.BytesIO()
    writer.write(out)
    assert read("statement_nov.pdf", out.getvalue()).kind == "bill"
    named_loa = read("Signed LOA.pdf", out.getvalue())
    assert named_loa.kind == "loa" and named_loa.error is not None


# --- Scans and photos under camera names: 2 OCR pages. ---


def test_a_scanned_bill_named_like_a_camera_file_is_a_bill() -> None:
    img = degrade.scan(render_page(pdf(ENGLISH_BILL, size=12), dpi=300), random.Random(4))
    doc = read("IMG_2231.jpg", degrade.jpeg(img, quality=65), "image/jpeg")
    assert doc.kind == "bill" and doc.ocr
    assert doc.bill is not None and doc.bill.account_number == "287654321"


def test_a_scanned_french_bill_in_an_image_pdf_is_a_bill() -> None:
    img = degrade.scan(render_page(pdf(FRENCH_BILL, size=12), dpi=300), random.Random(5))
    doc = read("scan0001.pdf", degrade.image_pdf(degrade.jpeg(img, quality=65)), "application/pdf")
    assert doc.kind == "bill" and doc.ocr


def test_a_printed_account_page_without_bill_words_is_a_bill() -> None:
    from parsers.documents import classify
    from parsers.text import DocText, PageText

    page = (
        "verizon business       My Account  Billing  Support  Sign out\n"
        "Account Overview\n"
        " Business name          Harbor Home Loans PLLC\n"
        "Account number          471178222\n"
        " Main number            (802) 410-4921\n"
    )
    assert classify(DocText((PageText(page),))) == "bill"
