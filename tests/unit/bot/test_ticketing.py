"""The ticket sink on a real state file and a recording desk; its [zendesk] configuration."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.adapters.sqlite_state import SqliteStateStore
from bot.app import read_token
from bot.config import Config, load_config
from bot.errors import ConfigError, DeliveryDeferred, DeskRejected, DeskUnavailable, TicketClosed
from bot.pipeline.intake import Delivery, key_of
from bot.pipeline.reading import assess_messages
from bot.pipeline.ticket_sink import (
    TicketSink,
    UpdateBudget,
    for_agent,
    idempotency_key,
    update_key,
)
from bot.render.ticket import FIELD_SPECS, TicketDraft, ZendeskNames
from parsers.email import parse_message
from parsers.model import Attachment
from rules.contract import DocumentView
from rules.decide import Policy, over_budget, ticket_step
from tests.clock import FakeClock as Clock
from tests.conftest import FIXTURES, ROOT

THREAD = FIXTURES / "07-ready-telus-followups-supply-loa-and-pin"
TODAY = dt.date(2026, 11, 26)
PIN = "7310"


@dataclass
class Filed:
    draft: TicketDraft
    notes: list[str]
    attachments: list[str]
    followup_of: int | None = None


@dataclass
class RecordingDesk:
    """A `TicketDesk` that keeps what it was asked in memory, like Zendesk would."""

    tickets: dict[int, Filed] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    keys: dict[str, int] = field(default_factory=dict)
    closed: set[int] = field(default_factory=set)
    fail: Exception | None = None
    crash_after_create: bool = False
    forget_keys: bool = False  # Idempotency-Keys expire after two hours
    external_ids: dict[str, int] = field(default_factory=dict)
    markers: dict[int, list[str]] = field(default_factory=dict)  # note markers per ticket
    crash_after_update: bool = False

    def _call(self, what: str) -> None:
        self.calls.append(what)
        if self.fail is not None:
            raise self.fail

    def _create(
        self,
        draft: TicketDraft,
        attachments: Sequence[Attachment],
        key: str,
        followup_of: int | None,
    ) -> int:
        if key in self.keys and not self.forget_keys:  # Idempotency-Key: the first answer
            return self.keys[key]
        tid = max(self.keys.values(), default=0) + 1
        self.tickets[tid] = Filed(
            draft, [draft.note_text], [a.filename for a in attachments], followup_of
        )
        self.keys[key] = tid
        self.external_ids[key] = tid
        if self.crash_after_create:
            raise SystemExit("killed right after the create call")
        return tid

    def create_ticket(
        self, draft: TicketDraft, attachments: Sequence[Attachment], idempotency_key: str
    ) -> int:
        self._call("create")
        return self._create(draft, attachments, idempotency_key, None)

    def update_ticket(
        self,
        ticket_id: int,
        draft: TicketDraft,
        note: str | None,
        attachments: Sequence[Attachment],
        note_key: str | None = None,
    ) -> None:
        self._call("update")
        if ticket_id in self.closed:
            raise TicketClosed("closed", 422, "RecordInvalid")
        if ticket_id not in self.tickets:
            raise DeskRejected("not found", 404, "RecordNotFound")
        filed = self.tickets[ticket_id]
        filed.draft = draft
        filed.notes.append(f"{note}\n\n{draft.note_text}")
        filed.attachments += [a.filename for a in attachments]
        if note_key is not None:
            self.markers.setdefault(ticket_id, []).append(note_key)
        if self.crash_after_update:
            raise SystemExit("killed right after the update call")

    def has_note(self, ticket_id: int, key: str) -> bool:
        self._call("has_note")
        return key in self.markers.get(ticket_id, [])

    def ticket_status(self, ticket_id: int) -> str:
        return "closed" if ticket_id in self.closed else "open"

    def find_ticket(self, external_id: str) -> int | None:
        self._call("find")
        return self.external_ids.get(external_id)

    def create_followup(
        self,
        closed_id: int,
        draft: TicketDraft,
        attachments: Sequence[Attachment],
        idempotency_key: str,
    ) -> int:
        self._call("followup")
        return self._create(draft, attachments, idempotency_key, closed_id)

    def setup_fields(self, names: ZendeskNames) -> dict[str, int]:
        return {name: n for n, name in enumerate(FIELD_SPECS, 1)}


RAWS = tuple(p.read_bytes() for p in sorted(THREAD.glob("*.eml")))


@pytest.fixture(scope="module")
def deliveries() -> list[Delivery]:
    """The thread's three messages as the intake hands them on, one at a time."""
    config = Config()
    return [
        Delivery(
            "PR-000001",
            key_of(RAWS[n - 1]),
            RAWS[:n],
            assess_messages(RAWS[:n], config, TODAY),
            messages=tuple(parse_message(raw) for raw in RAWS[:n]),
        )
        for n in (1, 2, 3)
    ]


@pytest.fixture()
def state(tmp_path: Path) -> Iterator[SqliteStateStore]:
    store = SqliteStateStore(tmp_path / "state.sqlite3")
    yield store
    store.close()


def sink(
    desk: RecordingDesk,
    state: SqliteStateStore,
    clock: Clock | None = None,
    budget: UpdateBudget | None = None,
) -> TicketSink:
    return TicketSink(desk, state, ZendeskNames(), budget=budget, now=clock or Clock())


def test_a_new_request_files_one_ticket_with_its_attachments(
    deliveries: list[Delivery], state: SqliteStateStore
) -> None:
    desk = RecordingDesk()
    sink(desk, state)(deliveries[0])
    assert desk.calls == ["create"]
    [filed] = desk.tickets.values()
    assert filed.attachments == ["TELUS_bill.pdf"]
    assert filed.draft.requester_email == "jason@harbourviewrealty.ca"
    assert "porting" in filed.draft.tags
    assert state.tickets() == {"PR-000001": 1}
    [key] = desk.keys
    assert key == idempotency_key("PR-000001", deliveries[0].key)


def test_a_delivery_seen_again_changes_nothing(
    deliveries: list[Delivery], state: SqliteStateStore
) -> None:
    desk = RecordingDesk()
    ticket_sink = sink(desk, state)
    ticket_sink(deliveries[0])
    ticket_sink(deliveries[0])
    ticket_sink(deliveries[1])
    ticket_sink(deliveries[1])
    assert desk.calls == ["create", "update"]


def test_a_follow_up_updates_the_ticket_with_what_changed_and_only_its_attachment(
    deliveries: list[Delivery], state: SqliteStateStore
) -> None:
    desk = RecordingDesk()
    ticket_sink = sink(desk, state)
    for delivery in deliveries:
        ticket_sink(delivery)
    assert desk.calls == ["create", "update", "update"]
    filed = desk.tickets[1]
    assert filed.attachments == ["TELUS_bill.pdf", "Harbourview LOA.pdf"]
    assert "Now received: Signed LOA" in filed.notes[1]
    assert "Now READY to submit." in filed.notes[2]
    assert filed.draft.ready and "port_ready" in filed.draft.tags
    assert PIN not in filed.draft.subject and PIN not in " ".join(filed.draft.tags)


def test_a_closed_ticket_gets_a_linked_follow_up_that_becomes_the_request_ticket(
    deliveries: list[Delivery], state: SqliteStateStore
) -> None:
    desk = RecordingDesk()
    ticket_sink = sink(desk, state)
    ticket_sink(deliveries[0])
    desk.closed.add(1)
    ticket_sink(deliveries[1])
    assert desk.calls == ["create", "update", "followup"]
    follow_up = desk.tickets[2]
    assert follow_up.followup_of == 1
    assert follow_up.attachments == ["Harbourview LOA.pdf"]
    assert follow_up.notes[0].startswith("Follow-up to closed ticket #1.")
    assert state.tickets() == {"PR-000001": 2}
    ticket_sink(deliveries[2])
    assert desk.calls[-1] == "update" and len(desk.tickets[2].notes) == 2
    record = state.ticket("PR-000001")
    assert record is not None and record.previous_ticket_ids == (1,)


def test_a_create_left_in_flight_by_a_crash_is_repeated_with_the_same_key(
    deliveries: list[Delivery], state: SqliteStateStore
) -> None:
    desk = RecordingDesk(crash_after_create=True)
    with pytest.raises(SystemExit):
        sink(desk, state)(deliveries[0])
    record = state.ticket("PR-000001")
    assert record is not None and record.ticket_id is None and record.pending is not None
    # restarted, with the follow-up already in the mailbox: one ticket, then an update
    desk.crash_after_create = False
    restarted = sink(desk, state)
    restarted(deliveries[0])
    restarted(deliveries[1])
    assert len(desk.tickets) == 1
    assert desk.calls == ["create", "find", "update"]
    assert desk.tickets[1].attachments == ["TELUS_bill.pdf", "Harbourview LOA.pdf"]


def test_an_update_killed_after_its_call_is_not_posted_again_after_a_restart(
    deliveries: list[Delivery], state: SqliteStateStore
) -> None:
    desk = RecordingDesk()
    sink(desk, state)(deliveries[0])
    desk.crash_after_update = True
    with pytest.raises(SystemExit):
        sink(desk, state)(deliveries[1])
    assert len(state.notes_in_doubt("PR-000001")) == 1  # 'posting': the answer never came
    desk.crash_after_update = False
    restarted = sink(desk, state)
    restarted(deliveries[1])  # the intake hands the message on again
    assert desk.calls == ["create", "update", "has_note"]  # looked for, found, not repeated
    assert len(desk.tickets[1].notes) == 2
    assert state.notes_in_doubt("PR-000001") == []
    restarted(deliveries[2])
    assert desk.calls[-1] == "update" and len(desk.tickets[1].notes) == 3


def test_an_update_left_posting_but_not_on_the_ticket_is_posted_once(
    deliveries: list[Delivery], state: SqliteStateStore
) -> None:
    desk = RecordingDesk()
    sink(desk, state)(deliveries[0])
    desk.fail = DeskUnavailable("Zendesk unreachable: ReadTimeout")
    with pytest.raises(DeliveryDeferred):
        sink(desk, state)(deliveries[1])
    desk.fail = None
    sink(desk, state)(deliveries[1])
    assert desk.calls == ["create", "update", "has_note", "update"]
    assert len(desk.tickets[1].notes) == 2  # the failed call made nothing; one note now
    assert state.notes_in_doubt("PR-000001") == []


def test_only_the_documents_an_agent_needs_are_uploaded() -> None:
    def att(name: str) -> Attachment:
        return Attachment(name, "application/octet-stream", b"x")

    documents = [
        DocumentView("bill.pdf", "bill"),
        DocumentView("loa.pdf", "loa"),
        DocumentView("numbers.csv", "number_list"),
        DocumentView("logo.png", "other"),
    ]
    sent = [att(n) for n in ("bill.pdf", "image001.png", "loa.pdf", "logo.png", "numbers.csv")]
    assert [a.filename for a in for_agent(sent, documents)] == [
        "bill.pdf",
        "loa.pdf",
        "numbers.csv",
    ]


def test_each_revision_of_a_ticket_has_its_own_update_marker() -> None:
    first = update_key("PR-000001", 1, ["<a@x>"])
    assert first == update_key("PR-000001", 1, ["<a@x>"])
    assert first != update_key("PR-000001", 1, ["<b@x>"])
    assert first != update_key("PR-000001", 2, ["<a@x>"])


def test_a_create_in_flight_is_not_repeated_after_zendesk_forgot_its_key(
    deliveries: list[Delivery], state: SqliteStateStore
) -> None:
    desk = RecordingDesk(crash_after_create=True)
    with pytest.raises(SystemExit):
        sink(desk, state)(deliveries[0])
    desk.crash_after_create, desk.forget_keys = False, True  # restarted hours later
    sink(desk, state)(deliveries[0])
    assert len(desk.tickets) == 1
    assert state.tickets() == {"PR-000001": 1}


def test_a_thread_waiting_for_its_first_ticket_gets_one_ticket_showing_all_of_it(
    deliveries: list[Delivery], state: SqliteStateStore
) -> None:
    desk, clock = RecordingDesk(fail=DeskUnavailable("Zendesk answered 503 5 times")), Clock()
    ticket_sink = sink(desk, state, clock)
    with pytest.raises(DeliveryDeferred) as waited:
        ticket_sink(deliveries[0])
    assert waited.value.everything
    # the rest of the cycle waits without calling Zendesk again
    with pytest.raises(DeliveryDeferred):
        ticket_sink(deliveries[1])
    assert desk.calls == ["create"]
    desk.fail, clock.now = None, clock.now + 60
    # next cycle: the first message's retry carries the whole thread so far. The
    # create may have reached Zendesk before the outage hid the answer, so it is
    # repeated as it was (same key, same content) unless Zendesk has it; the second
    # message then updates.
    ticket_sink(
        Delivery(
            "PR-000001",
            deliveries[0].key,
            RAWS[:2],
            deliveries[1].assessment,
            messages=deliveries[1].messages,
        )
    )
    ticket_sink(deliveries[1])
    assert desk.calls == ["create", "find", "create", "update"]
    assert len(desk.tickets) == 1
    assert desk.tickets[1].attachments == ["TELUS_bill.pdf", "Harbourview LOA.pdf"]


def test_refused_credentials_wait_instead_of_quarantining_the_mail(
    deliveries: list[Delivery], state: SqliteStateStore
) -> None:
    desk = RecordingDesk(fail=DeskRejected("Couldn't authenticate you", 401))
    with pytest.raises(DeliveryDeferred, match="credentials"):
        sink(desk, state)(deliveries[0])


def test_an_invalid_ticket_is_refused_for_the_intake_to_quarantine(
    deliveries: list[Delivery], state: SqliteStateStore
) -> None:
    desk = RecordingDesk(fail=DeskRejected("Zendesk refused: 422 RecordInvalid", 422))
    with pytest.raises(DeskRejected):
        sink(desk, state)(deliveries[0])


def test_a_refused_create_leaves_nothing_in_flight_to_repeat(
    deliveries: list[Delivery], state: SqliteStateStore
) -> None:
    desk = RecordingDesk(fail=DeskRejected("Zendesk refused: 422 RecordInvalid", 422))
    ticket_sink = sink(desk, state)
    with pytest.raises(DeskRejected):
        ticket_sink(deliveries[0])
    record = state.ticket("PR-000001")
    assert record is not None and record.pending is None
    # the message is quarantined; its follow-up opens the ticket with the thread so far
    desk.fail = None
    ticket_sink(deliveries[1])
    assert desk.calls == ["create", "create"] and len(desk.tickets) == 1


def test_updates_beyond_the_ticket_budget_wait_for_the_window_to_pass(
    deliveries: list[Delivery], state: SqliteStateStore
) -> None:
    desk, clock = RecordingDesk(), Clock()
    ticket_sink = sink(desk, state, clock, UpdateBudget(updates=1, window=600))
    ticket_sink(deliveries[0])
    ticket_sink(deliveries[1])
    with pytest.raises(DeliveryDeferred, match="ticket 1 has had 1 updates") as waited:
        ticket_sink(deliveries[2])
    assert not waited.value.everything  # other tickets go on
    clock.now += 601
    ticket_sink(deliveries[2])
    assert desk.calls == ["create", "update", "update"]


def test_a_deleted_ticket_is_replaced_by_a_new_one(
    deliveries: list[Delivery], state: SqliteStateStore
) -> None:
    desk = RecordingDesk()
    ticket_sink = sink(desk, state)
    ticket_sink(deliveries[0])
    del desk.tickets[1]
    ticket_sink(deliveries[1])
    assert desk.calls == ["create", "update", "create"]
    assert state.tickets() == {"PR-000001": 2}
    assert desk.tickets[2].attachments == ["TELUS_bill.pdf", "Harbourview LOA.pdf"]


def test_the_plan_follows_the_messages_the_ticket_already_shows(
    deliveries: list[Delivery], state: SqliteStateStore
) -> None:
    keys = [d.key for d in deliveries]
    the_sink = sink(RecordingDesk(), state)
    assert ticket_step(keys, the_sink.known("PR-000001", 0.0), Policy(), now=0.0).action == (
        "create"
    )
    the_sink(deliveries[0])
    known = the_sink.known("PR-000001", 0.0)
    assert ticket_step(keys[:1], known, Policy(), now=0.0).action == "nothing"
    step = ticket_step(keys, known, Policy(), now=0.0)
    assert (step.action, step.new, step.wait) == ("update", (1, 2), None)


def test_the_budget_counts_the_updates_inside_the_window() -> None:
    policy = Policy(updates_per_window=2, window_seconds=600)
    assert over_budget([100.0], policy, 200.0) is None
    assert over_budget([100.0, 150.0], policy, 200.0) == 500.0


# -- configuration ------------------------------------------------------------------


def _example_zendesk_block() -> str:
    text = (ROOT / "config.example.toml").read_text()
    block = text[text.index("# [zendesk]\n") :]
    lines = []
    for line in block.splitlines():
        if re.match(r"# (\[|[a-z_]+ = )", line):
            lines.append(line[2:])
    return "\n".join(lines) + "\n"


def test_the_documented_zendesk_section_loads_once_uncommented(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(_example_zendesk_block())
    zendesk = load_config(path).zendesk
    assert zendesk is not None
    assert zendesk.subdomain == "yourcompany" and zendesk.updates_per_ticket == 30
    assert zendesk.names == ZendeskNames(field_ids={n: 0 for n in FIELD_SPECS})


def test_without_a_zendesk_section_there_is_no_ticket_desk() -> None:
    assert load_config(ROOT / "config.example.toml").zendesk is None


def test_field_ids_and_tag_names_are_read_from_their_tables(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[zendesk]\nsubdomain = "acme"\nemail = "bot@acme.example"\n'
        '[zendesk.fields]\nstage = 4411\n[zendesk.names]\nporting_tag = "lnp"\n'
    )
    zendesk = load_config(path).zendesk
    assert zendesk is not None
    assert zendesk.names.field_ids == {"stage": 4411}
    assert zendesk.names.porting_tag == "lnp"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('email = "b@x.example"\n', "subdomain is required"),
        ('subdomain = "acme"\n', "email is required"),
        ('subdomain = "a"\nemail = "b@x"\ntoken = "secret"\n', "unknown key(s): token"),
        (
            'subdomain = "a"\nemail = "b@x"\n[zendesk.fields]\nstatus = 1\n',
            "unknown key(s): status",
        ),
        ('subdomain = "a"\nemail = "b@x"\n[zendesk.fields]\nstage = "x"\n', "a field id"),
        ('subdomain = "a"\nemail = "b@x"\nurl = "127.0.0.1:8765"\n', "http://"),
        ('subdomain = "a"\nemail = "b@x"\nupdates_per_ticket = 0\n', "updates_per_ticket"),
    ],
)
def test_a_wrong_zendesk_section_says_what_is_wrong(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[zendesk]\n" + text)
    with pytest.raises(ConfigError, match=re.escape(words)):
        load_config(path)


def test_the_token_comes_from_a_file_or_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[zendesk]\nsubdomain = "a"\nemail = "b@x"\n')
    zendesk = load_config(path).zendesk
    assert zendesk is not None
    assert read_token(zendesk, {"PORTBOT_ZENDESK_TOKEN": "t0k"}) == "t0k"
    with pytest.raises(ConfigError, match="PORTBOT_ZENDESK_TOKEN or \\[zendesk\\] token_file"):
        read_token(zendesk, {})
    (tmp_path / "token").write_text("from-file\n")
    path.write_text(
        f'[zendesk]\nsubdomain = "a"\nemail = "b@x"\ntoken_file = "{tmp_path / "token"}"\n'
    )
    zendesk = load_config(path).zendesk
    assert zendesk is not None and read_token(zendesk, {}) == "from-file"
