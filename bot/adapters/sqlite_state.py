"""The StateStore port and its SQLite adapter: what was read, and what came of it.

Exactly-once rests on one rule: a message's outcome, its thread links and the
folder's high-water UID are written in one transaction (`record`), and only a
committed transaction counts as done. UIDs are only trusted together with the
folder's UIDVALIDITY; copies of a message already handled (a UIDVALIDITY change,
the same mail in two folders) are recognised by their key (Message-ID, or a hash
of the header block) and recorded as duplicates.

Handing an outcome on (ticket, reply) is a second step with its own flag
(`delivered`), so a crash between the two retries the hand-on, never the reading.
A hand-on that must wait (the desk is down) is retried each cycle without using up
its attempts (`delivery_deferred`); one refused for good is quarantined at once.

The ticket ledger (`tickets`, `ticket_messages`, `ticket_updates`) is the ticket
sink's memory: which ticket belongs to a request, a create in flight with its
Idempotency-Key (written before the call, cleared with the ticket id after it),
the messages the ticket already shows, the assessment it shows (contract JSON with
secrets, for the next diff note and for repeating a create exactly), and the
recent updates of each ticket (its rate budget).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bot.errors import StateError
from bot.ports import (
    ChangeRow,
    Clock,
    FolderState,
    MessageRecord,
    PendingCreate,
    PendingDelivery,
    PortRecord,
    QuarantineEntry,
    Recorded,
    ReplyRecord,
    SystemClock,
    TicketRecord,
    UnmatchedNotice,
)


def _time(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


def _iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat(timespec="seconds")


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS folders (
    name TEXT PRIMARY KEY,
    uidvalidity INTEGER NOT NULL,
    last_uid INTEGER NOT NULL,
    skipped_below INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    row INTEGER PRIMARY KEY AUTOINCREMENT,
    folder TEXT NOT NULL,
    uidvalidity INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    key TEXT NOT NULL,
    message_id TEXT,
    size INTEGER NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('assessed', 'quarantined', 'duplicate', 'own',
                                             'notice', 'other')),
    reason TEXT NOT NULL DEFAULT '',
    request_id TEXT,
    raw BLOB,
    recorded_at TEXT NOT NULL,
    delivered INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    deferred_reason TEXT NOT NULL DEFAULT '',
    UNIQUE (folder, uidvalidity, uid)
);
CREATE INDEX IF NOT EXISTS messages_key ON messages (key, outcome);
CREATE INDEX IF NOT EXISTS messages_request ON messages (request_id, outcome);
CREATE INDEX IF NOT EXISTS messages_undelivered ON messages (delivered, outcome);
CREATE TABLE IF NOT EXISTS thread_ids (
    message_id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tickets (
    request_id TEXT PRIMARY KEY,
    ticket_id INTEGER,
    previous_ids TEXT NOT NULL DEFAULT '[]',
    last_json TEXT,
    pending_key TEXT,
    pending_keys TEXT,
    pending_attach_keys TEXT,
    pending_json TEXT,
    pending_followup_of INTEGER,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ticket_messages (
    request_id TEXT NOT NULL,
    key TEXT NOT NULL,
    PRIMARY KEY (request_id, key)
);
CREATE TABLE IF NOT EXISTS notes (
    key TEXT PRIMARY KEY,
    request_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('posting', 'posted')),
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS notes_request ON notes (request_id, status);
CREATE TABLE IF NOT EXISTS ticket_updates (
    ticket_id INTEGER NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS ticket_updates_at ON ticket_updates (ticket_id, at);
CREATE TABLE IF NOT EXISTS replies (
    key TEXT PRIMARY KEY,
    request_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('sending', 'sent', 'suppressed', 'failed')),
    at TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    message_id TEXT,
    recipient TEXT,
    raw BLOB,
    envelope TEXT NOT NULL DEFAULT '[]',
    assessment_json TEXT,
    noted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS replies_recipient ON replies (recipient, at);
CREATE INDEX IF NOT EXISTS replies_request ON replies (request_id, at);
CREATE INDEX IF NOT EXISTS replies_message_id ON replies (message_id);
CREATE TABLE IF NOT EXISTS ports (
    request_id TEXT PRIMARY KEY,
    stage TEXT NOT NULL,
    order_id TEXT,
    customer_ref TEXT,
    numbers TEXT NOT NULL DEFAULT '[]',
    carrier TEXT,
    customer_name TEXT,
    porting_date TEXT,
    ready INTEGER NOT NULL DEFAULT 0,
    missing TEXT NOT NULL DEFAULT '[]',
    last_key TEXT,
    last_activity TEXT NOT NULL,
    reminders_sent INTEGER NOT NULL DEFAULT 0,
    last_reminder_at TEXT,
    stale_since TEXT,
    updated_at TEXT NOT NULL,
    stage_since TEXT
);
CREATE TABLE IF NOT EXISTS stage_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL,
    event_key TEXT NOT NULL UNIQUE,
    change_json TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    at TEXT NOT NULL,
    ticket_done INTEGER NOT NULL DEFAULT 0,
    mail_done INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS stage_changes_pending ON stage_changes (ticket_done, mail_done);
CREATE TABLE IF NOT EXISTS unmatched_notices (
    key TEXT PRIMARY KEY,
    at TEXT NOT NULL,
    partner TEXT NOT NULL,
    kind TEXT NOT NULL,
    order_id TEXT,
    reason TEXT NOT NULL,
    resolved INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    row INTEGER NOT NULL REFERENCES messages (row),
    reason TEXT NOT NULL,
    moved INTEGER NOT NULL DEFAULT 0,
    released INTEGER NOT NULL DEFAULT 0,
    recorded_at TEXT NOT NULL
);
"""

_VERSION = "1"


class SqliteStateStore:
    """The state in one SQLite file (WAL, synchronous=FULL: a commit survives power loss)."""

    def _now(self) -> str:
        return self.clock.utc_now().isoformat(timespec="seconds")

    def __init__(
        self, path: Path, *, in_memory_copy: bool = False, clock: Clock | None = None
    ) -> None:
        """The state file at `path`; `in_memory_copy`: a private copy of it in memory,
        the file only read (for `--dry-run`: whatever the run records is forgotten);
        `clock` dates what is recorded."""
        self.path = path
        self.clock = clock or SystemClock()
        self.in_memory_copy = in_memory_copy
        try:
            # one poll at a time uses it (exclusive()), though not always from the same thread
            if in_memory_copy:
                self._db = sqlite3.connect(
                    ":memory:", isolation_level=None, check_same_thread=False
                )
                if Path(f"{path}-wal").exists():  # in use: read through SQLite, read-only
                    source = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
                    try:
                        source.backup(self._db)
                    finally:
                        source.close()
                elif path.exists():  # at rest: its bytes are the whole state (no side files)
                    data = bytearray(path.read_bytes())
                    if len(data) >= 20:
                        data[18:20] = b"\x01\x01"  # WAL -> rollback journal: memory has no WAL
                    self._db.deserialize(bytes(data))
            else:
                if not path.exists():
                    path.parent.mkdir(parents=True, exist_ok=True)
                    # it holds raw mail with PINs: private from the first byte
                    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
                self._db = sqlite3.connect(
                    path, isolation_level=None, timeout=30, check_same_thread=False
                )
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(messages)")}
            if "deferred_reason" not in columns:  # a state file from before the ticket desk
                self._db.execute(
                    "ALTER TABLE messages ADD COLUMN deferred_reason TEXT NOT NULL DEFAULT ''"
                )
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(folders)")}
            if "skipped_below" not in columns:  # a state file from before [imap] start
                self._db.execute(
                    "ALTER TABLE folders ADD COLUMN skipped_below INTEGER NOT NULL DEFAULT 0"
                )
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(ports)")}
            if "stage_since" not in columns:  # a state file from before `portbot ports`
                self._db.execute("ALTER TABLE ports ADD COLUMN stage_since TEXT")
                self._db.execute(
                    "UPDATE ports SET stage_since=coalesce((SELECT max(at) FROM stage_changes"
                    " c WHERE c.request_id=ports.request_id), last_activity)"
                )
            self._widen_outcomes()
            found = self._db.execute("SELECT value FROM meta WHERE key='version'").fetchone()
            if found is None:
                self._db.execute("INSERT INTO meta VALUES ('version', ?)", (_VERSION,))
            elif found[0] != _VERSION:
                raise StateError(f"{path}: state version {found[0]}, expected {_VERSION}")
        except sqlite3.DatabaseError as exc:
            raise StateError(f"{path}: not a usable state file: {exc}") from exc
        except OSError as exc:
            raise StateError(f"{path}: {exc.strerror}") from exc

    def _widen_outcomes(self) -> None:
        """A state file from an earlier version: its CHECK does not know every outcome.

        SQLite cannot alter a CHECK, so the table is copied into the current shape.
        """
        (sql,) = self._db.execute(
            "SELECT sql FROM sqlite_master WHERE type='table' AND name='messages'"
        ).fetchone()
        if "'other'" in sql:
            return
        create = _SCHEMA.split("CREATE TABLE IF NOT EXISTS messages (", 1)[1].split(");", 1)[0]
        with self._transaction() as db:
            db.execute(f"CREATE TABLE messages_new ({create})")
            db.execute(
                "INSERT INTO messages_new (row, folder, uidvalidity, uid, key, message_id,"
                " size, outcome, reason, request_id, raw, recorded_at, delivered, attempts,"
                " deferred_reason) SELECT row, folder, uidvalidity, uid, key, message_id,"
                " size, outcome, reason, request_id, raw, recorded_at, delivered, attempts,"
                " deferred_reason FROM messages"
            )
            db.execute("DROP TABLE messages")
            db.execute("ALTER TABLE messages_new RENAME TO messages")
        self._db.executescript(_SCHEMA)  # the indexes went with the old table

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Held for a whole cycle, so two bots on one state file never read the same mail."""
        if self.in_memory_copy:  # a private copy: nothing to share, no lock file to write
            yield
            return
        with open(str(self.path) + ".lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def folder(self, name: str) -> FolderState | None:
        found = self._db.execute(
            "SELECT uidvalidity, last_uid, skipped_below FROM folders WHERE name=?", (name,)
        ).fetchone()
        return FolderState(int(found[0]), int(found[1]), int(found[2])) if found else None

    def start_folder(self, name: str, uidvalidity: int, skip_below: int = 0) -> None:
        """Read `name` from its start, or (`skip_below`) from that UID on, the rest skipped."""
        last = max(skip_below - 1, 0)
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO folders (name, uidvalidity, last_uid,"
                " skipped_below) VALUES (?, ?, ?, ?)",
                (name, uidvalidity, last, skip_below if last else 0),
            )

    def uids_recorded(self, name: str, uidvalidity: int, below: int) -> set[int]:
        """The UIDs under `below` in the folder that have an outcome already."""
        rows = self._db.execute(
            "SELECT uid FROM messages WHERE folder=? AND uidvalidity=? AND uid < ?",
            (name, uidvalidity, below),
        )
        return {int(uid) for (uid,) in rows}

    def backlog_read(self, name: str) -> None:
        """The mail a `start = "new"` skipped in `name` has been read."""
        with self._transaction() as db:
            db.execute("UPDATE folders SET skipped_below=0 WHERE name=?", (name,))

    def requests_by_stage(self) -> dict[tuple[str, bool], int]:
        """(stage, ready) -> how many tracked requests (ports) are there."""
        rows = self._db.execute("SELECT stage, ready, count(*) FROM ports GROUP BY stage, ready")
        return {(str(stage), bool(ready)): int(n) for stage, ready, n in rows}

    def handled(self, key: str) -> bool:
        found = self._db.execute(
            "SELECT 1 FROM messages WHERE key=? AND outcome IN ('assessed', 'own', 'notice', 'other')"
            " LIMIT 1",
            (key,),
        ).fetchone()
        return found is not None

    def request_for(self, ids: Sequence[str]) -> str | None:
        for message_id in ids:
            found = self._db.execute(
                "SELECT request_id FROM thread_ids WHERE message_id=?", (message_id,)
            ).fetchone()
            if found:
                return str(found[0])
        return None

    def thread_raws(self, request_id: str) -> list[bytes]:
        rows = self._db.execute(
            "SELECT raw FROM messages WHERE request_id=? AND outcome='assessed' ORDER BY row",
            (request_id,),
        )
        return [bytes(raw) for (raw,) in rows if raw is not None]

    def record(self, record: MessageRecord) -> Recorded:
        now = self._now()
        with self._transaction() as db:
            request_id = record.request_id
            if record.outcome == "assessed" and request_id is None:
                cursor = db.execute("INSERT INTO requests (created_at) VALUES (?)", (now,))
                number = int(cursor.lastrowid or 0)
                request_id = f"PR-{number:06d}"
            if record.outcome != "assessed":
                request_id = None
            cursor = db.execute(
                "INSERT INTO messages (folder, uidvalidity, uid, key, message_id, size, outcome,"
                " reason, request_id, raw, recorded_at, delivered)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.folder,
                    record.uidvalidity,
                    record.uid,
                    record.key,
                    record.message_id,
                    record.size,
                    record.outcome,
                    record.reason,
                    request_id,
                    record.raw,
                    now,
                    int(record.outcome not in ("assessed", "notice")),
                ),
            )
            row = int(cursor.lastrowid or 0)
            if request_id is not None:
                db.executemany(
                    "INSERT OR IGNORE INTO thread_ids VALUES (?, ?)",
                    [(message_id, request_id) for message_id in record.thread_ids],
                )
            if record.outcome == "quarantined":
                db.execute(
                    "INSERT INTO quarantine (row, reason, recorded_at) VALUES (?, ?, ?)",
                    (row, record.reason, now),
                )
            # the high-water mark only moves forward, and only with a recorded outcome
            db.execute(
                "UPDATE folders SET last_uid=max(last_uid, ?) WHERE name=? AND uidvalidity=?",
                (record.uid, record.folder, record.uidvalidity),
            )
        return Recorded(row, request_id)

    def pending_deliveries(self) -> list[PendingDelivery]:
        rows = self._db.execute(
            "SELECT row, request_id, key, attempts, outcome FROM messages"
            " WHERE delivered=0 AND outcome IN ('assessed', 'notice') ORDER BY row"
        )
        return [
            PendingDelivery(int(r), str(q or ""), str(k), int(a), str(o)) for r, q, k, a, o in rows
        ]

    def raw_of(self, row: int) -> bytes | None:
        found = self._db.execute("SELECT raw FROM messages WHERE row=?", (row,)).fetchone()
        return bytes(found[0]) if found and found[0] is not None else None

    def mark_delivered(self, row: int) -> None:
        with self._transaction() as db:
            db.execute("UPDATE messages SET delivered=1, deferred_reason='' WHERE row=?", (row,))

    def delivery_failed(self, row: int, reason: str, max_attempts: int) -> int:
        """Count a failed hand-on; at max_attempts the message is quarantined instead."""
        with self._transaction() as db:
            db.execute("UPDATE messages SET attempts=attempts+1 WHERE row=?", (row,))
            (attempts,) = db.execute("SELECT attempts FROM messages WHERE row=?", (row,)).fetchone()
            if attempts >= max_attempts:
                db.execute(
                    "UPDATE messages SET outcome='quarantined', reason=?, delivered=1 WHERE row=?",
                    (reason, row),
                )
                db.execute(
                    "INSERT INTO quarantine (row, reason, recorded_at) VALUES (?, ?, ?)",
                    (row, reason, self._now()),
                )
        return int(attempts)

    def delivery_deferred(self, row: int, reason: str) -> None:
        """A hand-on that must wait (an outage, a rate budget): kept pending, attempts unused."""
        with self._transaction() as db:
            db.execute("UPDATE messages SET deferred_reason=? WHERE row=?", (reason, row))

    def deferred_reasons(self) -> dict[str, str]:
        """request id -> why its newest pending hand-on waits (for `doctor` and the CLI)."""
        rows = self._db.execute(
            "SELECT coalesce(request_id, key), deferred_reason FROM messages WHERE delivered=0"
            " AND outcome IN ('assessed', 'notice') AND deferred_reason != '' ORDER BY row"
        )
        return {str(q): str(r) for q, r in rows}

    # -- the ticket ledger ------------------------------------------------------------

    def ticket(self, request_id: str) -> TicketRecord | None:
        found = self._db.execute(
            "SELECT ticket_id, previous_ids, last_json, pending_key, pending_keys,"
            " pending_attach_keys, pending_json, pending_followup_of FROM tickets"
            " WHERE request_id=?",
            (request_id,),
        ).fetchone()
        if found is None:
            return None
        tid, previous, last, p_key, p_keys, p_attach, p_json, p_of = found
        applied = frozenset(
            str(k)
            for (k,) in self._db.execute(
                "SELECT key FROM ticket_messages WHERE request_id=?", (request_id,)
            )
        )
        pending = None
        if p_key is not None:
            pending = PendingCreate(
                str(p_key),
                tuple(json.loads(p_keys)),
                tuple(json.loads(p_attach)),
                str(p_json),
                None if p_of is None else int(p_of),
            )
        return TicketRecord(
            request_id,
            None if tid is None else int(tid),
            applied,
            last,
            pending,
            tuple(int(i) for i in json.loads(previous)),
        )

    def begin_create(self, request_id: str, pending: PendingCreate) -> None:
        """Written BEFORE the create call: a restart repeats it with the same key."""
        with self._transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO tickets (request_id, updated_at) VALUES (?, ?)",
                (request_id, self._now()),
            )
            db.execute(
                "UPDATE tickets SET pending_key=?, pending_keys=?, pending_attach_keys=?,"
                " pending_json=?, pending_followup_of=?, updated_at=? WHERE request_id=?",
                (
                    pending.idempotency_key,
                    json.dumps(list(pending.keys)),
                    json.dumps(list(pending.attach_keys)),
                    pending.assessment_json,
                    pending.followup_of,
                    self._now(),
                    request_id,
                ),
            )

    def finish_create(self, request_id: str, ticket_id: int) -> None:
        """Written AFTER the create call: the ticket is the request's, the pending one done."""
        with self._transaction() as db:
            found = db.execute(
                "SELECT ticket_id, previous_ids, pending_keys, pending_json FROM tickets"
                " WHERE request_id=? AND pending_key IS NOT NULL",
                (request_id,),
            ).fetchone()
            if found is None:
                return
            old, previous, keys, assessment = found
            ids = json.loads(previous)
            if old is not None and old != ticket_id:
                ids.append(int(old))
            db.execute(
                "UPDATE tickets SET ticket_id=?, previous_ids=?, last_json=?, pending_key=NULL,"
                " pending_keys=NULL, pending_attach_keys=NULL, pending_json=NULL,"
                " pending_followup_of=NULL, updated_at=? WHERE request_id=?",
                (ticket_id, json.dumps(ids), assessment, self._now(), request_id),
            )
            db.executemany(
                "INSERT OR IGNORE INTO ticket_messages VALUES (?, ?)",
                [(request_id, k) for k in json.loads(keys)],
            )

    def abandon_create(self, request_id: str) -> None:
        """The desk refused the create for good: nothing was made, nothing to repeat."""
        with self._transaction() as db:
            db.execute(
                "UPDATE tickets SET pending_key=NULL, pending_keys=NULL, pending_attach_keys=NULL,"
                " pending_json=NULL, pending_followup_of=NULL, updated_at=? WHERE request_id=?",
                (self._now(), request_id),
            )

    def record_update(
        self, request_id: str, ticket_id: int, keys: Sequence[str], assessment_json: str, at: float
    ) -> None:
        """After an update call: what the ticket shows now, and one more update counted."""
        with self._transaction() as db:
            db.execute(
                "UPDATE tickets SET last_json=?, updated_at=? WHERE request_id=?",
                (assessment_json, self._now(), request_id),
            )
            db.executemany(
                "INSERT OR IGNORE INTO ticket_messages VALUES (?, ?)",
                [(request_id, k) for k in keys],
            )
            db.execute("INSERT INTO ticket_updates VALUES (?, ?)", (ticket_id, at))
            # the budget looks back minutes, not days
            db.execute("DELETE FROM ticket_updates WHERE at < ?", (at - 86400,))

    def updates_since(self, ticket_id: int, since: float) -> list[float]:
        """When the ticket was updated since `since`, oldest first."""
        rows = self._db.execute(
            "SELECT at FROM ticket_updates WHERE ticket_id=? AND at >= ? ORDER BY at",
            (ticket_id, since),
        )
        return [float(at) for (at,) in rows]

    # -- the note ledger: each private note posted once ---------------------------------

    def note_status(self, key: str) -> str | None:
        """'posting' (sent, or about to be: its answer not yet recorded), 'posted', or None."""
        found = self._db.execute("SELECT status FROM notes WHERE key=?", (key,)).fetchone()
        return str(found[0]) if found else None

    def begin_note(self, key: str, request_id: str) -> None:
        """Written BEFORE the update that carries the note marked `key`."""
        with self._transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO notes VALUES (?, ?, 'posting', ?)",
                (key, request_id, self._now()),
            )

    def finish_note(self, key: str) -> None:
        """Written AFTER it: the note is on the ticket."""
        with self._transaction() as db:
            db.execute("UPDATE notes SET status='posted', at=? WHERE key=?", (self._now(), key))

    def forget_note(self, key: str) -> None:
        """It is not on the ticket (refused, or looked for and not found): post it afresh."""
        with self._transaction() as db:
            db.execute("DELETE FROM notes WHERE key=? AND status='posting'", (key,))

    def notes_in_doubt(self, request_id: str) -> list[str]:
        """The keys of the request's notes left 'posting' (a stop or an outage came between)."""
        rows = self._db.execute(
            "SELECT key FROM notes WHERE request_id=? AND status='posting' ORDER BY at, key",
            (request_id,),
        )
        return [str(k) for (k,) in rows]

    # -- the reply ledger (bot.pipeline.reply_sink.ReplyLedger) --------------------------------------

    def _reply(self, row: Any) -> ReplyRecord | None:
        if row is None:
            return None
        key, request_id, status, at, reason, mid, recipient, raw, envelope, aj, noted = row
        return ReplyRecord(
            str(key),
            str(request_id),
            status,
            dt.datetime.fromisoformat(str(at)),
            str(reason),
            None if mid is None else str(mid),
            None if recipient is None else str(recipient),
            None if raw is None else bytes(raw),
            tuple(json.loads(str(envelope))),
            None if aj is None else str(aj),
            bool(noted),
        )

    _REPLY_COLUMNS = (
        "key, request_id, status, at, reason, message_id, recipient, raw, envelope,"
        " assessment_json, noted"
    )

    def reply_for(self, key: str) -> ReplyRecord | None:
        return self._reply(
            self._db.execute(
                f"SELECT {self._REPLY_COLUMNS} FROM replies WHERE key=?", (key,)
            ).fetchone()
        )

    def reply_by_message_id(self, message_id: str) -> ReplyRecord | None:
        return self._reply(
            self._db.execute(
                f"SELECT {self._REPLY_COLUMNS} FROM replies WHERE message_id=?", (message_id,)
            ).fetchone()
        )

    def last_sent(self, request_id: str) -> ReplyRecord | None:
        # auto-replies only: a stage message or reminder is not what the customer's
        # checklist was last shown in
        return self._reply(
            self._db.execute(
                f"SELECT {self._REPLY_COLUMNS} FROM replies WHERE request_id=? AND status IN"
                " ('sent', 'sending') AND assessment_json IS NOT NULL AND key NOT LIKE 'stage:%'"
                " AND key NOT LIKE 'reminder:%' ORDER BY at DESC, rowid DESC LIMIT 1",
                (request_id,),
            ).fetchone()
        )

    def replies_since(self, recipient: str, since: dt.datetime) -> int:
        (count,) = self._db.execute(
            "SELECT count(*) FROM replies WHERE recipient=? AND at >= ? AND status IN"
            " ('sent', 'sending')",
            (recipient.lower(), _iso(since)),
        ).fetchone()
        return int(count)

    def put(self, record: ReplyRecord) -> None:
        """Insert or replace by key, committed before returning. The reply's Message-ID
        joins the request's thread, so an answer quoting only it still finds the request."""
        with self._transaction() as db:
            db.execute(
                f"INSERT OR REPLACE INTO replies ({self._REPLY_COLUMNS}) VALUES"
                " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.key,
                    record.request_id,
                    record.status,
                    _iso(record.at),
                    record.reason,
                    record.message_id,
                    record.recipient and record.recipient.lower(),
                    record.raw,
                    json.dumps(list(record.envelope)),
                    record.assessment_json,
                    int(record.noted),
                ),
            )
            if record.message_id and record.request_id:
                db.execute(
                    "INSERT OR IGNORE INTO thread_ids VALUES (?, ?)",
                    (record.message_id, record.request_id),
                )

    def reply_counts(self) -> dict[str, int]:
        out = {"sending": 0, "sent": 0, "suppressed": 0, "failed": 0}
        for status, count in self._db.execute(
            "SELECT status, count(*) FROM replies GROUP BY status"
        ):
            out[str(status)] = int(count)
        return out

    # -- ports: stages, notices, reminders ---------------------------------------------

    _PORT_COLUMNS = (
        "request_id, stage, order_id, customer_ref, numbers, carrier, customer_name,"
        " porting_date, ready, missing, last_key, last_activity, reminders_sent,"
        " last_reminder_at, stale_since"
    )

    @staticmethod
    def _port(row: Any) -> PortRecord:
        (
            rid,
            stage,
            order,
            ref,
            numbers,
            carrier,
            name,
            date,
            ready,
            missing,
            last_key,
            activity,
            sent,
            reminded,
            stale,
        ) = row
        return PortRecord(
            str(rid),
            str(stage),
            None if order is None else str(order),
            None if ref is None else str(ref),
            tuple(json.loads(str(numbers))),
            None if carrier is None else str(carrier),
            None if name is None else str(name),
            dt.date.fromisoformat(str(date)) if date else None,
            bool(ready),
            tuple(json.loads(str(missing))),
            None if last_key is None else str(last_key),
            dt.datetime.fromisoformat(str(activity)),
            int(sent),
            _time(None if reminded is None else str(reminded)),
            _time(None if stale is None else str(stale)),
        )

    def port(self, request_id: str) -> PortRecord | None:
        row = self._db.execute(
            f"SELECT {self._PORT_COLUMNS} FROM ports WHERE request_id=?", (request_id,)
        ).fetchone()
        return self._port(row) if row else None

    def ports(self) -> list[PortRecord]:
        rows = self._db.execute(f"SELECT {self._PORT_COLUMNS} FROM ports ORDER BY request_id")
        return [self._port(r) for r in rows]

    def stage_since(self) -> dict[str, dt.datetime]:
        """request id -> when its port entered the stage it is at (`portbot ports`)."""
        rows = self._db.execute(
            "SELECT request_id, coalesce(stage_since, last_activity) FROM ports"
        )
        return {str(r): dt.datetime.fromisoformat(str(at)) for r, at in rows}

    def note_activity(
        self,
        request_id: str,
        key: str,
        *,
        numbers: Sequence[str],
        carrier: str | None,
        customer_name: str | None,
        ready: bool,
        missing: Sequence[str],
        at: dt.datetime,
    ) -> None:
        """A customer's message assessed: what the port now knows; the silence restarts."""
        with self._transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO ports (request_id, stage, last_activity, stage_since,"
                " updated_at) VALUES (?, 'request_received', ?, ?, ?)",
                (request_id, _iso(at), _iso(at), self._now()),
            )
            db.execute(
                "UPDATE ports SET numbers=?, carrier=?, customer_name=?, ready=?, missing=?,"
                " updated_at=? WHERE request_id=?",
                (
                    json.dumps(sorted(numbers)),
                    carrier,
                    customer_name,
                    int(ready),
                    json.dumps(list(missing)),
                    self._now(),
                    request_id,
                ),
            )
            db.execute(  # a retried delivery of the same message is not new activity
                "UPDATE ports SET last_key=?, last_activity=? WHERE request_id=?"
                " AND (last_key IS NULL OR last_key != ?)",
                (key, _iso(at), request_id, key),
            )

    def begin_stage_change(
        self,
        request_id: str,
        event_key: str,
        change_json: str,
        note: str,
        *,
        stage: str,
        porting_date: dt.date | None,
        clear_date: bool,
        order_id: str | None,
        at: dt.datetime,
    ) -> tuple[int, bool]:
        """Record a change and the port's new stage in one transaction, before any effect.

        (id, True) for a new change; (id of the earlier one, False) when `event_key` was
        recorded before (a notice read twice, a retried command): nothing changes then.
        """
        with self._transaction() as db:
            found = db.execute(
                "SELECT id FROM stage_changes WHERE event_key=?", (event_key,)
            ).fetchone()
            if found:
                return int(found[0]), False
            cursor = db.execute(
                "INSERT INTO stage_changes (request_id, event_key, change_json, note, at)"
                " VALUES (?, ?, ?, ?, ?)",
                (request_id, event_key, change_json, note, _iso(at)),
            )
            db.execute(
                "INSERT OR IGNORE INTO ports (request_id, stage, last_activity, stage_since,"
                " updated_at) VALUES (?, 'request_received', ?, ?, ?)",
                (request_id, _iso(at), _iso(at), self._now()),
            )
            db.execute(  # a new stage starts its days (the same one, rescheduled, does not)
                "UPDATE ports SET stage_since=? WHERE request_id=? AND stage != ?",
                (_iso(at), request_id, stage),
            )
            date = None if clear_date else (porting_date.isoformat() if porting_date else None)
            db.execute(
                "UPDATE ports SET stage=?, porting_date=CASE WHEN ? THEN NULL ELSE"
                " coalesce(?, porting_date) END, order_id=coalesce(?, order_id), updated_at=?"
                " WHERE request_id=?",
                (stage, int(clear_date), date, order_id, self._now(), request_id),
            )
            return int(cursor.lastrowid or 0), True

    def set_port_ids(
        self, request_id: str, *, order_id: str | None = None, customer_ref: str | None = None
    ) -> None:
        """The partner's order id and our reference, as learned (a notice, the command line)."""
        with self._transaction() as db:
            db.execute(
                "UPDATE ports SET order_id=coalesce(?, order_id),"
                " customer_ref=coalesce(?, customer_ref), updated_at=? WHERE request_id=?",
                (order_id, customer_ref, self._now(), request_id),
            )

    _CHANGE_COLUMNS = "id, request_id, event_key, change_json, note, at, ticket_done, mail_done"

    @staticmethod
    def _change(row: Any) -> ChangeRow:
        i, rid, key, cj, note, at, t, m = row
        return ChangeRow(
            int(i),
            str(rid),
            str(key),
            str(cj),
            str(note),
            dt.datetime.fromisoformat(str(at)),
            bool(t),
            bool(m),
        )

    def stage_change(self, change_id: int) -> ChangeRow | None:
        row = self._db.execute(
            f"SELECT {self._CHANGE_COLUMNS} FROM stage_changes WHERE id=?", (change_id,)
        ).fetchone()
        return self._change(row) if row else None

    def pending_stage_changes(self) -> list[ChangeRow]:
        rows = self._db.execute(
            f"SELECT {self._CHANGE_COLUMNS} FROM stage_changes"
            " WHERE ticket_done=0 OR mail_done=0 ORDER BY id"
        )
        return [self._change(r) for r in rows]

    def stage_changes(self, request_id: str) -> list[ChangeRow]:
        rows = self._db.execute(
            f"SELECT {self._CHANGE_COLUMNS} FROM stage_changes WHERE request_id=? ORDER BY id",
            (request_id,),
        )
        return [self._change(r) for r in rows]

    def mark_change(self, change_id: int, *, ticket: bool = False, mail: bool = False) -> None:
        with self._transaction() as db:
            if ticket:
                db.execute("UPDATE stage_changes SET ticket_done=1 WHERE id=?", (change_id,))
            if mail:
                db.execute("UPDATE stage_changes SET mail_done=1 WHERE id=?", (change_id,))

    def record_reminder(self, request_id: str, ordinal: int, at: dt.datetime) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE ports SET reminders_sent=?, last_reminder_at=?, updated_at=?"
                " WHERE request_id=?",
                (ordinal, _iso(at), self._now(), request_id),
            )

    def set_stale(self, request_id: str, since: dt.datetime | None) -> None:
        """Tagged stale at `since`; None: the customer came back (the count starts again)."""
        with self._transaction() as db:
            if since is None:
                db.execute(
                    "UPDATE ports SET stale_since=NULL, reminders_sent=0,"
                    " last_reminder_at=NULL, updated_at=? WHERE request_id=?",
                    (self._now(), request_id),
                )
            else:
                db.execute(
                    "UPDATE ports SET stale_since=?, updated_at=? WHERE request_id=?",
                    (_iso(since), self._now(), request_id),
                )

    def add_unmatched(self, notice: UnmatchedNotice) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO unmatched_notices (key, at, partner, kind, order_id,"
                " reason) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    notice.key,
                    notice.at,
                    notice.partner,
                    notice.kind,
                    notice.order_id,
                    notice.reason,
                ),
            )

    def unmatched(self) -> list[UnmatchedNotice]:
        rows = self._db.execute(
            "SELECT key, at, partner, kind, order_id, reason FROM"
            " unmatched_notices WHERE resolved=0 ORDER BY at"
        )
        return [
            UnmatchedNotice(str(k), str(a), str(p), str(kd), None if o is None else str(o), str(r))
            for k, a, p, kd, o, r in rows
        ]

    def request_of_ticket(self, ticket_id: int) -> str | None:
        found = self._db.execute(
            "SELECT request_id FROM tickets WHERE ticket_id=?", (ticket_id,)
        ).fetchone()
        if found:
            return str(found[0])
        for request_id, previous in self._db.execute(
            "SELECT request_id, previous_ids FROM tickets"
        ):
            if ticket_id in json.loads(previous):
                return str(request_id)
        return None

    def tickets(self) -> dict[str, int]:
        """request id -> its current ticket id."""
        rows = self._db.execute(
            "SELECT request_id, ticket_id FROM tickets WHERE ticket_id IS NOT NULL"
            " ORDER BY request_id"
        )
        return {str(q): int(t) for q, t in rows}

    def quarantined(self, *, open_only: bool = True) -> list[QuarantineEntry]:
        rows = self._db.execute(
            "SELECT q.id, q.row, m.folder, m.uidvalidity, m.uid, m.key, m.message_id, m.size,"
            " q.reason, q.moved, q.released, q.recorded_at"
            " FROM quarantine q JOIN messages m ON m.row = q.row"
            + (" WHERE q.released=0" if open_only else "")
            + " ORDER BY q.id"
        )
        return [
            QuarantineEntry(
                int(i),
                int(r),
                str(f),
                int(v),
                int(u),
                str(k),
                m,
                int(s),
                str(why),
                bool(mv),
                bool(rel),
                str(at),
            )
            for i, r, f, v, u, k, m, s, why, mv, rel, at in rows
        ]

    def mark_moved(self, quarantine_id: int) -> None:
        with self._transaction() as db:
            db.execute("UPDATE quarantine SET moved=1 WHERE id=?", (quarantine_id,))

    def mark_released(self, quarantine_id: int) -> None:
        with self._transaction() as db:
            db.execute("UPDATE quarantine SET released=1 WHERE id=?", (quarantine_id,))

    def counts(self) -> dict[str, int]:
        out = {outcome: 0 for outcome in ("assessed", "quarantined", "duplicate", "own", "notice")}
        for outcome, count in self._db.execute(
            "SELECT outcome, count(*) FROM messages GROUP BY outcome"
        ):
            out[str(outcome)] = int(count)
        out["requests"] = int(self._db.execute("SELECT count(*) FROM requests").fetchone()[0])
        out["undelivered"] = len(self.pending_deliveries())
        out["open_quarantine"] = len(self.quarantined())
        return out

    def outcomes(self) -> list[tuple[str, int, int, str, str, str | None, str]]:
        """(folder, uidvalidity, uid, key, outcome, request_id, reason) of every message."""
        rows = self._db.execute(
            "SELECT folder, uidvalidity, uid, key, outcome, request_id, reason FROM messages"
            " ORDER BY row"
        )
        return [(str(f), int(v), int(u), str(k), str(o), q, str(r)) for f, v, u, k, o, q, r in rows]

    def close(self) -> None:
        self._db.close()
