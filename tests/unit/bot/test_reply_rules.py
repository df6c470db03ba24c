"""The auto-reply's decisions: loop protection, usefulness, caps (rules/reply.py)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.cli.assess import assess_files
from bot.config import Config
from bot.pipeline.reading import assess_messages
from bot.render.reply_email import part_types
from parsers.email import parse_message
from parsers.model import Message
from rules.contract import AssessmentView, to_json, view_from_json, view_of
from rules.reply import (
    LOOP_RULES,
    Incoming,
    Ours,
    ReplyPlan,
    Suppression,
    check_daily_cap,
    decide_reply,
    is_own_message,
    loop_checks,
    plan_reply,
    references_for,
    reply_message_id,
    reply_recipients,
    should_reply,
)
from tests.conftest import FIXTURES
from tests.reply_cases import HUMAN_CASES, LOOP_CASES, OUR_DOMAIN, SUPPORT

OURS = {"own_domains": [OUR_DOMAIN], "own_addresses": [SUPPORT]}


def _thread(name: str, upto: int | None = None) -> tuple[list[Path], dt.date]:
    folder = next(FIXTURES.glob(f"{name}*"))
    today = dt.date.fromisoformat(json.loads((folder / "expected.json").read_text())["today"])
    paths = sorted(folder.glob("*.eml"))
    return (paths[:upto] if upto else paths), today


def _assessed(name: str, upto: int | None = None) -> AssessmentView:
    paths, today = _thread(name, upto)
    return view_of(assess_files(paths, Config(), today))


# --- loop protection -----------------------------------------------------------------


@pytest.mark.parametrize(("name", "raw", "reason"), LOOP_CASES, ids=[c[0] for c in LOOP_CASES])
def test_automatic_mail_is_never_answered(name: str, raw: bytes, reason: str) -> None:
    found = should_reply(parse_message(raw), part_types=part_types(raw), **OURS)
    assert found is not None, name
    assert found.reason == reason


@pytest.mark.parametrize(("name", "raw"), HUMAN_CASES, ids=[c[0] for c in HUMAN_CASES])
def test_a_person_s_message_is_answered(name: str, raw: bytes) -> None:
    assert should_reply(parse_message(raw), part_types=part_types(raw), **OURS) is None


def test_every_loop_rule_is_exercised_by_a_case() -> None:
    ours = Ours.of([OUR_DOMAIN], [SUPPORT])
    fired = {
        rule.__name__
        for _, raw, _ in LOOP_CASES
        for rule in LOOP_RULES
        if rule(Incoming(parse_message(raw), part_types(raw)), ours)
    }
    assert fired == {rule.__name__ for rule in LOOP_RULES}


def test_no_fixture_customer_message_is_taken_for_automatic_mail() -> None:
    for path in sorted(FIXTURES.glob("*/*.eml")):
        raw = path.read_bytes()
        found = loop_checks(parse_message(raw), Ours.of([OUR_DOMAIN], [SUPPORT]), part_types(raw))
        assert found == [], path


def test_header_names_are_matched_whatever_their_case() -> None:
    raw = parse_message(LOOP_CASES[0][1])
    shouted = replace(raw, headers=tuple((n.upper(), v.upper()) for n, v in raw.headers))
    found = should_reply(shouted, **OURS)
    assert found is not None and found.reason == "auto_submitted"


def test_our_own_reply_coming_back_is_recognised_and_not_assessed() -> None:
    mid = reply_message_id("<case-1@acmerealtytx.com>", "abcd", OUR_DOMAIN)
    back = parse_message(
        f"From: Someone <someone@else.example>\r\nTo: {SUPPORT}\r\nSubject: Re: x\r\n"
        f"Message-ID: {mid}\r\n\r\nhello\r\n".encode()
    )
    assert is_own_message(back, **OURS)
    assert should_reply(back, **OURS) == Suppression("own_message", "Message-ID is one we made")


def test_a_marker_at_someone_else_s_domain_is_not_ours() -> None:
    assert not Ours.of([OUR_DOMAIN], []).minted("<portbot.abc@evil.example>")
    assert not Ours.of([OUR_DOMAIN], []).minted("<notportbot.abc@lofty.com>")
    assert Ours.of([OUR_DOMAIN], []).minted("<portbot.abc@LOFTY.COM>")


# --- the Message-ID and the recipients ----------------------------------------------


def test_a_resend_after_a_crash_carries_the_same_message_id() -> None:
    first = reply_message_id("<a@b.c>", "rev1", OUR_DOMAIN)
    assert first == reply_message_id("<a@b.c>", "rev1", OUR_DOMAIN)
    assert first != reply_message_id("<a@b.c>", "rev2", OUR_DOMAIN)
    assert first != reply_message_id("<x@b.c>", "rev1", OUR_DOMAIN)
    assert first.startswith("<portbot.") and first.endswith("@lofty.com>")


def test_a_colleague_s_forward_is_answered_to_the_customer_with_the_colleague_in_copy() -> None:
    paths, _ = _thread("31-")
    message = parse_message(paths[0].read_bytes())
    assert reply_recipients(message, [OUR_DOMAIN]) == (
        "dana@sunriserealtyatl.com",
        ("kyle.brennan@lofty.com",),
    )


def test_a_forward_within_the_customer_s_company_is_answered_to_the_customer() -> None:
    paths, _ = _thread("32-")
    message = parse_message(paths[0].read_bytes())
    assert reply_recipients(message) == (
        "rpatel@coastalorthoclinic.com",
        ("tmorales@coastalorthoclinic.com",),
    )


def test_a_forward_from_a_stranger_is_answered_to_who_sent_it() -> None:
    paths, _ = _thread("31-")
    message = replace(parse_message(paths[0].read_bytes()), sender="kyle@elsewhere.example")
    assert reply_recipients(message, [OUR_DOMAIN]) == ("kyle@elsewhere.example", ())


def test_references_keep_the_thread_and_end_with_the_parent() -> None:
    paths, _ = _thread("07-")
    message = parse_message(paths[-1].read_bytes())
    refs = references_for(message)
    assert refs[-1] == message.message_id
    assert refs[:-1] == message.references
    many = replace(message, references=tuple(f"<r{i}@x>" for i in range(50)))
    trimmed = references_for(many)
    assert len(trimmed) == 20 and trimmed[0] == "<r0@x>" and trimmed[-1] == message.message_id


# --- usefulness -------------------------------------------------------------------------


def test_a_first_incomplete_request_gets_a_checklist() -> None:
    plan = plan_reply(_assessed("27-"), None)
    assert isinstance(plan, ReplyPlan)
    assert (plan.kind, plan.follow_up) == ("incomplete", False)


def test_a_ready_request_gets_a_confirmation() -> None:
    plan = plan_reply(_assessed("01-"), None)
    assert isinstance(plan, ReplyPlan) and plan.kind == "ready"


def test_follow_up_boss_numbers_get_their_own_reply() -> None:
    plan = plan_reply(_assessed("29-"), None)
    assert isinstance(plan, ReplyPlan) and plan.kind == "follow_up_boss"


def test_a_follow_up_that_changes_nothing_gets_no_reply() -> None:
    data = _assessed("27-")
    assert plan_reply(data, data) == Suppression(
        "no_change", "the follow-up changed nothing the customer can see"
    )


def test_a_day_passing_does_not_count_as_a_change_of_the_bill() -> None:
    paths, today = _thread("18-")
    before = to_json(assess_files(paths, Config(), today))
    after = to_json(assess_files(paths, Config(), today + dt.timedelta(days=1)))
    assert before["problems"] != after["problems"]  # "45 days ago" became "46 days ago"
    assert isinstance(plan_reply(view_from_json(after), view_from_json(before)), Suppression)


def test_a_follow_up_names_what_it_supplied() -> None:
    plan = plan_reply(_assessed("07-", 3), _assessed("07-", 2))
    assert isinstance(plan, ReplyPlan)
    assert (plan.kind, plan.follow_up, plan.received) == ("ready", True, ("pins",))


def test_a_follow_up_names_the_problem_it_resolved() -> None:
    plan = plan_reply(_assessed("37-", 2), _assessed("37-", 1))
    assert isinstance(plan, ReplyPlan)
    assert [p.code for p in plan.resolved] == ["bill_too_old"]
    assert plan.kind == "ready"


def test_a_new_number_on_a_ready_request_is_a_change_worth_a_reply() -> None:
    paths, today = _thread("01-")
    data = to_json(assess_files(paths, Config(), today))
    more = json.loads(json.dumps(data))
    more["request"]["numbers"].append(
        {"number": "+15124762299", "pin": "••••", "assignee_name": "X", "assignee_email": None}
    )
    assert isinstance(plan_reply(view_from_json(more), view_from_json(data)), ReplyPlan)


# --- the whole decision -----------------------------------------------------------------


def _decide(
    message: Message,
    data: AssessmentView,
    previous: AssessmentView | None = None,
    **kw: Any,
) -> ReplyPlan | Suppression:
    args: dict[str, Any] = {"replies_to_sender_today": 0, "daily_cap": 5, **OURS, **kw}
    return decide_reply(message, data, previous, **args)


def test_the_daily_cap_stops_replies_to_one_sender() -> None:
    paths, _ = _thread("27-")
    message, data = parse_message(paths[0].read_bytes()), _assessed("27-")
    assert isinstance(_decide(message, data, replies_to_sender_today=4), ReplyPlan)
    capped = _decide(message, data, replies_to_sender_today=5)
    assert isinstance(capped, Suppression) and capped.reason == "rate_limited"
    assert check_daily_cap(0, 0) is not None


def test_a_message_already_answered_is_not_answered_again() -> None:
    paths, _ = _thread("27-")
    found = _decide(parse_message(paths[0].read_bytes()), _assessed("27-"), reply_status="sent")
    assert isinstance(found, Suppression) and found.reason == "already_replied"


def test_an_autoreply_is_suppressed_before_anything_else_is_weighed() -> None:
    data = _assessed("27-")
    found = _decide(parse_message(LOOP_CASES[0][1]), data, data, replies_to_sender_today=99)
    assert isinstance(found, Suppression) and found.reason == "auto_submitted"


def test_stray_mail_to_support_gets_no_checklist() -> None:
    raw = (
        b"From: Ann <ann@shop.example>\r\nTo: support@lofty.com\r\nSubject: Invoice\r\n"
        b"Message-ID: <s1@shop.example>\r\n\r\nPlease find our catalogue attached.\r\n"
    )
    message = parse_message(raw)
    _, today = _thread("27-")
    data = view_of(assess_messages([raw], Config(), today))
    found = _decide(message, data)
    assert isinstance(found, Suppression) and found.reason == "not_a_request"


def test_every_fixture_thread_s_first_message_is_taken_for_a_request() -> None:
    for folder in sorted(p for p in FIXTURES.iterdir() if (p / "01.eml").exists()):
        name = folder.name
        message = parse_message((folder / "01.eml").read_bytes())
        found = _decide(message, _assessed(name, 1))
        assert isinstance(found, ReplyPlan), (name, found)
