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
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from bot.errors import PortbotError

Outcome = Literal["assessed", "quarantined", "duplicate"]


class StateError(PortbotError):
    """The state file cannot be opened or is not portbot's."""


@dataclass(frozen=True)
class FolderState:
    uidvalidity: int
    last_uid: int  # every UID up to this one has a recorded outcome


@dataclass(frozen=True)
class MessageRecord:
    folder: str
    uidvalidity: int
    uid: int
    key: str  # Message-ID, or "sha256:" of the header block
    message_id: str | None
    size: int
    outcome: Outcome
    reason: str = ""
    request_id: str | None = None  # None with "assessed": a new request is opened
    raw: bytes | None = None
    thread_ids: tuple[str, ...] = ()  # Message-ID, In-Reply-To, References


@dataclass(frozen=True)
class Recorded:
    row: int
    request_id: str | None


@dataclass(frozen=True)
class QuarantineEntry:
    id: int
    row: int
    folder: str  # where the message came from
    uidvalidity: int
    uid: int
    key: str
    message_id: str | None
    size: int
    reason: str
    moved: bool  # moved to the quarantine folder on the server
    released: bool  # put back by `portbot replay`
    recorded_at: str


@dataclass(frozen=True)
class PendingCreate:
    """A ticket create sent (or about to be) whose answer was not recorded yet."""

    idempotency_key: str
    keys: tuple[str, ...]  # the messages the ticket will show
    attach_keys: tuple[str, ...]  # the messages whose attachments go with it
    assessment_json: str  # the assessment it is made from (contract JSON, secrets shown)
    followup_of: int | None  # the closed ticket a follow-up links


@dataclass(frozen=True)
class TicketRecord:
    request_id: str
    ticket_id: int | None  # None until the first create is recorded
    applied: frozenset[str]  # message keys the ticket already shows
    last_json: str | None  # the assessment the ticket shows now
    pending: PendingCreate | None
    previous_ticket_ids: tuple[int, ...] = ()  # closed tickets this request had before


@dataclass(frozen=True)
class PendingDelivery:
    row: int
    request_id: str
    key: str
    attempts: int


class StateStore(Protocol):
    def folder(self, name: str) -> FolderState | None: ...

    def start_folder(self, name: str, uidvalidity: int) -> None: ...

    def handled(self, key: str) -> bool: ...

    def request_for(self, ids: Sequence[str]) -> str | None: ...

    def thread_raws(self, request_id: str) -> list[bytes]: ...

    def record(self, record: MessageRecord) -> Recorded: ...

    def pending_deliveries(self) -> list[PendingDelivery]: ...

    def mark_delivered(self, row: int) -> None: ...

    def delivery_failed(self, row: int, reason: str, max_attempts: int) -> int: ...

    def quarantined(self, *, open_only: bool = True) -> list[QuarantineEntry]: ...

    def mark_moved(self, quarantine_id: int) -> None: ...

    def mark_released(self, quarantine_id: int) -> None: ...

    def counts(self) -> dict[str, int]: ...

    def close(self) -> None: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS folders (
    name TEXT PRIMARY KEY,
    uidvalidity INTEGER NOT NULL,
    last_uid INTEGER NOT NULL
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
    outcome TEXT NOT NULL CHECK (outcome IN ('assessed', 'quarantined', 'duplicate')),
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
CREATE TABLE IF NOT EXISTS ticket_updates (
    ticket_id INTEGER NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS ticket_updates_at ON ticket_updates (ticket_id, at);
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


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class SqliteStateStore:
    """The state in one SQLite file (WAL, synchronous=FULL: a commit survives power loss)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                # it holds raw mail with PINs: private from the first byte
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            # one poll at a time uses it (exclusive()), though not always from the same thread
            self._db = sqlite3.connect(path, isolation_level=None, timeout=30,
                                       check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(messages)")}
            if "deferred_reason" not in columns:  # a state file from before the ticket desk
                self._db.execute("ALTER TABLE messages ADD COLUMN deferred_reason TEXT"
                                 " NOT NULL DEFAULT ''")  # fmt: skip
            found = self._db.execute("SELECT value FROM meta WHERE key='version'").fetchone()
            if found is None:
                self._db.execute("INSERT INTO meta VALUES ('version', ?)", (_VERSION,))
            elif found[0] != _VERSION:
                raise StateError(f"{path}: state version {found[0]}, expected {_VERSION}")
        except sqlite3.DatabaseError as exc:
            raise StateError(f"{path}: not a usable state file: {exc}") from exc
        except OSError as exc:
            raise StateError(f"{path}: {exc.strerror}") from exc

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
        with open(str(self.path) + ".lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def folder(self, name: str) -> FolderState | None:
        found = self._db.execute(
            "SELECT uidvalidity, last_uid FROM folders WHERE name=?", (name,)
        ).fetchone()
        return FolderState(int(found[0]), int(found[1])) if found else None

    def start_folder(self, name: str, uidvalidity: int) -> None:
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO folders VALUES (?, ?, 0)", (name, uidvalidity))

    def handled(self, key: str) -> bool:
        found = self._db.execute(
            "SELECT 1 FROM messages WHERE key=? AND outcome='assessed' LIMIT 1", (key,)
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
        now = _now()
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
                (record.folder, record.uidvalidity, record.uid, record.key, record.message_id,
                 record.size, record.outcome, record.reason, request_id, record.raw, now,
                 int(record.outcome != "assessed")),
            )  # fmt: skip
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
            "SELECT row, request_id, key, attempts FROM messages"
            " WHERE delivered=0 AND outcome='assessed' ORDER BY row"
        )
        return [PendingDelivery(int(r), str(q), str(k), int(a)) for r, q, k, a in rows]

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
                    (row, reason, _now()),
                )
        return int(attempts)

    def delivery_deferred(self, row: int, reason: str) -> None:
        """A hand-on that must wait (an outage, a rate budget): kept pending, attempts unused."""
        with self._transaction() as db:
            db.execute("UPDATE messages SET deferred_reason=? WHERE row=?", (reason, row))

    def deferred_reasons(self) -> dict[str, str]:
        """request id -> why its newest pending hand-on waits (for `doctor` and the CLI)."""
        rows = self._db.execute(
            "SELECT request_id, deferred_reason FROM messages WHERE delivered=0"
            " AND outcome='assessed' AND deferred_reason != '' ORDER BY row"
        )
        return {str(q): str(r) for q, r in rows}

    # -- the ticket ledger ------------------------------------------------------------

    def ticket(self, request_id: str) -> TicketRecord | None:
        found = self._db.execute(
            "SELECT ticket_id, previous_ids, last_json, pending_key, pending_keys,"
            " pending_attach_keys, pending_json, pending_followup_of FROM tickets"
            " WHERE request_id=?", (request_id,),
        ).fetchone()  # fmt: skip
        if found is None:
            return None
        tid, previous, last, p_key, p_keys, p_attach, p_json, p_of = found
        applied = frozenset(str(k) for (k,) in self._db.execute(
            "SELECT key FROM ticket_messages WHERE request_id=?", (request_id,)))  # fmt: skip
        pending = None
        if p_key is not None:
            pending = PendingCreate(str(p_key), tuple(json.loads(p_keys)),
                                    tuple(json.loads(p_attach)), str(p_json),
                                    None if p_of is None else int(p_of))  # fmt: skip
        return TicketRecord(request_id, None if tid is None else int(tid), applied,
                            last, pending, tuple(int(i) for i in json.loads(previous)))  # fmt: skip

    def begin_create(self, request_id: str, pending: PendingCreate) -> None:
        """Written BEFORE the create call: a restart repeats it with the same key."""
        with self._transaction() as db:
            db.execute("INSERT OR IGNORE INTO tickets (request_id, updated_at) VALUES (?, ?)",
                       (request_id, _now()))  # fmt: skip
            db.execute(
                "UPDATE tickets SET pending_key=?, pending_keys=?, pending_attach_keys=?,"
                " pending_json=?, pending_followup_of=?, updated_at=? WHERE request_id=?",
                (pending.idempotency_key, json.dumps(list(pending.keys)),
                 json.dumps(list(pending.attach_keys)), pending.assessment_json,
                 pending.followup_of, _now(), request_id),
            )  # fmt: skip

    def finish_create(self, request_id: str, ticket_id: int) -> None:
        """Written AFTER the create call: the ticket is the request's, the pending one done."""
        with self._transaction() as db:
            found = db.execute(
                "SELECT ticket_id, previous_ids, pending_keys, pending_json FROM tickets"
                " WHERE request_id=? AND pending_key IS NOT NULL", (request_id,),
            ).fetchone()  # fmt: skip
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
                (ticket_id, json.dumps(ids), assessment, _now(), request_id),
            )  # fmt: skip
            db.executemany("INSERT OR IGNORE INTO ticket_messages VALUES (?, ?)",
                           [(request_id, k) for k in json.loads(keys)])  # fmt: skip

    def abandon_create(self, request_id: str) -> None:
        """The desk refused the create for good: nothing was made, nothing to repeat."""
        with self._transaction() as db:
            db.execute(
                "UPDATE tickets SET pending_key=NULL, pending_keys=NULL, pending_attach_keys=NULL,"
                " pending_json=NULL, pending_followup_of=NULL, updated_at=? WHERE request_id=?",
                (_now(), request_id),
            )

    def record_update(self, request_id: str, ticket_id: int, keys: Sequence[str],
                      assessment_json: str, at: float) -> None:  # fmt: skip
        """After an update call: what the ticket shows now, and one more update counted."""
        with self._transaction() as db:
            db.execute("UPDATE tickets SET last_json=?, updated_at=? WHERE request_id=?",
                       (assessment_json, _now(), request_id))  # fmt: skip
            db.executemany("INSERT OR IGNORE INTO ticket_messages VALUES (?, ?)",
                           [(request_id, k) for k in keys])  # fmt: skip
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
            QuarantineEntry(int(i), int(r), str(f), int(v), int(u), str(k), m, int(s), str(why),
                            bool(mv), bool(rel), str(at))
            for i, r, f, v, u, k, m, s, why, mv, rel, at in rows
        ]

    def mark_moved(self, quarantine_id: int) -> None:
        with self._transaction() as db:
            db.execute("UPDATE quarantine SET moved=1 WHERE id=?", (quarantine_id,))

    def mark_released(self, quarantine_id: int) -> None:
        with self._transaction() as db:
            db.execute("UPDATE quarantine SET released=1 WHERE id=?", (quarantine_id,))

    def counts(self) -> dict[str, int]:
        out = {outcome: 0 for outcome in ("assessed", "quarantined", "duplicate")}
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
