"""The ticket drafted from an assessment: what an agent reads, what is tagged."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from bot.render.ticket import (
    ZendeskNames,
    diff_note,
    draft_for,
    draft_from_json,
    evidence_for,
)
from parsers.model import NumberEntry
from rules.assessment import assess
from rules.contract import ProblemView, view_from_json
from rules.policy import Policy
from rules.request import Request
from tests.zendesk_samples import PIN, PIN2, complete, incomplete, message


def changes(old: dict[str, Any], new: dict[str, Any]) -> str:
    """The change note between two stored snapshots (contract JSON)."""
    return diff_note(view_from_json(old), view_from_json(new))


def test_the_subject_names_account_count_and_carrier() -> None:
    draft = draft_from_json(incomplete(), [message()])
    assert draft.subject == "Port request: Acme Realty LLC — 2 numbers from AT&T"


def test_a_request_without_account_name_uses_the_customer_in_the_subject() -> None:
    data = incomplete()
    data["request"]["account_name"] = None
    data["request"]["current_carrier"] = None
    data["request"]["numbers"] = data["request"]["numbers"][:1]
    assert draft_from_json(data, [message()]).subject == (
        "Port request: Dana — 1 number from unknown carrier"
    )


def test_a_forwarded_request_names_the_original_customer_not_the_colleague() -> None:
    draft = draft_from_json(incomplete(), [message(forwarded_from="dana@acme.example")])
    assert (draft.requester_email, draft.requester_name) == ("dana@acme.example", "Dana Customer")


def test_tags_carry_stage_missing_items_and_problems() -> None:
    draft = draft_from_json(incomplete(), [message()])
    assert draft.tags == (
        "porting",
        "port_stage_request_received",
        "port_missing_loa",
        "port_problem_bill_name_mismatch",
    )
    ready = draft_from_json(complete(), [message()], follow_up=True)
    assert ready.tags == ("porting", "port_stage_request_received", "port_ready")


def test_follow_up_boss_is_a_tag_of_the_one_stage_request_received() -> None:
    data = incomplete()
    data["request"]["via_follow_up_boss"] = True
    data["problems"].append(
        {
            "code": "follow_up_boss",
            "item": "current_carrier",
            "number": None,
            "detail": "Different process.",
        }
    )
    draft = draft_from_json(data, [message()])
    assert draft.stage == "request_received"
    assert "port_follow_up_boss" in draft.tags and "port_problem_follow_up_boss" in draft.tags


def test_a_not_ready_follow_up_is_still_request_received() -> None:
    assert draft_from_json(incomplete(), [message()], follow_up=True).stage == "request_received"


def test_fields_hold_the_request_values_and_never_a_pin() -> None:
    draft = draft_from_json(incomplete(), [message()])
    assert draft.fields == {
        "current_carrier": "AT&T",
        "account_name": "Acme Realty LLC",
        "account_number": "287654321",
        "service_address": "123 Main St Ste 200, Austin, TX 78701",
        "btn": "+15125550100",
        "number_count": 2,
        "stage": "port_stage_request_received",
        "ready": False,
    }


def test_pins_are_only_in_the_private_note() -> None:
    draft = draft_from_json(incomplete(), [message(body="Port please")])
    for pin in (PIN, PIN2):
        assert pin in draft.note_text and pin in draft.note_html
        assert pin not in draft.subject and pin not in " ".join(draft.tags)
        assert all(pin not in str(v) for v in draft.fields.values())
        assert pin not in repr(draft)


def test_the_note_tables_numbers_with_pin_and_assignee() -> None:
    html = draft_from_json(incomplete(), [message()]).note_html
    assert "<td>+15125550101</td><td>4821</td><td>Mickey Mouse</td>" in html


def test_a_mismatch_shows_what_the_email_said_against_the_bill_and_ocr() -> None:
    data = incomplete()
    view = view_from_json(data)
    ev = evidence_for(view, view.problems[0])
    assert ev is not None
    assert (ev.stated, ev.shown, ev.document, ev.ocr) == (
        "Acme Realty LLC",
        "ACME REALTY INC",
        "bill.pdf",
        True,
    )
    text = draft_from_json(data, [message()]).note_text
    assert "email said 'Acme Realty LLC'; bill.pdf shows 'ACME REALTY INC' (read by OCR)" in text


def test_a_missing_loa_number_shows_the_numbers_the_loa_lists() -> None:
    data = complete()
    data["documents"][1]["fields"]["numbers"] = ["+15125550101"]
    problem = {
        "code": "loa_numbers_missing",
        "item": "loa",
        "number": "+15125550102",
        "detail": "+15125550102 is not listed on the LOA.",
    }
    ev = evidence_for(view_from_json(data), ProblemView(**problem))
    assert ev is not None and (ev.stated, ev.shown, ev.ocr) == (
        "+15125550102",
        "+15125550101",
        False,
    )


def test_the_note_escapes_what_the_customer_wrote() -> None:
    html = draft_from_json(incomplete(), [message(body="<script>x</script>")]).note_html
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_the_diff_says_what_arrived_and_what_was_resolved() -> None:
    text = changes(incomplete(), complete())
    assert "Now received: Signed LOA" in text
    assert "Resolved: bill_name_mismatch" in text
    assert "New documents: loa.pdf" in text
    assert "Now READY to submit." in text


def test_the_diff_names_new_problems() -> None:
    worse = copy.deepcopy(complete())
    worse["problems"] = [
        {
            "code": "loa_unsigned",
            "item": "loa",
            "number": None,
            "detail": "The LOA loa.pdf is not signed.",
        }
    ]
    worse["ready"] = False
    text = changes(complete(), worse)
    assert "New problem: loa_unsigned: The LOA loa.pdf is not signed." in text
    assert "No longer ready." in text


def test_an_unchanged_follow_up_says_so() -> None:
    assert "Nothing in the assessment changed." in changes(incomplete(), incomplete())


def test_names_are_configurable_and_unknown_fields_refused() -> None:
    names = ZendeskNames(porting_tag="lnp", stage_tag_prefix="lnp_stage_")
    draft = draft_from_json(incomplete(), [message()], names)
    assert draft.tags[:2] == ("lnp", "lnp_stage_request_received")
    assert draft.fields["stage"] == "lnp_stage_request_received"
    with pytest.raises(ValueError, match="unknown ticket field"):
        ZendeskNames(field_titles={"colour": "Colour"})


def test_managed_tags_cover_every_tag_a_draft_can_carry() -> None:
    names = ZendeskNames()
    for data in (incomplete(), complete()):
        assert set(draft_from_json(data, [message()]).tags) <= set(names.managed_tags())


def test_a_real_assessment_drafts_with_its_pins_in_the_note_only() -> None:
    request = Request(
        current_carrier="Verizon",
        account_number="123",
        account_name="Acme",
        service_address=None,
        billing_telephone_number=None,
        billing_telephone_number_raw=None,
        ssn_last4=None,
        no_pin_stated=False,
        numbers=(NumberEntry("512-555-0101", pin="7731", assignee_name="Mickey"),),
        bill=None,
        loa=None,
        number_list=None,
        documents=(),
    )
    draft = draft_for(assess(request, Policy(), dt.date(2026, 11, 27)), [message()])
    assert "7731" in draft.note_text and "7731" not in draft.subject
    assert "port_missing_bill" in draft.tags and "port_missing_loa" in draft.tags
    assert draft.fields["number_count"] == 1


def test_the_diff_reports_a_changed_value_even_when_no_status_changed() -> None:
    # A corrected unit: the address item stays ok, but the agent must see the new value.
    before, after = copy.deepcopy(complete()), copy.deepcopy(complete())
    after["request"]["service_address"]["street"] = "123 Main St Ste 305"
    text = changes(before, after)
    assert "Nothing in the assessment changed" not in text
    assert "Changed: Service address:" in text and "Ste 305" in text


def test_the_diff_reports_a_corrected_pin_in_the_private_note() -> None:
    before, after = copy.deepcopy(complete()), copy.deepcopy(complete())
    number = after["request"]["numbers"][0]
    number["pin"] = "3190"
    text = changes(before, after)
    assert f"Changed: PIN of {number['number']}" in text and "3190" in text


def test_an_unread_bill_field_asks_the_agent_to_compare_by_eye() -> None:
    data = copy.deepcopy(complete())
    data["problems"] = [
        {
            "code": "bill_field_unread",
            "item": "bill",
            "number": None,
            "detail": "The account name could not be found on bill.pdf, so an "
            "agent compares it with the request by eye.",
        }
    ]
    data["ready"] = False
    data["checklist"]["bill"] = "problem"
    draft = draft_from_json(data, [message()])
    assert "compare by eye" in draft.note_text
    assert repr(data["request"]["account_name"]) in draft.note_text
    assert "port_problem_bill_field_unread" in draft.tags
