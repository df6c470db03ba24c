"""The SQLite state store: what is recorded is what counts as done."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from bot.adapters.sqlite_state import SqliteStateStore
from bot.errors import StateError
from bot.ports import MessageRecord


def record(
    uid: int,
    outcome: str = "assessed",
    *,
    key: str | None = None,
    request_id: str | None = None,
    refs: tuple[str, ...] = (),
) -> MessageRecord:
    message_id = key or f"<m{uid}@x>"
    return MessageRecord(
        folder="INBOX",
        uidvalidity=7,
        uid=uid,
        key=message_id,
        message_id=message_id,
        size=100,
        outcome=outcome,
        reason="why" if outcome == "quarantined" else "",
        request_id=request_id,
        raw=f"raw {uid}".encode(),
        thread_ids=(message_id, *refs),
    )


@pytest.fixture
def store(tmp_path: Path) -> SqliteStateStore:
    return SqliteStateStore(tmp_path / "state.db")


def test_the_state_file_is_private_because_it_holds_raw_mail(tmp_path: Path) -> None:
    SqliteStateStore(tmp_path / "state.db").close()
    assert stat.S_IMODE((tmp_path / "state.db").stat().st_mode) == 0o600


def test_the_high_water_mark_moves_only_with_a_recorded_outcome(store: SqliteStateStore) -> None:
    store.start_folder("INBOX", 7)
    assert store.folder("INBOX") is not None and store.folder("INBOX").last_uid == 0
    store.record(record(1))
    store.record(record(2, "quarantined"))
    assert store.folder("INBOX").last_uid == 2


def test_a_new_uidvalidity_starts_the_folder_again(store: SqliteStateStore) -> None:
    store.start_folder("INBOX", 7)
    store.record(record(5))
    store.start_folder("INBOX", 8)
    folder = store.folder("INBOX")
    assert folder is not None and (folder.uidvalidity, folder.last_uid) == (8, 0)
    assert store.handled("<m5@x>")


def test_the_same_uid_cannot_be_recorded_twice(store: SqliteStateStore) -> None:
    store.start_folder("INBOX", 7)
    store.record(record(1))
    with pytest.raises(Exception, match="UNIQUE"):
        store.record(record(1))


def test_follow_ups_join_the_request_of_the_message_they_answer(store: SqliteStateStore) -> None:
    store.start_folder("INBOX", 7)
    first = store.record(record(1))
    assert first.request_id == "PR-000001"
    found = store.request_for(["<unknown@x>", "<m1@x>"])
    assert found == "PR-000001"
    store.record(record(2, request_id=found, refs=("<m1@x>",)))
    assert store.thread_raws("PR-000001") == [b"raw 1", b"raw 2"]
    assert store.record(record(3)).request_id == "PR-000002"


def test_quarantined_mail_has_no_request_and_is_not_handled(store: SqliteStateStore) -> None:
    store.start_folder("INBOX", 7)
    done = store.record(record(1, "quarantined"))
    assert done.request_id is None
    assert not store.handled("<m1@x>")
    [entry] = store.quarantined()
    assert (entry.uid, entry.reason, entry.moved, entry.released) == (1, "why", False, False)
    store.mark_moved(entry.id)
    store.mark_released(entry.id)
    assert store.quarantined() == []
    assert store.quarantined(open_only=False)[0].released


def test_a_hand_on_failing_too_often_quarantines_the_message(store: SqliteStateStore) -> None:
    store.start_folder("INBOX", 7)
    done = store.record(record(1))
    assert [p.row for p in store.pending_deliveries()] == [done.row]
    assert store.delivery_failed(done.row, "desk down", max_attempts=2) == 1
    assert store.pending_deliveries() != []
    assert store.delivery_failed(done.row, "desk down", max_attempts=2) == 2
    assert store.pending_deliveries() == []
    assert [e.reason for e in store.quarantined()] == ["desk down"]


def test_a_delivered_message_is_not_handed_on_again(store: SqliteStateStore) -> None:
    store.start_folder("INBOX", 7)
    done = store.record(record(1))
    store.mark_delivered(done.row)
    assert store.pending_deliveries() == []
    assert store.counts()["assessed"] == 1


def test_a_file_that_is_not_a_state_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StateError, match="not a usable state file"):
        SqliteStateStore(path)


def test_the_state_survives_reopening(tmp_path: Path) -> None:
    store = SqliteStateStore(tmp_path / "state.db")
    store.start_folder("INBOX", 7)
    store.record(record(1))
    store.close()
    again = SqliteStateStore(tmp_path / "state.db")
    assert again.handled("<m1@x>") and again.folder("INBOX").last_uid == 1


def test_a_note_is_posting_before_its_update_and_posted_after_it(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = SqliteStateStore(path)
    store.begin_note("note-1", "PR-000001")
    store.begin_note("note-2", "PR-000001")
    store.finish_note("note-2")
    store.close()
    reopened = SqliteStateStore(path)  # a stop came between the update and its record
    assert reopened.note_status("note-1") == "posting"
    assert reopened.notes_in_doubt("PR-000001") == ["note-1"]
    assert reopened.notes_in_doubt("PR-000002") == []
    reopened.forget_note("note-2")  # posted notes are never forgotten
    assert reopened.note_status("note-2") == "posted"
    reopened.forget_note("note-1")  # looked for, not found: its owner posts it afresh
    assert reopened.note_status("note-1") is None
    reopened.close()
