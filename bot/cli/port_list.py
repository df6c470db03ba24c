"""`portbot ports [--stage S] [--json]`: every request's port from the state store, with
its stage, how many days it has been there and what holds it (the checklist items still
missing, the problems found, the carrier's rejection waiting on the customer's fix).

Read only: the state file is read through a private in-memory copy, so the command
never writes it nor waits for a running bot's lock. No Zendesk call is made.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from bot.adapters.sqlite_state import SqliteStateStore
from bot.errors import StateError
from bot.pipeline.stage_keeper import change_from_json
from bot.ports import PortRecord
from rules.stages import Stage

__all__ = ["PortLine", "port_lines", "print_lines"]


@dataclass(frozen=True)
class PortLine:
    request_id: str
    ticket: int | None
    stage: str
    since: str  # ISO date-time (UTC) the port entered its stage
    days_in_stage: int
    ready: bool
    missing: tuple[str, ...]
    problems: tuple[str, ...]
    rejection: str | None  # the carrier's reason, while the customer's fix is awaited
    porting_date: str | None
    stale: bool

    @property
    def blocked_by(self) -> str:
        parts = []
        if self.rejection:
            parts.append(f"rejected: {self.rejection}")
        if self.missing:
            parts.append("missing: " + ", ".join(self.missing))
        if self.problems:
            parts.append("problems: " + ", ".join(self.problems))
        if self.stale:
            parts.append("stale (no answer after the reminders)")
        return "; ".join(parts) or "-"


def _problems(last_json: str | None) -> tuple[str, ...]:
    if not last_json:
        return ()
    try:
        data = json.loads(last_json)
    except ValueError:
        return ()
    codes = [str(p.get("code")) for p in data.get("problems") or [] if isinstance(p, dict)]
    return tuple(dict.fromkeys(codes))


def port_lines(
    state: SqliteStateStore, now: dt.datetime, stage: Stage | None = None
) -> list[PortLine]:
    """One line per port (`stage`: only those at that stage), longest waiting first."""
    tickets = state.tickets()
    since = state.stage_since()
    lines = []
    for port in state.ports():
        current = Stage(port.stage)
        if stage is not None and current != stage:
            continue
        lines.append(_line(state, port, current, tickets.get(port.request_id), since, now))
    return sorted(lines, key=lambda line: (line.since, line.request_id))


def _line(
    state: SqliteStateStore,
    port: PortRecord,
    current: Stage,
    ticket: int | None,
    since: dict[str, dt.datetime],
    now: dt.datetime,
) -> PortLine:
    entered = since.get(port.request_id, port.last_activity)
    collecting = current == Stage.REQUEST_RECEIVED
    rejection = None
    changes = state.stage_changes(port.request_id)
    if collecting and changes:
        last = change_from_json(changes[-1].change_json)
        if last.stage == Stage.REJECTED:
            rejection = last.reason or ", ".join(last.reason_codes) or "no reason given"
    record = state.ticket(port.request_id)
    return PortLine(
        request_id=port.request_id,
        ticket=ticket,
        stage=current.value,
        since=entered.astimezone(dt.UTC).isoformat(timespec="seconds"),
        days_in_stage=max(0, (now - entered).days),
        ready=port.ready,
        missing=tuple(port.missing) if collecting else (),
        problems=_problems(record.last_json if record else None)
        if collecting and not port.ready
        else (),
        rejection=rejection,
        porting_date=port.porting_date.isoformat() if port.porting_date else None,
        stale=port.stale_since is not None and collecting,  # (a later cycle drops the tag)
    )


def read_lines(path: Path, now: dt.datetime, stage: Stage | None = None) -> list[PortLine]:
    if not path.exists():
        raise StateError(f"state file {path} does not exist: no request has been read yet")
    state = SqliteStateStore(path, in_memory_copy=True)
    try:
        return port_lines(state, now, stage)
    finally:
        state.close()


def print_lines(
    lines: Iterable[PortLine], *, as_json: bool, out: Callable[[str], None] = print
) -> None:
    lines = list(lines)
    if as_json:
        out(json.dumps({"ports": [_as_json(line) for line in lines]}, indent=2))
        return
    out("REQUEST\tTICKET\tSTAGE\tDAYS\tBLOCKED BY")
    for line in lines:
        ticket = f"#{line.ticket}" if line.ticket is not None else "-"
        out(f"{line.request_id}\t{ticket}\t{line.stage}\t{line.days_in_stage}\t{line.blocked_by}")
    out(f"{len(lines)} port(s)")


def _as_json(line: PortLine) -> dict[str, object]:
    data = asdict(line)
    data["missing"], data["problems"] = list(line.missing), list(line.problems)
    return data
