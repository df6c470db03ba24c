"""The intake against a real dovecot IMAP server started by the tests on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO
from urllib.parse import parse_qs, urlparse

import pytest

from bot.adapters.imap import connect_from_config
from bot.adapters.sqlite_state import SqliteStateStore
from bot.app import build_intake
from bot.config import ImapConfig, ScheduleConfig
from bot.errors import MailboxAuthError
from bot.pipeline.intake import Delivery
from bot.pipeline.scheduler import Runner
from bot.ports import Mailbox
from bot.standins.localmail import USER, LocalMail, dovecot_binary, local_dovecot
from tests.conftest import FIXTURES, ROOT
from tests.integration.mailbox_support import (
    fake_assess,
    mail_config,
    message,
    new_folder,
    toml_config,
)


@pytest.fixture(scope="module")
def server() -> Iterator[LocalMail]:
    if dovecot_binary() is None:
        if os.environ.get("CI"):
            pytest.fail("dovecot is not installed: scripts/setup installs dovecot-imapd")
        pytest.skip("dovecot is not installed (Debian: apt-get install dovecot-imapd)")
    with local_dovecot() as running:
        yield running


def folder_uids(server: LocalMail, folder: str) -> list[int]:
    with server.client() as client:
        if not client.folder_exists(folder):
            return []
        client.select_folder(folder, readonly=True)
        return sorted(client.search("ALL"))


def outcomes(state_path: Path) -> list[tuple[str, int, int, str, str, str | None, str]]:
    state = SqliteStateStore(state_path)
    try:
        return state.outcomes()
    finally:
        state.close()


def test_new_mail_is_read_and_follow_ups_join_their_request(
    server: LocalMail, tmp_path: Path
) -> None:
    folder = new_folder()
    server.append(
        folder, [message(1), message(2), message(3, reply_to=1), message(4, message_id=False)]
    )
    delivered: list[Delivery] = []
    config = mail_config(server, folder, tmp_path / "state.db")
    with build_intake(config, assess=fake_assess, sinks=[delivered.append]) as intake:
        report = intake.poll()
    assert [h.outcome for h in report.handled] == ["assessed"] * 4
    requests = [h.request_id for h in report.handled]
    assert requests[0] == requests[2] != requests[1]
    assert len(set(requests)) == 3
    follow_up = delivered[2]
    assert len(follow_up.raws) == 2 and follow_up.assessment.thread_length == 2
    # read with BODY.PEEK: a person still sees the mail as unread
    with server.client() as client:
        client.select_folder(folder, readonly=True)
        assert client.search("UNSEEN") == folder_uids(server, folder)


def test_nothing_is_read_twice_or_skipped_across_a_restart(
    server: LocalMail, tmp_path: Path
) -> None:
    folder = new_folder()
    state = tmp_path / "state.db"
    server.append(folder, [message(n) for n in range(1, 4)])
    config = mail_config(server, folder, state)
    with build_intake(config, assess=fake_assess) as intake:
        assert intake.poll().count("assessed") == 3
    # meanwhile a person reads everything in another client, and two more arrive
    with server.client() as client:
        client.select_folder(folder)
        client.add_flags(client.search("ALL"), [b"\\Seen"])
    server.append(folder, [message(4), message(5)])
    with server.client() as client:
        client.select_folder(folder)
        client.add_flags(client.search("ALL"), [b"\\Seen"])
    with build_intake(config, assess=fake_assess) as intake:
        report = intake.poll()
        assert [h.message_id for h in report.handled] == ["<m4@example.com>", "<m5@example.com>"]
        assert intake.poll().handled == []
    rows = outcomes(state)
    assert sorted(uid for _, _, uid, *_ in rows) == [1, 2, 3, 4, 5]


def _slow_poll(
    config: Path, progress: Path, seconds: float, hold_at: int | None = None
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.slow_poll",
            str(config),
            str(progress),
            str(seconds),
            *([str(hold_at)] if hold_at else []),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_a_bot_killed_in_the_middle_of_a_message_loses_nothing_and_repeats_nothing(
    server: LocalMail, tmp_path: Path
) -> None:
    folder = new_folder()
    state = tmp_path / "state.db"
    config = tmp_path / "config.toml"
    config.write_text(toml_config(server, folder, state))
    server.append(folder, [message(n) for n in range(1, 7)])
    progress = tmp_path / "progress"
    bot = _slow_poll(config, progress, 600, hold_at=3)  # message 3 is held until killed
    # the sign: message 3 has started (the progress file), whatever the machine's load
    while (
        sum(
            line.startswith("start")
            for line in (progress.read_text().splitlines() if progress.exists() else [])
        )
        < 3
    ):
        assert bot.poll() is None, "the bot ended before message 3"
        threading.Event().wait(0.02)
    bot.send_signal(signal.SIGKILL)  # in the hold of message 3: after 1 and 2 were recorded
    bot.wait()
    assert [uid for _, _, uid, *_ in outcomes(state)] == [1, 2]

    again = _slow_poll(config, progress, 0.0)
    _, err = again.communicate(timeout=120)
    assert again.returncode == 0, err.decode()
    rows = outcomes(state)
    assert sorted(uid for _, _, uid, *_ in rows) == [1, 2, 3, 4, 5, 6]
    assert {outcome for *_, outcome, _, _ in rows} == {"assessed"}
    delivered = [
        line.split()[1]
        for line in progress.read_text().splitlines()
        if line.startswith("delivered")
    ]
    assert sorted(delivered) == sorted(f"<m{n}@example.com>" for n in range(1, 7))
    started = [
        line.split()[1] for line in progress.read_text().splitlines() if line.startswith("start")
    ]
    assert started.count("<m3@example.com>") == 2  # the one killed midway is read again
    assert all(started.count(f"<m{n}@example.com>") == 1 for n in (1, 2, 4, 5, 6))


def test_a_recreated_folder_with_a_new_uidvalidity_is_not_read_again(
    server: LocalMail, tmp_path: Path
) -> None:
    folder = new_folder()
    state = tmp_path / "state.db"
    server.append(folder, [message(n) for n in range(1, 4)])
    config = mail_config(server, folder, state)
    with build_intake(config, assess=fake_assess) as intake:
        assert intake.poll().count("assessed") == 3
        before = intake.state.folder(folder)
    # the folder is deleted and created again (a migration, a restore): new UIDVALIDITY
    with server.client() as client:
        client.delete_folder(folder)
    server.append(folder, [message(n) for n in range(1, 5)])  # the same three and a new one
    with build_intake(config, assess=fake_assess) as intake:
        report = intake.poll()
        after = intake.state.folder(folder)
    assert before is not None and after is not None and after.uidvalidity != before.uidvalidity
    assert [h.outcome for h in report.handled] == ["duplicate"] * 3 + ["assessed"]
    assert report.handled[-1].message_id == "<m4@example.com>"


def test_unhandleable_mail_is_quarantined_with_its_reason_and_replay_puts_it_back(
    server: LocalMail, tmp_path: Path
) -> None:
    folder = new_folder()
    big = message(3, body="x" * 5000)
    server.append(folder, [message(1), message(2, body="BOOM"), big, message(4)])
    config = mail_config(server, folder, tmp_path / "state.db", max_message_bytes=4000)
    with build_intake(config, assess=fake_assess) as intake:
        report = intake.poll()
        assert [h.outcome for h in report.handled] == [
            "assessed",
            "quarantined",
            "quarantined",
            "assessed",
        ]
        entries = intake.state.quarantined()
        assert [e.message_id for e in entries] == ["<m2@example.com>", "<m3@example.com>"]
        assert "crash in the pipeline: KeyError" in entries[0].reason
        assert "over the limit of 4000 bytes" in entries[1].reason
    assert len(folder_uids(server, folder)) == 2
    assert len(folder_uids(server, folder + "-quarantine")) == 2

    # the pipeline is fixed and the limit raised; replay one of the two
    fixed = replace(config, limits=replace(config.limits, max_message_bytes=10_000))
    with build_intake(fixed, assess=fake_assess) as intake:
        put_back, report = intake.replay([entries[1].id])
        assert [e.id for e in put_back] == [entries[1].id]
        assert [(h.message_id, h.outcome) for h in report.handled] == [
            ("<m3@example.com>", "assessed")
        ]
        assert [e.id for e in intake.state.quarantined()] == [entries[0].id]
    assert len(folder_uids(server, folder)) == 3
    assert len(folder_uids(server, folder + "-quarantine")) == 1


def test_a_failing_hand_on_is_retried_next_cycle_not_lost(
    server: LocalMail, tmp_path: Path
) -> None:
    folder = new_folder()
    server.append(folder, [message(1)])
    calls: list[str] = []

    def flaky(delivery: Delivery) -> None:
        calls.append(delivery.key)
        if len(calls) == 1:
            raise ConnectionError("ticket desk down")

    config = mail_config(server, folder, tmp_path / "state.db")
    with build_intake(config, assess=fake_assess, sinks=[flaky]) as intake:
        first = intake.poll()
        assert first.delivery_failures == 1 and first.delivered == 0
        second = intake.poll()
        assert second.delivered == 1 and second.handled == []
    assert calls == ["<m1@example.com>", "<m1@example.com>"]


def test_idle_picks_up_new_mail_without_waiting_for_the_poll(
    server: LocalMail, tmp_path: Path
) -> None:
    folder = new_folder()
    server.append(folder, [message(1)])
    delivered: list[str] = []
    arrived = threading.Semaphore(0)
    idling = threading.Event()

    def sink(delivery: Delivery) -> None:
        delivered.append(delivery.key)
        arrived.release()

    config = mail_config(server, folder, tmp_path / "state.db")
    config = replace(config, schedule=ScheduleConfig(poll_seconds=3600, idle=True))

    def idle_connect() -> Mailbox:  # the real connection; says when its IDLE begins
        mailbox = connect_from_config(config.imap)
        real_wait = mailbox.wait_for_news

        def wait_for_news(folder: str, seconds: float, stop: Callable[[], bool]) -> bool:
            idling.set()
            return real_wait(folder, seconds, stop)

        mailbox.wait_for_news = wait_for_news  # type: ignore[method-assign]
        return mailbox

    with build_intake(config, assess=fake_assess, sinks=[sink]) as intake:
        runner = Runner(intake, config.schedule, idle_connect)
        thread = threading.Thread(target=runner.run, kwargs={"install_signals": False})
        thread.start()
        try:
            assert arrived.acquire(timeout=120) and delivered == ["<m1@example.com>"]
            assert idling.wait(120)  # the watcher is in IDLE (signs, not sleeps)
            server.append(folder, [message(2)])
            # The scheduled poll is an hour away: only IDLE can bring message 2 in.
            assert arrived.acquire(timeout=120), "IDLE did not wake the poll"
            assert delivered == ["<m1@example.com>", "<m2@example.com>"]
        finally:
            runner.stop()
            thread.join(60)
        assert not thread.is_alive()


class _Lines:
    """A child's stderr read line by line in a thread; `wait_for` is the readiness wait."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._done = False
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[bytes]) -> None:
        for raw in stream:
            with self._changed:
                self.lines.append(raw.decode("utf-8", "replace"))
                self._changed.notify_all()
        with self._changed:
            self._done = True
            self._changed.notify_all()

    def wait_for(self, text: str, seconds: float = 120) -> None:
        with self._changed:
            found = self._changed.wait_for(
                lambda: self._done or any(text in line for line in self.lines), seconds
            )
            if not found or not any(text in line for line in self.lines):
                raise AssertionError(f"no line with {text!r}:\n{''.join(self.lines)}")

    def text(self) -> str:
        with self._changed:
            self._changed.wait_for(lambda: self._done, 60)
            return "".join(self.lines)


def _catches_sigterm(pid: int) -> bool:
    """Whether the process has a SIGTERM handler in place (/proc/PID/status SigCgt)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = next(line for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught.split()[1], 16) >> (signal.SIGTERM - 1) & 1)


def _run_bot(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--config", str(config)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_run_stops_cleanly_on_sigterm(server: LocalMail, tmp_path: Path) -> None:
    folder = new_folder()
    server.append(folder, [message(1)])
    config = tmp_path / "config.toml"
    config.write_text(toml_config(server, folder, tmp_path / "state.db", poll_seconds=1))
    bot = _run_bot(config)
    assert bot.stderr is not None
    err = _Lines(bot.stderr)
    err.wait_for("poll: 1 assessed")  # the first poll is done: a sign, not a sleep
    bot.send_signal(signal.SIGTERM)
    assert bot.wait(timeout=60) == 0, err.text()
    assert "stopped" in err.text()
    rows = outcomes(tmp_path / "state.db")
    assert [uid for _, _, uid, *_ in rows] == [1]


def test_a_sigterm_during_start_up_is_a_clean_exit(server: LocalMail, tmp_path: Path) -> None:
    folder = new_folder()
    server.append(folder, [message(1)])
    config = tmp_path / "config.toml"
    config.write_text(toml_config(server, folder, tmp_path / "state.db", poll_seconds=1))
    bot = _run_bot(config)
    # As soon as the process can take a signal at all (its first handler is in place,
    # before any import of the pipeline): no waiting for readiness.
    while not _catches_sigterm(bot.pid):
        assert bot.poll() is None
        threading.Event().wait(0.001)
    bot.send_signal(signal.SIGTERM)
    assert bot.wait(timeout=60) == 0
    assert bot.stderr is not None
    err = bot.stderr.read().decode()
    assert "Traceback" not in err
    # stopped during start-up, or (a machine fast beyond belief) by the runner: never mid-record
    assert "SIGTERM during start-up" in err or "stopped" in err
    assert all(uid == 1 for _, _, uid, *_ in outcomes(tmp_path / "state.db"))


def test_a_sigterm_during_a_message_finishes_it_and_starts_no_other(
    server: LocalMail, tmp_path: Path
) -> None:
    folder = new_folder()
    state = tmp_path / "state.db"
    config = tmp_path / "config.toml"
    config.write_text(toml_config(server, folder, state))
    server.append(folder, [message(n) for n in range(1, 5)])
    progress = tmp_path / "progress"
    bot = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.slow_run", str(config), str(progress), "1.0"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert bot.stderr is not None
    err = _Lines(bot.stderr)
    err.wait_for("slow_run: message started")  # in the middle of message 1 (it takes 1 s)
    bot.send_signal(signal.SIGTERM)
    assert bot.wait(timeout=60) == 0, err.text()
    lines = progress.read_text().splitlines()
    assert lines == ["start <m1@example.com>", "delivered <m1@example.com>"], lines
    assert [uid for _, _, uid, *_ in outcomes(state)] == [1]  # finished, recorded whole
    assert len(folder_uids(server, folder)) == 4  # the others wait for the next run


def test_starttls_works_and_an_untrusted_certificate_is_refused(server: LocalMail) -> None:
    starttls = ImapConfig(
        host=server.host,
        port=server.plain_port,
        security="starttls",
        ca_file=str(server.ca_file),
        username=server.user,
        password_file=str(server.password_file),
    )
    connect_from_config(starttls).close()
    untrusted = replace(starttls, ca_file="")
    with pytest.raises(MailboxAuthError, match="certificate"):
        connect_from_config(untrusted)


def test_doctor_says_plainly_what_is_wrong(
    server: LocalMail, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    folder = new_folder()
    server.append(folder, [message(1)])
    config = tmp_path / "config.toml"
    config.write_text(toml_config(server, folder, tmp_path / "state.db"))
    assert main(["doctor", "--config", str(config)]) == 0
    assert "all good" in capsys.readouterr().out
    wrong = tmp_path / "password"
    wrong.write_text("not-the-password\n")
    config.write_text(
        toml_config(server, "Nope", tmp_path / "state.db").replace(
            str(server.password_file), str(wrong)
        )
    )
    assert main(["doctor", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "PROBLEM cannot log in" in out and "login refused" in out
    config.write_text(toml_config(server, "Nope", tmp_path / "state.db"))
    assert main(["doctor", "--config", str(config)]) == 1
    assert "PROBLEM folder 'Nope' does not exist" in capsys.readouterr().out


REAL_MAIL = ROOT.parent / "shared" / "real-mail" / "mail-parser"


def test_real_threads_flow_and_a_malformed_message_is_quarantined_with_its_reason(
    server: LocalMail, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    threads = [
        FIXTURES / "01-ready-att-acme-csv",
        FIXTURES / "07-ready-telus-followups-supply-loa-and-pin",
    ]
    raws = [p.read_bytes() for t in threads for p in sorted(t.glob("*.eml"))]
    outlook = (REAL_MAIL / "mail_outlook_1.msg").read_bytes()
    malformed = (REAL_MAIL / "mail_malformed_3.eml").read_bytes()
    folder = new_folder()
    server.append(folder, [raws[0], outlook, malformed + outlook, *raws[1:]])
    config = tmp_path / "config.toml"
    config.write_text(toml_config(server, folder, tmp_path / "state.db"))
    assert main(["poll", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    rows = outcomes(tmp_path / "state.db")
    by_uid = {uid: (outcome, request, reason) for _, _, uid, _, outcome, request, reason in rows}
    assert sorted(by_uid) == [1, 2, 3, 4, 5, 6]
    # the Outlook .msg is not an email: quarantined with the parser's reason, moved aside
    assert by_uid[2][0] == "quarantined" and "not an email" in by_uid[2][2]
    # the broken spam has a clear outcome of its own, and is never taken for a request
    assert by_uid[3][0] in ("other", "quarantined")
    # the fixture threads around them flow, follow-ups joined to their request
    assert by_uid[1][0] == by_uid[4][0] == by_uid[5][0] == by_uid[6][0] == "assessed"
    assert by_uid[4][1] == by_uid[5][1] == by_uid[6][1] != by_uid[1][1]
    assert "quarantined not-an-email" in out
    assert len(folder_uids(server, folder + "-quarantine")) >= 1


def test_the_demo_reads_the_fixture_mailbox_once(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    if dovecot_binary() is None:
        pytest.skip("dovecot is not installed (Debian: apt-get install dovecot-imapd)")
    from bot.standins.demo import run_demo

    small = tmp_path / "emails"
    for name in (
        "01-ready-att-acme-csv",
        "07-ready-telus-followups-supply-loa-and-pin",
        "18-bill-too-old",
    ):
        (small / name).mkdir(parents=True)
        for path in (FIXTURES / name).iterdir():
            (small / name / path.name).write_bytes(path.read_bytes())
    out = tmp_path / "out.txt"
    with out.open("w") as handle:
        assert run_demo(small, handle) == 0
    text = out.read_text()
    assert "5 messages assessed into 3 requests" in text
    assert "PENDING 18-bill-too-old" in text and "bill_too_old" in text
    assert "Polling again: 0 messages read" in text
    assert "3 tickets filed in the Zendesk emulator" in text
    # the assessment it prints is masked like a log: no account number, no PIN
    assert "The assessment of PR-000001" in text and "••••" in text
    for name in ("01-ready-att-acme-csv", "07-ready-telus-followups-supply-loa-and-pin"):
        expected = json.loads((FIXTURES / name / "expected.json").read_text())["assessment"]
        request, documents = expected["request"], expected["documents"]
        secrets = [
            request["account_number"],
            *(n["pin"] for n in request["numbers"]),
            *(d["fields"].get("account_number") for d in documents if d["kind"] == "bill"),
        ]
        for secret in filter(None, secrets):
            assert secret not in text, (name, secret)


class _TokenServer(BaseHTTPRequestHandler):
    """Stands in for the provider's token introspection (Google, Microsoft) for dovecot."""

    def do_GET(self) -> None:
        good = parse_qs(urlparse(self.path).query).get("token") == ["ya29.good-token"]
        body = json.dumps({"email": USER} if good else {"error": "invalid_token"}).encode()
        self.send_response(200 if good else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_xoauth2_logs_in_with_a_token_from_a_command_or_a_file(tmp_path: Path) -> None:
    if dovecot_binary() is None:
        pytest.skip("dovecot is not installed (Debian: apt-get install dovecot-imapd)")
    tokens = ThreadingHTTPServer(("127.0.0.1", 0), _TokenServer)
    threading.Thread(target=tokens.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{tokens.server_address[1]}/introspect?token="
    try:
        with local_dovecot(oauth2_introspection_url=url) as oauth_server:
            config = ImapConfig(
                host=oauth_server.host,
                port=oauth_server.tls_port,
                ca_file=str(oauth_server.ca_file),
                username=USER,
                auth="xoauth2",
                oauth2_token_command=("echo", "ya29.good-token"),
            )
            connect_from_config(config).close()
            token_file = tmp_path / "token"
            token_file.write_text("ya29.good-token\n")
            connect_from_config(
                replace(config, oauth2_token_command=(), oauth2_token_file=str(token_file))
            ).close()
            expired = replace(config, oauth2_token_command=("echo", "ya29.expired"))
            with pytest.raises(MailboxAuthError, match="login refused"):
                connect_from_config(expired)
    finally:
        tokens.shutdown()


def test_a_stop_during_a_message_finishes_that_message_and_reads_no_further(
    server: LocalMail, tmp_path: Path
) -> None:
    folder = new_folder()
    server.append(folder, [message(n) for n in range(1, 6)])
    started: list[int] = []
    in_hand, stop_sent = threading.Event(), threading.Event()

    def slow(raws: object) -> object:
        started.append(1)
        if len(started) == 2:  # message 2 is in hand until the stop has been asked for
            in_hand.set()
            assert stop_sent.wait(60)
        return fake_assess(raws)

    config = mail_config(server, folder, tmp_path / "state.db")
    with build_intake(config, assess=slow) as intake:
        runner = Runner(intake, ScheduleConfig(poll_seconds=3600))
        thread = threading.Thread(target=runner.run, kwargs={"install_signals": False})
        thread.start()
        assert in_hand.wait(120)
        runner.stop()  # what SIGTERM does
        stop_sent.set()
        thread.join(60)
        assert not thread.is_alive()
    rows = outcomes(tmp_path / "state.db")
    assert [uid for _, _, uid, *_ in rows] == [1, 2]  # the one in hand was finished


def test_logs_name_messages_and_outcomes_but_never_their_secrets(
    server: LocalMail, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from rules.contract import to_json

    thread = FIXTURES / "07-ready-telus-followups-supply-loa-and-pin"
    folder = new_folder()
    server.append(folder, [p.read_bytes() for p in sorted(thread.glob("*.eml"))])
    delivered: list[Delivery] = []
    with (
        caplog.at_level("DEBUG"),
        build_intake(
            mail_config(server, folder, tmp_path / "state.db"), sinks=[delivered.append]
        ) as intake,
    ):
        intake.poll()
    secrets: list[str] = []

    def collect(value: object, key: str = "") -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                collect(v, k)
        elif isinstance(value, list):
            for v in value:
                collect(v, key)
        elif isinstance(value, str) and any(w in key for w in ("pin", "ssn", "account_number")):
            secrets.append(value)

    collect(to_json(delivered[-1].assessment, show_secrets=True))
    assert secrets, "the fixture states a PIN and an account number"
    assert ": assessed (request PR-" in caplog.text  # the one event per message
    for secret in secrets:
        assert secret not in caplog.text
