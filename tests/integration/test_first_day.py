"""The first day of a support lead (issue 16), step by step against real parts: the
local dovecot, a real SMTP server (aiosmtpd with STARTTLS and AUTH), the Zendesk
emulator, and `portbot` run as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bot.cli import main
from bot.cli.commands import print_report
from bot.pipeline.intake import CycleReport, Handled
from bot.standins.localmail import LocalMail
from bot.standins.zendesk_emulator import Emulator
from tests.conftest import FIXTURES, ROOT
from tests.integration.mailbox_support import new_folder, toml_config
from tests.integration.smtp_support import USER, Handler, SmtpServer, free_port
from tests.integration.test_pipeline_reply import SUPPORT, app
from tests.integration.test_pipeline_stages import _cli_config, first, stage_config, today
from tests.integration.test_pipeline_zendesk import tickets

PORTBOT = [sys.executable, "-m", "bot.cli"]
MISSING = FIXTURES / "10-missing-name-address-bill-loa"


def portbot(*words: str, cwd: Path | None = None, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    """`portbot WORDS` as a user runs it: its own process, stdout and stderr apart."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PORTBOT_")}
    environ.update(env or {})
    environ["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [*PORTBOT, *words],
        cwd=cwd or ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def smtp_toml(smtp: SmtpServer, *, port: int | None = None) -> str:
    return textwrap.dedent(f"""
        [smtp]
        host = "127.0.0.1"
        port = {port or smtp.port}
        ca_file = "{smtp.cert_file}"
        username = "{USER}"
        password_file = "{smtp.password_file}"
        [reply]
        support_address = "{SUPPORT}"
    """)


# -- 1. doctor connects: SMTP, a test email, the round trip -----------------------------


def test_doctor_finds_an_smtp_server_that_does_not_exist(
    server: LocalMail, smtp: tuple[SmtpServer, list[str]], tmp_path: Path
) -> None:
    running, copies = smtp
    folder = copies[0] = new_folder()
    server.append(folder, [])
    config = tmp_path / "portbot.toml"
    config.write_text(
        toml_config(server, folder, tmp_path / "state.db") + smtp_toml(running, port=free_port())
    )
    done = portbot("doctor", "--config", str(config))
    assert done.returncode == 1, done.stdout
    assert "PROBLEM SMTP 127.0.0.1" in done.stdout and "all good" not in done.stdout


def test_doctor_logs_in_to_smtp_sends_a_test_and_makes_the_round_trip(
    server: LocalMail, smtp: tuple[SmtpServer, list[str]], tmp_path: Path
) -> None:
    running, copies = smtp
    folder = copies[0] = new_folder()
    server.append(folder, [])
    config = tmp_path / "portbot.toml"
    config.write_text(toml_config(server, folder, tmp_path / "state.db") + smtp_toml(running))
    done = portbot(
        "doctor", "--config", str(config), "--send-test", "lead@ourco.example", "--round-trip"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "connected, EHLO, STARTTLS, logged in as portbot" in done.stdout
    assert "test email sent to lead@ourco.example" in done.stdout
    assert f"round trip: a test message to {SUPPORT} arrived in '{folder}'" in done.stdout
    [test] = running.handler.to("lead@ourco.example")
    assert test.message["Subject"] == "portbot doctor: test email"
    assert test.message["Auto-Submitted"] == "auto-generated"
    with server.client() as client:  # the round trip's message is cleaned up
        client.select_folder(folder)
        assert client.search(["ALL"]) == []


def test_doctor_json_is_one_document_with_every_check(
    server: LocalMail, smtp: tuple[SmtpServer, list[str]], tmp_path: Path
) -> None:
    running, copies = smtp
    folder = copies[0] = new_folder()
    server.append(folder, [])
    config = tmp_path / "portbot.toml"
    config.write_text(toml_config(server, folder, tmp_path / "state.db") + smtp_toml(running))
    done = portbot("doctor", "--json", "--config", str(config))
    document = json.loads(done.stdout)
    assert done.returncode == 0 and document["ok"] is True and document["problems"] == 0
    texts = [c["text"] for c in document["checks"]]
    assert any(t.startswith(f"logged in to {server.host}") for t in texts)
    assert any("is new" in t for t in texts)


# -- 2. no TLS: say what to do; plain only on loopback ----------------------------------


def test_tls_to_a_starttls_port_says_which_settings_to_change(
    server: LocalMail, tmp_path: Path
) -> None:
    config = tmp_path / "portbot.toml"
    text = toml_config(server, "INBOX", tmp_path / "state.db")
    config.write_text(text.replace(f"port = {server.tls_port}", f"port = {server.plain_port}"))
    done = portbot("doctor", "--config", str(config))
    assert done.returncode == 1
    assert "TLS handshake failed" in done.stdout and "[imap] port and security" in done.stdout


def test_an_smtp_server_without_starttls_is_explained(tmp_path: Path) -> None:
    from aiosmtpd.controller import Controller

    from bot.adapters.smtp import SmtpMailer, SmtpSettings
    from bot.errors import MailRejected

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        mailer = SmtpMailer(SmtpSettings(host="127.0.0.1", port=port, security="starttls"))
        with pytest.raises(MailRejected, match=r'does not offer STARTTLS.*security = "tls"'):
            mailer.probe()
        # plain SMTP is allowed on loopback
        plain = SmtpMailer(SmtpSettings(host="127.0.0.1", port=port, security="plain"))
        assert plain.probe().startswith("connected, EHLO")
    finally:
        controller.stop()


def test_plain_imap_or_smtp_is_refused_off_loopback(tmp_path: Path) -> None:
    config = tmp_path / "portbot.toml"
    config.write_text('[imap]\nhost = "mail.example.com"\nsecurity = "plain"\n')
    done = portbot("doctor", "--config", str(config))
    assert done.returncode == 2
    assert 'security = "plain" (no TLS) is allowed only for a server on this machine' in (
        done.stderr
    )
    assert done.stderr.count("\n") == 1


# -- 3. a wrong IMAP password: decoded, the setting named, no library INFO line ----------


def test_a_wrong_imap_password_names_the_file_to_fix(server: LocalMail, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong-password"
    wrong.write_text("not-the-password\n")
    config = tmp_path / "portbot.toml"
    text = toml_config(server, "INBOX", tmp_path / "state.db")
    config.write_text(text.replace(str(server.password_file), str(wrong)))
    done = portbot("doctor", "--config", str(config))
    assert done.returncode == 1
    assert "login refused: [AUTHENTICATIONFAILED]" in done.stdout
    assert f"the password in [imap] password_file ({wrong})" in done.stdout
    assert "b'" not in done.stdout and "imapclient" not in done.stderr
    assert done.stderr == ""


# -- 5. relative paths from the config file's folder; a new state file is said -----------


def test_the_state_path_is_taken_from_the_config_files_folder(
    server: LocalMail, tmp_path: Path
) -> None:
    folder = new_folder()
    server.append(folder, [])
    home, elsewhere = tmp_path / "etc", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    config = home / "portbot.toml"
    config.write_text(
        toml_config(server, folder, Path("x")).replace('path = "x"', 'path = "state.sqlite3"')
    )
    done = portbot("doctor", "--config", str(config), cwd=elsewhere)
    assert done.returncode == 0, done.stdout
    assert f"state file {home / 'state.sqlite3'} is new" in done.stdout
    assert not (elsewhere / "state.sqlite3").exists()
    assert portbot("poll", "--config", str(config), cwd=elsewhere).returncode == 0
    assert (home / "state.sqlite3").exists() and not (elsewhere / "state.sqlite3").exists()
    again = portbot("doctor", "--config", str(config), cwd=tmp_path)
    assert f"state file {home / 'state.sqlite3'}: 0 assessed" in again.stdout


# -- 6. a request that is not ready is not submitted without --force --reason -----------


def test_submitting_a_request_that_is_not_ready_needs_force_and_a_reason(
    server: LocalMail,
    em: Emulator,
    smtp: tuple[SmtpServer, list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    running, copies = smtp
    folder = copies[0] = new_folder()
    config = stage_config(server, em, running, folder, tmp_path)
    cli = _cli_config(server, em, config, folder, running, tmp_path / "portbot.toml")
    monkeypatch.setenv("PORTBOT_ZENDESK_TOKEN", "emulator-token")
    with app(config, today(MISSING)) as intake:
        server.append(folder, [first(MISSING)])
        intake.poll()
        [ticket] = tickets(em)
        tid = str(ticket["id"])
        capsys.readouterr()
        assert main(["stage", tid, "submitted", "--config", str(cli)]) == 2
        err = capsys.readouterr().err
        assert "is not ready for the carrier (missing or wrong:" in err
        assert "--force --reason" in err
        assert main(["stage", tid, "submitted", "--force", "--config", str(cli)]) == 2
        capsys.readouterr()
        assert (
            main(
                [
                    "stage",
                    tid,
                    "submitted",
                    "--force",
                    "--reason",
                    "carrier confirmed by phone",
                    "--json",
                    "--config",
                    str(cli),
                ]
            )
            == 0
        )
        out = capsys.readouterr().out
        document = json.loads(out[out.index("{") :])
        assert document["to"] == "submitted"
        assert "forced by" in document["detail"]
        assert "carrier confirmed by phone" in document["detail"]
        [change] = intake.state.stage_changes(document["request_id"])[-1:]
        assert "forced by" in change.note or "forced by" in json.dumps(change.__dict__, default=str)


# -- 7. a dry run says "would" ----------------------------------------------------------


def test_a_dry_run_report_says_would(capsys: pytest.CaptureFixture[str]) -> None:
    report = CycleReport()
    report.handled.append(Handled("INBOX", 7, "<m@x>", "assessed", "request", "PR-000001"))
    print_report(report, {"PR-000001": 900001}, dry_run=True)
    out = capsys.readouterr().out
    assert "INBOX uid 7 <m@x> would be assessed PR-000001" in out
    assert "#900001" not in out and "would be handed on" in out


# -- 8. --version, help, where the configuration is found --------------------------------


def test_version_help_and_config_discovery(tmp_path: Path) -> None:
    version = portbot("--version")
    assert version.returncode == 0 and version.stdout.startswith("portbot ")
    helped = portbot("--help").stdout
    for name in ("assess", "run", "poll", "replay", "stage", "doctor", "zendesk"):
        assert any(line.strip().startswith(name + " ") for line in helped.splitlines()), name
    assert "PORTBOT_CONFIG" in helped
    nowhere = portbot("doctor", cwd=tmp_path)
    assert nowhere.returncode == 2 and "no configuration: give --config FILE" in nowhere.stderr
    (tmp_path / "portbot.toml").write_text("[policy]\nbill_max_age = 1\n")
    local = portbot("doctor", cwd=tmp_path)
    assert "[policy] has unknown key(s): bill_max_age" in local.stderr
    named = tmp_path / "named.toml"
    named.write_text("[polcy]\n")
    by_variable = portbot("doctor", cwd=tmp_path, env={"PORTBOT_CONFIG": str(named)})
    assert "unknown section(s): polcy" in by_variable.stderr


# -- 9. machine-readable output ------------------------------------------------------------


def test_poll_and_replay_list_print_one_json_document(server: LocalMail, tmp_path: Path) -> None:
    folder = new_folder()
    server.append(folder, [b"not an email at all"])
    config = tmp_path / "portbot.toml"
    config.write_text(toml_config(server, folder, tmp_path / "state.db"))
    polled = portbot("poll", "--json", "--config", str(config))
    assert polled.stdout.startswith("{"), polled.stderr
    document = json.loads(polled.stdout)
    assert polled.returncode == 0
    assert [m["outcome"] for m in document["messages"]] == ["quarantined"]
    listed = json.loads(portbot("replay", "--list", "--json", "--config", str(config)).stdout)
    [entry] = listed["entries"]
    assert entry["folder"] == folder and entry["reason"]
    text = portbot("replay", "--list", "--config", str(config)).stdout
    assert text.splitlines()[0].startswith("ID\tRECORDED")
