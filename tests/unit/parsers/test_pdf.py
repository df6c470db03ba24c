"""read_pdf: text layer with columns kept, signature evidence, damaged and locked files."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw
from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    FloatObject,
    NameObject,
    NumberObject,
    TextStringObject,
)
from reportlab.lib.pagesizes import letter
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

from parsers.errors import DocumentError, EncryptedDocument
from parsers.limits import Limits
from parsers.pdf import read_pdf
from tests.work_count import count_calls, count_ocr

Placed = list[tuple[float, float, str]]


def make_pdf(pages: list[Placed], *, draw: object = None) -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=letter)
    c.setFont("Helvetica", 10)
    for page in pages:
        for x, y, text in page:
            c.drawString(x, y, text)
        if callable(draw):
            draw(c)
        c.showPage()
    c.save()
    return buf.getvalue()


def scribble_png() -> bytes:
    im = Image.new("RGB", (300, 80), "white")
    d = ImageDraw.Draw(im)
    d.line([(10, 60), (80, 10), (150, 70), (290, 20)], fill="black", width=4)
    out = io.BytesIO()
    im.save(out, "PNG")
    return out.getvalue()


LOA_PAGE: Placed = [
    (72, 740, "Letter of Authorization"),
    (72, 720, "Business Name: Acme Realty LLC"),
    (72, 700, "Numbers to port: (512) 555-0101"),
    (72, 300, "Authorized Signature: ______________________"),
    (380, 300, "Date: 11/20/2026"),
]


def add_field(
    data: bytes,
    *,
    ftype: str,
    name: str,
    value: object | None,
    rect: tuple[float, float, float, float] = (190, 295, 330, 320),
) -> bytes:
    return add_fields(data, [(ftype, name, value, rect)])


def add_fields(
    data: bytes,
    fields: list[tuple[str, str, object | None, tuple[float, float, float, float]]],
) -> bytes:
    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(data)))
    refs = []
    for ftype, name, value, rect in fields:
        refs.append(writer._add_object(_widget(ftype, name, value, rect)))
    writer.pages[0][NameObject("/Annots")] = ArrayObject(refs)
    writer._root_object[NameObject("/AcroForm")] = DictionaryObject(
        {NameObject("/Fields"): ArrayObject(refs)}
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _widget(
    ftype: str, name: str, value: object | None, rect: tuple[float, float, float, float]
) -> DictionaryObject:
    widget = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject("/Widget"),
            NameObject("/FT"): NameObject(ftype),
            NameObject("/T"): TextStringObject(name),
            NameObject("/F"): NumberObject(4),
            NameObject("/Rect"): ArrayObject([FloatObject(v) for v in rect]),
        }
    )
    if value is not None:
        widget[NameObject("/V")] = value
    return widget


def add_ink(data: bytes) -> bytes:
    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(data)))
    ink = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject("/Ink"),
            NameObject("/Rect"): ArrayObject(
                [FloatObject(190), FloatObject(295), FloatObject(330), FloatObject(330)]
            ),
            NameObject("/InkList"): ArrayObject(
                [ArrayObject([FloatObject(v) for v in (195, 300, 240, 325, 280, 298, 325, 320)])]
            ),
        }
    )
    writer.pages[0][NameObject("/Annots")] = ArrayObject([writer._add_object(ink)])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def encrypt(data: bytes, password: str) -> bytes:
    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(data)))
    writer.encrypt(password, owner_password="owner", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_text_of_each_page_is_read() -> None:
    doc = read_pdf(
        make_pdf(
            [
                [(72, 700, "First page of the bill text")],
                [(72, 700, "Second page of the bill text")],
            ]
        ),
        Limits(),
    )
    assert len(doc.text.pages) == 2
    assert "First page" in doc.text.pages[0].text
    assert "Second page" in doc.text.pages[1].text
    assert doc.pages_without_text == ()


def test_side_by_side_blocks_stay_apart() -> None:
    data = make_pdf(
        [
            [
                (40, 640, "Service Address"),
                (350, 640, "Remit to:"),
                (40, 625, "123 MAIN ST STE 200"),
                (350, 625, "PO BOX 6463"),
                (40, 610, "AUSTIN TX 78701"),
                (350, 610, "CAROL STREAM IL 60197-6463"),
            ]
        ]
    )
    lines = read_pdf(data, Limits()).text.text.splitlines()
    line = next(ln for ln in lines if "123 MAIN" in ln)
    assert "123 MAIN ST STE 200   " in line  # a column gap, not one merged street line
    assert line.index("PO BOX") > line.index("200") + 10


def test_text_drawn_out_of_order_is_laid_out_top_to_bottom() -> None:
    data = make_pdf([[(72, 600, "bottom line"), (72, 700, "top line")]])
    text = read_pdf(data, Limits()).text.text
    assert text.index("top line") < text.index("bottom line")


def test_a_page_without_text_is_listed_for_ocr() -> None:
    data = make_pdf([[(72, 700, "Page one has a real text layer here")], [(72, 700, "p. 2")]])
    assert read_pdf(data, Limits()).pages_without_text == (1,)


def test_an_unsigned_loa_has_no_signature_evidence() -> None:
    doc = read_pdf(make_pdf([LOA_PAGE]), Limits())
    assert not doc.signature_field_filled
    assert not doc.signature_ink


def test_filled_signature_field_is_evidence() -> None:
    value = DictionaryObject(
        {NameObject("/Type"): NameObject("/Sig"), NameObject("/Name"): TextStringObject("Jane Doe")}
    )
    data = add_field(make_pdf([LOA_PAGE]), ftype="/Sig", name="Signature1", value=value)
    assert read_pdf(data, Limits()).signature_field_filled


def test_empty_signature_field_is_not_evidence() -> None:
    data = add_field(make_pdf([LOA_PAGE]), ftype="/Sig", name="Signature1", value=None)
    assert not read_pdf(data, Limits()).signature_field_filled


def test_text_field_named_signature_with_a_name_is_evidence() -> None:
    data = add_field(
        make_pdf([LOA_PAGE]),
        ftype="/Tx",
        name="customer_signature",
        value=TextStringObject("Jane Doe"),
    )
    assert read_pdf(data, Limits()).signature_field_filled


def test_other_filled_text_fields_are_not_evidence() -> None:
    data = add_field(
        make_pdf([LOA_PAGE]),
        ftype="/Tx",
        name="business_name",
        value=TextStringObject("Acme Realty LLC"),
    )
    assert not read_pdf(data, Limits()).signature_field_filled


def test_ink_annotation_is_evidence() -> None:
    assert read_pdf(add_ink(make_pdf([LOA_PAGE])), Limits()).signature_ink


def test_image_over_the_signature_line_is_evidence() -> None:
    def sign(c: canvas.Canvas) -> None:
        c.drawImage(ImageReader(io.BytesIO(scribble_png())), 200, 295, 150, 40)

    assert read_pdf(make_pdf([LOA_PAGE], draw=sign), Limits()).signature_ink


def test_logo_far_from_the_signature_line_is_not_evidence() -> None:
    def logo(c: canvas.Canvas) -> None:
        c.drawImage(ImageReader(io.BytesIO(scribble_png())), 400, 700, 150, 40)

    assert not read_pdf(make_pdf([LOA_PAGE], draw=logo), Limits()).signature_ink


def test_password_protected_pdf_says_so() -> None:
    data = encrypt(make_pdf([LOA_PAGE]), "secret")
    with pytest.raises(EncryptedDocument, match="password-protected"):
        read_pdf(data, Limits())


def test_pdf_with_only_an_owner_password_is_read() -> None:
    data = encrypt(make_pdf([LOA_PAGE]), "")
    assert "Letter of Authorization" in read_pdf(data, Limits()).text.text


def test_truncated_pdf_is_damaged() -> None:
    data = make_pdf([LOA_PAGE])
    with pytest.raises(DocumentError, match="the PDF is damaged"):
        read_pdf(data[: len(data) // 2], Limits())


def test_bytes_that_are_not_a_pdf_are_damaged() -> None:
    with pytest.raises(DocumentError, match="the PDF is damaged"):
        read_pdf(b"<html>not a pdf</html>", Limits())


def test_pages_over_the_limit_are_not_read() -> None:
    data = make_pdf([[(72, 700, f"Page number {i} of a long statement")] for i in range(5)])
    doc = read_pdf(data, Limits(max_pages=2))
    assert len(doc.text.pages) == 2
    assert doc.truncated
    assert doc.page_count == 5


def test_two_page_text_bill_is_read_in_a_few_milliseconds(monkeypatch: pytest.MonkeyPatch) -> None:
    # Work, not time (the milliseconds: bench/bench_assess.py): each page's text is
    # taken once, nothing is rendered and nothing OCR'd.
    import pypdfium2 as pdfium

    page: Placed = [
        (40, 760 - 12 * i, f"Line {i}  (512) 555-01{i:02d}  Business Unlimited") for i in range(50)
    ]
    page += [(400, 760 - 12 * i, f"${i}.00") for i in range(50)]
    data = make_pdf([page, page])
    textpages = count_calls(monkeypatch, pdfium.PdfPage, "get_textpage")
    renders = count_calls(monkeypatch, pdfium.PdfPage, "render")
    ocr_runs = count_ocr(monkeypatch)
    doc = read_pdf(data, Limits())
    assert len(doc.text.pages) == 2 and "555-0149" in doc.text.pages[1].text
    assert len(textpages) == 2 and renders == [] and ocr_runs == []


def test_filled_form_values_appear_in_the_text_beside_their_labels() -> None:
    page: Placed = [
        (72, 740, "Letter of Authorization"),
        (72, 720, "Business Name:"),
        (72, 700, "Numbers to port:"),
        (72, 300, "Signature: ____________"),
    ]
    data = add_fields(
        make_pdf([page]),
        [
            ("/Tx", "business_name", TextStringObject("Acme Realty LLC"), (160, 715, 400, 732)),
            (
                "/Tx",
                "numbers",
                TextStringObject("512-555-0101\n512-555-0102"),
                (160, 660, 400, 712),
            ),
        ],
    )
    lines = read_pdf(data, Limits()).text.text.splitlines()
    assert any("Business Name:" in ln and "Acme Realty LLC" in ln for ln in lines)
    assert any("Numbers to port:" in ln and "512-555-0101" in ln for ln in lines)
    assert any("512-555-0102" in ln for ln in lines)
