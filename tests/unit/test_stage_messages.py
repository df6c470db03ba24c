"""What the customer is told at each stage change."""

from __future__ import annotations

import datetime as dt
import re
from typing import get_args

import pytest

from parsers.carrier_notice import ReasonCode
from rules.stage_messages import (
    REJECTION_HELP,
    MessageSettings,
    StageMessage,
    items_to_ask,
    message_for,
)
from rules.stages import Stage, StageChange, transition

S = Stage
NUMBERS = ("+15124762210", "+15124762211", "+15124762215")
FOC = dt.date(2026, 12, 9)


def _change(current: Stage, target: Stage, **kw: object) -> StageChange:
    change = transition(current, target, source="carrier", **kw)  # type: ignore[arg-type]
    assert isinstance(change, StageChange), change
    return change


def _message(change: StageChange, **kw: object) -> StageMessage:
    msg = message_for(change, numbers=NUMBERS, carrier="AT&T", customer_name="Dana", **kw)  # type: ignore[arg-type]
    assert msg is not None
    return msg


def test_submitted_says_keep_the_account_open_and_the_numbers_active() -> None:
    msg = _message(_change(S.REQUEST_RECEIVED, S.SUBMITTED))
    assert msg.subject == "Your number transfer has been submitted"
    assert "Do not close or cancel your account with AT&T" in msg.text
    assert "Keep the numbers active" in msg.text
    assert msg.text.startswith("Hello Dana,")
    assert "(512) 476-2210" in msg.text and "(512) 476-2215" in msg.text


def test_approved_without_a_date_promises_the_date_later() -> None:
    msg = _message(_change(S.SUBMITTED, S.APPROVED))
    assert "approved" in msg.subject
    assert "AT&T approved the transfer" in msg.text
    assert "as soon as it is set" in msg.text


def test_scheduled_gives_the_date_and_warns_of_brief_downtime() -> None:
    msg = _message(_change(S.APPROVED, S.SCHEDULED, date=FOC))
    assert msg.subject == "Your number transfer is scheduled for Wednesday, December 9, 2026"
    assert "on Wednesday, December 9, 2026" in msg.text
    assert "interrupted briefly" in msg.text


def test_approval_with_the_date_says_approved_and_scheduled_in_one_message() -> None:
    msg = _message(_change(S.SUBMITTED, S.APPROVED, date=FOC))
    assert "The transfer was approved, and the porting date is set" in msg.text


def test_new_porting_date_is_announced_as_a_change() -> None:
    change = _change(S.SCHEDULED, S.SCHEDULED, date=FOC, current_date=dt.date(2026, 12, 3))
    msg = _message(change)
    assert msg.subject.startswith("New date for your number transfer")
    assert "has changed" in msg.text


@pytest.mark.parametrize("code", get_args(ReasonCode))
def test_each_rejection_reason_is_said_in_plain_words_with_how_to_fix_it(code: str) -> None:
    change = _change(S.SUBMITTED, S.REJECTED, reason="carrier words", reason_codes=(code,))
    msg = _message(change)
    help_ = REJECTION_HELP[code]  # type: ignore[index]
    assert msg.subject == "Action needed: your number transfer was not accepted"
    if code != "other":
        assert help_.plain in msg.text
    assert help_.fix in msg.text
    assert "send the request to the carrier again" in msg.text
    assert "_" not in msg.text  # no code names shown to the customer


def test_rejection_with_two_reasons_explains_both() -> None:
    change = _change(
        S.SUBMITTED,
        S.REJECTED,
        reason="7516 - Subscriber name mismatch; 7517 - PIN invalid",
        reason_codes=("name_mismatch", "wrong_pin"),
    )
    text = _message(change).text
    assert text.index("account holder's name") < text.index("port-out PIN")


def test_wrong_pin_rejection_asks_for_the_port_out_pin_not_the_voicemail_pin() -> None:
    text = _message(_change(S.SUBMITTED, S.REJECTED, reason="PIN/passcode invalid")).text
    assert "port-out PIN" in text and "not the voicemail PIN" in text


def test_unknown_reason_quotes_the_carrier_without_its_code_or_long_numbers() -> None:
    change = _change(
        S.SUBMITTED, S.REJECTED, reason="7605 - CSR for account 99887766 could not be retrieved"
    )
    text = _message(change).text
    assert 'The carrier\'s reason: "CSR for account […] could not be retrieved"' in text
    assert "7605" not in text and "99887766" not in text


def test_secrets_in_the_carriers_words_never_reach_the_customer() -> None:
    for code in get_args(ReasonCode):
        change = _change(
            S.SUBMITTED,
            S.REJECTED,
            reason="PIN 4821 for acct 287654321 invalid",
            reason_codes=(code,),
        )
        text = _message(change).text
        assert "4821" not in text and "287654321" not in text


def test_completed_asks_to_check_the_numbers_and_mentions_10dlc() -> None:
    msg = _message(_change(S.SCHEDULED, S.COMPLETED))
    assert msg.subject == "Your numbers have been transferred"
    assert "Call it from another phone" in msg.text
    assert "10DLC registration" in msg.text


def test_cancelled_says_the_numbers_stay_with_the_carrier() -> None:
    msg = _message(_change(S.SUBMITTED, S.CANCELLED))
    assert "cancelled" in msg.subject
    assert "stay with AT&T" in msg.text


def test_going_back_to_collecting_information_sends_nothing_of_its_own() -> None:
    back = transition(S.REJECTED, S.REQUEST_RECEIVED, source="bot")
    assert isinstance(back, StageChange)
    assert message_for(back, numbers=NUMBERS) is None


def test_without_a_carrier_or_name_the_text_still_reads() -> None:
    change = _change(S.REQUEST_RECEIVED, S.SUBMITTED)
    msg = message_for(change)
    assert msg is not None
    assert msg.text.startswith("Hello,\n")
    assert "your account with your current carrier" in msg.text
    rejected = message_for(_change(S.SUBMITTED, S.REJECTED, reason="name mismatch"))
    assert rejected is not None and "Your current carrier did not accept" in rejected.text


def test_a_single_number_is_named_in_the_sentence() -> None:
    msg = message_for(_change(S.SCHEDULED, S.COMPLETED), numbers=("+14165992200",))
    assert msg is not None
    assert "your number (416) 599-2200 now works" in msg.text
    assert "Numbers in this request" not in msg.text


def test_long_number_lists_are_cut_short() -> None:
    many = tuple(f"+1512476{2200 + i}" for i in range(25))
    msg = message_for(
        _change(S.REQUEST_RECEIVED, S.SUBMITTED),
        numbers=many,
        settings=MessageSettings(numbers_shown=5),
    )
    assert msg is not None
    assert "and 20 more" in msg.text
    assert len(re.findall(r"\(512\) 476-\d{4}", msg.text)) == 5


def test_sign_off_and_our_name_come_from_settings() -> None:
    settings = MessageSettings(sign_off="Lofty Porting Team", us="Lofty")
    msg = message_for(
        _change(S.APPROVED, S.SCHEDULED, date=FOC), numbers=NUMBERS, settings=settings
    )
    assert msg is not None
    assert msg.text.endswith("Thank you,\nLofty Porting Team")
    assert "will move to Lofty on" in msg.text


def test_rejection_asks_again_for_the_items_the_carrier_refused() -> None:
    assert items_to_ask(("wrong_pin",)) == ("pins",)
    assert items_to_ask(("name_mismatch", "address_mismatch")) == (
        "account_name",
        "bill",
        "service_address",
    )
    assert items_to_ask(("pending_order", "other")) == ()


def test_every_reason_code_has_help() -> None:
    assert set(REJECTION_HELP) == set(get_args(ReasonCode))
