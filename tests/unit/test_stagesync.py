"""The stage keeper's pure parts, the reply ledger in the state store, the new config."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from bot.adapters.sqlite_state import SqliteStateStore
from bot.config import parse_config
from bot.errors import ConfigError
from bot.pipeline.reply_sink import ReplySettings
from bot.pipeline.stage_keeper import (
    MailClassifier,
    bot_email,
    change_from_json,
    change_note,
    change_to_json,
)
from bot.ports import MessageRecord, ReplyRecord
from parsers.email import parse_message
from rules.reply import Ours
from rules.stages import Stage, StageChange, transition
from tests.conftest import ROOT
from tests.reply_cases import LOOP_CASES, message

NOW = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)
OURS = Ours.of(["lofty.com"], ["support@lofty.com"])
SETTINGS = ReplySettings(
    support_address="support@lofty.com", support_name="Lofty Porting", domain="lofty.com"
)


def test_a_stored_change_reads_back_the_same() -> None:
    change = transition(
        Stage.SUBMITTED, Stage.APPROVED, date=dt.date(2026, 12, 10), source="carrier"
    )
    assert isinstance(change, StageChange) and change.stage == Stage.SCHEDULED
    assert change_from_json(change_to_json(change)) == change
    rejected = transition(Stage.SUBMITTED, Stage.REJECTED, reason="PIN invalid", source="cli")
    assert isinstance(rejected, StageChange)
    assert change_from_json(change_to_json(rejected)) == rejected
    note = change_note(rejected, "portbot stage 12 rejected")
    assert "submitted → rejected → request_received" in note and "PIN invalid" in note


def test_the_customer_email_of_a_change_is_threaded_and_marked_automatic() -> None:
    original = parse_message(message())
    msg = bot_email(
        original,
        "Your number transfer has been submitted",
        "Hello",
        key="stage:1:1",
        kind="stage-submitted",
        settings=SETTINGS,
        now=NOW,
    )
    assert msg["In-Reply-To"] == original.message_id
    assert msg["Auto-Submitted"] == "auto-generated" and msg["To"].addresses[0].username == "dana"
    assert OURS.minted(str(msg["Message-ID"]))


def test_our_copies_are_ours_notices_are_notices_and_people_are_neither() -> None:
    classify = MailClassifier(OURS, parse_message)
    ours = message(sender="Lofty Porting <support@lofty.com>")
    assert classify(ours) is not None and classify(ours).outcome == "own"  # type: ignore[union-attr]
    twilio = (ROOT / "fixtures" / "carrier_notices" / "twilio-01-submitted.eml").read_bytes()
    found = classify(twilio)
    assert found is not None and found.outcome == "notice"
    assert classify(message()) is None
    assert MailClassifier(None, parse_message)(ours) is None  # without [reply] nothing is ours


def test_a_bounce_quoting_our_message_id_is_a_notice_and_other_bounces_are_not() -> None:
    classify = MailClassifier(OURS, parse_message)
    [(_, dsn, _)] = [c for c in LOOP_CASES if c[0] == "dsn_multipart_report"]
    found = classify(dsn)
    assert found is not None and found.category == "automatic-answer-to-our-email"
    [(_, other, _)] = [c for c in LOOP_CASES if c[0] == "x_failed_recipients"]
    assert classify(other) is None  # not about our mail: assessed as before


def test_the_reply_ledger_upserts_and_counts_per_recipient(tmp_path: Path) -> None:
    store = SqliteStateStore(tmp_path / "state.db")
    record = ReplyRecord(
        "<m1@x>",
        "PR-000001",
        "sending",
        NOW,
        "incomplete",
        "<portbot.1@lofty.com>",
        "Dana@Acme.example",
        b"raw",
        ("dana@acme.example", "support@lofty.com"),
        "{}",
    )
    store.put(record)
    assert store.reply_for("<m1@x>") == ReplyRecord(
        "<m1@x>",
        "PR-000001",
        "sending",
        NOW,
        "incomplete",
        "<portbot.1@lofty.com>",
        "dana@acme.example",
        b"raw",
        ("dana@acme.example", "support@lofty.com"),
        "{}",
    )
    store.put(
        ReplyRecord(
            "<m1@x>",
            "PR-000001",
            "sent",
            NOW,
            "incomplete",
            "<portbot.1@lofty.com>",
            "dana@acme.example",
            b"raw",
            (),
            "{}",
        )
    )
    assert store.reply_for("<m1@x>").status == "sent"  # type: ignore[union-attr]
    assert store.replies_since("DANA@acme.example", NOW - dt.timedelta(hours=1)) == 1
    assert store.last_sent("PR-000001") is not None
    assert store.request_for(["<portbot.1@lofty.com>"]) == "PR-000001"  # an answer finds it
    assert store.reply_counts()["sent"] == 1


OLD_MESSAGES = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta VALUES ('version', '1');
CREATE TABLE messages (
    row INTEGER PRIMARY KEY AUTOINCREMENT, folder TEXT NOT NULL, uidvalidity INTEGER NOT NULL,
    uid INTEGER NOT NULL, key TEXT NOT NULL, message_id TEXT, size INTEGER NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('assessed', 'quarantined', 'duplicate')),
    reason TEXT NOT NULL DEFAULT '', request_id TEXT, raw BLOB, recorded_at TEXT NOT NULL,
    delivered INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,
    UNIQUE (folder, uidvalidity, uid));
INSERT INTO messages (folder, uidvalidity, uid, key, message_id, size, outcome, request_id,
    raw, recorded_at, delivered) VALUES ('INBOX', 1, 1, '<a@x>', '<a@x>', 10, 'assessed',
    'PR-000001', X'78', '2026-11-01T00:00:00+00:00', 1);
"""


def test_a_state_file_from_before_replies_takes_the_new_outcomes(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(OLD_MESSAGES)
    db.close()
    store = SqliteStateStore(path)
    store.record(MessageRecord("INBOX", 1, 2, "<b@x>", "<b@x>", 10, "own"))
    assert store.handled("<a@x>") and store.handled("<b@x>")
    assert store.counts()["own"] == 1 and store.thread_raws("PR-000001") == [b"x"]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[smtp]\nhost = "smtp.x"\n', "[smtp] needs a [reply] section too"),
        ('[reply]\nsupport_address = "s@x.example"\n', "[reply] needs a [smtp] section too"),
        ('[smtp]\nport = 25\n[reply]\nsupport_address = "s@x"\n', "[smtp] host is required"),
        (
            '[smtp]\nhost = "h"\n[reply]\nsupport_address = "nobody"\n',
            "support_address is required",
        ),
        ("[reminders]\nremind_after_days = 0\n", "must be positive"),
        ("[stages]\nsync = 3\n", "unknown key(s): sync"),
    ],
)
def test_reply_and_stage_sections_are_checked(text: str, words: str) -> None:
    import tomllib

    with pytest.raises(ConfigError, match=None) as info:
        parse_config(tomllib.loads(text))
    assert words in str(info.value)
