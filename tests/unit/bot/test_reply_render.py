"""The auto-reply as the customer receives it (bot/render/reply_email.py and its templates)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import re
from dataclasses import replace
from email.message import EmailMessage
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from bot.cli.assess import assess_files
from bot.config import Config
from bot.render.reply_email import (
    _account_tail,
    part_types,
    render_reply,
    reply_subject,
    reply_text,
    sent_note,
    show_number,
)
from parsers.email import parse_message
from parsers.model import Message
from rules.assessment import Assessment
from rules.contract import AssessmentView, view_of
from rules.reply import ReplyPlan, plan_reply, should_reply
from tests.conftest import FIXTURES
from tests.reply_cases import OUR_DOMAIN, SUPPORT

THREADS = sorted(p for p in FIXTURES.iterdir() if (p / "expected.json").exists())
NOW = dt.datetime(2026, 11, 27, 9, 30, tzinfo=dt.UTC)


@cache
def _assess(name: str, upto: int | None = None) -> tuple[Assessment, Message, dict[str, Any]]:
    folder = next(p for p in THREADS if p.name.startswith(name))
    expected = json.loads((folder / "expected.json").read_text())
    paths = sorted(folder.glob("*.eml"))[:upto]
    assessment = assess_files(paths, Config(), dt.date.fromisoformat(expected["today"]))
    return assessment, parse_message(paths[-1].read_bytes()), expected


def _render(
    name: str,
    upto: int | None = None,
    previous: AssessmentView | None = None,
    assessment: Assessment | None = None,
) -> tuple[ReplyPlan, EmailMessage]:
    found, message, _ = _assess(name, upto)
    assessment = assessment or found
    plan = plan_reply(assessment, previous)
    assert isinstance(plan, ReplyPlan), plan
    reply = render_reply(
        plan,
        assessment,
        message,
        support_address=SUPPORT,
        support_name="Lofty Porting Team",
        domain=OUR_DOMAIN,
        internal_domains=[OUR_DOMAIN],
        now=NOW,
    )
    return plan, reply


def _html(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("html",))
    assert isinstance(part, EmailMessage)
    content: str = part.get_content()
    return content


def _flat(text: str) -> str:
    return " ".join(text.split())


# --- headers ----------------------------------------------------------------------------


def test_the_reply_lands_in_the_customer_s_thread() -> None:
    _, message, _ = _assess("07-")
    _, reply = _render("07-")
    assert reply["In-Reply-To"] == message.message_id
    refs = str(reply["References"]).split()
    assert refs == [*message.references, message.message_id]
    assert reply["Subject"] == "Re: Port TELUS numbers"  # the customer's "Re:" not doubled


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Porting request", "Re: Porting request"),
        ("RE: Re: Porting request", "Re: Porting request"),
        ("AW: Portierung", "Re: Portierung"),
        ("Re[2]: numbers", "Re: numbers"),
        ("Fwd: Porting our numbers", "Re: Fwd: Porting our numbers"),
        ("", "Re: Your porting request"),
    ],
)
def test_the_subject_gets_one_re(subject: str, expected: str) -> None:
    assert reply_subject(subject) == expected


def test_the_reply_is_marked_automatic_but_not_as_bulk_mail() -> None:
    _, reply = _render("27-")
    assert reply["Auto-Submitted"] == "auto-replied"
    assert reply["X-Auto-Response-Suppress"] == "All"
    assert reply["Precedence"] is None
    assert reply["From"] == f"Lofty Porting Team <{SUPPORT}>"
    assert reply["Date"] == "Fri, 27 Nov 2026 09:30:00 +0000"


def test_the_reply_is_plain_text_with_an_html_alternative() -> None:
    _, reply = _render("27-")
    assert reply.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in reply.iter_parts()] == ["text/plain", "text/html"]


def test_our_reply_coming_back_is_never_answered() -> None:
    _, reply = _render("27-")
    assert re.fullmatch(r"<portbot\.[0-9a-f]{32}@lofty\.com>", str(reply["Message-ID"]))
    raw = reply.as_bytes(policy=email.policy.SMTP)
    back = parse_message(raw)
    found = should_reply(
        back, own_domains=[OUR_DOMAIN], own_addresses=[SUPPORT], part_types=part_types(raw)
    )
    assert found is not None and found.reason == "own_message"
    # Even when it comes back from another address (a misroute, a copy), the marker tells.
    stranger = replace(back, sender="someone@else.example")
    found = should_reply(stranger, own_domains=[OUR_DOMAIN], own_addresses=[SUPPORT])
    assert found is not None and found.reason == "own_message"


def test_rendering_twice_gives_the_same_message_id() -> None:
    assert _render("27-")[1]["Message-ID"] == _render("27-")[1]["Message-ID"]


def test_a_colleague_s_forward_is_answered_to_the_customer() -> None:
    _, reply = _render("31-")
    assert reply["To"] == "Dana Brooks <dana@sunriserealtyatl.com>"
    assert reply["Cc"] == "kyle.brennan@lofty.com"
    assert reply_text(reply).startswith("Hi Dana,")


# --- text, per kind --------------------------------------------------------------------


def test_missing_items_are_asked_for_in_the_seed_s_words() -> None:
    _, reply = _render("10-")
    text = _flat(reply_text(reply))
    assert "The name on the account, exactly as it appears on your bill." in text
    assert "letter for letter" in text  # why the name must match
    assert "physical street address where the service is, not a PO Box" in text
    assert (
        "A bill or Customer Service Record (CSR) from the last 30 days that shows the "
        "account name, account number, physical service address and billing telephone "
        "number."
    ) in text
    assert "A signed Letter of Authorization (LOA) that lists every number" in text
    assert "keep your current phone service active" in text
    assert "STILL NEEDED" in text and "WHAT WE HAVE" in text


def test_numbers_without_a_pin_are_named() -> None:
    _, reply = _render("34-")
    text = _flat(reply_text(reply))
    assert "Numbers without a PIN: (816) 421-3902" in text


def test_numbers_that_cannot_be_ported_are_named_with_the_rule() -> None:
    _, reply = _render("14-")
    text = _flat(reply_text(reply))
    assert "Only US and Canadian local numbers can be ported" in text
    for shown in (
        "+1 876-927-4410 (Jamaica)",
        "+1 242-322-8150 (Bahamas)",
        "+1 787-721-3300 (Puerto Rico)",
    ):
        assert shown in text
    _, reply = _render("15-")
    assert "(toll-free)" in reply_text(reply)


def test_each_problem_says_how_to_fix_it() -> None:
    cases = {
        "17-": "ask your carrier for a Customer Service Record",
        "18-": "from the last 30 days",
        "19-": "shows its date",
        "20-": "PDF without a password",
        "22-": "exactly as it appears on the bill",
        "23-": "The account number you gave differs from the one on the bill.",
        "24-": "suite or unit number included",
        "25-": "billing telephone number (BTN)",
        "26-": "Please sign the LOA",
        "27-": "The LOA must list every number",
        "28-": "LOA made out to the account name",
        "16-": "who each of these numbers goes to",
        "13-": "all ten digits",
    }
    for name, phrase in cases.items():
        _, reply = _render(name)
        assert phrase in _flat(reply_text(reply)), name
        assert "TO FIX" in reply_text(reply)


def test_a_name_mismatch_explains_why_the_name_must_match() -> None:
    _, reply = _render("22-")
    text = _flat(reply_text(reply))
    assert "HARBOR REALTY LLC" in text and "letter for letter" in text


def test_follow_up_boss_numbers_get_the_different_process_not_a_checklist() -> None:
    plan, reply = _render("29-")
    text = _flat(reply_text(reply))
    assert plan.kind == "follow_up_boss"
    assert "Numbers from Follow Up Boss follow a different porting process" in text
    assert "STILL NEEDED" not in text and "keep your current phone service active" in text


def test_a_ready_request_gets_a_confirmation_with_the_next_step() -> None:
    plan, reply = _render("01-")
    text = _flat(reply_text(reply))
    assert plan.kind == "ready"
    assert "is complete" in text and "Next, our porting team submits the port" in text
    assert "(512) 476-2210" in text
    assert "STILL NEEDED" not in text and "TO FIX" not in text
    assert "keep your current phone service active" in text


def test_a_follow_up_reply_says_what_the_follow_up_settled() -> None:
    previous = view_of(_assess("07-", 2)[0])
    plan, reply = _render("07-", 3, previous)
    text = _flat(reply_text(reply))
    assert plan.follow_up and "Here is what it settled: - PINs: received" in text
    previous = view_of(_assess("37-", 1)[0])
    _, reply = _render("37-", 2, previous)
    assert "We now have a recent bill." in reply_text(reply)


def test_values_from_the_customer_are_escaped_in_html() -> None:
    assessment, _, _ = _assess("10-")
    hostile = replace(
        assessment, request=replace(assessment.request, current_carrier="<b>Evil</b> & Co")
    )
    _, reply = _render("10-", assessment=hostile)
    html = _html(reply)
    assert "<b>Evil</b>" not in html and "&lt;b&gt;Evil&lt;/b&gt; &amp; Co" in html
    assert "<b>Evil</b> & Co" in reply_text(reply)  # plain text is not escaped


def test_phone_numbers_are_shown_the_way_people_write_them() -> None:
    assert show_number("+15124762210") == "(512) 476-2210"
    assert show_number("+18769274410") == "+1 876-927-4410"
    assert show_number("813-251-447") == "813-251-447"


def test_an_account_number_shows_its_last_digits_only_and_never_a_secret() -> None:
    assert _account_tail("2876-5432-1", []) == "ending 4321"
    # The PIN is the account's last four digits: no tail of it is shown.
    assert _account_tail("287654321", ["4321"]) == "received"
    assert _account_tail("12345", []) == "ending 45"  # short: fewer digits
    assert _account_tail("1234", []) == "received"  # too short to show any of it


def test_the_ticket_note_quotes_the_reply_sent() -> None:
    plan, reply = _render("27-")
    note = sent_note(reply, plan.kind)
    assert note.startswith("auto-reply sent: incomplete to Shelby Graves")
    assert str(reply["Message-ID"]) in note and "TO FIX" in note


# --- nothing secret, in any reply to any fixture ------------------------------------------


def _secrets(expected: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(PINs and SSN digits, account numbers) of a fixture's expected assessment."""
    a = expected["assessment"]
    short = [n["pin"] for n in a["request"]["numbers"] if n.get("pin")]
    if a["request"].get("ssn_last4"):
        short.append(a["request"]["ssn_last4"])
    accounts = [a["request"].get("account_number")]
    accounts += [(d.get("fields") or {}).get("account_number") for d in a["documents"]]
    return short, [re.sub(r"[\s-]", "", x) for x in accounts if x]


def _readable(reply: EmailMessage) -> str:
    """Headers and every part's decoded text, as the customer's client shows them."""
    raw = reply.as_bytes(policy=email.policy.SMTP)
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    out = [f"{k}: {v}" for k, v in parsed.items()]
    for part in parsed.walk():
        if part.get_content_maintype() == "text":
            out.append(part.get_content())
    return "\n".join(out) + "\n" + raw.decode("ascii", "replace")


_PUBLIC = re.compile(
    r"\(\d{3}\) \d{3}-\d{4}|\+1 \d{3}-\d{3}-\d{4}|\+1\d{10}|\d{4}-\d{2}-\d{2}"
    r"|<portbot\.[0-9a-f]+@[^>]+>"
)


@pytest.mark.parametrize("folder", THREADS, ids=[p.name for p in THREADS])
def test_no_reply_to_any_fixture_holds_a_pin_ssn_digits_or_an_account_number(
    folder: Path,
) -> None:
    expected = json.loads((folder / "expected.json").read_text())
    paths = sorted(folder.glob("*.eml"))
    assessment = assess_files(paths, Config(), dt.date.fromisoformat(expected["today"]))
    message = parse_message(paths[-1].read_bytes())
    plan = plan_reply(assessment, None)
    assert isinstance(plan, ReplyPlan)
    reply = render_reply(
        plan,
        assessment,
        message,
        support_address=SUPPORT,
        support_name="Lofty Porting Team",
        domain=OUR_DOMAIN,
        incoming_key=message.message_id or "no-id",
        now=NOW,
    )
    text = _readable(reply)
    assert "••••" not in text  # a mask shown to a customer would only puzzle them
    # Phone numbers, dates and our Message-ID are public; a PIN inside them is no leak.
    scrubbed = _PUBLIC.sub(" ", text)
    short, accounts = _secrets(expected)
    for secret in short:
        assert not re.search(rf"(?<![0-9]){re.escape(secret)}(?![0-9])", scrubbed), (
            f"{folder.name}: a PIN/SSN shows in the reply"
        )
    folded = re.sub(r"[\s-]", "", scrubbed)
    for account in accounts:
        assert account not in folded, f"{folder.name}: the account number shows in the reply"


def test_an_unread_bill_field_is_never_told_to_the_customer_as_wrong() -> None:
    from rules.assessment import assess
    from rules.policy import Policy

    found, _, expected = _assess("01-")
    bill = found.request.bill
    assert bill is not None and bill.bill is not None
    unread = replace(
        bill,
        bill=replace(
            bill.bill,
            account_name=None,
            service_address=replace(bill.bill.service_address, street=None)
            if bill.bill.service_address
            else None,
        ),
    )
    request = replace(
        found.request,
        bill=unread,
        documents=tuple(unread if d is bill else d for d in found.request.documents),
    )
    assessment = assess(request, Policy(), dt.date.fromisoformat(expected["today"]))
    assert [p.code for p in assessment.problems] == ["bill_field_unread"]
    _, reply = _render("01-", assessment=assessment)
    text = _flat(reply_text(reply)).lower()
    assert "nothing wrong with what you sent" in text
    for accusation in ("differs", "does not match", "doesn't match", "mismatch", "incorrect"):
        assert accusation not in text
