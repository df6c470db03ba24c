"""The filled-in LOA (bot/render/loa_form.py): what it carries, and that the bot's own
reading path (parsers.thread.read_message, as for any customer email) reads it back
perfectly for requests with 1, 12 and 120 numbers, signed and unsigned, as the text
PDF, signed on screen, scanned (rasterised, noisy, turned a little) and photographed.
OCR cases: 16 pages."""

from __future__ import annotations

import dataclasses
import io

import pypdfium2 as pdfium
import pytest

from bot.render.loa_form import LoaTemplate, loa_form, loa_values, render_loa_form, wants_loa_form
from parsers.limits import Limits
from parsers.model import Document
from parsers.thread import read_message
from rules.assessment import Assessment, Problem
from tests import loa_form_copies as copies

TEMPLATE = LoaTemplate(company_name="Lofty Voice")
LIMITS = Limits(sandbox=False)


def pdf_text(pdf: bytes) -> list[str]:
    doc = pdfium.PdfDocument(io.BytesIO(pdf))
    try:
        return [doc[i].get_textpage().get_text_range() for i in range(len(doc))]
    finally:
        doc.close()


def read_back(attachment: tuple[str, str, bytes]) -> Document:
    parsed = read_message(copies.email_with(attachment), LIMITS)
    assert len(parsed.documents) == 1
    return parsed.documents[0]


# --- what the form carries -------------------------------------------------------------


def test_the_form_carries_every_known_field_and_never_the_pin() -> None:
    text = "\n".join(pdf_text(render_loa_form(copies.assessment_with(3), TEMPLATE)))
    for value in (
        "Name as it appears on the bill: Acme Realty LLC",
        "123 MAIN ST STE 200, AUSTIN, TX 78701",
        "(512) 555-0100",
        "Current carrier: AT&T",
        "(512) 555-1000",
        "(512) 555-1002",
        "Authorized signature",
        "Printed name",
        "Title",
        "Lofty Voice",
    ):
        assert value in text
    assert "4821" not in text  # the PIN stated for every line
    # it travels by email: the account number is left for the customer to write in
    assert "Account number:" in text and "287654321" not in text
    assert "PIN" not in text


def test_an_unknown_field_is_left_blank_and_reads_back_as_unknown() -> None:
    assessment = copies.assessment_with(2, account_name=None)
    assert loa_values(assessment).account_name is None
    form = loa_form(assessment, TEMPLATE)
    assert "Name as it appears on the bill: ____" in pdf_text(form.pdf)[0]
    doc = read_back(("LOA.pdf", "application/pdf", copies.typed_signature(form)))
    assert doc.loa is not None
    assert doc.loa.account_name is None  # not the signer, not the carrier, not a guess
    assert doc.loa.signed


def test_a_value_the_bill_contradicts_is_left_blank() -> None:
    assessment = copies.assessment_with(2)
    contradicted = dataclasses.replace(
        assessment,
        problems=(
            Problem("bill_name_mismatch", "bill", None, "differs"),
            Problem("bill_account_mismatch", "bill", None, "differs"),
            Problem("bill_address_mismatch", "bill", None, "differs"),
            Problem("bill_btn_mismatch", "bill", None, "differs"),
        ),
    )
    values = loa_values(contradicted)
    assert values.account_name is None
    assert values.account_number is None
    assert values.service_address is None
    assert values.billing_telephone_number is None
    assert values.current_carrier == "AT&T"


def test_a_number_that_cannot_be_ported_is_not_listed() -> None:
    assessment = copies.assessment_with(2)
    unfit = dataclasses.replace(
        assessment,
        problems=(Problem("number_not_local", "numbers", "+15125551001", "toll-free"),),
    )
    assert loa_values(unfit).numbers == ("+15125551000",)


def test_the_same_assessment_gives_the_same_bytes() -> None:
    assessment = copies.assessment_with(12)
    assert render_loa_form(assessment, TEMPLATE) == render_loa_form(assessment, TEMPLATE)


def test_more_numbers_than_the_first_page_takes_go_on_page_two() -> None:
    small = LoaTemplate(company_name="Lofty Voice", numbers_first_page=4)
    assert loa_form(copies.assessment_with(4), small).pages == 1
    form = loa_form(copies.assessment_with(5), small)
    assert form.pages == 2
    first, second = pdf_text(form.pdf)
    assert "(512) 555-1000" not in first
    assert "All 5 numbers are listed on page 2" in first
    assert "(512) 555-1004" in second
    assert loa_form(copies.assessment_with(400), TEMPLATE).pages == 4  # 184 a page


def test_the_company_wording_comes_from_the_template() -> None:
    template = LoaTemplate(
        company_name="Northwind Phones",
        title="Porting Authorization",
        authorization="I authorize {company} to port the numbers below.",
    )
    text = pdf_text(render_loa_form(copies.assessment_with(1), template))[0]
    assert "Porting Authorization" in text
    assert "I authorize Northwind Phones to port the numbers below." in text


@pytest.mark.parametrize(
    "kwargs",
    [
        {"company_name": " "},
        {"company_name": "X", "numbers_first_page": 0},
        {"company_name": "X", "authorization": "for {customer}"},
    ],
)
def test_a_template_that_cannot_work_is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        LoaTemplate(**kwargs)  # type: ignore[arg-type]


def test_it_is_wanted_when_the_loa_is_missing_or_wrong_only() -> None:
    missing = copies.assessment_with(1)
    assert missing.checklist["loa"] == "missing"
    assert wants_loa_form(missing)
    ok: Assessment = dataclasses.replace(missing, checklist={**missing.checklist, "loa": "ok"})
    assert not wants_loa_form(ok)
    problem = dataclasses.replace(missing, checklist={**missing.checklist, "loa": "problem"})
    assert wants_loa_form(problem)
    assert not wants_loa_form(copies.assessment_with(0))  # nothing to port yet


# --- the round trip ------------------------------------------------------------------

COUNTS = (1, 12, 120)


def _check(doc: Document, n: int, *, signed: bool, ocr: bool, dated: bool) -> None:
    assert doc.error is None
    assert doc.kind == "loa"
    assert doc.ocr is ocr
    assert doc.loa is not None
    assert doc.loa.signed is signed
    assert doc.loa.account_name == copies.NAME
    assert sorted(doc.loa.numbers) == copies.numbers(n)  # every one, nothing else
    assert doc.loa.signed_date == (copies.SIGNED_ON if dated else None)


@pytest.mark.parametrize("n", COUNTS)
def test_the_text_pdf_reads_back_unsigned(n: int) -> None:
    form = loa_form(copies.assessment_with(n), TEMPLATE)
    assert form.pages == (1 if n <= TEMPLATE.numbers_first_page else 2)
    _check(
        read_back(("LOA.pdf", "application/pdf", form.pdf)), n, signed=False, ocr=False, dated=False
    )


@pytest.mark.parametrize("n", COUNTS)
def test_signed_on_screen_with_a_typed_signature_reads_back_signed(n: int) -> None:
    form = loa_form(copies.assessment_with(n), TEMPLATE)
    doc = read_back(("LOA signed.pdf", "application/pdf", copies.typed_signature(form)))
    _check(doc, n, signed=True, ocr=False, dated=True)


@pytest.mark.parametrize("n", COUNTS)
def test_signed_on_screen_with_a_drawn_signature_reads_back_signed(n: int) -> None:
    form = loa_form(copies.assessment_with(n), TEMPLATE)
    doc = read_back(("LOA signed.pdf", "application/pdf", copies.drawn_signature(form)))
    _check(doc, n, signed=True, ocr=False, dated=True)


@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed"])
@pytest.mark.parametrize("n", COUNTS)
def test_a_scan_reads_back(n: int, signed: bool) -> None:
    form = loa_form(copies.assessment_with(n), TEMPLATE)
    doc = read_back(("scan0042.pdf", "application/pdf", copies.scanned(form, signed=signed)))
    _check(doc, n, signed=signed, ocr=True, dated=signed)


@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed"])
@pytest.mark.parametrize("n", COUNTS)
def test_a_photo_reads_back(n: int, signed: bool) -> None:
    form = loa_form(copies.assessment_with(n), TEMPLATE)
    doc = read_back(copies.photographed(form, signed=signed))
    _check(doc, n, signed=signed, ocr=True, dated=signed)
