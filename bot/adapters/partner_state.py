"""The carrier partner's ledger in the state file (tables `partner_*`, beside the
state store's own; bot.pipeline.partner.PartnerLedger).

Its own connection (WAL, as the state store's), so the webhook receiver's thread
can queue an event while a cycle runs. Every write is one committed transaction.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from pathlib import Path

from bot.errors import StateError
from bot.ports import Submission
from rules.partner import Portability

SCHEMA = """
CREATE TABLE IF NOT EXISTS partner_portability (
    number TEXT PRIMARY KEY, answer TEXT NOT NULL, checked_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS partner_submissions (
    request_id TEXT NOT NULL, attempt INTEGER NOT NULL, reference TEXT NOT NULL,
    status TEXT NOT NULL, document_sid TEXT, port_in_sid TEXT, created_on TEXT NOT NULL,
    source TEXT NOT NULL, event_key TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '', PRIMARY KEY (request_id, attempt));
CREATE TABLE IF NOT EXISTS partner_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL, received_at TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS partner_applied (
    port_in_sid TEXT PRIMARY KEY, fingerprint TEXT NOT NULL);
"""

_COLS = (
    "request_id, attempt, reference, status, document_sid, port_in_sid, created_on,"
    " source, event_key, detail, reason"
)


def _submission(row: tuple[object, ...]) -> Submission:
    return Submission(
        request_id=str(row[0]),
        attempt=int(str(row[1])),
        reference=str(row[2]),
        status=str(row[3]),  # type: ignore[arg-type]
        document_sid=str(row[4]) if row[4] else None,
        port_in_sid=str(row[5]) if row[5] else None,
        created_on=dt.date.fromisoformat(str(row[6])),
        source=str(row[7]),
        event_key=str(row[8]),
        detail=str(row[9]),
        reason=str(row[10]),
    )


class SqlitePartnerLedger:
    def __init__(self, path: str | Path) -> None:
        try:
            self._db = sqlite3.connect(
                str(path), isolation_level=None, timeout=30, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise StateError(f"state file {path}: {exc}") from exc
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def _write(self, sql: str, args: tuple[object, ...]) -> int:
        with self._lock:
            cur = self._db.execute(sql, args)
            return int(cur.lastrowid or 0)

    def _read(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        with self._lock:
            return list(self._db.execute(sql, args).fetchall())

    # -- portability cache ----------------------------------------------------------

    def portability(self, number: str, newer_than: dt.datetime) -> Portability | None:
        rows = self._read(
            "SELECT answer FROM partner_portability WHERE number=? AND checked_at>=?",
            (number, newer_than.isoformat()),
        )
        return Portability(**json.loads(str(rows[0][0]))) if rows else None

    def save_portability(self, answer: Portability, at: dt.datetime) -> None:
        self._write(
            "INSERT OR REPLACE INTO partner_portability VALUES (?, ?, ?)",
            (answer.number, json.dumps(answer.__dict__), at.isoformat()),
        )

    # -- submissions -----------------------------------------------------------------

    def submission(self, request_id: str) -> Submission | None:
        rows = self._read(
            f"SELECT {_COLS} FROM partner_submissions WHERE request_id=?"
            " ORDER BY attempt DESC LIMIT 1",
            (request_id,),
        )
        return _submission(rows[0]) if rows else None

    def submissions(self, *statuses: str) -> list[Submission]:
        marks = ",".join("?" for _ in statuses)
        rows = self._read(
            f"SELECT {_COLS} FROM partner_submissions WHERE status IN ({marks})"
            " ORDER BY request_id, attempt",
            statuses,
        )
        return [_submission(r) for r in rows]

    def by_port_in(self, sid: str) -> Submission | None:
        rows = self._read(f"SELECT {_COLS} FROM partner_submissions WHERE port_in_sid=?", (sid,))
        return _submission(rows[0]) if rows else None

    def begin_submission(self, s: Submission) -> None:
        self._write(
            f"INSERT OR IGNORE INTO partner_submissions ({_COLS})"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                s.request_id,
                s.attempt,
                s.reference,
                s.status,
                s.document_sid,
                s.port_in_sid,
                s.created_on.isoformat(),
                s.source,
                s.event_key,
                s.detail,
                s.reason,
            ),
        )

    def update_submission(
        self,
        request_id: str,
        attempt: int,
        *,
        status: str,
        document_sid: str | None = None,
        port_in_sid: str | None = None,
        reason: str = "",
    ) -> None:
        self._write(
            "UPDATE partner_submissions SET status=?, document_sid=COALESCE(?, document_sid),"
            " port_in_sid=COALESCE(?, port_in_sid), reason=? WHERE request_id=? AND attempt=?",
            (status, document_sid, port_in_sid, reason, request_id, attempt),
        )

    # -- webhook events ---------------------------------------------------------------

    def add_event(self, body: str, at: dt.datetime) -> int:
        return self._write(
            "INSERT INTO partner_events (body, received_at) VALUES (?, ?)", (body, at.isoformat())
        )

    def events(self) -> list[tuple[int, str]]:
        rows = self._read("SELECT id, body FROM partner_events WHERE done=0 ORDER BY id")
        return [(int(str(r[0])), str(r[1])) for r in rows]

    def event_done(self, event_id: int) -> None:
        self._write("UPDATE partner_events SET done=1 WHERE id=?", (event_id,))

    # -- statuses applied -------------------------------------------------------------

    def applied(self, sid: str) -> str | None:
        rows = self._read("SELECT fingerprint FROM partner_applied WHERE port_in_sid=?", (sid,))
        return str(rows[0][0]) if rows else None

    def set_applied(self, sid: str, fingerprint: str) -> None:
        self._write("INSERT OR REPLACE INTO partner_applied VALUES (?, ?)", (sid, fingerprint))
