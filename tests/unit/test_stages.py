"""The stage model: allowed moves, refused moves, what each stage needs, names on the ticket."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from parsers.carrier_notice import CarrierNotice, read_notice
from parsers.email import parse_message
from rules.stages import (
    ALLOWED,
    FINAL,
    IllegalMove,
    PortRef,
    Source,
    Stage,
    StageChange,
    StageNames,
    Unchanged,
    decide_notice,
    match_notice,
    notice_target,
    parse_stage,
    transition,
)
from tests.conftest import ROOT

S = Stage
NOTICES = ROOT / "fixtures" / "carrier_notices"
FOC = dt.date(2026, 12, 9)
SOURCES: tuple[Source, ...] = ("agent", "carrier", "cli", "bot")
ALLOWED_PAIRS = sorted((a, b) for a, targets in ALLOWED.items() for b in targets)


def _needs(target: Stage) -> dict[str, object]:
    return {
        "reason": "PIN/passcode invalid" if target == S.REJECTED else None,
        "date": FOC if target == S.SCHEDULED else None,
    }


def _move(current: Stage, target: Stage, source: Source = "cli", **kw: object) -> object:
    args = _needs(target) | kw
    return transition(current, target, source=source, **args)  # type: ignore[arg-type]


# --- every allowed move, from every source ----------------------------------------------


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize(("current", "target"), ALLOWED_PAIRS, ids=lambda s: str(s))
def test_every_allowed_move_is_made_from_every_source(
    current: Stage, target: Stage, source: Source
) -> None:
    kw = {"current_date": dt.date(2026, 12, 1)} if current == target else {}
    change = _move(current, target, source, **kw)
    assert isinstance(change, StageChange)
    assert (change.previous, change.stage, change.source) == (current, target, source)


def test_the_happy_path_walks_from_request_to_completion() -> None:
    path = [S.REQUEST_RECEIVED, S.SUBMITTED, S.APPROVED, S.SCHEDULED, S.COMPLETED]
    for current, target in itertools.pairwise(path):
        assert isinstance(_move(current, target), StageChange)


def test_cancelled_is_reachable_from_every_stage_that_is_not_final() -> None:
    for stage in Stage:
        result = _move(stage, S.CANCELLED)
        if stage in FINAL:
            assert not isinstance(result, StageChange)
        else:
            assert isinstance(result, StageChange)


# --- refused moves ----------------------------------------------------------------------

REFUSED = sorted(
    (a, b) for a, b in itertools.product(Stage, Stage) if b not in ALLOWED[a] and a != b
)


@pytest.mark.parametrize(("current", "target"), REFUSED, ids=lambda s: str(s))
def test_every_other_move_is_refused_by_an_agent_with_a_message_naming_both_stages(
    current: Stage, target: Stage
) -> None:
    result = _move(current, target, "agent")
    assert isinstance(result, IllegalMove)
    assert result.message.startswith(f"cannot move from {current} to {target}: ")
    assert str(result) == result.message


def test_completed_port_cannot_go_back_to_submitted() -> None:
    result = _move(S.COMPLETED, S.SUBMITTED)
    assert isinstance(result, IllegalMove)
    assert result.message == (
        "cannot move from completed to submitted: the port is already completed"
    )


def test_cancelled_request_says_a_new_request_is_needed() -> None:
    result = _move(S.CANCELLED, S.SUBMITTED)
    assert isinstance(result, IllegalMove)
    assert "the request was cancelled" in result.message
    assert "new request" in result.message


def test_refusal_names_where_the_port_can_go_instead() -> None:
    result = _move(S.REQUEST_RECEIVED, S.COMPLETED, "cli")
    assert isinstance(result, IllegalMove)
    assert result.message == (
        "cannot move from request_received to completed: from "
        "request_received the port can only go to submitted or cancelled"
    )


def test_rejection_without_a_reason_is_refused() -> None:
    result = transition(S.SUBMITTED, S.REJECTED, source="cli")
    assert isinstance(result, IllegalMove)
    assert "needs the carrier's reason" in result.message
    blank = transition(S.SUBMITTED, S.REJECTED, reason="   ", source="agent")
    assert isinstance(blank, IllegalMove)


def test_scheduling_without_a_date_is_refused() -> None:
    result = transition(S.APPROVED, S.SCHEDULED, source="agent")
    assert isinstance(result, IllegalMove)
    assert result.message == (
        "cannot move from approved to scheduled: scheduling needs the porting (FOC) date"
    )


# --- rejection goes back to collecting information ---------------------------------------


def test_rejection_goes_back_to_collecting_information_then_is_resubmitted() -> None:
    rejected = transition(S.SUBMITTED, S.REJECTED, reason="PIN/passcode invalid", source="carrier")
    assert isinstance(rejected, StageChange)
    assert rejected.follow_on == S.REQUEST_RECEIVED
    back = transition(rejected.stage, rejected.follow_on, source="bot")
    assert isinstance(back, StageChange) and back.stage == S.REQUEST_RECEIVED
    again = transition(back.stage, S.SUBMITTED, source="agent")
    assert isinstance(again, StageChange) and again.stage == S.SUBMITTED


def test_rejection_reason_words_get_their_codes() -> None:
    change = transition(
        S.SUBMITTED, S.REJECTED, reason="7516 - Subscriber name mismatch", source="cli"
    )
    assert isinstance(change, StageChange)
    assert change.reason_codes == ("name_mismatch",)
    assert change.reason_code == "name_mismatch"


def test_rejection_with_codes_from_a_notice_keeps_them() -> None:
    change = transition(
        S.APPROVED,
        S.REJECTED,
        reason="7516 - x; 7517 - y",
        source="carrier",
        reason_codes=("name_mismatch", "wrong_pin"),
    )
    assert isinstance(change, StageChange)
    assert change.reason_codes == ("name_mismatch", "wrong_pin")


def test_cli_reason_may_be_a_code_name() -> None:
    change = transition(S.SUBMITTED, S.REJECTED, reason="wrong_pin", source="cli")
    assert isinstance(change, StageChange) and change.reason_codes == ("wrong_pin",)


def test_only_rejections_carry_reason_codes() -> None:
    change = transition(
        S.SUBMITTED, S.CANCELLED, reason="customer changed their mind", source="agent"
    )
    assert isinstance(change, StageChange)
    assert change.reason == "customer changed their mind"
    assert change.reason_codes == ()
    assert change.follow_on is None


# --- dates --------------------------------------------------------------------------------


def test_approval_that_carries_the_date_schedules_in_one_step() -> None:
    change = transition(S.SUBMITTED, S.APPROVED, date=FOC, source="carrier")
    assert isinstance(change, StageChange)
    assert change.stage == S.SCHEDULED
    assert change.via == (S.APPROVED,)
    assert change.date == FOC


def test_approval_without_a_date_stays_approved() -> None:
    change = transition(S.SUBMITTED, S.APPROVED, source="carrier")
    assert isinstance(change, StageChange)
    assert (change.stage, change.date, change.via) == (S.APPROVED, None, ())


def test_new_porting_date_reschedules() -> None:
    change = transition(
        S.SCHEDULED, S.SCHEDULED, date=FOC, current_date=dt.date(2026, 12, 3), source="carrier"
    )
    assert isinstance(change, StageChange)
    assert change.rescheduled and change.date == FOC


def test_same_porting_date_again_changes_nothing() -> None:
    result = transition(S.SCHEDULED, S.SCHEDULED, date=FOC, current_date=FOC, source="carrier")
    assert isinstance(result, Unchanged)


def test_date_is_kept_only_where_it_means_something() -> None:
    change = transition(S.REQUEST_RECEIVED, S.SUBMITTED, date=FOC, source="cli")
    assert isinstance(change, StageChange) and change.date is None
    done = transition(S.SCHEDULED, S.COMPLETED, date=FOC, source="carrier")
    assert isinstance(done, StageChange) and done.date == FOC


# --- repeats and late notices --------------------------------------------------------------


@pytest.mark.parametrize("stage", [s for s in Stage if s != S.SCHEDULED])
def test_moving_to_the_stage_the_port_is_in_changes_nothing(stage: Stage) -> None:
    result = _move(stage, stage, "agent")
    assert isinstance(result, Unchanged)
    assert result.message == f"the port is already {stage}"


def test_late_carrier_notice_for_an_earlier_step_changes_nothing() -> None:
    result = transition(S.SCHEDULED, S.SUBMITTED, source="carrier")
    assert isinstance(result, Unchanged)
    assert "past submitted" in result.message


def test_agent_moving_backwards_is_refused_not_ignored() -> None:
    assert isinstance(transition(S.SCHEDULED, S.SUBMITTED, source="agent"), IllegalMove)


def test_carrier_notice_after_completion_is_refused() -> None:
    result = transition(S.COMPLETED, S.REJECTED, reason="late exception", source="carrier")
    assert isinstance(result, IllegalMove)


# --- notices and typed names -------------------------------------------------------------------


def _notice(kind: str, date: dt.date | None = None) -> CarrierNotice:
    return CarrierNotice(
        partner="Telnyx",
        kind=kind,
        status=kind,
        order_id="x",  # type: ignore[arg-type]
        customer_ref=None,
        numbers=(),
        date=date,
        reason=None,
        reason_codes=(),
        message_id=None,
    )


@pytest.mark.parametrize(
    ("kind", "date", "stage"),
    [
        ("submitted", None, S.SUBMITTED),
        ("approved", None, S.APPROVED),
        ("approved", FOC, S.SCHEDULED),
        ("rejected", None, S.REJECTED),
        ("foc", FOC, S.SCHEDULED),
        ("completed", FOC, S.COMPLETED),
        ("cancelled", None, S.CANCELLED),
    ],
)
def test_each_notice_kind_asks_for_its_stage(kind: str, date: dt.date | None, stage: Stage) -> None:
    assert notice_target(_notice(kind, date)) == stage


def test_foc_notice_without_a_date_is_refused_as_scheduling_needs_one() -> None:
    result = transition(S.SUBMITTED, notice_target(_notice("foc")), source="carrier")
    assert isinstance(result, IllegalMove)


@pytest.mark.parametrize(
    ("typed", "stage"),
    [
        ("submitted", S.SUBMITTED),
        ("Request Received", S.REQUEST_RECEIVED),
        ("request-received", S.REQUEST_RECEIVED),
        ("Scheduled", S.SCHEDULED),
        # one vocabulary: no aliases
        ("FOC", None),
        ("canceled", None),
        ("ported", None),
        ("nonsense", None),
    ],
)
def test_stage_names_as_typed_on_the_command_line(typed: str, stage: Stage | None) -> None:
    assert parse_stage(typed) == stage


# --- names on the ticket ---------------------------------------------------------------------


def test_default_tags_and_dropdown_values_share_the_intake_prefix() -> None:
    names = StageNames()
    assert names.tag(S.SUBMITTED) == "port_stage_submitted"
    assert names.value(S.SUBMITTED) == "port_stage_submitted"
    assert names.tag(S.REQUEST_RECEIVED) == "port_stage_request_received"
    assert names.label(S.SCHEDULED) == "Porting date scheduled"
    assert len(set(names.all_tags())) == len(Stage)
    assert names.dropdown_options()[0] == (
        "Request received (collecting information)",
        "port_stage_request_received",
    )


def test_names_can_be_overridden_per_stage() -> None:
    names = StageNames(tags={S.SCHEDULED: "port_foc_set"}, labels={S.SCHEDULED: "FOC set"})
    assert names.tag(S.SCHEDULED) == "port_foc_set"
    assert names.value(S.SCHEDULED) == "port_foc_set"
    assert names.label(S.SCHEDULED) == "FOC set"
    assert names.from_value("port_foc_set") == S.SCHEDULED


def test_two_stages_with_one_tag_are_refused() -> None:
    with pytest.raises(ValueError, match="same tag"):
        StageNames(tags={S.APPROVED: "port_stage_scheduled"})


def test_tag_with_a_space_is_refused() -> None:
    with pytest.raises(ValueError, match="without spaces"):
        StageNames(values={S.APPROVED: "port approved"})


def test_unknown_stage_in_the_names_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown stage"):
        StageNames(tags={"shipped": "port_shipped"})  # type: ignore[dict-item]


def test_ticket_stage_is_read_from_the_dropdown_first_then_the_tags() -> None:
    names = StageNames()
    assert names.stage_of_ticket("port_stage_approved", ["port_stage_submitted"]) == S.APPROVED
    assert names.stage_of_ticket(None, ["porting", "port_stage_submitted"]) == S.SUBMITTED
    assert names.stage_of_ticket(None, ["porting"]) is None


def test_intake_sub_stages_read_as_request_received() -> None:
    names = StageNames()
    assert names.from_value("port_stage_awaiting_customer") == S.REQUEST_RECEIVED
    assert names.from_value("port_stage_ready") == S.REQUEST_RECEIVED
    assert names.from_tags(["port_stage_ready", "port_ready"]) == S.REQUEST_RECEIVED
    assert names.from_value("port_stage_follow_up_boss") is None


def test_stale_tags_left_over_give_the_furthest_stage() -> None:
    names = StageNames()
    tags = ["port_stage_ready", "port_stage_submitted", "port_stage_scheduled"]
    assert names.from_tags(tags) == S.SCHEDULED
    assert names.from_tags([*tags, "port_stage_cancelled"]) == S.CANCELLED


def test_rejection_reason_tag_outlives_the_rejected_stage() -> None:
    assert StageNames().rejection_tag("wrong_pin") == "port_rejected_wrong_pin"


# --- carrier notices: matched to a request, then judged ------------------------------------


def _fixture(name: str) -> CarrierNotice:
    notice = read_notice(parse_message((NOTICES / name).read_bytes()))
    assert notice is not None
    return notice


PEAK = frozenset({"+13038614400", "+13038614401", "+13038614402", "+17203905512"})
KING = frozenset({"+14165992200", "+14165992201", "+14165992202", "+16473528840"})


def test_notice_is_matched_by_port_order_id_first() -> None:
    refs = [
        PortRef("r1", S.SUBMITTED, order_id="KW8d21e0b6c94f4a7bb3e5d0f1a2c4e6b8"),
        PortRef("r2", S.SUBMITTED, numbers=PEAK),
    ]
    match = match_notice(_fixture("twilio-03-in-progress-with-date.eml"), refs)
    assert (match.request_id, match.by, match.learn_order_id) == ("r1", "order_id", None)


def test_notice_is_matched_by_our_reference_and_the_order_id_is_learnt() -> None:
    refs = [PortRef("r7", S.SUBMITTED, customer_ref="lofty-zd-1187")]
    match = match_notice(_fixture("telnyx-02-foc-date-confirmed.eml"), refs)
    assert (match.request_id, match.by) == ("r7", "customer_ref")
    assert match.learn_order_id == "6f1d2c3b-8a4e-4b7d-9c2f-1e3a5b7d9f02"


def test_notice_is_matched_by_its_numbers_when_nothing_else_is_known() -> None:
    refs = [
        PortRef("done", S.COMPLETED, numbers=PEAK),
        PortRef("open", S.SUBMITTED, numbers=PEAK),
        PortRef("other", S.SUBMITTED, numbers=KING),
    ]
    match = match_notice(_fixture("twilio-02-waiting-for-signature.eml"), refs)
    assert (match.request_id, match.by) == ("open", "numbers")
    assert match.learn_order_id == "KW8d21e0b6c94f4a7bb3e5d0f1a2c4e6b8"


def test_the_request_sharing_most_numbers_wins() -> None:
    refs = [
        PortRef("one", S.SUBMITTED, numbers=frozenset({"+13038614400"})),
        PortRef("all", S.SUBMITTED, numbers=PEAK),
    ]
    assert match_notice(_fixture("twilio-06-completed.eml"), refs).request_id == "all"


def test_a_tie_on_numbers_is_left_to_an_agent() -> None:
    refs = [PortRef("a", S.SUBMITTED, numbers=PEAK), PortRef("b", S.APPROVED, numbers=PEAK)]
    match = match_notice(_fixture("twilio-06-completed.eml"), refs)
    assert match.request_id is None
    assert match.candidates == ("a", "b")
    assert "several open requests" in match.message


def test_unknown_notice_matches_nothing() -> None:
    match = match_notice(_fixture("bandwidth-07-complete.eml"), [PortRef("x", S.SUBMITTED)])
    assert match.request_id is None and match.message


def test_spoofed_notice_is_not_applied() -> None:
    ref = PortRef("acme", S.SUBMITTED, order_id="0c9e7a5b-3d1f-4b2a-8e6c-4a2f0d8b6e1c")
    result = decide_notice(_fixture("bandwidth-08-spoofed-complete.eml"), ref)
    assert isinstance(result, IllegalMove)
    assert "failed sender authentication" in result.message


def test_notice_without_an_authentication_verdict_can_be_required_to_have_one() -> None:
    ref = PortRef("r", S.SUBMITTED)
    notice = _fixture("twilio-06-completed.eml")
    assert isinstance(decide_notice(notice, ref), StageChange)
    assert isinstance(decide_notice(notice, ref, require_authenticated=True), IllegalMove)


def test_a_port_walks_from_submitted_to_completed_through_partner_emails() -> None:
    stage, date = S.SUBMITTED, None
    seen = []
    for name in (
        "telnyx-01-submitted.eml",
        "telnyx-02-foc-date-confirmed.eml",
        "telnyx-02-foc-date-confirmed.eml",
        "telnyx-04-ported.eml",
    ):
        ref = PortRef("king", stage, customer_ref="LOFTY-ZD-1187", numbers=KING, porting_date=date)
        result = decide_notice(_fixture(name), ref)
        if isinstance(result, StageChange):
            stage, date = result.stage, result.date or date
        seen.append(type(result).__name__ + ":" + str(stage))
    assert seen == [
        "Unchanged:submitted",
        "StageChange:scheduled",
        "Unchanged:scheduled",
        "StageChange:completed",
    ]
    assert date == dt.date(2026, 12, 9)


def test_a_rejection_notice_carries_its_reasons_into_the_change() -> None:
    ref = PortRef("acme", S.SUBMITTED, order_id="0c9e7a5b-3d1f-4b2a-8e6c-4a2f0d8b6e1c")
    change = decide_notice(_fixture("bandwidth-03-exception-name-and-pin.eml"), ref)
    assert isinstance(change, StageChange)
    assert change.stage == S.REJECTED
    assert change.reason_codes == ("name_mismatch", "wrong_pin")
    assert change.follow_on == S.REQUEST_RECEIVED
