"""The contract's rules, judged on plain records (no email, no PDF)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from typing import Any

import jsonschema
import pytest

from parsers.address import parse_address
from parsers.model import (
    BillFields,
    Document,
    LoaFields,
    Message,
    NumberEntry,
    NumberList,
    ParsedMessage,
    Statements,
)
from rules.assessment import assess
from rules.contract import to_json
from rules.policy import Policy
from rules.request import build_request
from tests.conftest import SHARED

SCHEMA = json.loads((SHARED / "contract/assessment.schema.json").read_text())
TODAY = dt.date(2026, 11, 27)
ADDRESS = parse_address("123 Main Street, Suite 200, Austin, TX 78701")
NUMBERS = (
    NumberEntry("(512) 555-0101", "4821", "Mickey Mouse", "mmouse@acme.example"),
    NumberEntry("512.555.0102", "0427", "Minnie Mouse", None),
)


def _message(n: int = 1) -> Message:
    return Message(
        message_id=f"<m{n}@example.com>",
        in_reply_to=None,
        references=(),
        subject="Port",
        sender="owner@acme.example",
        sender_name=None,
        date=None,
        body="",
        attachments=(),
    )


def _bill(**changes: Any) -> Document:
    fields = BillFields(
        bill_date=dt.date(2026, 11, 2),
        account_name="ACME REALTY, LLC",
        account_number="2876-5432-1",
        service_address=parse_address("123 MAIN ST STE 200\nAUSTIN TX 78701-1234"),
        billing_telephone_number="+15125550100",
    )
    return Document("bill.pdf", "bill", bill=replace(fields, **changes))


def _loa(**changes: Any) -> Document:
    fields = LoaFields(
        signed=True,
        signed_date=dt.date(2026, 11, 20),
        account_name="Acme Realty LLC",
        numbers=("+15125550101", "+15125550102"),
    )
    return Document("loa.pdf", "loa", loa=replace(fields, **changes))


def _statements(**changes: Any) -> Statements:
    base = Statements(
        current_carrier="AT&T",
        account_number="287654321",
        account_name="Acme Realty LLC",
        service_address=ADDRESS,
        billing_telephone_number="512-555-0100",
        numbers=NUMBERS,
    )
    return replace(base, **changes)


def _thread(*messages: tuple[Statements, tuple[Document, ...]]) -> tuple[ParsedMessage, ...]:
    return tuple(
        ParsedMessage(_message(i), statements, docs)
        for i, (statements, docs) in enumerate(messages)
    )


def _assess(
    statements: Statements | None = None,
    docs: tuple[Document, ...] | None = None,
    policy: Policy | None = None,
    today: dt.date = TODAY,
) -> dict[str, Any]:
    thread = _thread((statements or _statements(), (_bill(), _loa()) if docs is None else docs))
    out = to_json(assess(build_request(thread), policy or Policy(), today), show_secrets=True)
    jsonschema.validate(out, SCHEMA)
    return out


def _codes(out: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(p["code"], p["number"]) for p in out["problems"]]


def test_a_complete_request_is_ready() -> None:
    out = _assess()
    assert out["problems"] == []
    assert out["ready"] is True
    assert out["checklist"]["ssn_last4"] == "not_provided"
    assert [n["number"] for n in out["request"]["numbers"]] == ["+15125550101", "+15125550102"]


def test_pins_are_masked_unless_secrets_are_shown() -> None:
    thread = _thread((_statements(ssn_last4="6789"), (_bill(), _loa())))
    out = to_json(assess(build_request(thread), Policy(), TODAY))
    assert {n["pin"] for n in out["request"]["numbers"]} == {"••••"}
    assert out["request"]["ssn_last4"] == "••••"
    assert "4821" not in json.dumps(out) and "6789" not in json.dumps(out)


@pytest.mark.parametrize(
    ("bill_date", "too_old"),
    [
        (dt.date(2026, 10, 28), False),  # exactly 30 days ago: still fine
        (dt.date(2026, 10, 27), True),
    ],
)
def test_a_bill_more_than_30_days_old_is_too_old(bill_date: dt.date, too_old: bool) -> None:
    out = _assess(docs=(_bill(bill_date=bill_date), _loa()))
    assert (("bill_too_old", None) in _codes(out)) is too_old
    assert out["ready"] is not too_old


def test_the_bill_age_comes_from_the_policy() -> None:
    out = _assess(
        docs=(_bill(bill_date=dt.date(2026, 10, 1)), _loa()), policy=Policy(bill_max_age_days=60)
    )
    assert out["ready"] is True


def test_a_bill_without_date_is_flagged() -> None:
    out = _assess(docs=(_bill(bill_date=None), _loa()))
    assert _codes(out) == [("bill_date_unknown", None)]
    assert out["checklist"]["bill"] == "problem"


@pytest.mark.parametrize(
    ("stated", "on_bill", "mismatch"),
    [
        ("Acme Realty LLC", "ACME REALTY, LLC", False),
        ("Acme Realty", "ACME REALTY LLC", True),
        ("Núñez Dental", "NUNEZ DENTAL", False),
        ("Smith & Sons Plumbing", "SMITH AND SONS PLUMBING", False),
        ("Acme Realty LLC", "ACME REALTY INC", True),
    ],
)
def test_names_must_match_the_bill_exactly(stated: str, on_bill: str, mismatch: bool) -> None:
    out = _assess(
        _statements(account_name=stated),
        docs=(_bill(account_name=on_bill), _loa(account_name=on_bill)),
    )
    assert (("bill_name_mismatch", None) in _codes(out)) is mismatch


def test_account_numbers_match_without_spaces_and_dashes() -> None:
    assert _assess(_statements(account_number="287 654 321"))["ready"] is True
    out = _assess(_statements(account_number="287654322"))
    assert _codes(out) == [("bill_account_mismatch", None)]
    assert "287654322" not in out["problems"][0]["detail"]  # never the full number


def test_a_different_suite_is_an_address_mismatch() -> None:
    other = parse_address("123 Main St, Suite 210, Austin, TX 78701")
    assert _codes(_assess(_statements(service_address=other))) == [("bill_address_mismatch", None)]


def test_street_suffix_spellings_are_the_same_address() -> None:
    same = parse_address("123 Main St., Ste. 200\nAustin, Texas 78701")
    assert _assess(_statements(service_address=same))["ready"] is True


def test_a_po_box_is_not_a_service_address() -> None:
    box = parse_address("PO Box 4410, Austin, TX 78701")
    out = _assess(_statements(service_address=box), docs=(_bill(service_address=None), _loa()))
    # The bill shows no service address: that is for an agent's eyes, not a mismatch.
    assert _codes(out) == [("address_not_physical", None), ("bill_field_unread", None)]
    assert out["checklist"]["service_address"] == "problem"


def test_btn_mismatch_and_no_btn_on_the_bill() -> None:
    out = _assess(_statements(billing_telephone_number="(512) 555-0199"))
    assert _codes(out) == [("bill_btn_mismatch", None)]
    assert _assess(docs=(_bill(billing_telephone_number=None), _loa()))["ready"] is True


@pytest.mark.parametrize(
    ("raw", "code", "key"),
    [
        ("123-456-7890", "number_invalid", "+11234567890"),
        ("555-1234", "number_invalid", "5551234"),
        ("876-555-1234", "number_not_us_ca", "+18765551234"),
        ("(242) 322-1234", "number_not_us_ca", "+12423221234"),
        ("787-555-1234", "number_not_us_ca", "+17875551234"),
        ("1-800-555-0199", "number_not_local", "+18005550199"),
        ("900-555-1212", "number_not_local", "+19005551212"),
    ],
)
def test_numbers_that_cannot_be_ported(raw: str, code: str, key: str) -> None:
    numbers = (*NUMBERS, NumberEntry(raw, "1111", "Goofy", None))
    out = _assess(_statements(numbers=numbers))
    # Not portable, so the LOA need not list it: only the number's own problem.
    assert _codes(out) == [(code, key)]
    assert out["request"]["numbers"][-1]["number"] == key
    assert out["checklist"]["numbers"] == "problem"
    assert out["ready"] is False


def test_a_duplicate_is_reported_once_and_listed_once() -> None:
    numbers = (*NUMBERS, NumberEntry("+1 512 555 0101", "4821", "Mickey Mouse", None))
    out = _assess(_statements(numbers=numbers))
    assert _codes(out) == [("number_duplicate", "+15125550101")]
    assert len(out["request"]["numbers"]) == 2


def test_assignees_name_or_valid_email() -> None:
    numbers = (
        NumberEntry("512-555-0101", "1", None, None),
        NumberEntry("512-555-0102", "2", None, "minnie@"),
        NumberEntry("512-555-0103", "3", "Donald", None),
    )
    loa = _loa(numbers=("+15125550101", "+15125550102", "+15125550103"))
    out = _assess(_statements(numbers=numbers), docs=(_bill(), loa))
    assert _codes(out) == [
        ("number_no_assignee", "+15125550101"),
        ("assignee_email_invalid", "+15125550102"),
    ]


def test_pins_missing_unless_every_number_has_one_or_none_exists() -> None:
    numbers = (NUMBERS[0], replace(NUMBERS[1], pin=None))
    assert _assess(_statements(numbers=numbers))["checklist"]["pins"] == "missing"
    out = _assess(_statements(numbers=numbers, no_pin_stated=True))
    assert out["checklist"]["pins"] == "ok"
    assert out["request"]["no_pin_stated"] is True


def test_a_pin_for_all_lines_applies_to_every_number() -> None:
    numbers = tuple(replace(n, pin=None) for n in NUMBERS)
    out = _assess(_statements(numbers=numbers, pin_for_all="4821"))
    assert [n["pin"] for n in out["request"]["numbers"]] == ["4821", "4821"]
    assert out["ready"] is True


def test_without_numbers_pins_are_missing_too() -> None:
    out = _assess(_statements(numbers=()), docs=(_bill(), _loa(numbers=())))
    assert out["checklist"]["numbers"] == "missing"
    assert out["checklist"]["pins"] == "missing"


def test_an_unreadable_bill_stands_alone() -> None:
    broken = Document("bill.pdf", "bill", error="the PDF is password-protected")
    out = _assess(docs=(broken, _loa()))
    assert _codes(out) == [("bill_unreadable", None)]
    assert "password" in out["problems"][0]["detail"]
    assert out["documents"][0]["fields"] == {"error": "the PDF is password-protected"}


def test_missing_documents_are_missing() -> None:
    out = _assess(docs=())
    assert out["checklist"]["bill"] == "missing"
    assert out["checklist"]["loa"] == "missing"
    assert out["ready"] is False


def test_loa_must_be_signed_list_every_portable_number_and_carry_the_name() -> None:
    loa = _loa(signed=False, numbers=("+15125550101",), account_name="Acme Realty")
    out = _assess(docs=(_bill(), loa))
    assert _codes(out) == [
        ("loa_unsigned", None),
        ("loa_numbers_missing", "+15125550102"),
        ("loa_name_mismatch", None),
    ]
    assert out["checklist"]["loa"] == "problem"


def test_values_missing_from_the_email_are_taken_from_the_bill() -> None:
    out = _assess(
        _statements(
            account_number=None,
            account_name=None,
            service_address=None,
            billing_telephone_number=None,
        )
    )
    assert out["request"]["account_number"] == "2876-5432-1"
    assert out["request"]["account_name"] == "ACME REALTY, LLC"
    assert out["request"]["billing_telephone_number"] == "+15125550100"
    assert out["checklist"]["account_number"] == "ok"
    assert out["ready"] is True


def test_follow_up_boss_has_its_own_process() -> None:
    out = _assess(_statements(current_carrier="Follow Up Boss"))
    assert out["request"]["via_follow_up_boss"] is True
    assert _codes(out) == [("follow_up_boss", None)]
    assert out["checklist"]["current_carrier"] == "problem"


def test_a_later_message_replaces_earlier_values_and_documents() -> None:
    first = (_statements(account_number="111"), (_bill(bill_date=dt.date(2026, 9, 1)),))
    second = (Statements(account_number="287654321"), (_bill(), _loa()))
    request = build_request(_thread(first, second))
    out = to_json(assess(request, Policy(), TODAY))
    assert out["request"]["account_number"] == "287654321"
    assert out["ready"] is True


def test_a_follow_up_about_listed_numbers_updates_them() -> None:
    numbers = tuple(replace(n, pin=None) for n in NUMBERS)
    first = (_statements(numbers=numbers), (_bill(), _loa()))
    second = (Statements(numbers=(NumberEntry("512-555-0102", "0427"),)), ())
    out = to_json(assess(build_request(_thread(first, second)), Policy(), TODAY), show_secrets=True)
    assert [n["pin"] for n in out["request"]["numbers"]] == [None, "0427"]
    assert out["request"]["numbers"][1]["assignee_name"] == "Minnie Mouse"


def test_a_new_number_list_replaces_the_old_one() -> None:
    rows = (NumberEntry("512-555-0103", "9", "Daisy"),)
    new_list = Document("numbers.csv", "number_list", number_list=NumberList(rows))
    first = (_statements(), (_bill(), _loa()))
    second = (Statements(), (new_list,))
    out = to_json(assess(build_request(_thread(first, second)), Policy(), TODAY))
    assert [n["number"] for n in out["request"]["numbers"]] == ["+15125550103"]


def test_an_ocr_slip_is_for_an_agent_s_eyes_not_passed_or_asserted() -> None:
    # "S" for "5" on a scan: the value was not read with certainty (unread, not a mismatch).
    scanned = replace(_bill(account_number="2876-S432-1"), ocr=True)
    out = _assess(_statements(account_number="287654321"), docs=(scanned, _loa()))
    assert _codes(out) == [("bill_field_unread", None)]
    assert out["ready"] is False
    assert "read with certainty" in out["problems"][0]["detail"]


def test_a_scan_s_value_that_differs_beyond_an_ocr_slip_is_a_mismatch() -> None:
    scanned = replace(_bill(account_number="2876-5432-2"), ocr=True)
    out = _assess(_statements(account_number="287654321"), docs=(scanned, _loa()))
    assert _codes(out) == [("bill_account_mismatch", None)]
    assert "misreading of the scan" in out["problems"][0]["detail"]


def test_a_low_confidence_field_that_differs_asks_for_a_clearer_copy() -> None:
    bill = _bill(account_name="ACME REALTV LLC", uncertain=frozenset({"account_name"}))
    out = _assess(docs=(replace(bill, ocr=True), _loa()))
    assert _codes(out) == [("bill_name_mismatch", None)]
    assert "clearer copy" in out["problems"][0]["detail"]
    assert out["documents"][0]["fields"]["uncertain"] == ["account_name"]


def test_a_text_layer_mismatch_is_stated_plainly() -> None:
    out = _assess(_statements(account_number="287654322"))
    assert "scan" not in out["problems"][0]["detail"]


def test_a_space_or_hyphen_lost_by_ocr_is_unread_not_a_mismatch() -> None:
    scanned = replace(_bill(account_name="ACME REALTY-LLC"), ocr=True)
    out = _assess(docs=(scanned, _loa()))
    assert _codes(out) == [("bill_field_unread", None)]
