"""Mailbox -> assessment -> ticket -> auto-reply, end to end: a real dovecot, the
Zendesk emulator over HTTP, a real SMTP server on loopback (aiosmtpd) whose copies
to support@ land back in the dovecot folder the bot reads, as they would in life."""

from __future__ import annotations

import json
import random
import re
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import requests

from bot.adapters.smtp import SmtpMailer
from bot.adapters.zendesk import ZenpyDesk
from bot.app import build_app, desk_from_config, smtp_settings
from bot.config import Config, ReplyConfig, SmtpConfig
from bot.pipeline.intake import Intake
from bot.standins.localmail import LocalMail
from bot.standins.zendesk_emulator import Emulator
from parsers.email import parse_message
from rules.reply import ReplyPlan
from tests.conftest import FIXTURES
from tests.integration.mailbox_support import new_folder
from tests.integration.smtp_support import USER, Delivered, SmtpServer
from tests.integration.test_pipeline_zendesk import ENV, Clock, comments, config_for, tickets
from tests.reply_cases import LOOP_CASES

SUPPORT = "support@lofty.com"
THREADS = {
    "01-ready-att-acme-csv": ("ready", "2026-11-20"),
    "27-loa-numbers-missing": ("incomplete", None),
    "29-follow-up-boss": ("follow_up_boss", None),
}


def reply_config(base: Config, smtp: SmtpServer, **changes: Any) -> Config:
    return replace(
        base,
        smtp=SmtpConfig(
            host="127.0.0.1",
            port=smtp.port,
            security="starttls",
            ca_file=str(smtp.cert_file),
            username=USER,
            password_file=str(smtp.password_file),
            timeout_seconds=10,
        ),
        reply=ReplyConfig(
            support_address=SUPPORT,
            support_name="Lofty Porting Team",
            domain="lofty.com",
            internal_domains=("lofty.com",),
            copy_to=SUPPORT,
            **changes,
        ),
    )


def thread(name: str) -> tuple[list[bytes], dict[str, Any]]:
    folder = FIXTURES / name
    expected = json.loads((folder / "expected.json").read_text())
    return [p.read_bytes() for p in sorted(folder.glob("*.eml"))], expected


def secrets_of(expected: dict[str, Any]) -> list[str]:
    request = expected["assessment"]["request"]
    found = [n["pin"] for n in request["numbers"] if n.get("pin")]
    return found + ([request["ssn_last4"]] if request.get("ssn_last4") else [])


def assert_no_secret(delivered: Delivered, secrets: list[str]) -> None:
    msg = delivered.message
    text = delivered.text() + " ".join(f"{k}: {v}" for k, v in msg.items())
    html = msg.get_body(preferencelist=("html",))
    if isinstance(html, EmailMessage):
        text += " " + re.sub(r"<[^>]+>", " ", str(html.get_content()))
    # phone numbers, dates and Message-IDs are digits that are no secret
    text = re.sub(
        r"\(\d{3}\) \d{3}-\d{4}|\+1 \d{3}-\d{3}-\d{4}|\d{4}-\d{2}-\d{2}|<[^>]+>", " ", text
    )
    for secret in secrets:
        assert not re.search(rf"(?<!\d){re.escape(secret)}(?!\d)", text), secret


def app(config: Config, day: str, clock: Clock | None = None, **kw: Any) -> Intake:
    return build_app(config, clock=(clock or Clock()).on(day), environ=ENV, **kw)


@pytest.mark.parametrize("name", list(THREADS))
def test_each_thread_gets_one_threaded_reply_and_the_ticket_says_so(
    server: LocalMail,
    em: Emulator,
    smtp: tuple[SmtpServer, list[str]],
    tmp_path: Path,
    name: str,
) -> None:
    running, copies = smtp
    folder = copies[0] = new_folder()
    raws, expected = thread(name)
    config = reply_config(config_for(server, em, folder, tmp_path / "state.db"), running)
    server.append(folder, raws)
    with app(config, THREADS[name][1] or expected["today"]) as intake:
        report = intake.poll()
        assert report.count("assessed") == len(raws) and report.count("quarantined") == 0
        customer = parse_message(raws[-1])
        assert customer.sender is not None
        to_customer = running.handler.to(customer.sender)
        # a thread read in one go is answered once, under its newest message
        assert len(to_customer) == 1
        msg = to_customer[0].message
        assert msg["X-Portbot-Reply"] == THREADS[name][0]
        assert str(msg["In-Reply-To"]).strip() == customer.message_id
        assert customer.message_id in str(msg["References"]).split()
        assert msg["Auto-Submitted"] == "auto-replied"
        assert str(msg["Subject"]).startswith("Re: ")
        assert SUPPORT in to_customer[0].rcpt_tos  # our copy, in the same transaction
        for delivered in running.handler.delivered:
            assert_no_secret(delivered, secrets_of(expected))
        [ticket] = tickets(em)
        notes = [c["body"] for c in comments(em, ticket["id"])]
        assert sum("auto-reply sent" in n for n in notes) == 1
        assert any(str(msg["Message-ID"]) in n for n in notes)
        # our copy arrives in the mailbox: recognised as ours, never a request
        again = intake.poll()
        assert again.count("own") == 1 and again.count("assessed") == 0
        assert len(tickets(em)) == 1 and len(running.handler.delivered) == 1
        assert intake.state.reply_counts()["sent"] == 1


def _follow_up(original: bytes, body: str, n: int) -> bytes:
    parent = parse_message(original)
    return (
        f"From: {parent.sender_name} <{parent.sender}>\r\nTo: {SUPPORT}\r\n"
        f"Subject: Re: {parent.subject}\r\nDate: Sat, 21 Nov 2026 10:0{n}:00 -0600\r\n"
        f"Message-ID: <follow-up-{n}@acmerealtytx.com>\r\n"
        f"In-Reply-To: {parent.message_id}\r\nReferences: {parent.message_id}\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


def test_a_follow_up_that_changes_nothing_gets_no_second_reply(
    server: LocalMail, em: Emulator, smtp: tuple[SmtpServer, list[str]], tmp_path: Path
) -> None:
    running, copies = smtp
    folder = copies[0] = new_folder()
    raws, _ = thread("27-loa-numbers-missing")
    config = reply_config(config_for(server, em, folder, tmp_path / "state.db"), running)
    customer = parse_message(raws[0]).sender
    assert customer is not None
    with app(config, "2026-11-26") as intake:
        server.append(folder, raws)
        intake.poll()
        assert len(running.handler.to(customer)) == 1
        server.append(folder, [_follow_up(raws[-1], "Thanks, talk soon!", 1)])
        report = intake.poll()
        assert report.count("assessed") == 1 and report.count("own") == 1  # + our copy
        assert len(running.handler.to(customer)) == 1
        [ticket] = tickets(em)
        notes = [c["body"] for c in comments(em, ticket["id"])]
        assert any("auto-reply not sent: no_change" in n for n in notes)
        assert intake.state.reply_counts() == {
            "sending": 0,
            "sent": 1,
            "suppressed": 1,
            "failed": 0,
        }


@pytest.mark.parametrize("case", ["x_failed_recipients", "gmail_vacation"])
def test_automatic_mail_is_recorded_but_never_ticketed_nor_answered(
    server: LocalMail,
    em: Emulator,
    smtp: tuple[SmtpServer, list[str]],
    tmp_path: Path,
    case: str,
) -> None:
    # support@ is shared with the desk: a bounce, an out-of-office or a list's mail is
    # not a porting request (issue 14); it is recorded and counted, nothing more
    running, copies = smtp
    folder = copies[0] = new_folder()
    [(_, raw, _reason)] = [c for c in LOOP_CASES if c[0] == case]
    config = reply_config(config_for(server, em, folder, tmp_path / "state.db"), running)
    server.append(folder, [raw])
    with app(config, "2026-11-26") as intake:
        report = intake.poll()
        assert [row[4] for row in intake.state.outcomes()] == ["other"]
    assert running.handler.delivered == []
    assert report.count("other") == 1 and report.count("assessed") == 0
    assert [h.category for h in report.handled] == ["other:automatic"]
    assert tickets(em) == []


@pytest.mark.parametrize(
    ("case", "sorting"), [("gmail_vacation", False), ("list_id", True), ("precedence_list", True)]
)
def test_a_whole_request_in_automatic_mail_is_filed_but_never_answered(
    server: LocalMail,
    em: Emulator,
    smtp: tuple[SmtpServer, list[str]],
    tmp_path: Path,
    case: str,
    sorting: bool,
) -> None:
    """A request a list or a web form relays (numbers, PINs: plainly one) is filed; so is
    any automatic mail where only porting mail arrives ([sorting] enabled = false)."""
    from bot.config import SortingConfig

    running, copies = smtp
    folder = copies[0] = new_folder()
    [(_, raw, reason)] = [c for c in LOOP_CASES if c[0] == case]
    base = reply_config(config_for(server, em, folder, tmp_path / "state.db"), running)
    config = replace(base, sorting=SortingConfig(enabled=sorting))
    server.append(folder, [raw])
    with app(config, "2026-11-26") as intake:
        report = intake.poll()
    assert running.handler.delivered == []
    assert report.count("assessed") == 1
    [ticket] = tickets(em)
    assert any(f"auto-reply not sent: {reason}" in c["body"] for c in comments(em, ticket["id"]))


def test_a_bounce_of_our_reply_is_a_note_on_the_ticket_not_a_new_ticket(
    server: LocalMail, em: Emulator, smtp: tuple[SmtpServer, list[str]], tmp_path: Path
) -> None:
    running, copies = smtp
    folder = copies[0] = new_folder()
    raws, _ = thread("27-loa-numbers-missing")
    config = reply_config(config_for(server, em, folder, tmp_path / "state.db"), running)
    server.append(folder, raws)
    with app(config, "2026-11-26") as intake:
        intake.poll()
        [reply] = running.handler.to("sgraves@prairiewindins.com")
        [(_, dsn, _)] = [c for c in LOOP_CASES if c[0] == "dsn_multipart_report"]
        dsn = dsn.replace(b"<portbot.abc123@lofty.com>", str(reply.message["Message-ID"]).encode())
        server.append(folder, [dsn])
        report = intake.poll()
        assert report.count("notice") == 1 and report.count("assessed") == 0
    [ticket] = tickets(em)
    notes = [c["body"] for c in comments(em, ticket["id"])]
    assert any("came back as a bounce" in n and "sgraves@prairiewindins.com" in n for n in notes)
    assert len(running.handler.delivered) == 1  # the reply (and its copy): nothing to the bounce


class CrashAfterSend:
    """Sends, then dies like a killed process before `sent` can be recorded."""

    def __init__(self, mailer: SmtpMailer) -> None:
        self.mailer = mailer

    def send(
        self, message: EmailMessage | bytes, recipients: Any = None, sender: str | None = None
    ) -> None:
        self.mailer.send(message, recipients, sender)
        raise KeyboardInterrupt("killed after the send")


def test_a_crash_between_sending_and_recording_does_not_send_twice(
    server: LocalMail, em: Emulator, smtp: tuple[SmtpServer, list[str]], tmp_path: Path
) -> None:
    running, copies = smtp
    folder = copies[0] = new_folder()
    raws, expected = thread("27-loa-numbers-missing")
    config = reply_config(config_for(server, em, folder, tmp_path / "state.db"), running)
    assert config.smtp is not None
    server.append(folder, raws)
    crashing = CrashAfterSend(SmtpMailer(smtp_settings(config.smtp)))
    with app(config, "2026-11-26", mailer=crashing) as intake, pytest.raises(KeyboardInterrupt):
        intake.poll()
    assert len(running.handler.to("sgraves@prairiewindins.com")) == 1
    with app(config, "2026-11-26") as intake:  # the restart
        report = intake.poll()
        assert report.delivered == 1 and report.count("own") == 1
        assert intake.state.reply_counts()["sent"] == 1
        assert intake.poll().handled == []
    assert len(running.handler.to("sgraves@prairiewindins.com")) == 1  # found our copy: not resent
    [ticket] = tickets(em)
    assert sum("auto-reply sent" in c["body"] for c in comments(em, ticket["id"])) == 1
    for delivered in running.handler.delivered:
        assert_no_secret(delivered, secrets_of(expected))


class KilledAfterNote:
    """The real desk, but the process dies right after the first note's update is made,
    before the state store can record it posted."""

    def __init__(self, real: ZenpyDesk) -> None:
        self.real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def amend(self, ticket_id: int, **kw: Any) -> None:
        self.real.amend(ticket_id, **kw)
        raise KeyboardInterrupt("killed after the note")


def test_a_bot_killed_right_after_the_reply_note_posts_it_once(
    server: LocalMail, em: Emulator, smtp: tuple[SmtpServer, list[str]], tmp_path: Path
) -> None:
    running, copies = smtp
    folder = copies[0] = new_folder()
    raws, _ = thread("27-loa-numbers-missing")
    config = reply_config(config_for(server, em, folder, tmp_path / "state.db"), running)
    assert config.zendesk is not None
    server.append(folder, raws)
    killed = KilledAfterNote(desk_from_config(config.zendesk, ENV))
    with app(config, "2026-11-26", desk=killed) as intake, pytest.raises(KeyboardInterrupt):
        intake.poll()
    [ticket] = tickets(em)
    assert sum("auto-reply sent" in c["body"] for c in comments(em, ticket["id"])) == 1
    with app(config, "2026-11-26") as intake:  # the restart: the note is looked for, found
        report = intake.poll()
        assert report.delivered == 1
        assert intake.state.notes_in_doubt("PR-000001") == []
        assert intake.poll().handled == []
    assert sum("auto-reply sent" in c["body"] for c in comments(em, ticket["id"])) == 1
    assert len(running.handler.to("sgraves@prairiewindins.com")) == 1


def test_a_reply_note_whose_answer_is_lost_is_posted_once(
    server: LocalMail, em: Emulator, smtp: tuple[SmtpServer, list[str]], tmp_path: Path
) -> None:
    running, copies = smtp
    folder = copies[0] = new_folder()
    raws, _ = thread("27-loa-numbers-missing")
    config = reply_config(config_for(server, em, folder, tmp_path / "state.db"), running)
    server.append(folder, raws)
    # every update's answer is lost the first time: made, but the bot cannot know
    requests.post(
        f"{em.url}/__emulator__/faults",
        json={"mode": "lost", "method": "PUT", "count": 3},
        timeout=5,
    ).raise_for_status()
    with app(config, "2026-11-26") as intake:
        for _ in range(3):  # at most a cycle or two until it is recorded
            if intake.poll().deferred == 0:
                break
        assert intake.state.counts()["undelivered"] == 0
    [ticket] = tickets(em)
    assert sum("auto-reply sent" in c["body"] for c in comments(em, ticket["id"])) == 1


def test_without_smtp_and_reply_sections_nothing_is_sent(
    server: LocalMail, em: Emulator, smtp: tuple[SmtpServer, list[str]], tmp_path: Path
) -> None:
    running, copies = smtp
    folder = copies[0] = new_folder()
    raws, _ = thread("27-loa-numbers-missing")
    config = config_for(server, em, folder, tmp_path / "state.db")
    server.append(folder, raws)
    with app(config, "2026-11-26") as intake:
        assert intake.poll().delivered == len(raws)
    assert running.handler.delivered == [] and len(tickets(em)) == 1


def test_each_message_is_parsed_once_per_cycle_with_the_configured_limits(
    server: LocalMail,
    em: Emulator,
    smtp: tuple[SmtpServer, list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ticket, reply, stages and the classifier all read the intake's one parse."""
    import hashlib

    import bot.pipeline.reading as reading

    parses: list[tuple[str, object]] = []

    def counted(raw: bytes, limits: Any) -> Any:
        parses.append((hashlib.sha256(raw).hexdigest(), limits))
        return parse_message(raw, limits)

    monkeypatch.setattr(reading, "parse_message", counted)
    running, copies = smtp
    folder = copies[0] = new_folder()
    raws, expected = thread("01-ready-att-acme-csv")
    base = reply_config(config_for(server, em, folder, tmp_path / "state.db"), running)
    # limits of its own, so that a parse with the default ones shows
    config = replace(base, limits=replace(base.limits, max_attachments=17))
    server.append(folder, raws)
    with app(config, THREADS["01-ready-att-acme-csv"][1] or expected["today"]) as intake:
        report = intake.poll()
        assert report.count("assessed") == len(raws)
        assert len(tickets(em)) == 1 and len(running.handler.delivered) == 1
        assert sorted(h for h, _ in parses) == sorted(hashlib.sha256(r).hexdigest() for r in raws)
        assert all(limits is config.limits for _, limits in parses)
        # the next cycle: our copy of the reply arrives; only that new message is parsed
        parses.clear()
        assert intake.poll().count("own") == 1
        assert len(parses) == 1 and parses[0][1] is config.limits


def test_each_message_is_decided_once_and_every_sink_applies_that_plan(
    server: LocalMail,
    em: Emulator,
    smtp: tuple[SmtpServer, list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 13: the intake gathers and calls rules.decide once per message; the ticket,
    the port and the reply follow that plan, none of them deciding again on its own."""
    import bot.pipeline.planning as planning
    import bot.pipeline.reply_sink as reply_sink
    import bot.pipeline.stage_keeper as stage_keeper
    import bot.pipeline.ticket_sink as ticket_sink
    from rules.decide import MessagePlan

    plans: list[MessagePlan] = []
    decide = planning.decide_message

    def counted(*args: Any, **kwargs: Any) -> MessagePlan:
        plan = decide(*args, **kwargs)
        plans.append(plan)
        return plan

    again: list[str] = []

    def refuse(name: str) -> Any:
        def decided_again(*args: Any, **kwargs: Any) -> Any:
            again.append(name)
            raise AssertionError(f"{name} decided on its own")

        return decided_again

    monkeypatch.setattr(planning, "decide_message", counted)
    monkeypatch.setattr(ticket_sink, "ticket_step", refuse("ticket"))
    monkeypatch.setattr(reply_sink, "reply_step", refuse("reply"))
    monkeypatch.setattr(stage_keeper, "port_step", refuse("port"))
    running, copies = smtp
    folder = copies[0] = new_folder()
    name = "07-ready-telus-followups-supply-loa-and-pin"
    raws, expected = thread(name)
    config = reply_config(config_for(server, em, folder, tmp_path / "state.db"), running)
    with app(config, expected["today"]) as intake:
        for raw in raws:  # one message a cycle, as a customer's follow-ups come
            server.append(folder, [raw])
            assert intake.poll().count("assessed") == 1
    assert again == []
    assert [p.key for p in plans] == [parse_message(r).message_id for r in raws]
    steps = [(p.ticket.action, p.ticket.new) for p in plans if p.ticket is not None]
    assert steps == [("create", (0,)), ("update", (1,)), ("update", (2,))]
    assert all(p.port is not None and p.reply is not None for p in plans)
    # what the plans said is what happened: one ticket, one email per planned reply
    sent = sum(isinstance(p.reply, ReplyPlan) for p in plans)
    assert len(tickets(em)) == 1 and sent >= 1
    assert len(running.handler.delivered) == sent


def test_a_shared_support_mailbox_files_only_porting_requests(
    server: LocalMail,
    em: Emulator,
    smtp: tuple[SmtpServer, list[str]],
    tmp_path: Path,
) -> None:
    """Issue 14, create mode: of a mixed support@ (requests with follow-ups, questions for
    the desk, every kind of automatic mail, a carrier notice), only the porting requests
    become tickets and get replies; the rest is recorded and counted, nothing lost."""
    from fixtures.build.corpus.support_mail import automatic, question, web_form

    running, copies = smtp
    folder = copies[0] = new_folder()
    requests_, _ = thread("01-ready-att-acme-csv")
    followed, _ = thread("07-ready-telus-followups-supply-loa-and-pin")
    others = [question(i, random.Random(f"mix:{i}")).raw for i in range(6)]
    # one of each automatic kind: out-of-office (two clients), bounce, digest, notification
    autos: dict[str, bytes] = {}
    for i in range(200):
        mail = automatic(i, random.Random(f"auto:{i}"))
        style = mail.raw.split(b"\r\nSubject: ", 1)[-1][:12] if b"\r\n" in mail.raw else b""
        if mail.kind == "automatic" and style not in autos:
            autos[style] = mail.raw
        if len(autos) == 5:
            break
    form = web_form(0, random.Random("form")).raw
    notice = (FIXTURES.parent / "carrier_notices" / "twilio-01-submitted.eml").read_bytes()
    mailbox = [*requests_, *others[:3], followed[0], *autos.values(), notice, *followed[1:]]
    mailbox += [*others[3:], form]
    config = reply_config(config_for(server, em, folder, tmp_path / "state.db"), running)
    server.append(folder, mailbox)
    with app(config, "2026-11-20") as intake:
        report = intake.poll()
    assert report.count("quarantined") == 0
    assert report.count("assessed") == len(requests_) + len(followed) + 1  # + the web form
    assert report.count("other") == len(others) + len(autos)
    assert report.count("notice") == 1
    # one ticket per porting request, none for anything else
    assert len(tickets(em)) == 3
    # one reply to each of the two customers (the web form's no-reply sender gets none);
    # the partner's notice is about the first request: its customer hears of it
    delivered = list(running.handler.delivered)
    replies = [d for d in delivered if d.message["X-Portbot-Reply"] in ("ready", "incomplete")]
    assert sorted(d.rcpt_tos[0] for d in replies) == [
        "dana@acmerealtytx.com",
        "jason@harbourviewrealty.ca",
    ]
    assert [d.rcpt_tos[0] for d in delivered if d not in replies] == ["dana@acmerealtytx.com"]
    for raw in others + list(autos.values()):
        sender = parse_message(raw).sender
        assert sender is not None and running.handler.to(sender) == []
