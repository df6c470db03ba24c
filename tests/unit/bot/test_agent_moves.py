"""An agent's stage move read from the ticket: one move per approval, even when two
approvals fall in the one second Zendesk's updated_at counts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.adapters.sqlite_state import SqliteStateStore
from bot.pipeline.stage_keeper import KeeperSettings, MailClassifier, PortKeeper
from bot.ports import FixedClock
from parsers.email import parse_message
from rules.stages import Stage, StageChange, transition

NOW = dt.datetime(2026, 12, 5, 8, 48, 29, tzinfo=dt.UTC)
SECOND = "2026-12-05T08:48:29Z"  # Zendesk's updated_at: whole seconds


@pytest.fixture()
def keeper(tmp_path: Path) -> Iterator[PortKeeper]:
    state = SqliteStateStore(tmp_path / "state.db", clock=FixedClock(NOW))
    state.note_activity(
        "PR-000001",
        "<m1@acme.example>",
        numbers=["+15125550101"],
        carrier="AT&T",
        customer_name="Ann",
        ready=True,
        missing=[],
        at=NOW,
    )
    yield PortKeeper(
        state,
        None,
        KeeperSettings(reminders=None),
        replier=None,
        classifier=MailClassifier(None, parse_message),
        assess=None,
        now=lambda: NOW,
    )
    state.close()


def _move(current: Stage, target: Stage, **kw: object) -> StageChange:
    change = transition(current, target, **kw)  # type: ignore[arg-type]
    assert isinstance(change, StageChange), change
    return change


def test_a_re_approval_after_a_rejection_in_the_same_second_is_a_move_of_its_own(
    keeper: PortKeeper,
) -> None:
    first = keeper.agent_event("PR-000001", 1, SECOND, Stage.SUBMITTED)
    assert keeper.agent_event("PR-000001", 1, SECOND, Stage.SUBMITTED) == first  # a re-read
    keeper.apply("PR-000001", first, _move(Stage.REQUEST_RECEIVED, Stage.SUBMITTED, source="agent"))
    keeper.apply("PR-000001", first, _move(Stage.REQUEST_RECEIVED, Stage.SUBMITTED, source="agent"))
    assert len(keeper.state.stage_changes("PR-000001")) == 1  # the same move, applied once
    rejected = _move(
        Stage.SUBMITTED,
        Stage.REJECTED,
        source="carrier",
        reason="wrong PIN",
        reason_codes=["wrong_pin"],
    )
    keeper.apply("PR-000001", "partner:KW1:rejected", rejected)
    port = keeper.state.port("PR-000001")
    assert port is not None and port.stage == Stage.REQUEST_RECEIVED.value
    again = keeper.agent_event("PR-000001", 1, SECOND, Stage.SUBMITTED)
    assert again != first
    keeper.apply("PR-000001", again, _move(Stage.REQUEST_RECEIVED, Stage.SUBMITTED, source="agent"))
    port = keeper.state.port("PR-000001")
    assert port is not None and port.stage == Stage.SUBMITTED.value
    assert len(keeper.state.stage_changes("PR-000001")) == 3
