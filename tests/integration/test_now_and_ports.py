"""`--now` on `poll`, `run --once` and `stage`, and `portbot ports`, run as the support
lead runs them (bot.cli.main) against the local dovecot, the Zendesk emulator and a real
SMTP server: reminders and stale marks come on the days they should, a dry run with
`--now` previews tomorrow's reminder and writes nothing, a live mailbox refuses `--now`
without `--dry-run`; no sleeps, no wall clock in any assertion."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.standins.localmail import LocalMail
from bot.standins.zendesk_emulator import Emulator
from tests.conftest import FIXTURES
from tests.integration.mailbox_support import new_folder
from tests.integration.smtp_support import SmtpServer
from tests.integration.test_pipeline_stages import (
    _cli_config,
    first,
    notes,
    stage_config,
    ticket_now,
)
from tests.integration.test_pipeline_zendesk import TOKEN, tickets

THREAD = FIXTURES / "27-loa-numbers-missing"  # assessed on 2026-11-22, LOA numbers missing
CUSTOMER = "sgraves@prairiewindins.com"


def test_reminders_and_stale_marks_on_the_days_given_with_now(
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
    path = _cli_config(server, em, config, folder, running, tmp_path / "portbot.toml")
    with path.open("a") as f:
        f.write("[reminders]\nremind_after_days = 3\nstale_after_days = 4\nmax_reminders = 1\n")
        f.write("[stages]\nsync_seconds = 0\n")
    monkeypatch.setenv("PORTBOT_ZENDESK_TOKEN", TOKEN)
    cli = ["--config", str(path)]

    def run(*words: str) -> tuple[int, str]:
        capsys.readouterr()
        code = main([*words, *cli])
        return code, capsys.readouterr().out

    def ports(now: str, *more: str) -> list[dict[str, Any]]:
        code, out = run("ports", "--json", "--now", now, *more)
        assert code == 0
        return list(json.loads(out)["ports"])

    def sent() -> list[str]:
        return [str(d.message["Subject"]) for d in running.handler.to(CUSTOMER)]

    server.append(folder, [first(THREAD)])
    assert run("poll", "--now", "2026-11-22T09:00:00+00:00")[0] == 0
    [ticket] = tickets(em)
    tid = ticket["id"]
    assert len(sent()) == 1  # the auto-reply: what is missing
    [line] = ports("2026-11-22T09:00:00+00:00")
    assert line["stage"] == "request_received" and line["days_in_stage"] == 0
    assert line["ticket"] == tid and "loa_numbers_missing" in line["problems"]

    assert run("poll", "--now", "2026-11-24T09:00:00+00:00")[0] == 0
    assert len(sent()) == 1  # two days of silence: not yet

    # the support lead previews tomorrow's cycle: the reminder is shown, nothing is written
    code, out = run("poll", "--dry-run", "--now", "2026-11-25T12:00:00+00:00")
    assert code == 0
    assert "would SEND this email:" in out and "friendly reminder" in out
    assert f"would add to ticket #{tid}:" in out and "Reminder 1 of 1" in out
    assert len(sent()) == 1 and not any("Reminder" in n for n in notes(em, tid))

    # the day comes: the same reminder, once, as a real cycle of `run --once`
    assert run("run", "--once", "--now", "2026-11-25T12:00:00+00:00")[0] == 0
    assert len(sent()) == 2
    reminder = running.handler.to(CUSTOMER)[-1]
    assert "friendly reminder" in reminder.text()
    assert reminder.message["Auto-Submitted"] == "auto-generated"
    assert "Reminder 1 of 1" in notes(em, tid)[-1]
    assert run("poll", "--now", "2026-11-26T12:00:00+00:00")[0] == 0
    assert len(sent()) == 2  # one reminder at most
    assert "port_stale" not in ticket_now(em, config, tid)[1]

    # four days after the reminder: stale, on the ticket and in `portbot ports`
    assert run("poll", "--now", "2026-11-29T13:00:00+00:00")[0] == 0
    assert "port_stale" in ticket_now(em, config, tid)[1]
    [line] = ports("2026-11-29T13:00:00+00:00")
    assert line["stale"] and line["days_in_stage"] == 7
    code, out = run("ports", "--now", "2026-11-29T13:00:00+00:00")
    assert f"PR-000001\t#{tid}\trequest_received\t7\t" in out
    assert "stale (no answer after the reminders)" in out and "1 port(s)" in out

    # an agent submits it by phone on 1 December; two days later it has been 2 days
    code, out = run(
        "stage",
        str(tid),
        "submitted",
        "--force",
        "--reason",
        "customer confirmed the numbers by phone",
        "--now",
        "2026-12-01T10:00:00+00:00",
    )
    assert code == 0, out
    [line] = ports("2026-12-03T11:00:00+00:00", "--stage", "submitted")
    assert line["days_in_stage"] == 2 and line["since"] == "2026-12-01T10:00:00+00:00"
    assert line["missing"] == [] and line["problems"] == [] and not line["stale"]
    assert ports("2026-12-03T11:00:00+00:00", "--stage", "request-received") == []
    assert sent()[-1] == "Your number transfer has been submitted"


def test_now_is_refused_with_a_live_mailbox_unless_dry_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    path = tmp_path / "portbot.toml"
    path.write_text(
        '[imap]\nhost = "imap.example.com"\nusername = "support@example.com"\n'
        f'[state]\npath = "{tmp_path / "state.db"}"\n'
    )
    for words in (
        ["poll", "--now", "2026-12-01T09:00"],
        ["run", "--once", "--now", "2026-12-01T09:00"],
        ["stage", "1", "submitted", "--now", "2026-12-01T09:00"],
    ):
        assert main([*words, "--config", str(path)]) == 2
        err = capsys.readouterr().err
        assert "with the live mailbox at imap.example.com: refused" in err
        assert ("add --dry-run" in err) == (words[0] != "stage")
    with pytest.raises(SystemExit):  # argparse: not a date-time
        main(["poll", "--now", "tomorrow", "--config", str(path)])


def test_ports_lists_a_rejection_waiting_on_the_customer(
    server: LocalMail,
    em: Emulator,
    smtp: tuple[SmtpServer, list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot.cli import main
    from tests.integration.test_pipeline_stages import ACME

    running, copies = smtp
    folder = copies[0] = new_folder()
    config = stage_config(server, em, running, folder, tmp_path)
    path = _cli_config(server, em, config, folder, running, tmp_path / "portbot.toml")
    monkeypatch.setenv("PORTBOT_ZENDESK_TOKEN", TOKEN)
    cli = ["--config", str(path)]
    server.append(folder, [first(ACME)])
    assert main(["poll", "--now", "2026-11-27T09:00:00+00:00", *cli]) == 0
    assert (
        main(["stage", "PR-000001", "submitted", "--now", "2026-11-28T09:00:00+00:00", *cli]) == 0
    )
    assert (
        main(
            [
                "stage",
                "PR-000001",
                "rejected",
                "--reason",
                "Port-out PIN does not match for 5124762211",
                "--now",
                "2026-11-30T09:00:00+00:00",
                *cli,
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["ports", "--json", "--now", "2026-12-02T10:00:00+00:00", *cli]) == 0
    [line] = json.loads(capsys.readouterr().out)["ports"]
    assert line["stage"] == "request_received" and line["days_in_stage"] == 2
    assert line["rejection"] == "Port-out PIN does not match for 5124762211"
    assert main(["ports", "--now", "2026-12-02T10:00:00+00:00", *cli]) == 0
    assert "rejected: Port-out PIN does not match for 5124762211" in capsys.readouterr().out


def test_doctor_settles_an_unmatched_notice_once_its_ticket_is_solved(
    server: LocalMail,
    em: Emulator,
    smtp: tuple[SmtpServer, list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import requests

    from bot.cli import main
    from tests.integration.test_pipeline_stages import notice
    from tests.integration.test_pipeline_zendesk import AUTH

    running, copies = smtp
    folder = copies[0] = new_folder()
    config = stage_config(server, em, running, folder, tmp_path)
    path = _cli_config(server, em, config, folder, running, tmp_path / "portbot.toml")
    monkeypatch.setenv("PORTBOT_ZENDESK_TOKEN", TOKEN)
    server.append(folder, [notice("telnyx-05-cancelled.eml")])
    assert main(["poll", "--config", str(path)]) == 0

    def ports_check() -> dict[str, Any]:
        capsys.readouterr()
        main(["doctor", "--json", "--config", str(path)])
        checks = json.loads(capsys.readouterr().out)["checks"]
        return next(c for c in checks if str(c["text"]).startswith("ports:"))

    check = ports_check()
    assert not check["ok"] and "1 carrier notice(s) matched to no single request" in check["text"]
    [ticket] = tickets(em)
    requests.put(
        f"{em.url}/api/v2/tickets/{ticket['id']}.json",
        auth=AUTH,
        json={"ticket": {"status": "solved"}},
        timeout=10,
    ).raise_for_status()
    check = ports_check()  # an agent dealt with it: settled, no longer a problem
    assert check["ok"] and "0 carrier notice(s)" in check["text"]
    assert "(1 settled: their tickets are solved)" in check["text"]
