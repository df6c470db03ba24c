"""The operations wiring on plain data: the [metrics], [logging] and [imap] start
settings, the state's start point and its in-memory copy, one reply for a backlog,
and the dry run's printers masking secrets."""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path

import pytest

from bot.adapters.sqlite_state import SqliteStateStore
from bot.config import Config, load_config
from bot.errors import ConfigError
from bot.ops.logs import Redactor, secrets_of
from bot.pipeline.dryrun import Printer, PrintingDesk, PrintingMailer
from bot.pipeline.reading import assess_messages
from bot.pipeline.reply_sink import MemoryLedger, Replier, ReplySettings
from bot.render.ticket import TicketDraft
from parsers.email import parse_message
from rules.assessment import Assessment
from tests.conftest import FIXTURES

TELUS = FIXTURES / "07-ready-telus-followups-supply-loa-and-pin"  # bill; then LOA; then PIN
SETTINGS = ReplySettings(
    support_address="support@lofty.com", support_name="Lofty Porting", domain="lofty.com"
)


def _load(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "portbot.toml"
    path.write_text(text)
    return load_config(path)


# -- configuration -------------------------------------------------------------------


def test_a_real_deployment_reads_only_new_mail_unless_told_otherwise(tmp_path: Path) -> None:
    assert _load(tmp_path, '[imap]\nhost = "imap.example.com"\n').imap.start == "new"
    assert _load(tmp_path, '[imap]\nstart = "all"\n').imap.start == "all"
    with pytest.raises(ConfigError, match='start must be "new" or "all"'):
        _load(tmp_path, '[imap]\nstart = "everything"\n')


def test_metrics_and_logging_tables_load_and_are_checked(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        '[metrics]\nport = 9100\nhost = "0.0.0.0"\n'
        "unreachable_after_seconds = 60\n"
        '[logging]\nformat = "text"\nlevel = "debug"\n',
    )
    assert (config.metrics.port, config.metrics.host) == (9100, "0.0.0.0")
    assert config.metrics.unreachable_after_seconds == 60
    assert config.logging.json is False and config.logging.level == "debug"
    assert Config().logging.json is None  # "auto": JSON unless stderr is a terminal
    with pytest.raises(ConfigError, match=r"^\[metrics\] port 70000 is not a TCP port"):
        _load(tmp_path, "[metrics]\nport = 70000\n")
    with pytest.raises(ConfigError, match='format must be "auto", "json" or "text"'):
        _load(tmp_path, '[logging]\nformat = "xml"\n')
    with pytest.raises(ConfigError, match=r"stall_after_seconds .* must be more than"):
        _load(tmp_path, "[schedule]\npoll_seconds = 600\n[metrics]\nstall_after_seconds = 300\n")


def test_a_long_poll_interval_moves_the_default_stall_limit_with_it(tmp_path: Path) -> None:
    config = _load(tmp_path, "[schedule]\npoll_seconds = 3600\n")
    assert config.metrics.stall_after_seconds == 3 * 3600


# -- state ---------------------------------------------------------------------------


def test_a_folder_started_from_now_remembers_what_it_skipped(tmp_path: Path) -> None:
    state = SqliteStateStore(tmp_path / "state.db")
    state.start_folder("INBOX", 7, skip_below=501)
    found = state.folder("INBOX")
    assert found is not None and (found.last_uid, found.skipped_below) == (500, 501)
    state.backlog_read("INBOX")
    found = state.folder("INBOX")
    assert found is not None and (found.last_uid, found.skipped_below) == (500, 0)
    state.close()


def test_the_in_memory_copy_reads_the_state_file_and_never_writes_it(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    state = SqliteStateStore(path)
    state.start_folder("INBOX", 7)
    state.close()
    before = {p.name: (p.read_bytes(), os.stat(p).st_mtime_ns) for p in tmp_path.iterdir()}
    copy = SqliteStateStore(path, in_memory_copy=True)
    with copy.exclusive():  # no lock file either
        assert copy.folder("INBOX") is not None
        copy.start_folder("INBOX", 8, skip_below=10)
        copy.start_folder("Ports", 1)
    copy.close()
    after = {p.name: (p.read_bytes(), os.stat(p).st_mtime_ns) for p in tmp_path.iterdir()}
    assert after == before
    again = SqliteStateStore(path)
    assert again.folder("INBOX") is not None and again.folder("Ports") is None
    again.close()


# -- one reply for a backlog ---------------------------------------------------------


class Outbox:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def send(
        self,
        message: EmailMessage | bytes,
        recipients: Sequence[str] | None = None,
        sender: str | None = None,
    ) -> None:
        assert isinstance(message, bytes)
        self.sent.append(message)


def _thread() -> tuple[list[bytes], Assessment]:
    raws = [p.read_bytes() for p in sorted(TELUS.glob("*.eml"))]
    return raws, assess_messages(raws, Config(), dt.date(2026, 11, 20))


def test_a_message_superseded_in_its_cycle_gets_no_reply_of_its_own() -> None:
    raws, assessment = _thread()
    outbox, ledger = Outbox(), MemoryLedger()
    seen: list[tuple[str, str]] = []
    replier = Replier(
        ledger,
        outbox,
        SETTINGS,
        observe=lambda r, why: seen.append((r, why)),
        read_email=parse_message,
    )
    keys = ["<k1@x>", "<k2@x>", "<k3@x>"]
    for n, key in enumerate(keys[:-1]):
        result = replier.handle("PR-1", key, raws[: n + 1], assessment, superseded=True)
        assert result.outcome == "suppressed" and result.reason == "superseded"
    assert outbox.sent == []
    result = replier.handle("PR-1", keys[-1], raws, assessment)
    assert result.outcome == "sent" and len(outbox.sent) == 1
    assert seen == [("suppressed", "superseded"), ("suppressed", "superseded"), ("sent", "ready")]


# -- the dry run's printers ----------------------------------------------------------


def test_the_dry_run_prints_the_ticket_and_reply_with_secrets_masked() -> None:
    _, assessment = _thread()
    redactor = Redactor()
    redactor.add_many(secrets_of(assessment))
    out = io.StringIO()
    say = Printer(out, redactor)
    pin = assessment.request.numbers[0].pin
    assert pin
    draft = TicketDraft(
        "ana@example.com",
        "Ana",
        "Port request: 3 numbers",
        {"account_number": assessment.request.account_number},
        ("porting", "port_ready"),
        "ready",
        True,
        f"PIN for all lines: {pin}",
        "<p>…</p>",
    )
    desk = PrintingDesk(say)
    ticket = desk.create_ticket(draft, [], "key")
    desk.amend(ticket, note="auto-reply sent")
    mail = EmailMessage()
    mail["To"], mail["Subject"] = "ana@example.com", "Re: port"
    mail.set_content(f"We have your PIN {pin}.")
    PrintingMailer(say).send(mail)
    text = out.getvalue()
    assert "would CREATE a ticket:" in text and "Port request: 3 numbers" in text
    assert "tags:      porting port_ready" in text and "would add to the new ticket" in text
    assert "would SEND this email:" in text and "To: ana@example.com" in text
    assert pin not in text and str(assessment.request.account_number) not in text
    assert text.count("••••") >= 3


def test_the_dry_run_prints_a_folded_header_on_one_line_as_a_mail_client_shows_it() -> None:
    long_id = "<CAMqzlgh" + "x" * 70 + "@mail.gmail.com>"
    raw = (
        "From: support@lofty.com\r\nTo: ana@example.com\r\nSubject: Re: port\r\n"
        f"In-Reply-To:\r\n {long_id}\r\n\r\nHello\r\n"
    ).encode()
    out = io.StringIO()
    PrintingMailer(Printer(out, Redactor())).send(raw)
    assert f"  In-Reply-To: {long_id}\n" in out.getvalue()
