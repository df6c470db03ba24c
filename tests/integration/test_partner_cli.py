"""The carrier partner's commands (issue 17) against the Twilio and Zendesk emulators,
dovecot and a real SMTP server: `portbot submit` (dry run, JSON, once, refused when
not ready), `portbot carrier setup` (the webhook registered, idempotently) and
doctor's check of the partner's credentials."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
import requests

from bot.config import Config
from bot.standins.localmail import LocalMail
from bot.standins.twilio_emulator import TwilioEmulator
from bot.standins.zendesk_emulator import Emulator
from tests.conftest import FIXTURES
from tests.integration.mailbox_support import new_folder
from tests.integration.smtp_support import SmtpServer
from tests.integration.test_pipeline_partner import (
    CUSTOMER,
    SID,
    TOKEN,
    bot,
    partner_config,
    port_ins,
    twilio,  # noqa: F401 (a fixture)
)
from tests.integration.test_pipeline_stages import (
    VERIZON,
    _cli_config,
    first,
    stage_config,
    ticket_now,
    today,
)
from tests.integration.test_pipeline_zendesk import tickets

NOT_READY = FIXTURES / "09-missing-account-number-and-some-pins"
ACCOUNT, PIN = "842199307-00001", "4821"  # the Verizon request's, never printed


def cli_files(
    server: LocalMail,
    em: Emulator,
    running: SmtpServer,
    folder: str,
    tw: TwilioEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    webhook_url: str = "",
) -> tuple[Config, Path]:
    listen = {"webhook_listen": "127.0.0.1:9", "webhook_url": webhook_url} if webhook_url else {}
    config = partner_config(
        stage_config(server, em, running, folder, tmp_path), tw, poll_seconds=1e9, **listen
    )
    cli = _cli_config(server, em, config, folder, running, tmp_path / "portbot.toml")
    hooks = (
        f'webhook_listen = "127.0.0.1:9"\nwebhook_url = "{webhook_url}"\n' if webhook_url else ""
    )
    cli.write_text(
        cli.read_text()
        + f'\n[carrier]\naccount_sid = "{SID}"\napi_url = "{tw.url}"\nupload_url = "{tw.url}"\n'
        + 'notification_emails = ["porting@lofty.com"]\n'
        + hooks
    )
    monkeypatch.setenv("PORTBOT_ZENDESK_TOKEN", "emulator-token")
    monkeypatch.setenv("PORTBOT_TWILIO_AUTH_TOKEN", TOKEN)
    return config, cli


def test_submit_shows_the_port_in_then_submits_it_once_and_refuses_a_request_not_ready(
    server: LocalMail,
    em: Emulator,
    smtp: tuple[SmtpServer, list[str]],
    twilio: TwilioEmulator,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot.cli import main

    running, copies = smtp
    folder = copies[0] = new_folder()
    config, cli = cli_files(server, em, running, folder, twilio, tmp_path, monkeypatch)
    with bot(config) as intake:
        server.append(folder, [first(VERIZON)])
        intake.poll()
        server.append(folder, [first(NOT_READY)])
        intake.poll()
    by_requester = {t["requester_id"]: t["id"] for t in tickets(em)}
    ready, not_ready = sorted(by_requester.values())
    when = ["--now", today(VERIZON), "--config", str(cli)]
    capsys.readouterr()

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    # --dry-run: the port-in it would create, secrets masked; nothing sent or recorded
    code, out, _ = run("submit", str(ready), "--dry-run", *when)
    assert code == 0, out
    assert f"PR-000001 (ticket #{ready}): would create this port-in at Twilio" in out
    assert "+13038614400" in out and "PIN ••••" in out and "••••0001" in out
    assert "porting@lofty.com" in out
    code, js, _ = run("submit", str(ready), "--dry-run", "--json", *when)
    shown: dict[str, Any] = json.loads(js)
    assert code == 0 and shown["outcome"] == "would_create" and shown["dry_run"] is True
    assert {n["pin"] for n in shown["order"]["numbers"]} == {"••••"}
    for text in (out, js):
        assert PIN not in text and ACCOUNT not in text and "842199307" not in text
    assert port_ins(twilio) == [] and not twilio.store.documents
    assert ticket_now(em, config, ready)[0]["stage"] == "port_stage_request_received"

    # submitted in one step: bill uploaded, port-in created, stage moved, customer told
    code, out, _ = run("submit", str(ready), *when)
    assert code == 0
    [made] = port_ins(twilio)
    sid = made["port_in_request_sid"]
    assert f"port-in {sid} created at Twilio" in out
    assert made["losing_carrier_information"]["account_number"] == ACCOUNT
    assert ticket_now(em, config, ready)[0]["stage"] == "port_stage_submitted"
    subjects = [str(d.message["Subject"]) for d in running.handler.to(CUSTOMER)]
    assert subjects.count("Your number transfer has been submitted") == 1

    # exactly once: again, by ticket or request id, is nothing to do
    code, js, _ = run("submit", "PR-000001", "--json", *when)
    assert code == 0 and json.loads(js) | {"ticket": None} == {
        "request_id": "PR-000001",
        "ticket": None,
        "dry_run": False,
        "partner": "Twilio",
        "outcome": "already",
        "port_in_sid": sid,
    }
    assert len(port_ins(twilio)) == 1 and len(twilio.store.documents) == 1
    subjects = [str(d.message["Subject"]) for d in running.handler.to(CUSTOMER)]
    assert subjects.count("Your number transfer has been submitted") == 1

    # a request that is not ready: refused with the reason, nothing sent, stage kept
    code, _, err = run("submit", str(not_ready), "--now", today(NOT_READY), "--config", str(cli))
    assert code == 2
    assert f"PR-000002 (ticket #{not_ready}) is not submitted:" in err
    assert "not ready: account_number missing" in err
    code, js, _ = run(
        "submit", str(not_ready), "--json", "--now", today(NOT_READY), "--config", str(cli)
    )
    refused = json.loads(js)
    assert code == 2 and refused["outcome"] == "refused" and refused["reasons"]
    assert len(port_ins(twilio)) == 1
    assert ticket_now(em, config, not_ready)[0]["stage"] == "port_stage_request_received"
    code, _, err = run("submit", "99999", "--config", str(cli))
    assert code == 2 and "no porting request with ticket or id '99999'" in err


def test_carrier_setup_registers_the_webhook_once_and_doctor_checks_the_credentials(
    server: LocalMail,
    em: Emulator,
    smtp: tuple[SmtpServer, list[str]],
    twilio: TwilioEmulator,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot.cli import main

    running, copies = smtp
    folder = copies[0] = new_folder()
    url = "https://portbot.lofty.example/twilio/port-in"
    _, cli = cli_files(server, em, running, folder, twilio, tmp_path, monkeypatch, url)

    def carrier_checks() -> list[dict[str, Any]]:
        main(["doctor", "--json", "--config", str(cli)])
        checks = json.loads(capsys.readouterr().out)["checks"]
        return [c for c in checks if "Twilio" in c["text"]]

    def registered() -> Any:
        r = requests.get(
            f"{twilio.url}/v1/Porting/Configuration/Webhook", auth=(SID, TOKEN), timeout=10
        )
        return r.json()["port_in_target_url"]

    before = carrier_checks()
    assert [c["ok"] for c in before] == [True, True, False]
    assert f"logged in to Twilio at {twilio.url} as account {SID}" in before[1]["text"]
    assert "run `portbot carrier setup`" in before[2]["text"]

    assert main(["carrier", "setup", "--config", str(cli)]) == 0
    assert f"Twilio's port-in webhooks now go to {url}" in capsys.readouterr().out
    assert registered() == url
    calls = len(twilio.store.calls)
    assert main(["carrier", "setup", "--json", "--config", str(cli)]) == 0
    assert json.loads(capsys.readouterr().out) == {"webhook_url": url, "changed": False, "was": url}
    assert [c[0] for c in twilio.store.calls[calls:]] == ["GET"]  # looked, changed nothing
    assert all(c["ok"] for c in carrier_checks())

    # somebody pointed it elsewhere: set back, saying what it was
    requests.post(
        f"{twilio.url}/v1/Porting/Configuration/Webhook",
        json={"port_in_target_url": "https://old.example/hook"},
        auth=(SID, TOKEN),
        timeout=10,
    ).raise_for_status()
    assert main(["carrier", "setup", "--config", str(cli)]) == 0
    assert "(was https://old.example/hook)" in capsys.readouterr().out
    assert registered() == url

    # a wrong token: doctor says the partner refused it, with a real call
    monkeypatch.setenv("PORTBOT_TWILIO_AUTH_TOKEN", "not-the-token")
    [found, refused] = carrier_checks()
    assert found["ok"] and not refused["ok"]
    assert f"did not accept account {SID} with the auth token" in refused["text"]
    assert "20003" in refused["text"]


def test_portbot_submit_killed_between_the_upload_and_the_create_makes_one_port_in(
    server: LocalMail,
    em: Emulator,
    smtp: tuple[SmtpServer, list[str]],
    twilio: TwilioEmulator,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """kill -9 of a real `portbot submit` process: the bill is uploaded, the create call
    is on its way (the emulator holds it, undone), the process dies. Run again, it makes
    exactly one port-in and reuses the uploaded bill."""
    import os
    import signal
    import subprocess
    import sys

    from tests.conftest import ROOT

    running, copies = smtp
    folder = copies[0] = new_folder()
    config, cli = cli_files(server, em, running, folder, twilio, tmp_path, monkeypatch)
    with bot(config) as intake:
        server.append(folder, [first(VERIZON)])
        intake.poll()
    [ticket] = tickets(em)
    argv = [sys.executable, "-m", "bot.cli", "submit", str(ticket["id"]), "--now", today(VERIZON)]
    argv += ["--config", str(cli)]

    def state() -> dict[str, Any]:
        r = requests.get(f"{twilio.url}/__emulator__/state", timeout=10)
        return dict(r.json())

    requests.post(
        f"{twilio.url}/__emulator__/fault",
        json={"path": "/v1/Porting/PortIn", "method": "POST", "mode": "hold"},
        timeout=10,
    ).raise_for_status()
    doomed = subprocess.Popen(argv, cwd=ROOT, env=os.environ.copy(), stderr=subprocess.PIPE)
    try:
        # a sign, not a sleep: the emulator holds the create, the bill already uploaded
        while state()["held"] == 0:
            assert doomed.poll() is None, doomed.stderr.read() if doomed.stderr else ""
            threading.Event().wait(0.02)
        assert len(state()["documents"]) == 1 and state()["port_ins"] == []
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(60)
    finally:
        requests.post(f"{twilio.url}/__emulator__/release", json={}, timeout=10)
    assert doomed.returncode == -signal.SIGKILL

    again = subprocess.run(argv, cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    after = state()
    assert len(after["port_ins"]) == 1  # exactly one, made by the second run
    assert len(after["documents"]) == 1  # the bill uploaded before the kill, reused
    twice = subprocess.run(argv, cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True)
    assert twice.returncode == 0 and len(port_ins(twilio)) == 1  # and a third run adds none
