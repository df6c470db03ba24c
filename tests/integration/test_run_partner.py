"""`portbot run` with `[carrier] webhook_listen` (issue 17), as a real process: the
receiver listens where the configuration says, a signed webhook from the Twilio
emulator wakes a cycle (the scheduled poll is an hour away, the partner's polling
off), the stage change is applied and the customer told once; SIGTERM stops both."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from bot.standins.localmail import LocalMail
from bot.standins.twilio_emulator import TwilioEmulator
from bot.standins.zendesk_emulator import Emulator
from tests.conftest import ROOT
from tests.integration.mailbox_support import message, new_folder
from tests.integration.pipeline_support import emulator
from tests.integration.smtp_support import SmtpServer
from tests.integration.test_mailbox import _Lines
from tests.integration.test_pipeline_partner import (
    CUSTOMER,
    ENVIRON,
    SID,
    TOKEN,
    bot,
    free_port,
    hook,
    partner_config,
    port_ins,
    twilio,  # noqa: F401 (a fixture)
)
from tests.integration.test_pipeline_stages import (
    VERIZON,
    _cli_config,
    first,
    set_field,
    stage_config,
    ticket_now,
)
from tests.integration.test_pipeline_zendesk import tickets


@pytest.fixture()
def em(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    yield from emulator(monkeypatch)  # (its ZENPY_* variables reach the child too)


def carrier_toml(tw: TwilioEmulator, listen: str, url: str) -> str:
    return textwrap.dedent(f"""
        [carrier]
        account_sid = "{SID}"
        api_url = "{tw.url}"
        upload_url = "{tw.url}"
        notification_emails = ["porting@lofty.com"]
        poll_seconds = 1e9
        webhook_listen = "{listen}"
        webhook_url = "{url}"
    """)


def test_portbot_run_receives_a_signed_webhook_and_applies_it_at_once(
    server: LocalMail,
    em: Emulator,
    smtp: tuple[SmtpServer, list[str]],
    twilio: TwilioEmulator,  # noqa: F811
    tmp_path: Path,
) -> None:
    running, copies = smtp
    folder = copies[0] = new_folder()
    port = free_port()
    listen, hook_url = f"127.0.0.1:{port}", f"http://127.0.0.1:{port}/twilio/port-in"
    config = partner_config(
        stage_config(server, em, running, folder, tmp_path),
        twilio,
        webhook_listen=listen,
        webhook_url=hook_url,
        poll_seconds=1e9,
    )
    cli = _cli_config(server, em, config, folder, running, tmp_path / "portbot.toml")
    cli.write_text(
        cli.read_text().replace("poll_seconds = 60.0", "poll_seconds = 3600")
        + carrier_toml(twilio, listen, hook_url)
    )
    requests.post(
        f"{twilio.url}/v1/Porting/Configuration/Webhook",
        json={"port_in_target_url": hook_url, "notifications_of": []},
        auth=(SID, TOKEN),
        timeout=10,
    ).raise_for_status()

    # the request arrives and an agent approves it: the port-in exists (in-process)
    with bot(config) as intake:
        server.append(folder, [first(VERIZON)])
        intake.poll()
        [ticket] = tickets(em)
        tid = ticket["id"]
        set_field(em, config, tid, stage="port_stage_submitted")
        intake.poll()
    [made] = port_ins(twilio)
    sid = made["port_in_request_sid"]
    assert ticket_now(em, config, tid)[0]["stage"] == "port_stage_submitted"
    sent_before = len(running.handler.to(CUSTOMER))

    server.append(folder, [message(1)])  # the first cycle's sign that it is done
    child = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--config", str(cli)],
        cwd=ROOT,
        env={**os.environ, **ENVIRON},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert child.stderr is not None
    err = _Lines(child.stderr)
    try:
        err.wait_for(f"webhooks: listening on http://{listen}")
        err.wait_for("poll: 1 assessed")  # the first cycle (its ticks ran first) is over

        # the carrier sets the date; the emulator posts its signed webhooks
        date = (dt.date.today() + dt.timedelta(days=21)).isoformat()
        hook(twilio, "advance", sid=sid, status="port_pending", date=date)
        sent = hook(twilio, "deliver")["sent"]
        assert sent and all(s["status"] == 204 for s in sent)  # answered before applied
        # a cycle woken by the webhook (the hourly poll is far), the change applied
        err.wait_for(f"cycle: port-in {sid}: submitted -> scheduled")
        fields, _ = ticket_now(em, config, tid)
        assert fields["stage"] == "port_stage_scheduled" and fields["porting_date"] == date
        assert len(running.handler.to(CUSTOMER)) == sent_before + 1

        # unsigned: refused by the running receiver, nothing queued
        body = {"port_in_request_sid": sid, "status": "completed"}
        assert requests.post(hook_url, json=body, timeout=5).status_code == 403
    finally:
        child.send_signal(signal.SIGTERM)
        code = child.wait(timeout=60)
    text = err.text()
    assert code == 0, text
    assert "stopped" in text and "Traceback" not in text
    with pytest.raises(requests.ConnectionError):  # the receiver is gone with the process
        requests.post(hook_url, json={}, timeout=5)
    assert ticket_now(em, config, tid)[0]["stage"] == "port_stage_scheduled"
    assert len(running.handler.to(CUSTOMER)) == sent_before + 1
