"""read_attachment: what each kind of attachment becomes, and that bad input never raises."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence

import openpyxl
import pytest
from PIL import Image, ImageDraw
from pypdf import PdfReader, PdfWriter
from reportlab.lib.pagesizes import letter
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

import parsers.ocr
from parsers.documents import read_attachment
from parsers.errors import DocumentError
from parsers.limits import Limits
from parsers.model import Attachment, Document
from parsers.text import DocText, PageText

BILL_LINES = [
    "AT&T",
    "Questions? Call 1-800-288-2020",
    "Payment Due: Nov 27, 2026",
    "Issue Date: Nov 02, 2026",
    "Account Number: 287654321",
    "Amount Due: $245.18",
    "Billing period: Oct 3 - Nov 2, 2026",
    "ACME REALTY LLC",
    "123 MAIN ST STE 200",
    "AUSTIN TX 78701",
    "Billing Telephone Number: 512-555-0100",
    "Taxes and fees $12.00",
]
LOA_LINES = [
    "LETTER OF AUTHORIZATION",
    "Business Name: Acme Realty LLC",
    "Numbers to be ported: (512) 555-0101, (512) 555-0102",
    "I authorize Nimbus Voice to port the numbers listed above from my current carrier.",
]


def pdf(
    lines: Sequence[str],
    *,
    signature: str = "____________________",
    image: bool = False,
    pages: Sequence[Sequence[str]] = (),
) -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=letter)
    for i, line in enumerate(lines):
        c.drawString(72, 740 - 16 * i, line)
    if lines is LOA_LINES:
        c.drawString(72, 300, f"Authorized Signature: {signature}")
        c.drawString(400, 300, "Date: 11/20/2026")
    if image:
        c.drawImage(ImageReader(io.BytesIO(png(300, 80))), 200, 295, 150, 40)
    for page in pages:
        c.showPage()
        for i, line in enumerate(page):
            c.drawString(72, 740 - 16 * i, line)
    c.save()
    return buf.getvalue()


def png(width: int, height: int, noise: bool = False) -> bytes:
    im = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(im)
    d.line([(10, height - 10), (width // 3, 10), (width - 10, height // 2)], fill="black", width=4)
    if noise:  # big enough not to be taken for a logo
        im = Image.effect_noise((width, height), 64).convert("RGB")
    out = io.BytesIO()
    im.save(out, "PNG")
    return out.getvalue()


def scanned_pdf() -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=letter)
    c.drawImage(ImageReader(io.BytesIO(png(600, 800, noise=True))), 0, 0, 612, 792)
    c.save()
    return buf.getvalue()


def read(
    name: str, data: bytes, ctype: str = "application/octet-stream", limits: Limits | None = None
) -> Document:
    return read_attachment(Attachment(name, ctype, data), limits or Limits())


def test_text_bill_pdf_is_a_bill_with_its_fields() -> None:
    doc = read("scan0001.pdf", pdf(BILL_LINES))
    assert doc.kind == "bill"
    assert doc.error is None
    assert not doc.ocr
    assert doc.bill is not None
    assert doc.bill.bill_date == dt.date(2026, 11, 2)
    assert doc.bill.account_number == "287654321"
    assert doc.bill.billing_telephone_number == "+15125550100"


def test_unsigned_loa_pdf_is_an_unsigned_loa() -> None:
    doc = read("document.pdf", pdf(LOA_LINES))
    assert doc.kind == "loa"
    assert doc.loa is not None
    assert not doc.loa.signed
    assert doc.loa.numbers == ("+15125550101", "+15125550102")
    assert doc.loa.account_name == "Acme Realty LLC"


def test_loa_signed_with_slash_s() -> None:
    doc = read("loa.pdf", pdf(LOA_LINES, signature="/s/ Jane Doe"))
    assert doc.loa is not None
    assert doc.loa.signed
    assert doc.loa.signed_date == dt.date(2026, 11, 20)


def test_loa_signed_with_an_image_on_the_line() -> None:
    doc = read("loa.pdf", pdf(LOA_LINES, image=True))
    assert doc.loa is not None
    assert doc.loa.signed


def test_loa_with_a_docusign_certificate_page_is_signed() -> None:
    cert = [
        "Certificate Of Completion",
        "Envelope Id: 0A1B2C3D4E",
        "Signer Events    Signature    Timestamp",
        "Jane Doe    Signed: 11/20/2026 10:31 AM",
    ]
    doc = read("Acme LOA.pdf", pdf(LOA_LINES, pages=[cert]))
    assert doc.kind == "loa"
    assert doc.loa is not None
    assert doc.loa.signed


def test_password_protected_bill_is_unreadable_and_still_a_bill() -> None:
    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(pdf(BILL_LINES))))
    writer.encrypt("secret", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    doc = read("statement_nov.pdf", out.getvalue())
    assert doc.kind == "bill"
    assert doc.error == "the PDF is password-protected"
    assert doc.bill is None
    named_loa = read("Signed LOA.pdf", out.getvalue())
    assert named_loa.kind == "loa"
    assert named_loa.error


def test_truncated_pdf_is_unreadable() -> None:
    data = pdf(BILL_LINES)
    doc = read("bill.pdf", data[: len(data) // 2])
    assert doc.kind == "bill"
    assert doc.error is not None and "damaged" in doc.error


def test_scan_without_ocr_is_unreadable(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(data: bytes, pages: Sequence[int], limits: Limits) -> dict[int, PageText]:
        raise DocumentError("scanned pages cannot be read yet (no OCR)")

    monkeypatch.setattr(parsers.ocr, "ocr_pdf_pages", fail)
    doc = read("image2026.pdf", scanned_pdf())
    assert doc.kind == "bill"
    assert doc.error is not None and "no OCR" in doc.error
    off = read("image2026.pdf", scanned_pdf(), limits=Limits(ocr=False))
    assert off.error is not None and "OCR is turned off" in off.error


def test_scanned_pages_are_read_by_ocr(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake(data: bytes, pages: Sequence[int], limits: Limits) -> dict[int, PageText]:
        return {i: PageText("\n".join(BILL_LINES), ocr=True) for i in pages}

    monkeypatch.setattr(parsers.ocr, "ocr_pdf_pages", fake)
    doc = read("scan.pdf", scanned_pdf())
    assert doc.kind == "bill"
    assert doc.ocr
    assert doc.bill is not None and doc.bill.account_number == "287654321"


def test_photo_of_an_loa_is_read_by_ocr(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake(data: bytes, limits: Limits) -> DocText:
        text = "\n".join([*LOA_LINES, "Signature: ______  Date: 11/20/2026"])
        return DocText((PageText(text, ocr=True, signature_ink=True),))

    monkeypatch.setattr(parsers.ocr, "ocr_image", fake)
    doc = read("IMG_4411.JPG", png(1200, 1600, noise=True))
    assert doc.kind == "loa"
    assert doc.ocr
    assert doc.loa is not None and doc.loa.signed


def test_photo_ocr_failure_makes_an_unreadable_bill(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(data: bytes, limits: Limits) -> DocText:
        raise DocumentError("OCR found no text")

    monkeypatch.setattr(parsers.ocr, "ocr_image", fail)
    doc = read("photo.png", png(1200, 1600, noise=True))
    assert doc.kind == "bill"
    assert doc.error is not None and "OCR found no text" in doc.error


def test_tiny_signature_logo_is_other_and_not_read() -> None:
    doc = read("image001.png", png(120, 40), "image/png")
    assert doc == Document(filename="image001.png", kind="other")


def test_csv_is_a_number_list() -> None:
    doc = read("numbers.csv", b"Phone Number,PIN\n5125550101,0427\n", "text/csv")
    assert doc.kind == "number_list"
    assert doc.number_list is not None and doc.number_list.rows[0].pin == "0427"


def test_csv_without_numbers_is_an_unreadable_number_list() -> None:
    doc = read("port_list.csv", b"name,city\nJane,Austin\n", "text/csv")
    assert doc.kind == "number_list"
    assert doc.error is not None


def test_xlsx_is_a_number_list() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Number", "PIN"])
    sheet.append([5125550101, 427])
    sheet["B2"].number_format = "0000"
    out = io.BytesIO()
    book.save(out)
    doc = read("Port numbers.xlsx", out.getvalue())
    assert doc.kind == "number_list"
    assert doc.number_list is not None and doc.number_list.rows[0].pin == "0427"


def test_old_xls_asks_for_csv_or_xlsx() -> None:
    doc = read("numbers.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    assert doc.kind == "number_list"
    assert doc.error is not None and "CSV or XLSX" in doc.error


def test_other_attachments_are_not_opened() -> None:
    assert read("notes.docx", b"PK\x03\x04" + b"\x00" * 100).kind == "other"
    assert read("invite.ics", b"BEGIN:VCALENDAR\n", "text/calendar").kind == "other"
    assert read("card.vcf", b"BEGIN:VCARD\n", "text/vcard").kind == "other"


def test_oversized_attachment_names_its_size() -> None:
    doc = read("bill.pdf", pdf(BILL_LINES), limits=Limits(max_attachment_bytes=1000))
    assert doc.kind == "bill"
    assert doc.error is not None and "MB" in doc.error


@pytest.mark.parametrize("name", ["bill.pdf", "x.png", "n.xlsx", "n.csv", "n.txt", "a.jpg", "b"])
@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"%PDF-1.7\n" + b"\x00\xff" * 500,
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 20000,
        b"PK\x03\x04garbage",
        bytes(range(256)) * 50,
    ],
)
def test_garbage_never_raises(name: str, data: bytes) -> None:
    doc = read(name, data)
    assert doc.kind in ("bill", "loa", "number_list", "other")


def test_one_pdf_with_the_loa_and_the_bill_gives_both() -> None:
    bill_page = [*BILL_LINES, "Service Address: 123 Main St, Austin, TX 78701"]
    doc = read("port documents.pdf", pdf(LOA_LINES, signature="/s/ Jane Doe", pages=[bill_page]))
    assert doc.kind in ("loa", "bill")
    assert doc.loa is not None and doc.loa.signed
    assert doc.bill is not None and doc.bill.account_number == "287654321"


def test_pdf_named_pdf_that_is_not_one_is_an_unreadable_bill() -> None:
    doc = read("invoice.pdf", b"PK\x03\x04 a zip in disguise" + b"\x00" * 100)
    assert doc.kind == "bill"
    assert doc.error is not None and "damaged" in doc.error


def test_illegible_photo_with_stray_ocr_words_is_an_unreadable_bill(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fake(data: bytes, limits: Limits) -> DocText:
        return DocText((PageText("~ ,. Il1 ;: rn mm ... ‘ii Wk ~~ ,, lll 1l1 ooo", ocr=True),))

    monkeypatch.setattr(parsers.ocr, "ocr_image", fake)
    doc = read("bill_photo.jpg", png(1200, 1600, noise=True))
    assert doc.kind == "bill"
    assert doc.error is not None
    assert doc.bill is None
