"""Which OCR-read fields are uncertain."""

from __future__ import annotations

from parsers.text import DocText, PageText, uncertain_fields


def test_fields_holding_a_low_confidence_word_are_uncertain() -> None:
    doc = DocText(
        (PageText("ACME REALTV LLC 2876-5432-1", ocr=True, low_confidence=frozenset({"REALTV,"})),)
    )
    values = {"account_name": "ACME REALTV LLC", "account_number": "2876-5432-1"}
    assert uncertain_fields(doc, values) == {"account_name"}


def test_a_text_layer_has_no_uncertain_fields() -> None:
    doc = DocText((PageText("ACME REALTY LLC"),))
    assert uncertain_fields(doc, {"account_name": "ACME REALTY LLC"}) == frozenset()
