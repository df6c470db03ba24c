"""Through to the carrier (issue 17), end to end: a ready request by email (dovecot),
its portability asked of the Twilio emulator, an agent's approval in the Zendesk
emulator creating the port-in once (also across a lost answer and a restart), the
emulator's signed webhooks walking it through rejection, resubmission, port date and
completion; the ticket and the customer's emails (a real SMTP server) follow, each
once; unsigned and badly signed webhooks change nothing; polling as the fallback."""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests

from bot.app import build_app, webhook_receiver
from bot.config import CarrierConfig, Config
from bot.pipeline.intake import Intake
from bot.standins.localmail import LocalMail
from bot.standins.twilio_emulator import TwilioEmulator, start
from bot.standins.zendesk_emulator import Emulator
from tests.clock import Today
from tests.integration.mailbox_support import new_folder
from tests.integration.smtp_support import SmtpServer
from tests.integration.test_pipeline_reply import ENV
from tests.integration.test_pipeline_stages import (
    VERIZON,
    first,
    notes,
    set_field,
    stage_config,
    ticket_now,
    today,
)
from tests.integration.test_pipeline_zendesk import tickets

SID = "AC" + "5" * 32
TOKEN = "twilio-test-token"
CUSTOMER = "ghollis@peakviewproperties.com"


@pytest.fixture()
def twilio() -> Iterator[TwilioEmulator]:
    tw = start(SID, TOKEN, today=dt.date.fromisoformat(today(VERIZON)))
    yield tw
    tw.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def partner_config(base: Config, tw: TwilioEmulator, **changes: Any) -> Config:
    return replace(
        base,
        carrier=CarrierConfig(
            account_sid=SID,
            api_url=tw.url,
            upload_url=tw.url,
            notification_emails=("porting@lofty.com",),
            **changes,
        ),
    )


ENVIRON = {**ENV, "PORTBOT_TWILIO_AUTH_TOKEN": TOKEN}


def bot(config: Config) -> Intake:
    return build_app(config, clock=Today(today(VERIZON)), environ=ENVIRON)


def hook(tw: TwilioEmulator, name: str, **body: Any) -> Any:
    r = requests.post(f"{tw.url}/__emulator__/{name}", json=body, timeout=10)
    r.raise_for_status()
    return r.json()


def port_ins(tw: TwilioEmulator) -> list[dict[str, Any]]:
    return list(requests.get(f"{tw.url}/__emulator__/state", timeout=10).json()["port_ins"])


def test_a_ready_request_goes_through_the_partner_to_completion(
    server: LocalMail,
    em: Emulator,
    smtp: tuple[SmtpServer, list[str]],
    twilio: TwilioEmulator,
    tmp_path: Path,
) -> None:
    running, copies = smtp
    folder = copies[0] = new_folder()
    port = free_port()
    hook_url = f"http://127.0.0.1:{port}/twilio/port-in"
    config = partner_config(
        stage_config(server, em, running, folder, tmp_path),
        twilio,
        webhook_listen=f"127.0.0.1:{port}",
        webhook_url=hook_url,
        poll_seconds=1e9,  # webhooks only here; polling has its own test
    )
    requests.post(
        f"{twilio.url}/v1/Porting/Configuration/Webhook",
        json={"port_in_target_url": hook_url, "notifications_of": []},
        auth=(SID, TOKEN),
        timeout=10,
    ).raise_for_status()
    receiver = webhook_receiver(config, wake=lambda: None, environ=ENVIRON)
    assert receiver is not None

    def mails() -> list[str]:
        return [str(d.message["Subject"]) for d in running.handler.to(CUSTOMER)]

    try:
        with bot(config) as intake:
            server.append(folder, [first(VERIZON)])
            intake.poll()
            [ticket] = tickets(em)
            tid = ticket["id"]
            assert "Portability (Twilio): +1303861440" in notes(em, tid)[0]
            assert len(mails()) == 1
            checked = [c for c in twilio.store.calls if "Portability" in c[1]]
            assert checked  # asked once per number ...
            intake.poll()
            assert [c for c in twilio.store.calls if "Portability" in c[1]] == checked  # ... cached

            # the agent approves; the create's answer is lost on the way back
            hook(twilio, "fault", path="/v1/Porting/PortIn", method="POST", mode="lost")
            set_field(em, config, tid, stage="port_stage_submitted")
            intake.poll()
            assert len(port_ins(twilio)) == 1  # made, but the bot does not know its SID

        with bot(config) as intake:  # a restart: the submission is resumed, not repeated
            intake.poll()
            [made] = port_ins(twilio)
            sid = made["port_in_request_sid"]
            created = [n for n in notes(em, tid) if "Port-in created at Twilio" in n]
            assert len(created) == 1 and sid in created[0]
            assert made["losing_carrier_information"]["customer_name"]
            assert made["target_port_in_date"] >= today(VERIZON)
            assert made["notification_emails"] == ["porting@lofty.com"]
            assert all(n["port_in_phone_number_status"] for n in made["phone_numbers"])
            fields, _ = ticket_now(em, config, tid)
            assert fields["stage"] == "port_stage_submitted"
            assert mails().count("Your number transfer has been submitted") == 1

            # unsigned and badly signed webhooks change nothing
            body = {"port_in_request_sid": sid, "status": "completed"}
            assert requests.post(hook_url, json=body, timeout=5).status_code == 403
            bad = {"X-Twilio-Signature": "AAAA"}
            assert requests.post(hook_url, json=body, headers=bad, timeout=5).status_code == 403
            report = intake.poll()
            assert not any("port-in" in e for e in report.events)
            assert receiver.refused == 2 and receiver.accepted == 0

            # the carrier rejects: wrong PIN; the customer is told what to fix
            hook(twilio, "advance", sid=sid, status="port_rejected", why="wrong_pin")
            assert [s["status"] for s in hook(twilio, "deliver")["sent"]] == [204] * len(
                made["phone_numbers"]
            )
            sent_before = len(mails())
            intake.poll()
            fields, tags = ticket_now(em, config, tid)
            assert fields["stage"] == "port_stage_request_received"
            assert any(t.startswith("port_rejected_") for t in tags)
            assert len(mails()) == sent_before + 1
            rejection = running.handler.to(CUSTOMER)[-1].message
            assert "PIN" in rejection.get_body(("plain",)).get_content()  # type: ignore[union-attr]
            intake.poll()
            assert len(mails()) == sent_before + 1  # once

            # resubmission: the agent approves again, a second port-in
            set_field(em, config, tid, stage="port_stage_submitted")
            intake.poll()
            second = [p for p in port_ins(twilio) if p["port_in_request_sid"] != sid]
            assert len(second) == 1
            sid2 = second[0]["port_in_request_sid"]
            assert ticket_now(em, config, tid)[0]["stage"] == "port_stage_submitted"

            # the date is set, then the port completes
            date = "2026-12-14"
            hook(twilio, "advance", sid=sid2, status="port_pending", date=date)
            hook(twilio, "deliver")
            intake.poll()
            fields, _ = ticket_now(em, config, tid)
            assert fields["stage"] == "port_stage_scheduled" and fields["porting_date"] == date
            hook(twilio, "advance", sid=sid2, status="completed")
            hook(twilio, "deliver")
            intake.poll()
            assert ticket_now(em, config, tid)[0]["stage"] == "port_stage_completed"
            final = len(mails())
            hook(twilio, "advance", sid=sid2, status="completed")  # a repeated event
            hook(twilio, "deliver")
            intake.poll()
            assert len(mails()) == final
            assert len(port_ins(twilio)) == 2
    finally:
        receiver.stop()


def test_without_webhooks_polling_carries_the_status_and_an_outage_leaves_portability_pending(
    server: LocalMail,
    em: Emulator,
    smtp: tuple[SmtpServer, list[str]],
    twilio: TwilioEmulator,
    tmp_path: Path,
) -> None:
    running, copies = smtp
    folder = copies[0] = new_folder()
    config = partner_config(
        stage_config(server, em, running, folder, tmp_path), twilio, poll_seconds=0
    )
    with bot(config) as intake:
        hook(twilio, "fault", status=503, count=100, path="/v1/Porting/Portability")
        server.append(folder, [first(VERIZON)])
        report = intake.poll()
        assert report.count("assessed") == 1  # intake did not wait
        [ticket] = tickets(em)
        tid = ticket["id"]
        assert "Portability check pending" in notes(em, tid)[0]
        twilio.faults.clear()
        set_field(em, config, tid, stage="port_stage_submitted")
        intake.poll()
        [made] = port_ins(twilio)
        hook(
            twilio,
            "advance",
            sid=made["port_in_request_sid"],
            status="port_pending",
            date="2026-12-15",
        )
        intake.poll()  # no webhook: the poll finds it
        fields, _ = ticket_now(em, config, tid)
        assert fields["stage"] == "port_stage_scheduled" and fields["porting_date"] == "2026-12-15"
