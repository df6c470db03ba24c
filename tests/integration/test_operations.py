"""Operations end to end, on a real dovecot, the Zendesk emulator and a real SMTP server:

- `portbot run` with metrics on: /metrics reports the counts the fixture run produced,
  /healthz turns 503 while the IMAP server is stopped and 200 once it is back;
- `portbot poll --dry-run` prints the tickets, notes and replies and leaves the
  mailbox, the state file, the emulator and the SMTP server exactly as they were;
- `portbot poll` with DEBUG logs: no fixture's secret in any log line;
- a backlog of one request gets one reply; `[imap] start = "new"` and `--backlog`.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from bot.adapters.sqlite_state import SqliteStateStore
from bot.app import build_app
from bot.cli import main
from bot.config import Config
from bot.standins.localmail import LocalMail, dovecot_binary, local_dovecot
from bot.standins.zendesk_emulator import Emulator
from parsers.email import parse_message
from tests.conftest import FIXTURES, ROOT
from tests.integration.mailbox_support import new_folder, toml_config
from tests.integration.smtp_support import USER, Handler, SmtpServer, smtp_server
from tests.integration.test_pipeline_reply import reply_config
from tests.integration.test_pipeline_zendesk import (
    ENV,
    Today,
    comments,
    config_for,
    tickets,
    toml_with_zendesk,
    zendesk_config,
)
from tests.unit.bot.test_logs import _expected_secrets, _leak_pattern

SUPPORT = "support@lofty.com"
JUNK = b"this is not an email at all\r\n"
TELUS = "07-ready-telus-followups-supply-loa-and-pin"  # three messages: bill, LOA, PIN


def _emls(name: str) -> list[bytes]:
    return [p.read_bytes() for p in sorted((FIXTURES / name).glob("*.eml"))]


@pytest.fixture()
def smtp(tmp_path: Path) -> Iterator[tuple[SmtpServer, dict[str, Any]]]:
    """The SMTP server; copies to support@ go to `where["deliver"]` (set by the test)."""
    where: dict[str, Any] = {"deliver": lambda raw: None}
    handler = Handler(local=SUPPORT, deliver_local=lambda raw: where["deliver"](raw))
    with smtp_server(tmp_path, handler) as running:
        yield running, where


def _smtp_toml(smtp: SmtpServer) -> str:
    return f"""
[smtp]
host = "127.0.0.1"
port = {smtp.port}
security = "starttls"
ca_file = "{smtp.cert_file}"
username = "{USER}"
password_file = "{smtp.password_file}"
timeout_seconds = 10

[reply]
support_address = "{SUPPORT}"
support_name = "Lofty Porting Team"
domain = "lofty.com"
internal_domains = ["lofty.com"]
copy_to = "{SUPPORT}"
"""


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=ROOT,
        env={**os.environ, **ENV},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


def _samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    _, body = _get(f"{url}/metrics")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


def _total(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return sum(
        v
        for (n, ls), v in samples.items()
        if n == name and all((k, v2) in ls for k, v2 in labels.items())
    )


def _wait(
    what: str,
    check: Callable[[], bool],
    seconds: float,
    bot: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        if bot is not None and bot.poll() is not None:
            break
        time.sleep(0.25)
    tail = log.read_text()[-3000:] if log is not None and log.exists() else ""
    pytest.fail(f"{what} did not happen within {seconds} s\n{tail}")


# -- a TCP forwarder: the IMAP server the bot knows, whichever dovecot is behind it ----


class Forwarder:
    def __init__(self) -> None:
        self.target: int | None = None
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                if self.target is None:
                    raise OSError("no server")
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                client.close()  # the server is down: the connection is refused
                continue
            self.open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.target = None
        for s in self.open:
            with contextlib.suppress(OSError):
                s.close()
        self.open.clear()

    def close(self) -> None:
        self.cut()
        self.listener.close()


@pytest.fixture
def mail_root() -> Iterator[Path]:
    if dovecot_binary() is None:
        pytest.skip("dovecot is not installed (Debian: apt-get install dovecot-imapd)")
    root = Path(tempfile.mkdtemp(prefix="portbot-ops-"))  # dovecot's users must reach it
    yield root
    shutil.rmtree(root, ignore_errors=True)


RUN_THREADS = [
    "01-ready-att-acme-csv",
    "04-ready-spectrum-ssn-xlsx",
    TELUS,
    "20-bill-unreadable-encrypted",
    "29-follow-up-boss",
    "ocr-01-scanned-bill-and-loa-jpeg",
]


def test_portbot_run_serves_the_fixture_runs_counts_and_health_follows_the_imap_server(
    mail_root: Path, em: Emulator, smtp: tuple[SmtpServer, dict[str, Any]], tmp_path: Path
) -> None:
    running, where = smtp
    raws = [raw for name in RUN_THREADS for raw in _emls(name)] + [JUNK]
    forwarder = Forwarder()
    metrics_port = socket.create_server(("127.0.0.1", 0))
    port = metrics_port.getsockname()[1]
    metrics_port.close()
    url = f"http://127.0.0.1:{port}"
    state = tmp_path / "state.db"
    log = tmp_path / "bot.log"
    try:
        with local_dovecot(mail_root) as first:
            folder = new_folder()
            first.append(folder, raws)
            where["deliver"] = lambda raw: first.append(folder, [raw])
            forwarder.target = first.tls_port
            text = toml_with_zendesk(first, em, folder, state, zendesk_config(em))
            text = text.replace(f"port = {first.tls_port}", f"port = {forwarder.port}")
            text = text.replace("poll_seconds = 60.0", "poll_seconds = 1")
            text += (
                _smtp_toml(running)
                + f"""
[metrics]
port = {port}
stall_after_seconds = 120
unreachable_after_seconds = 3

[logging]
format = "json"
"""
            )
            config = tmp_path / "portbot.toml"
            config.write_text(text)
            with log.open("wb") as err:
                bot = subprocess.Popen(
                    [sys.executable, "-m", "bot.cli", "run", "--config", str(config)],
                    cwd=ROOT,
                    env={**os.environ, **ENV},
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                )
            try:
                _wait(
                    "the fixture run",
                    lambda: _total(_samples(url), "portbot_messages_total") >= len(raws),
                    240,
                    bot,
                    log,
                )
                _wait(
                    "a quiet poll after it",
                    lambda: _total(_samples(url), "portbot_polls_total", result="ok") >= 3,
                    30,
                    bot,
                    log,
                )
                samples = _samples(url)
                copy = SqliteStateStore(state, in_memory_copy=True)
                outcomes = [row[4] for row in copy.outcomes()]
                ports = copy.ports()
                replies = copy.reply_counts()
                copy.close()
                assert outcomes.count("assessed") == len(raws) - 1
                for outcome in ("assessed", "quarantined", "duplicate", "own"):
                    assert _total(samples, "portbot_messages_total", outcome=outcome) == (
                        outcomes.count(outcome)
                    ), outcome
                assert _total(samples, "portbot_messages_total", outcome="quarantined") == 1
                assert _total(samples, "portbot_quarantine_size") == 1
                # one ticket per request, each made by one create call answered 201
                assert (
                    _total(samples, "portbot_zendesk_calls_total", kind="create")
                    == len(tickets(em))
                    == len(RUN_THREADS)
                )
                assert _total(samples, "portbot_zendesk_rate_limited_total") == 0
                assert _total(samples, "portbot_requests") == len(ports) == len(RUN_THREADS)
                ready = _total(samples, "portbot_requests", ready="true")
                assert ready == sum(1 for p in ports if p.ready)
                assert _total(samples, "portbot_replies_total", result="sent") == replies["sent"]
                assert (
                    _total(samples, "portbot_replies_total", result="suppressed")
                    == (replies["suppressed"])
                )
                assert _total(samples, "portbot_replies_total", reason="superseded") == 2
                assert _total(samples, "portbot_ocr_pages_total") >= 2  # the scanned bill, LOA
                assert _total(samples, "portbot_ocr_seconds_total") > 0
                assert _total(samples, "portbot_last_successful_poll_timestamp_seconds") > (
                    time.time() - 60
                )
                assert _get(f"{url}/healthz")[0] == 200
                total = _total(samples, "portbot_messages_total")  # our reply copies too
                assert total == len(outcomes)
            except BaseException:
                bot.kill()
                raise
        # dovecot stopped: unhealthy once the mailbox has failed for 3 s
        forwarder.cut()
        _wait("/healthz 503", lambda: _get(f"{url}/healthz")[0] == 503, 30, bot, log)
        _, body = _get(f"{url}/healthz")
        assert "mailbox unreachable" in json.loads(body)["reasons"][0]
        with local_dovecot(mail_root) as again:  # the same mail, a new port behind the same one
            forwarder.target = again.tls_port
            _wait("/healthz 200", lambda: _get(f"{url}/healthz")[0] == 200, 30, bot, log)
            assert _total(_samples(url), "portbot_messages_total") == total  # read once
            bot.send_signal(signal.SIGTERM)
            assert bot.wait(60) == 0, log.read_text()[-3000:]
    finally:
        forwarder.close()
    events = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    messages = [e for e in events if e.get("event") == "message"]
    assert len(messages) == total
    assert {"assess", "total"} <= set(messages[0]["timings"])
    assert any(e.get("ticket_id") and e.get("reply") == "sent" for e in messages)


# -- the dry run ---------------------------------------------------------------------


def _mailbox(server: LocalMail) -> dict[str, Any]:
    """Every folder: UIDVALIDITY, UIDNEXT, and each message's UID and flags."""
    client = server.client()
    try:
        seen: dict[str, Any] = {}
        for _flags, _sep, name in client.list_folders():
            info = client.select_folder(name, readonly=True)
            flags = client.fetch(client.search(["ALL"]), ["FLAGS"]) if info[b"EXISTS"] else {}
            seen[str(name)] = (
                info[b"UIDVALIDITY"],
                info.get(b"UIDNEXT"),
                {uid: sorted(f[b"FLAGS"]) for uid, f in flags.items()},
            )
        return seen
    finally:
        client.logout()


def _files(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.name: (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.iterdir())
        if p.is_file()
    }


def test_a_dry_run_prints_what_it_would_do_and_changes_nothing_anywhere(
    server: LocalMail, em: Emulator, smtp: tuple[SmtpServer, dict[str, Any]], tmp_path: Path
) -> None:
    running, where = smtp
    folder = new_folder()
    where["deliver"] = lambda raw: server.append(folder, [raw])
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    config = tmp_path / "portbot.toml"
    config.write_text(
        toml_with_zendesk(server, em, folder, state_dir / "state.db", zendesk_config(em))
        + _smtp_toml(running)
    )
    # a bot that has run before: a ticket, a reply, our copy back in the mailbox
    server.append(folder, _emls("01-ready-att-acme-csv"))
    assert _cli("poll", "--config", str(config)).returncode == 0
    telus = _emls(TELUS)
    server.append(folder, [*telus, *_emls("04-ready-spectrum-ssn-xlsx"), JUNK])
    before = (
        _mailbox(server),
        _files(state_dir),
        requests.get(f"{em.url}/__emulator__/state", timeout=5).json(),
        len(running.handler.delivered),
    )
    assert len(tickets(em)) == 1 and len(running.handler.delivered) == 1

    done = _cli("poll", "--dry-run", "--config", str(config))
    assert done.returncode == 0, done.stderr
    after = (
        _mailbox(server),
        _files(state_dir),
        requests.get(f"{em.url}/__emulator__/state", timeout=5).json(),
        len(running.handler.delivered),
    )
    assert after == before

    out = done.stdout
    assert out.startswith("DRY RUN")
    assert out.count("would CREATE a ticket:") == 2  # TELUS and Spectrum; Acme has its ticket
    # each message's one decision comes before what it does; only the newest message of
    # a thread read in one go is answered, the ones before it say why not
    decisions = [line for line in out.splitlines() if line.startswith("decision: ")]
    assert len(decisions) == len(telus) + len(_emls("04-ready-spectrum-ssn-xlsx"))
    assert sum("ticket: create with message(s) 1 " in d for d in decisions) == 2
    assert sum("reply: none (superseded)" in d for d in decisions) == len(telus) - 1
    assert "requester:" in out and "field account_number: ••••" in out and "private note:" in out
    telus_customer = parse_message(telus[0]).sender
    sends = out.split("would SEND this email:")[1:]
    assert telus_customer is not None
    assert (
        sum(
            1
            for s in sends
            if any(
                line.startswith("  To:") and telus_customer in line for line in s.splitlines()[:4]
            )
        )
        == 1
    )
    assert out.count("no reply: superseded") == 2  # one reply for the three messages
    assert "quarantined" in out and "dry run: nothing was written" in out
    secrets = set()
    for name in (TELUS, "04-ready-spectrum-ssn-xlsx"):
        secrets |= _expected_secrets(json.loads((FIXTURES / name / "expected.json").read_text()))
    assert secrets
    for secret in secrets:
        assert not _leak_pattern(secret).search(out), secret
    # the real run that follows finds every message still new
    done = _cli("poll", "--config", str(config))
    assert "4 assessed, 1 quarantined" in done.stdout, done.stdout + done.stderr


# -- logs ------------------------------------------------------------------------------


def test_portbot_poll_writes_no_fixture_secret_in_any_log_line(
    server: LocalMail, em: Emulator, smtp: tuple[SmtpServer, dict[str, Any]], tmp_path: Path
) -> None:
    """A backlog at DEBUG, read by two fresh processes (a restart between them): no
    fixture's PIN, SSN digits or account number in any log line, reply or public comment."""
    running, where = smtp
    folder = new_folder()
    where["deliver"] = lambda raw: server.append(folder, [raw])
    threads = sorted(
        p
        for p in FIXTURES.iterdir()
        if (p / "expected.json").is_file() and not p.name.startswith("ocr-")
    )
    config = tmp_path / "portbot.toml"
    config.write_text(
        toml_with_zendesk(server, em, folder, tmp_path / "state.db", zendesk_config(em))
        + _smtp_toml(running)
        + '\n[logging]\nformat = "json"\nlevel = "DEBUG"\n'
    )
    half = len(threads) // 2
    events: list[dict[str, Any]] = []
    for batch in (threads[:half], threads[half:]):  # the second process starts afresh
        for thread in batch:
            server.append(folder, _emls(thread.name))
        done = _cli("poll", "-v", "--config", str(config))
        assert done.returncode == 0, done.stderr[-3000:]
        events += [json.loads(line) for line in done.stderr.splitlines()]  # one JSON a line
    assert sum(e.get("event") == "message" for e in events) >= len(threads)
    assert any(e["level"] == "DEBUG" for e in events)
    # libraries that print bodies (zenpy's whole tickets, urllib3, imapclient) are held
    # at WARNING whatever [logging] level says
    assert not [
        e
        for e in events
        if e["logger"].split(".")[0] in ("zenpy", "urllib3", "requests", "imapclient")
        and e["level"] == "DEBUG"
    ]
    secrets = set()
    for thread in threads:
        secrets |= _expected_secrets(json.loads((thread / "expected.json").read_text()))
    assert len(secrets) > 20
    texts = []
    for event in events:
        event.pop("ts"), event.pop("timings", None)  # clock digits are no secret
        texts.append(("log", json.dumps(event, ensure_ascii=False)))
    for delivered in running.handler.delivered:
        reply = email.message_from_bytes(delivered.content, policy=email.policy.default)
        body = reply.get_body(("plain",))
        texts.append(("reply", str(reply["Subject"]) + "\n" + (body.get_content() if body else "")))
    for ticket in tickets(em):
        texts += [
            ("public comment", c["body"]) for c in comments(em, ticket["id"]) if c.get("public")
        ]
    assert any(kind == "reply" for kind, _ in texts)
    leaks = []
    for kind, text in texts:
        # one fixture's PIN can be another's phone number tail, or the last 4 of its
        # account number that a reply shows ("ending 8812"): neither is a secret there
        text = re.sub(r"\(?\d{3}\)?[ .-]\d{3}-\d{4}|\+1\d{10}|ending \d{4}", " ", text)
        leaks += [(kind, s, text[:300]) for s in secrets if _leak_pattern(s).search(text)]
    assert leaks == []


# -- one reply for a backlog; reading from now on ------------------------------------


def test_a_backlog_of_one_request_gets_one_reply_under_its_newest_message(
    server: LocalMail, em: Emulator, smtp: tuple[SmtpServer, dict[str, Any]], tmp_path: Path
) -> None:
    running, where = smtp
    folder = new_folder()
    where["deliver"] = lambda raw: server.append(folder, [raw])
    telus = _emls(TELUS)
    server.append(folder, telus)
    config = reply_config(config_for(server, em, folder, tmp_path / "state.db"), running)
    with build_app(config, clock=Today("2026-11-20"), environ=ENV) as intake:
        report = intake.poll()
        assert report.count("assessed") == 3
        customer = parse_message(telus[0]).sender
        assert customer is not None
        [reply] = running.handler.to(customer)
        newest = parse_message(telus[-1]).message_id
        assert str(reply.message["In-Reply-To"]).strip() == newest
        assert intake.state.reply_counts() == {
            "sending": 0,
            "sent": 1,
            "suppressed": 2,
            "failed": 0,
        }
        [ticket] = tickets(em)
        notes = [c["body"] for c in comments(em, ticket["id"])]
        assert sum("auto-reply not sent: superseded" in n for n in notes) == 2


def test_a_first_run_from_now_skips_the_old_mail_until_asked_for_the_backlog(
    server: LocalMail, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = new_folder()
    server.append(folder, [*_emls("01-ready-att-acme-csv"), *_emls("04-ready-spectrum-ssn-xlsx")])
    config = tmp_path / "portbot.toml"
    config.write_text(
        toml_config(server, folder, tmp_path / "state.db").replace('start = "all"', 'start = "new"')
    )
    assert main(["poll", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert f"{folder}: 2 message(s) already there were left unread" in out
    assert f"portbot poll --backlog --config {config}" in out
    assert "0 assessed" in out
    server.append(folder, _emls("29-follow-up-boss"))
    assert main(["poll", "--config", str(config)]) == 0
    assert "1 assessed" in capsys.readouterr().out
    assert main(["poll", "--backlog", "--config", str(config)]) == 0
    assert "2 assessed" in capsys.readouterr().out
    assert main(["poll", "--backlog", "--config", str(config)]) == 0
    assert "0 assessed" in capsys.readouterr().out


def test_a_config_object_defaults_to_new_mail_only() -> None:
    assert Config().imap.start == "new"
