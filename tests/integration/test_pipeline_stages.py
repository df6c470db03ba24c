"""A port walked from the first email to completion: agents setting the stage in the
Zendesk emulator, carrier-partner emails arriving in the dovecot mailbox, `portbot
stage` on the command line; the customer's emails through a real SMTP server;
reminders on a clock the test moves."""

from __future__ import annotations

import json
import textwrap
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests

from bot.config import Config, RemindersConfig, StagesConfig
from bot.standins.localmail import LocalMail
from bot.standins.zendesk_emulator import Emulator
from parsers.email import parse_message
from tests.conftest import FIXTURES, ROOT
from tests.integration.mailbox_support import new_folder, toml_config
from tests.integration.smtp_support import USER, SmtpServer
from tests.integration.test_pipeline_reply import SUPPORT, app, reply_config
from tests.integration.test_pipeline_zendesk import AUTH, Clock, comments, config_for, get, tickets

NOTICES = ROOT / "fixtures" / "carrier_notices"
VERIZON = FIXTURES / "02-ready-verizon-pin-all-pipe-table"  # 303-861-4400.. (Twilio notices)
ACME = FIXTURES / "01-ready-att-acme-csv"  # 512-476-2210.. (Bandwidth notices)
DAY = 86400.0


def stage_config(
    server: LocalMail, em: Emulator, smtp: SmtpServer, folder: str, tmp_path: Path, **reminders: Any
) -> Config:
    base = reply_config(config_for(server, em, folder, tmp_path / "state.db"), smtp)
    return replace(
        base, stages=StagesConfig(sync_seconds=0), reminders=RemindersConfig(**reminders)
    )


def first(thread: Path) -> bytes:
    return sorted(thread.glob("*.eml"))[0].read_bytes()


def notice(name: str) -> bytes:
    return (NOTICES / name).read_bytes()


def today(thread: Path) -> str:
    return str(json.loads((thread / "expected.json").read_text())["today"])


def set_field(em: Emulator, config: Config, ticket_id: int, **values: Any) -> None:
    """An agent changing the ticket in Zendesk."""
    assert config.zendesk is not None
    ids = config.zendesk.names.field_ids
    body = {"ticket": {"custom_fields": [{"id": ids[k], "value": v} for k, v in values.items()]}}
    requests.put(
        f"{em.url}/api/v2/tickets/{ticket_id}.json", auth=AUTH, json=body, timeout=10
    ).raise_for_status()


def ticket_now(em: Emulator, config: Config, ticket_id: int) -> tuple[dict[str, Any], set[str]]:
    assert config.zendesk is not None
    ticket = get(em, f"tickets/{ticket_id}.json")["ticket"]
    by_id = {v: k for k, v in config.zendesk.names.field_ids.items()}
    fields = {by_id[f["id"]]: f["value"] for f in ticket["custom_fields"] if f["id"] in by_id}
    return fields, set(ticket["tags"])


def notes(em: Emulator, ticket_id: int) -> list[str]:
    return [c["body"] for c in comments(em, ticket_id)]


def test_a_port_walks_from_the_first_email_to_completion(
    server: LocalMail, em: Emulator, smtp: tuple[SmtpServer, list[str]], tmp_path: Path
) -> None:
    running, copies = smtp
    folder = copies[0] = new_folder()
    config = stage_config(server, em, running, folder, tmp_path)
    customer = "ghollis@peakviewproperties.com"
    asked = parse_message(first(VERIZON)).message_id

    def mails() -> list[str]:
        return [str(d.message["Subject"]) for d in running.handler.to(customer)]

    with app(config, today(VERIZON)) as intake:
        server.append(folder, [first(VERIZON)])
        intake.poll()
        [ticket] = tickets(em)
        tid = ticket["id"]
        assert len(mails()) == 1  # the auto-reply: the request is complete
        fields, tags = ticket_now(em, config, tid)
        assert fields["stage"] == "port_stage_request_received"

        # an agent submits the port and says so on the ticket
        set_field(em, config, tid, stage="port_stage_submitted")
        report = intake.poll()
        assert any("request_received -> submitted (agent" in e for e in report.events)
        assert mails()[-1] == "Your number transfer has been submitted"
        fields, tags = ticket_now(em, config, tid)
        assert fields["stage"] == "port_stage_submitted" and "port_stage_submitted" in tags
        assert "port_ready" in tags
        assert "Port stage: request_received → submitted" in notes(em, tid)[-1]
        assert "Customer emailed" in notes(em, tid)[-1]
        intake.poll()
        assert len(mails()) == 2  # read again: nothing new

        # the partner: "waiting for signature" (already submitted), then approved with a date
        server.append(
            folder,
            [
                notice("twilio-02-waiting-for-signature.eml"),
                notice("twilio-03-in-progress-with-date.eml"),
            ],
        )
        report = intake.poll()
        assert report.count("notice") == 2 and report.count("assessed") == 0
        assert mails()[-1] == "Your number transfer is scheduled for Thursday, December 10, 2026"
        scheduled = running.handler.to(customer)[-1]
        assert "calls and texts to these numbers may be interrupted briefly" in scheduled.text()
        fields, tags = ticket_now(em, config, tid)
        assert fields["stage"] == "port_stage_scheduled" and fields["porting_date"] == "2026-12-10"
        assert intake.state.port("PR-000001") is not None
        assert intake.state.port("PR-000001").order_id == "KW8d21e0b6c94f4a7bb3e5d0f1a2c4e6b8"  # type: ignore[union-attr]

        # completed: the customer is told to check the numbers and about 10DLC
        server.append(folder, [notice("twilio-06-completed.eml")])
        intake.poll()
        assert mails()[-1] == "Your numbers have been transferred"
        assert "10DLC" in running.handler.to(customer)[-1].text()
        fields, tags = ticket_now(em, config, tid)
        assert fields["stage"] == "port_stage_completed" and "port_stage_completed" in tags

        # the same notice again (a copy): nothing twice
        server.append(folder, [notice("twilio-06-completed.eml")])
        assert intake.poll().count("duplicate") == 1
    sent = running.handler.to(customer)
    assert len(sent) == 4 and len({str(d.message["Message-ID"]) for d in sent}) == 4
    assert all(str(d.message["In-Reply-To"]).strip() == asked for d in sent)
    assert sum("Port stage:" in n for n in notes(em, tid)) == 3


def _cli_config(
    server: LocalMail, em: Emulator, config: Config, folder: str, smtp: SmtpServer, path: Path
) -> Path:
    assert config.zendesk is not None
    text = (
        toml_config(server, folder, Path(config.state.path))
        + textwrap.dedent(f"""
        [smtp]
        host = "127.0.0.1"
        port = {smtp.port}
        ca_file = "{smtp.cert_file}"
        username = "{USER}"
        password_file = "{smtp.password_file}"
        [reply]
        support_address = "{SUPPORT}"
        support_name = "Lofty Porting Team"
        copy_to = "{SUPPORT}"
        [zendesk]
        subdomain = "acme"
        email = "agent@ourco.example"
        url = "{em.url}"
        [zendesk.fields]
    """)
        + "".join(f"{k} = {v}\n" for k, v in config.zendesk.names.field_ids.items())
    )
    path.write_text(text)
    return path


def test_the_command_line_a_rejection_and_refused_moves(
    server: LocalMail,
    em: Emulator,
    smtp: tuple[SmtpServer, list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot.cli import main

    running, copies = smtp
    folder = copies[0] = new_folder()
    config = stage_config(server, em, running, folder, tmp_path)
    cli = _cli_config(server, em, config, folder, running, tmp_path / "portbot.toml")
    monkeypatch.setenv("PORTBOT_ZENDESK_TOKEN", "emulator-token")
    customer = "dana@acmerealtytx.com"
    with app(config, today(ACME)) as intake:
        server.append(folder, [first(ACME)])
        intake.poll()
        [ticket] = tickets(em)
        tid = ticket["id"]

        assert main(["stage", str(tid), "submitted", "--config", str(cli)]) == 0
        assert "PR-000001: request_received -> submitted" in capsys.readouterr().out
        assert str(running.handler.to(customer)[-1].message["Subject"]) == (
            "Your number transfer has been submitted"
        )
        # the customer asks for news: the ticket stays submitted, no checklist comes back
        parent = parse_message(first(ACME))
        server.append(
            folder,
            [
                (
                    f"From: {parent.sender}\r\nTo: {SUPPORT}\r\nSubject: Re: {parent.subject}\r\n"
                    "Message-ID: <any-news@acmerealtytx.com>\r\n"
                    f"In-Reply-To: {parent.message_id}\r\nReferences: {parent.message_id}\r\n"
                    "Date: Sat, 21 Nov 2026 10:00:00 -0600\r\n\r\nAny news on the transfer?\r\n"
                ).encode()
            ],
        )
        assert intake.poll().count("assessed") == 1
        fields, tags = ticket_now(em, config, tid)
        assert (
            fields["stage"] == "port_stage_submitted" and "port_stage_request_received" not in tags
        )
        # refused, saying why; nothing sent
        assert main(["stage", str(tid), "scheduled", "--config", str(cli)]) == 2
        assert "scheduling needs the porting (FOC) date" in capsys.readouterr().err
        assert main(["stage", str(tid), "request-received", "--config", str(cli)]) == 2
        err = capsys.readouterr().err
        assert "cannot move from submitted to request_received" in err
        assert "can only go to approved, rejected, scheduled, completed or cancelled" in err
        assert len(running.handler.to(customer)) == 2

        # the carrier rejects: back to collecting, the customer told why and what to send
        server.append(folder, [notice("bandwidth-03-exception-name-and-pin.eml")])
        intake.poll()
        rejected = running.handler.to(customer)[-1]
        assert str(rejected.message["Subject"]) == (
            "Action needed: your number transfer was not accepted"
        )
        assert "does not match the account holder's name" in rejected.text()
        assert "port-out PIN" in rejected.text()
        fields, tags = ticket_now(em, config, tid)
        assert fields["stage"] == "port_stage_request_received"
        assert {
            "port_rejected_name_mismatch",
            "port_rejected_wrong_pin",
            "port_stage_request_received",
        } <= tags
        assert "port_stage_submitted" not in tags and fields["rejection_reason"]
        assert "→ rejected → request_received" in notes(em, tid)[-1]

        # a "completed" that failed the sender check is not applied; an agent is told
        server.append(folder, [notice("bandwidth-08-spoofed-complete.eml")])
        intake.poll()
        assert "NOT applied" in notes(em, tid)[-1] and "DKIM/DMARC" in notes(em, tid)[-1]
        # an agent's illegal move on the ticket is set back, with the reason
        set_field(em, config, tid, stage="port_stage_completed")
        report = intake.poll()
        assert any("refused" in e for e in report.events)
        fields, tags = ticket_now(em, config, tid)
        assert fields["stage"] == "port_stage_request_received"
        assert (
            "Stage change refused: cannot move from request_received to completed"
            in (notes(em, tid)[-1])
        )
        # resubmitted from the command line, then scheduled with a date
        assert main(["stage", f"#{tid}", "submitted", "--config", str(cli)]) == 0
        assert (
            main(["stage", "PR-000001", "scheduled", "--date", "2026-12-14", "--config", str(cli)])
            == 0
        )
        assert ticket_now(em, config, tid)[0]["porting_date"] == "2026-12-14"
    subjects = [str(d.message["Subject"]) for d in running.handler.to(customer)]
    assert subjects[1:] == [
        "Your number transfer has been submitted",
        "Action needed: your number transfer was not accepted",
        "Your number transfer has been submitted",
        "Your number transfer is scheduled for Monday, December 14, 2026",
    ]


def test_reminders_then_stale_on_a_clock_the_test_moves(
    server: LocalMail, em: Emulator, smtp: tuple[SmtpServer, list[str]], tmp_path: Path
) -> None:
    running, copies = smtp
    folder = copies[0] = new_folder()
    config = stage_config(
        server,
        em,
        running,
        folder,
        tmp_path,
        remind_after_days=3,
        stale_after_days=4,
        max_reminders=1,
    )
    thread = FIXTURES / "27-loa-numbers-missing"
    customer = "sgraves@prairiewindins.com"
    clock = Clock()
    with app(config, today(thread), clock) as intake:
        server.append(folder, [first(thread)])
        intake.poll()
        [ticket] = tickets(em)
        tid = ticket["id"]
        assert len(running.handler.to(customer)) == 1
        clock.now += 2 * DAY
        intake.poll()
        assert len(running.handler.to(customer)) == 1  # not yet
        clock.now += 1.1 * DAY
        report = intake.poll()
        assert "PR-000001: reminder 1 of 1 sent" in report.events
        reminder = running.handler.to(customer)[-1]
        assert "friendly reminder" in reminder.text()
        assert "Numbers missing from the LOA" in reminder.text()  # what is still wrong
        assert reminder.message["X-Portbot-Reply"] == "incomplete"
        assert "Reminder 1 of 1" in notes(em, tid)[-1]
        intake.poll()
        clock.now += 2 * DAY
        intake.poll()
        assert len(running.handler.to(customer)) == 2  # one reminder at most
        assert "port_stale" not in ticket_now(em, config, tid)[1]
        clock.now += 2.1 * DAY
        assert "PR-000001: tagged stale" in intake.poll().events
        assert "port_stale" in ticket_now(em, config, tid)[1]
        # the customer writes again, an hour later: no longer stale
        clock.now += 3600
        parent = parse_message(first(thread))
        server.append(
            folder,
            [
                (
                    f"From: {parent.sender}\r\nTo: {SUPPORT}\r\nSubject: Re: {parent.subject}\r\n"
                    "Message-ID: <back-again@prairiewindins.com>\r\n"
                    f"In-Reply-To: {parent.message_id}\r\nReferences: {parent.message_id}\r\n"
                    "Date: Mon, 30 Nov 2026 10:00:00 -0600\r\n\r\nSorry, I was away. Will send it.\r\n"
                ).encode()
            ],
        )
        intake.poll()
        intake.poll()
        assert "port_stale" not in ticket_now(em, config, tid)[1]


def test_a_notice_matching_no_request_gets_a_ticket_and_is_listed(
    server: LocalMail, em: Emulator, smtp: tuple[SmtpServer, list[str]], tmp_path: Path
) -> None:
    running, copies = smtp
    folder = copies[0] = new_folder()
    config = stage_config(server, em, running, folder, tmp_path)
    server.append(folder, [notice("telnyx-05-cancelled.eml")])
    with app(config, "2026-11-26") as intake:
        assert intake.poll().count("notice") == 1
        [unmatched] = intake.state.unmatched()
        assert unmatched.partner == "Telnyx" and "no open request" in unmatched.reason
        intake.poll()
    [ticket] = tickets(em)
    assert ticket["subject"].startswith("Carrier notice not matched: Telnyx cancelled")
    assert "port_unmatched_notice" in ticket["tags"]
    assert running.handler.delivered == []


def test_a_crash_after_a_stage_email_went_out_does_not_send_it_again(
    server: LocalMail, em: Emulator, smtp: tuple[SmtpServer, list[str]], tmp_path: Path
) -> None:
    from bot.adapters.smtp import SmtpMailer
    from bot.app import build_keeper, smtp_settings
    from rules.stages import Stage
    from tests.integration.test_pipeline_reply import CrashAfterSend
    from tests.integration.test_pipeline_zendesk import ENV

    running, copies = smtp
    folder = copies[0] = new_folder()
    config = stage_config(server, em, running, folder, tmp_path)
    assert config.smtp is not None
    customer = "dana@acmerealtytx.com"
    with app(config, today(ACME)) as intake:
        server.append(folder, [first(ACME)])
        intake.poll()
    state, keeper = build_keeper(
        config, environ=ENV, mailer=CrashAfterSend(SmtpMailer(smtp_settings(config.smtp)))
    )
    with pytest.raises(KeyboardInterrupt):
        keeper.move("PR-000001", Stage.SUBMITTED)
    state.close()
    assert len(running.handler.to(customer)) == 2  # the auto-reply, then "submitted"
    with app(config, today(ACME)) as intake:  # the restart finishes the change
        report = intake.poll()
        assert any("finished stage change" in e for e in report.events)
        assert intake.state.pending_stage_changes() == []
    assert len(running.handler.to(customer)) == 2  # our copy proved it went: not resent
    [ticket] = tickets(em)
    assert (
        sum("Port stage: request_received → submitted" in n for n in notes(em, ticket["id"])) == 1
    )
