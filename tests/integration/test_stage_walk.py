"""Two ports walked through every stage from all three sources (an agent on the ticket
in the Zendesk emulator, carrier-partner emails in the dovecot mailbox in several
wordings per event, `portbot stage`), one through a rejection and resubmission; the
customers' emails through a real SMTP server, each exactly once; a clock the test
moves (no sleeps)."""

from __future__ import annotations

import email.policy
from email import message_from_bytes
from pathlib import Path

import pytest
import requests

from bot.standins.localmail import LocalMail
from bot.standins.zendesk_emulator import Emulator
from parsers.email import parse_message
from tests.clock import FakeClock as Clock
from tests.conftest import FIXTURES, ROOT
from tests.integration.mailbox_support import new_folder
from tests.integration.smtp_support import SmtpServer
from tests.integration.test_pipeline_reply import SUPPORT, app
from tests.integration.test_pipeline_stages import (
    ACME,
    DAY,
    VERIZON,
    _cli_config,
    first,
    notes,
    set_field,
    stage_config,
    ticket_now,
    today,
)
from tests.integration.test_pipeline_zendesk import AUTH, get, tickets

VARIANTS = ROOT / "fixtures" / "carrier_notices" / "variants"
PEAK_CUSTOMER = "ghollis@peakviewproperties.com"
ACME_CUSTOMER = "dana@acmerealtytx.com"


def variant(name: str) -> bytes:
    return (VARIANTS / name).read_bytes()


def follow_up(thread: Path, message_id: str, text: str, date: str) -> bytes:
    parent = parse_message(first(thread))
    return (
        f"From: {parent.sender}\r\nTo: {SUPPORT}\r\nSubject: Re: {parent.subject}\r\n"
        f"Message-ID: <{message_id}>\r\n"
        f"In-Reply-To: {parent.message_id}\r\nReferences: {parent.message_id}\r\n"
        f"Date: {date}\r\n\r\n{text}\r\n"
    ).encode()


def test_two_ports_walk_every_stage_from_every_source(
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
    clock = Clock()

    def subjects(customer: str) -> list[str]:
        return [str(d.message["Subject"]) for d in running.handler.to(customer)]

    def status(tid: int) -> str:
        return str(get(em, f"tickets/{tid}.json")["ticket"]["status"])

    def step(*raws: bytes) -> None:
        clock.now += DAY  # a day between events: the daily cap is per day
        if raws:
            server.append(folder, list(raws))
        intake.poll()

    with app(config, today(VERIZON), clock) as intake:
        server.append(folder, [first(VERIZON), first(ACME)])
        intake.poll()
        by_subject = {t["requester_id"]: t["id"] for t in tickets(em)}
        assert len(by_subject) == 2
        peak, acme = intake.state.tickets()["PR-000001"], intake.state.tickets()["PR-000002"]
        for tid in (peak, acme):
            fields, tags = ticket_now(em, config, tid)
            assert fields["stage"] == "port_stage_request_received"  # one vocabulary

        # --- Peak View (Twilio): agent submits; notices in several wordings -----------
        set_field(em, config, peak, stage="port_stage_submitted")
        step(variant("tw-submitted-received.eml"))  # already submitted: ignored, noted
        assert "Carrier notice ignored: the port is already submitted" in notes(em, peak)[-1]
        step(variant("tw-approved-accepted.eml"))
        assert ticket_now(em, config, peak)[0]["stage"] == "port_stage_approved"
        step(variant("tw-foc-port-date-confirmed.eml"))  # the Twilio wording
        fields, _ = ticket_now(em, config, peak)
        assert fields["stage"] == "port_stage_scheduled" and fields["porting_date"] == "2026-12-10"
        step(variant("tw-foc-firm-order-commitment.eml"))  # same date, other words: ignored
        assert "Carrier notice ignored" in notes(em, peak)[-1]
        step(variant("tw-foc-rescheduled.eml"))
        assert ticket_now(em, config, peak)[0]["porting_date"] == "2026-12-11"
        step(variant("tw-completed-ported.eml"))
        fields, tags = ticket_now(em, config, peak)
        assert fields["stage"] == "port_stage_completed" and "port_stage_completed" in tags
        assert status(peak) == "solved"
        step(variant("tw-completed-now-active.eml"))  # a second wording: changes nothing
        assert "Carrier notice ignored: the port is already completed" in notes(em, peak)[-1]
        # an agent sets the completed port back to submitted: refused, put back, noted
        set_field(em, config, peak, stage="port_stage_submitted")
        step()
        fields, tags = ticket_now(em, config, peak)
        assert fields["stage"] == "port_stage_completed"
        assert (
            "Stage change refused: cannot move from completed to submitted" in (notes(em, peak)[-1])
        )

        # --- Acme (Bandwidth): command line, rejection, correction, resubmission -------
        assert main(["stage", str(acme), "submitted", "--config", str(cli)]) == 0
        capsys.readouterr()
        step(variant("bw-rejected-exception-wrapped.eml"))
        fields, tags = ticket_now(em, config, acme)
        assert fields["stage"] == "port_stage_request_received"
        assert "port_rejected_wrong_pin" in tags
        assert fields["rejection_reason"].endswith("telephone number 5124762211")  # not cut
        rejection = running.handler.to(ACME_CUSTOMER)[-1].text()
        assert "The carrier named this number: (512) 476-2211." in rejection
        # the customer sends the corrected PIN: acknowledged once
        step(
            follow_up(
                ACME,
                "pin-fixed@acmerealtytx.com",
                "The new port-out PIN is 4471.",
                "Sat, 28 Nov 2026 10:00:00 -0600",
            )
        )
        assert subjects(ACME_CUSTOMER)[-1] == "We received your correction"
        step(
            follow_up(
                ACME,
                "pin-again@acmerealtytx.com",
                "Did you get the PIN?",
                "Sun, 29 Nov 2026 10:00:00 -0600",
            )
        )
        assert subjects(ACME_CUSTOMER).count("We received your correction") == 1
        # a dropdown value that names no stage (an option an admin added): refused alike
        assert config.zendesk is not None
        requests.post(
            f"{em.url}/api/v2/ticket_fields/{config.zendesk.names.field_ids['stage']}/options.json",
            auth=AUTH,
            json={"custom_field_option": {"name": "Waiting on boss", "value": "waiting_on_boss"}},
            timeout=10,
        ).raise_for_status()
        set_field(em, config, acme, stage="waiting_on_boss")
        step()
        assert "is no stage" in notes(em, acme)[-1]
        assert ticket_now(em, config, acme)[0]["stage"] == "port_stage_request_received"
        # resubmitted from the command line: the rejection is history
        assert main(["stage", f"#{acme}", "submitted", "--config", str(cli)]) == 0
        fields, tags = ticket_now(em, config, acme)
        assert not any(t.startswith("port_rejected_") for t in tags)
        assert not fields.get("rejection_reason")
        step(variant("bw-approved-pending-foc.eml"))
        step(variant("bw-foc-status-foc.eml"))
        assert ticket_now(em, config, acme)[0]["porting_date"] == "2026-12-14"
        step(variant("bw-foc-scheduled-sentence.eml"), variant("bw-foc-confirmed-table.eml"))
        assert sum("Carrier notice ignored" in n for n in notes(em, acme)) == 2
        # a refused command-line move is noted on the ticket too
        assert main(["stage", "PR-000002", "request-received", "--config", str(cli)]) == 2
        assert "Stage change refused" in notes(em, acme)[-1]
        step(variant("bw-completed-activated.eml"))
        fields, tags = ticket_now(em, config, acme)
        assert fields["stage"] == "port_stage_completed" and status(acme) == "solved"
        step(variant("bw-completed-status-complete.eml"))
        assert "Carrier notice ignored" in notes(em, acme)[-1]

    assert subjects(PEAK_CUSTOMER)[1:] == [
        "Your number transfer has been submitted",
        "Your number transfer was approved",
        "Your number transfer is scheduled for Thursday, December 10, 2026",
        "New date for your number transfer: Friday, December 11, 2026",
        "Your numbers have been transferred",
    ]
    assert subjects(ACME_CUSTOMER)[1:] == [
        "Your number transfer has been submitted",
        "Action needed: your number transfer was not accepted",
        "We received your correction",
        "Your number transfer has been submitted",
        "Your number transfer was approved",
        "Your number transfer is scheduled for Monday, December 14, 2026",
        "Your numbers have been transferred",
    ]
    for customer in (PEAK_CUSTOMER, ACME_CUSTOMER):
        sent = running.handler.to(customer)
        assert len({str(d.message["Message-ID"]) for d in sent}) == len(sent)
        for d in sent[1:]:  # the bot's own emails answer no message
            assert d.message["Auto-Submitted"] == "auto-generated"


def test_no_reminder_goes_to_automatic_mail_and_reminders_are_auto_generated(
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
        stale_after_days=9,
        max_reminders=1,
    )
    thread = FIXTURES / "27-loa-numbers-missing"
    person = "sgraves@prairiewindins.com"
    robot = "no-reply@forms.prairiewindins.com"
    form = message_from_bytes(first(thread), policy=email.policy.default)
    del form["From"], form["Message-ID"]
    form["From"] = f"Website form <{robot}>"
    form["Message-ID"] = "<webform-1@forms.prairiewindins.com>"
    form["Auto-Submitted"] = "auto-generated"
    form["Precedence"] = "bulk"
    clock = Clock()
    with app(config, today(thread), clock) as intake:
        server.append(folder, [first(thread), form.as_bytes()])
        intake.poll()
        clock.now += 3.1 * DAY
        intake.poll()
    assert running.handler.to(robot) == []  # no auto-reply, no reminder
    [_reply, reminder] = running.handler.to(person)
    assert "friendly reminder" in reminder.text()
    assert reminder.message["Auto-Submitted"] == "auto-generated"
