"""Signed or not, name and numbers of LOAs in several layouts and media.

Layouts (tests/loa_variants.py): a carrier form with the label beside the
line, a form with the label printed under the line behind an "X", a prose
letter of agency closed by "Sincerely," (with and without "Signed:"), and a
French form. Media: the text PDF itself (typed "/s/", a pasted signature
image, a drawn pen path), a scanner's image-only PDF, a phone photo (JPEG).
Every layout is also checked unsigned: an empty line must not read as signed.
OCR cases are kept to a dozen pages.
"""

from __future__ import annotations

import difflib
import io
import random
from typing import Any

import pytest
from reportlab.lib.pagesizes import letter
from reportlab.pdfgen import canvas

from fixtures.build_ocr import degrade
from parsers.documents import read_attachment
from parsers.limits import Limits
from parsers.model import Attachment, Document
from tests import loa_variants
from tests.loa_variants import LAYOUTS, Sheet, page_image, photo_jpeg, scanned_pdf

NAMES = {
    "form": "Harbor Dental Group",
    "form_under": "Harbor Dental Group",
    "letter": "Ortiz Design Studio",
    "letter_signed": "Ortiz Design Studio",
    "french": "Boulangerie Tremblay Inc.",
}


def read(name: str, data: bytes, ctype: str = "application/pdf") -> Document:
    return read_attachment(Attachment(name, ctype, data), Limits())


def check(doc: Document, sheet: Sheet, layout: str, signed: bool) -> None:
    assert doc.kind == "loa", doc
    assert doc.loa is not None
    assert doc.loa.signed is signed
    if doc.ocr:  # a letter misread ("!nc." for "Inc.") is OCR's, and flagged uncertain
        name = doc.loa.account_name or ""
        assert difflib.SequenceMatcher(None, name, NAMES[layout]).ratio() >= 0.9, name
    else:
        assert doc.loa.account_name == NAMES[layout]
    assert set(sheet.numbers) <= set(doc.loa.numbers)


# --- Text PDFs: no OCR. ---


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("sign", ["none", "slash", "image", "path"])
def test_text_pdf_loa(layout: str, sign: str) -> None:
    sheet = LAYOUTS[layout](sign)
    doc = read("document.pdf", sheet.pdf)
    check(doc, sheet, layout, signed=sign != "none")
    assert not doc.ocr


@pytest.mark.parametrize("layout", ["form", "letter", "french"])
def test_a_blank_image_over_the_signature_line_is_no_signature(layout: str) -> None:
    sheet = LAYOUTS[layout]("blank")
    doc = read("document.pdf", sheet.pdf)
    check(doc, sheet, layout, signed=False)


def _with_page(sheet: Sheet, lines: list[str]) -> bytes:
    """The LOA followed by a second page (an e-signature certificate)."""
    from pypdf import PdfReader, PdfWriter

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=letter, invariant=1)
    for i, line in enumerate(lines):
        c.drawString(54, 740 - 16 * i, line)
    c.save()
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(sheet.pdf)))
    writer.append(PdfReader(io.BytesIO(buf.getvalue())))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


CERTIFICATES = {
    "docusign": [
        "Certificate Of Completion",
        "Envelope Id: 5A1C3F0E2B7D4E19",
        "Status: Completed",
        "Signer Events          Signature          Timestamp",
        "Maria Chen             Signed: 11/20/2026 10:31:07 AM",
    ],
    "adobe": [
        "Adobe Acrobat Sign",
        "Final Audit Report 2026-11-20",
        "Document e-signed by Dana Ortiz (dana@ortiz.example)",
        "Signature Date: 2026-11-20 - 4:02:11 PM GMT",
        "Agreement completed.",
    ],
    "dropbox": [
        "Dropbox Sign",
        "Audit trail",
        "Title: LOA",
        "Signed by Luc Tremblay (luc@tremblay.example)",
        "11 / 20 / 2026 15:12:40 UTC",
    ],
}


@pytest.mark.parametrize(
    ("layout", "vendor"), [("form", "docusign"), ("letter", "adobe"), ("french", "dropbox")]
)
def test_e_signature_certificate_counts(layout: str, vendor: str) -> None:
    sheet = LAYOUTS[layout]("none")
    doc = read("document.pdf", _with_page(sheet, CERTIFICATES[vendor]))
    check(doc, sheet, layout, signed=True)


def test_an_esign_vendor_name_alone_is_no_signature() -> None:
    sheet = LAYOUTS["form"]("none")
    lines = [
        "DocuSign Envelope ID: 5A1C3F0E-2B7D-4E19",
        "Please sign with DocuSign. Authorized Signer: the account holder.",
    ]
    doc = read("document.pdf", _with_page(sheet, lines))
    assert doc.loa is not None and not doc.loa.signed


def test_typed_name_under_a_closing_is_not_a_signature() -> None:
    # "Sincerely," then an empty line and the typed name: nobody signed.
    sheet = LAYOUTS["letter"]("none")
    doc = read("document.pdf", sheet.pdf)
    assert doc.loa is not None and not doc.loa.signed


# --- Scans and phone photos: OCR, one page each (12 pages). ---

OCR_CASES = [
    # layout, medium, ink, options
    ("form", "scan", True, {}),
    ("form", "scan", False, {}),
    ("form", "scan", True, {"dpi": 150, "skew": 2.5}),  # low resolution, more skew
    ("form_under", "photo", True, {}),
    ("form_under", "photo", False, {}),
    ("letter", "scan", True, {}),
    ("letter", "photo", False, {}),
    ("letter", "photo", True, {"quality": 45, "long_side": 1700}),  # heavy JPEG, small photo
    ("letter_signed", "scan", True, {"dpi": 150}),
    ("letter_signed", "scan", False, {}),
    ("french", "photo", True, {}),
    ("french", "scan", False, {}),
]


@pytest.mark.parametrize(
    ("layout", "medium", "ink", "options"),
    OCR_CASES,
    ids=[f"{c[0]}-{c[1]}-{'ink' if c[2] else 'blank'}-{i}" for i, c in enumerate(OCR_CASES)],
)
def test_scanned_or_photographed_loa(
    layout: str, medium: str, ink: bool, options: dict[str, Any]
) -> None:
    sheet = LAYOUTS[layout]("none")
    if medium == "scan":
        doc = read("scan0001.pdf", scanned_pdf(sheet, ink=ink, **options))
    else:
        doc = read("IMG_2231.jpg", photo_jpeg(sheet, ink=ink, **options), "image/jpeg")
    assert doc.ocr
    check(doc, sheet, layout, signed=ink)


def test_sideways_scan_of_a_signed_letter() -> None:
    sheet = loa_variants.letter_of_agency("none")
    img = degrade.scan(page_image(sheet, ink=True), random.Random(9), dpi=200).rotate(
        90, expand=True, fillcolor=240
    )
    doc = read("IMG_2231.jpg", degrade.jpeg(img, quality=70), "image/jpeg")
    check(doc, sheet, "letter", signed=True)
