"""OCR of scans and photos: what a customer's scanned bill or LOA gives the bot."""

from __future__ import annotations

import dataclasses
import io
import random

import pytest
from PIL import Image, ImageFile
from reportlab.pdfgen import canvas

from fixtures.build_ocr import degrade
from fixtures.build_ocr.render import (
    Bill,
    Loa,
    bill_pdf,
    draw_signature,
    loa_pdf,
    loa_signature_box,
    render_page,
)
from parsers.errors import DocumentError, LimitExceeded
from parsers.limits import Limits
from parsers.ocr import ocr_image, ocr_pdf_pages
from tests.work_count import count_calls, count_ocr

BILL = Bill(
    carrier="Verizon",
    carrier_phone="1-800-922-0204",
    account_name="Acme Realty LLC",
    account_number="287654321",
    street="123 Main Street, Suite 200",
    city_line="Austin, TX 78701",
    btn="(512) 873-4400",
    bill_date="November 2, 2026",
    due_date="November 27, 2026",
    period="Oct 3 - Nov 2, 2026",
)
LOA = Loa(
    carrier="Verizon",
    account_name="Acme Realty LLC",
    account_number="287654321",
    street="123 Main Street, Suite 200",
    city_line="Austin, TX 78701",
    numbers=("(512) 873-4410", "(512) 873-4411"),
    signer="Mickey Mouse",
    date="11/20/2026",
)
LIMITS = Limits()


@pytest.fixture(scope="module")
def bill_page() -> Image.Image:
    return render_page(bill_pdf(BILL), dpi=300)


@pytest.fixture(scope="module")
def bill_scan(bill_page: Image.Image) -> Image.Image:
    return degrade.scan(bill_page, random.Random(1), dpi=200, skew=1.2)


def _loa_scan(signed: bool, seed: int) -> bytes:
    loa = LOA if signed else dataclasses.replace(LOA, date="")
    page = render_page(loa_pdf(loa), dpi=300)
    if signed:
        draw_signature(page, loa_signature_box(loa), seed)
    return degrade.jpeg(degrade.scan(page, random.Random(seed), dpi=200, skew=0.7))


def test_a_scanned_bill_reads_its_account_number(bill_scan: Image.Image) -> None:
    doc = ocr_image(degrade.jpeg(bill_scan), LIMITS)
    assert doc.ocr
    assert "287654321" in doc.text
    assert "(512) 873-4400" in doc.text


def test_a_label_and_its_value_in_two_columns_stay_on_one_line(bill_scan: Image.Image) -> None:
    doc = ocr_image(degrade.jpeg(bill_scan), LIMITS)
    line = next(ln for ln in doc.text.splitlines() if "Bill Date:" in ln)
    assert "November 2, 2026" in line


def test_an_upside_down_scan_is_read_upright(bill_scan: Image.Image) -> None:
    doc = ocr_image(degrade.jpeg(bill_scan.rotate(180)), LIMITS)
    assert "287654321" in doc.text


def test_a_photo_turned_only_by_its_exif_tag_is_read_upright(bill_scan: Image.Image) -> None:
    sideways = bill_scan.transpose(Image.Transpose.ROTATE_90)
    doc = ocr_image(degrade.jpeg(sideways, exif_orientation=6), LIMITS)
    assert "287654321" in doc.text


def test_a_phone_photo_with_perspective_and_shadow_is_read(bill_page: Image.Image) -> None:
    photo = degrade.phone_photo(bill_page, random.Random(4))
    doc = ocr_image(degrade.jpeg(photo), LIMITS)
    assert "287654321" in doc.text
    assert "$152.00" in doc.text  # the column next to the sheet's edge too


def test_a_heic_photo_is_read(bill_scan: Image.Image) -> None:
    doc = ocr_image(degrade.heic(bill_scan.convert("RGB"), quality=70), LIMITS)
    assert "287654321" in doc.text


def test_each_page_of_a_multi_page_tiff_is_read(bill_scan: Image.Image) -> None:
    doc = ocr_image(degrade.tiff_pages([bill_scan, bill_scan]), LIMITS)
    assert len(doc.pages) == 2
    assert all("287654321" in p.text for p in doc.pages)


def test_tiff_pages_past_the_page_limit_are_not_read(bill_scan: Image.Image) -> None:
    doc = ocr_image(degrade.tiff_pages([bill_scan] * 3), Limits(max_pages=1))
    assert len(doc.pages) == 1


def test_a_decompression_bomb_is_refused_quickly(monkeypatch: pytest.MonkeyPatch) -> None:
    # Work, not time: refused from the header, with no pixel decoded and no OCR run.
    loads = count_calls(monkeypatch, ImageFile.ImageFile, "load")
    ocr_runs = count_ocr(monkeypatch)
    with pytest.raises(LimitExceeded, match="pixels"):
        ocr_image(degrade.bomb_png(30000), LIMITS)
    assert loads == [] and ocr_runs == []


def test_an_image_over_the_pixel_limit_is_refused_before_decoding() -> None:
    buf = io.BytesIO()
    Image.new("L", (800, 600), 255).save(buf, "PNG")
    with pytest.raises(LimitExceeded, match="800 x 600 pixels"):
        ocr_image(buf.getvalue(), Limits(max_pixels=100_000))


def test_a_blank_scan_gives_no_text_error() -> None:
    blank = degrade.scan(Image.new("L", (1700, 2200), 255), random.Random(2), skew=0.5)
    blank.info["dpi"] = (200, 200)
    with pytest.raises(DocumentError, match="no text could be read"):
        ocr_image(degrade.jpeg(blank), LIMITS)


def test_bytes_that_are_no_image_are_a_document_error() -> None:
    with pytest.raises(DocumentError):
        ocr_image(b"%PDF-1.4 not an image at all", LIMITS)


def test_nothing_is_read_when_ocr_is_turned_off(bill_scan: Image.Image) -> None:
    with pytest.raises(DocumentError, match="OCR is turned off"):
        ocr_image(degrade.jpeg(bill_scan), Limits(ocr=False))


def test_a_page_over_the_time_limit_is_stopped(bill_scan: Image.Image) -> None:
    with pytest.raises(LimitExceeded, match=r"page 1 took longer than 0\.05 seconds"):
        ocr_image(degrade.jpeg(bill_scan), Limits(ocr_seconds_per_page=0.05))


def test_signature_ink_is_found_on_a_signed_scan() -> None:
    for seed in (1, 2):
        doc = ocr_image(_loa_scan(signed=True, seed=seed), LIMITS)
        assert doc.pages[0].signature_ink is True


def test_no_signature_ink_on_an_unsigned_scan() -> None:
    doc = ocr_image(_loa_scan(signed=False, seed=3), LIMITS)
    assert doc.pages[0].signature_ink is False


def test_a_typed_name_on_the_signature_line_is_not_ink() -> None:
    page = render_page(loa_pdf(LOA, typed_signature="/s/ Mickey Mouse"), dpi=300)
    doc = ocr_image(degrade.jpeg(degrade.scan(page, random.Random(5), skew=0.4)), LIMITS)
    assert doc.pages[0].signature_ink is False
    assert "/s/ Mickey Mouse" in doc.text


def test_a_page_without_a_signature_label_is_not_judged(bill_scan: Image.Image) -> None:
    doc = ocr_image(degrade.jpeg(bill_scan), LIMITS)
    assert doc.pages[0].signature_ink is None


def test_words_read_with_low_confidence_are_reported(bill_page: Image.Image) -> None:
    rough = degrade.scan(bill_page, random.Random(6), dpi=110, blur=1.1, noise=14, specks=900)
    doc = ocr_image(degrade.jpeg(rough, quality=35), LIMITS)
    assert doc.low_confidence
    words = set(doc.text.split())
    assert doc.low_confidence <= words


def test_a_scanned_pdf_page_is_rendered_and_read(bill_scan: Image.Image) -> None:
    pdf = degrade.image_pdf(degrade.jpeg(bill_scan))
    pages = ocr_pdf_pages(pdf, [0], LIMITS)
    assert set(pages) == {0}
    assert pages[0].ocr
    assert "287654321" in pages[0].text


def test_pdf_pages_past_the_page_limit_are_not_read(bill_scan: Image.Image) -> None:
    pdf = degrade.image_pdf(degrade.jpeg(bill_scan))
    assert ocr_pdf_pages(pdf, [3], Limits(max_pages=2)) == {}


def test_an_absurdly_large_pdf_page_is_refused() -> None:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(30000, 30000))
    c.drawString(100, 100, "x")
    c.showPage()
    c.save()
    with pytest.raises(LimitExceeded, match="too large"):
        ocr_pdf_pages(buf.getvalue(), [0], LIMITS)


def test_a_large_pdf_page_is_rendered_within_the_pixel_limit(bill_scan: Image.Image) -> None:
    # At 300 dpi this letter page would need 8.4 million pixels; the limit allows 3.
    pdf = degrade.image_pdf(degrade.jpeg(bill_scan))
    pages = ocr_pdf_pages(pdf, [0], Limits(max_pixels=3_000_000))
    assert "287654321" in pages[0].text


def test_a_scan_lying_on_its_side_without_exif_is_read_upright(bill_scan: Image.Image) -> None:
    sideways = bill_scan.transpose(Image.Transpose.ROTATE_270)
    doc = ocr_image(degrade.jpeg(sideways), LIMITS)
    assert "287654321" in doc.text


def test_a_tiff_with_more_frames_than_pages_read_stops_at_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    page = Image.new("L", (300, 300), 255)
    many = degrade.tiff_pages([page] * 40)
    # Work, not time: two of the 40 frames decoded, at most two pages OCR'd.
    loads = count_calls(monkeypatch, ImageFile.ImageFile, "load")
    ocr_runs = count_ocr(monkeypatch)
    with pytest.raises(DocumentError, match="no text"):
        ocr_image(many, Limits(max_pages=2))
    frames = {(id(img), img.tell()) for (img,) in loads}  # type: ignore[misc, attr-defined]
    assert len(frames) <= 2 and len(ocr_runs) <= 2 * 3  # a read, orientation, a re-read
