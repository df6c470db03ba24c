"""The one decision per message (rules.decide), judged on plain records: what the
ticket, the port and the customer get from one assessed message and what is known."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from parsers.address import parse_address
from parsers.model import (
    BillFields,
    Document,
    LoaFields,
    Message,
    NumberEntry,
    ParsedMessage,
    Statements,
)
from rules.assessment import Assessment, assess
from rules.contract import view_of
from rules.decide import (
    SUPERSEDED,
    Known,
    Policy,
    PortKnown,
    ReplyKnown,
    ReplyRecorded,
    Thread,
    TicketKnown,
    decide_message,
    ticket_step,
)
from rules.policy import Policy as RulesPolicy
from rules.reply import ReplyPlan, Suppression
from rules.request import build_request
from rules.stages import Stage

TODAY = dt.date(2026, 11, 27)
NOW = 1_800_000_000.0
POLICY = Policy(
    own_domains=frozenset({"portbot.example"}),
    own_addresses=frozenset({"support@portbot.example"}),
    daily_cap=3,
)


def _message(n: int, headers: tuple[tuple[str, str], ...] = ()) -> Message:
    return Message(
        message_id=f"<m{n}@acme.example>",
        in_reply_to=None,
        references=(),
        subject="Port our numbers",
        sender="owner@acme.example",
        sender_name="Ann Owner",
        date=None,
        body="Please port our numbers to you.",
        attachments=(),
        headers=headers,
    )


def _assessment(*, with_loa: bool = True) -> Assessment:
    statements = Statements(
        current_carrier="AT&T",
        account_number="287654321",
        account_name="Acme Realty LLC",
        service_address=parse_address("123 Main Street, Suite 200, Austin, TX 78701"),
        billing_telephone_number="512-555-0100",
        numbers=(NumberEntry("(512) 555-0101", "4821", "Mickey Mouse", None),),
    )
    bill = Document(
        "bill.pdf",
        "bill",
        bill=BillFields(
            bill_date=dt.date(2026, 11, 2),
            account_name="ACME REALTY, LLC",
            account_number="2876-5432-1",
            service_address=parse_address("123 MAIN ST STE 200\nAUSTIN TX 78701-1234"),
            billing_telephone_number="+15125550100",
        ),
    )
    loa = Document(
        "loa.pdf",
        "loa",
        loa=LoaFields(
            signed=True,
            signed_date=dt.date(2026, 11, 20),
            account_name="Acme Realty LLC",
            numbers=("+15125550101",),
        ),
    )
    docs = (bill, loa) if with_loa else (bill,)
    thread = (ParsedMessage(_message(0), statements, docs),)
    return assess(build_request(thread), RulesPolicy(), TODAY)


READY = _assessment()
NO_LOA = _assessment(with_loa=False)


def _thread(n: int = 1, assessment: Assessment = READY, **changes: object) -> Thread:
    messages = tuple(_message(i) for i in range(n))
    thread = Thread(
        request_id="PR-000001",
        key=messages[-1].message_id or "",
        keys=tuple(m.message_id or "" for m in messages),
        messages=messages,
        assessment=assessment,
    )
    return replace(thread, **changes)  # type: ignore[arg-type]


NEW = Known(
    ticket=TicketKnown(None, frozenset(), False),
    port=PortKnown(None),
    reply=ReplyKnown(None, None, 0),
)


def test_a_new_request_opens_a_ticket_with_its_message_and_gets_a_reply() -> None:
    plan = decide_message(_thread(), NEW, POLICY, now=NOW)
    assert plan.ticket is not None and plan.ticket.action == "create"
    assert plan.ticket.new == (0,) and plan.ticket.stage == Stage.REQUEST_RECEIVED
    assert isinstance(plan.reply, ReplyPlan) and plan.reply.kind == "ready"
    assert plan.port is not None
    assert plan.port.numbers == ("+15125550101",) and plan.port.ready
    assert plan.port.acknowledge == ""


def test_beside_the_desk_the_ticket_is_adopted_and_prefilled_not_created() -> None:
    plan = decide_message(_thread(), NEW, replace(POLICY, mode="annotate"), now=NOW)
    assert plan.ticket is not None
    assert (plan.ticket.action, plan.ticket.prefill) == ("adopt", True)


def test_a_follow_up_updates_with_only_the_new_message_and_keeps_the_ports_stage() -> None:
    thread = _thread(2)
    known = replace(
        NEW,
        ticket=TicketKnown(7, frozenset(thread.keys[:1]), True),
        port=PortKnown(Stage.SUBMITTED),
    )
    plan = decide_message(thread, known, POLICY, now=NOW)
    assert plan.ticket is not None
    assert (plan.ticket.action, plan.ticket.new, plan.ticket.prefill) == ("update", (1,), False)
    assert plan.ticket.stage == Stage.SUBMITTED and plan.ticket.wait is None


def test_a_message_the_ticket_already_shows_changes_nothing_on_it() -> None:
    thread = _thread(2)
    known = replace(NEW, ticket=TicketKnown(7, frozenset(thread.keys), True))
    plan = decide_message(thread, known, POLICY, now=NOW)
    assert plan.ticket is not None and plan.ticket.action == "nothing"


def test_a_spent_update_budget_waits_until_the_window_frees_an_update() -> None:
    thread = _thread(2)
    recent = tuple(NOW - 600 + 100 + n for n in range(30))  # 30 in the last 10 minutes
    known = replace(NEW, ticket=TicketKnown(7, frozenset(thread.keys[:1]), True, recent))
    step = ticket_step(thread.keys, known.ticket, POLICY, now=NOW)
    assert step.action == "update" and step.wait == pytest.approx(100.0)


def test_a_message_with_a_reply_on_record_is_not_answered_again() -> None:
    for status in ("sent", "sending", "suppressed", "failed"):
        known = replace(NEW, reply=ReplyKnown(status, None, 0))
        assert decide_message(_thread(), known, POLICY, now=NOW).reply == ReplyRecorded(status)


def test_a_message_superseded_in_the_same_cycle_gets_no_reply_of_its_own() -> None:
    plan = decide_message(_thread(superseded=True), NEW, POLICY, now=NOW)
    assert plan.reply == SUPERSEDED


def test_an_auto_reply_is_never_answered_and_a_spent_cap_stops_the_reply() -> None:
    auto = _message(0, headers=(("Auto-Submitted", "auto-replied"),))
    plan = decide_message(_thread(messages=(auto,)), NEW, POLICY, now=NOW)
    assert isinstance(plan.reply, Suppression) and plan.reply.reason == "auto_submitted"
    capped = replace(NEW, reply=ReplyKnown(None, None, 3))
    plan = decide_message(_thread(), capped, POLICY, now=NOW)
    assert isinstance(plan.reply, Suppression) and plan.reply.reason == "rate_limited"


def test_a_follow_up_that_changes_nothing_the_customer_sees_gets_no_reply() -> None:
    seen = view_of(NO_LOA)
    known = replace(NEW, reply=ReplyKnown(None, seen, 1))
    plan = decide_message(_thread(2, NO_LOA), known, POLICY, now=NOW)
    assert isinstance(plan.reply, Suppression) and plan.reply.reason == "no_change"
    plan = decide_message(_thread(2, READY), known, POLICY, now=NOW)
    assert isinstance(plan.reply, ReplyPlan) and plan.reply.follow_up
    assert "loa" in plan.reply.received


REJECTED = PortKnown(Stage.REQUEST_RECEIVED, "ack:PR-000001:4", sent_today=0)


def test_an_answer_to_a_carriers_rejection_is_acknowledged_once() -> None:
    plan = decide_message(_thread(2), replace(NEW, port=REJECTED), POLICY, now=NOW)
    assert plan.port is not None and plan.port.acknowledge == "ack:PR-000001:4"
    done = replace(REJECTED, acknowledged=True)
    plan = decide_message(_thread(2), replace(NEW, port=done), POLICY, now=NOW)
    assert plan.port is not None and plan.port.acknowledge == ""


def test_no_acknowledgement_when_nothing_may_be_written_or_the_port_moved_on() -> None:
    for port, changes in (
        (replace(REJECTED, stage=Stage.SUBMITTED), {}),  # resubmitted already
        (REJECTED, {"superseded": True}),  # the newer message is acknowledged
        (replace(REJECTED, sent_today=3), {}),  # the daily cap
    ):
        plan = decide_message(_thread(2, **changes), replace(NEW, port=port), POLICY, now=NOW)
        assert plan.port is not None and plan.port.acknowledge == ""
    no_replies = replace(NEW, port=REJECTED, reply=None)
    plan = decide_message(_thread(2), no_replies, POLICY, now=NOW)
    assert plan.port is not None and plan.port.acknowledge == "" and plan.reply is None


def test_the_acknowledgement_counts_in_the_reply_cap() -> None:
    """Two emails in one go would pass a cap of 3 with 2 sent already: the reply waits."""
    known = replace(NEW, port=replace(REJECTED, sent_today=2), reply=ReplyKnown(None, None, 2))
    plan = decide_message(_thread(2), known, POLICY, now=NOW)
    assert plan.port is not None and plan.port.acknowledge
    assert isinstance(plan.reply, Suppression) and plan.reply.reason == "rate_limited"


def test_without_a_desk_there_is_no_ticket_step() -> None:
    plan = decide_message(_thread(), replace(NEW, ticket=None, port=None), POLICY, now=NOW)
    assert plan.ticket is None and plan.port is None and isinstance(plan.reply, ReplyPlan)
