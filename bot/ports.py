"""The ports: what the pipeline needs from the world, and the records that cross.

The pipeline (`bot.pipeline`) speaks only these; `bot.adapters` implements them on
real services (IMAP, SMTP, Zendesk, SQLite), `bot.standins` and the tests on local
stand-ins, and `bot.app` (the composition root) chooses which.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Literal, Protocol

from bot.render.ticket import FieldValue, TicketDraft, ZendeskNames
from parsers.model import Attachment
from rules.partner import NumberStatus as NumberStatus
from rules.partner import Portability as Portability
from rules.partner import PortInAddress as PortInAddress
from rules.partner import PortInOrder as PortInOrder
from rules.partner import PortInStatus as PortInStatus

ReplyStatus = Literal["sending", "sent", "suppressed", "failed"]


@dataclass(frozen=True)
class ReplyRecord:
    key: str  # the incoming message's state-store key
    request_id: str
    status: ReplyStatus
    at: dt.datetime
    reason: str = ""  # suppression reason code, or the failure
    message_id: str | None = None
    recipient: str | None = None  # To, lower case: what the daily cap counts
    raw: bytes | None = field(default=None, repr=False)  # the reply as sent (no secrets)
    envelope: tuple[str, ...] = ()
    assessment_json: str | None = None  # masked contract JSON the reply was rendered from
    noted: bool = False  # the ticket has its private note about this reply


class Clock(Protocol):
    """The one source of the time of day: built once at the composition root and
    handed to every part that dates, counts days or times a budget (`--now` and the
    tests fix it). Durations (timeouts, progress, health) keep `time.monotonic`."""

    def seconds(self) -> float:
        """Seconds since the epoch (`time.time`)."""
        ...

    def utc_now(self) -> dt.datetime:
        """The moment, timezone-aware in UTC."""
        ...

    def today(self) -> dt.date:
        """The local date the requests are assessed on."""
        ...


class SystemClock:
    def seconds(self) -> float:
        return time.time()

    def utc_now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def today(self) -> dt.date:
        return dt.date.today()


@dataclass(frozen=True)
class FixedClock:
    """`--now`: the moment the whole run takes as now (a naive `at` is local time)."""

    at: dt.datetime

    def seconds(self) -> float:
        return self.at.timestamp()

    def utc_now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.at.timestamp(), dt.UTC)

    def today(self) -> dt.date:
        return self.at.date()


class TicketDesk(Protocol):
    def create_ticket(
        self, draft: TicketDraft, attachments: Sequence[Attachment], idempotency_key: str
    ) -> int: ...

    def update_ticket(
        self,
        ticket_id: int,
        draft: TicketDraft,
        note: str | None,
        attachments: Sequence[Attachment],
        note_key: str | None = None,
    ) -> None: ...

    def has_note(self, ticket_id: int, key: str) -> bool:
        """Whether an update marked `key` (a note's marker) is on the ticket."""
        ...

    def ticket_status(self, ticket_id: int) -> str: ...

    def find_ticket(self, external_id: str) -> int | None: ...

    def create_followup(
        self,
        closed_id: int,
        draft: TicketDraft,
        attachments: Sequence[Attachment],
        idempotency_key: str,
    ) -> int: ...

    def setup_fields(self, names: ZendeskNames) -> dict[str, int]: ...

    def amend(
        self,
        ticket_id: int,
        *,
        note: str | None = None,
        fields: Mapping[str, FieldValue] | None = None,
        add_tags: Sequence[str] = (),
        remove_tags: Sequence[str] = (),
        note_key: str | None = None,
        attachments: Sequence[Attachment] = (),
        status: str | None = None,
    ) -> None:
        """One update of parts of a ticket: a private note, fields by logical name, tags.
        With a note, made once: marked `note_key` (else a marker from the note's text);
        `attachments` go on the note; `status` ("solved") sets the ticket's status."""
        ...

    def ticket_states(self, ticket_ids: Sequence[int]) -> dict[int, TicketState]:
        """The status, fields (by logical name) and tags of each ticket that still exists."""
        ...

    def find_email_ticket(self, email: EmailRef) -> int | None:
        """The ticket the desk's own email channel made from `email` (or added it to):
        the one whose comment keeps its Message-ID, else one from the same requester
        with the same subject made about then; None when the desk has none yet."""
        ...

    def reply_public(
        self,
        ticket_id: int,
        text: str,
        html: str | None,
        attachments: Sequence[Attachment],
        key: str,
    ) -> None:
        """A public comment (the desk emails it to the requester), made once: marked
        `key` in the audit's metadata, as notes are (`has_note(ticket_id, key)`)."""
        ...


@dataclass(frozen=True)
class EmailRef:
    """What identifies one incoming email on the desk's ticket."""

    message_id: str  # with its angle brackets, as the Message-ID header gives it
    sender: str | None  # the From address: the requester the desk's channel sets
    subject: str
    date: dt.datetime | None


@dataclass(frozen=True)
class TicketState:
    """What the bot reads back from a ticket: an agent may have changed it."""

    id: int
    status: str
    fields: Mapping[str, Any]  # by logical name (FIELD_SPECS), those set up
    tags: tuple[str, ...]
    updated_at: str


class Mailer(Protocol):
    def send(
        self,
        message: EmailMessage | bytes,
        recipients: Sequence[str] | None = None,
        sender: str | None = None,
    ) -> None:
        """Hand `message` to the mail system for `recipients` (default: its To/Cc/Bcc;
        required for bytes), from `sender` (default: the settings' or the From address).

        Bytes are sent exactly as given (CRLF line ends): a resend is byte-identical.
        Raises MailUnavailable (try again later) or MailRejected (will not work).
        """
        ...


@dataclass(frozen=True)
class FolderStatus:
    uidvalidity: int
    uidnext: int  # 0 when the server does not say
    exists: int = 0  # messages in the folder


@dataclass(frozen=True)
class Envelope:
    """What is known of a message before its body is fetched."""

    uid: int
    size: int
    header: bytes  # the raw header block


class Mailbox(Protocol):
    def select(self, folder: str) -> FolderStatus: ...

    def uids_from(self, first_uid: int) -> list[int]:
        """UIDs >= first_uid in the selected folder, ascending."""
        ...

    def envelopes(self, uids: Sequence[int]) -> list[Envelope]: ...

    def bodies(self, uids: Sequence[int]) -> dict[int, bytes]: ...

    def find(self, folder: str, message_id: str | None, size: int) -> list[int]:
        """UIDs in `folder` (then selected) that may be the message: same Message-ID or size."""
        ...

    def move(self, uids: Sequence[int], folder: str) -> None:
        """Move from the selected folder to `folder`, creating it when missing."""
        ...

    def folders(self) -> list[str]: ...

    def wait_for_news(self, folder: str, seconds: float, stop: Callable[[], bool]) -> bool:
        """IDLE on `folder` up to `seconds`; True as soon as something arrives."""
        ...

    def can_idle(self) -> bool:
        """Whether the server announces IDLE (RFC 2177)."""
        ...

    def close(self) -> None: ...


# "own": one of our own replies (or its copy) came back; "notice": a carrier-partner
# notice or a bounce of our reply, handed to the stage keeper instead of the sinks.
Outcome = Literal["assessed", "quarantined", "duplicate", "own", "notice", "other"]


@dataclass(frozen=True)
class FolderState:
    uidvalidity: int
    last_uid: int  # every UID up to this one has a recorded outcome (but those skipped)
    # [imap] start = "new": the UIDs below this one were in the folder on the first run
    # and were skipped, unread (0: none); `poll --backlog` reads them
    skipped_below: int = 0


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
    request_id: str  # "" for a notice (it belongs to no request of its own)
    key: str
    attempts: int
    outcome: str = "assessed"


@dataclass(frozen=True)
class PortRecord:
    """A request's port: its stage and what matching notices and reminders need."""

    request_id: str
    stage: str  # rules.stages.Stage value
    order_id: str | None
    customer_ref: str | None
    numbers: tuple[str, ...]
    carrier: str | None
    customer_name: str | None
    porting_date: dt.date | None
    ready: bool
    missing: tuple[str, ...]  # checklist items missing at the last assessment
    last_key: str | None  # the customer's newest message
    last_activity: dt.datetime  # when it came in
    reminders_sent: int
    last_reminder_at: dt.datetime | None
    stale_since: dt.datetime | None


@dataclass(frozen=True)
class ChangeRow:
    """A stage change recorded before its effects: the ticket, then the customer's email."""

    id: int
    request_id: str
    event_key: str
    change_json: str
    note: str
    at: dt.datetime
    ticket_done: bool
    mail_done: bool


@dataclass(frozen=True)
class UnmatchedNotice:
    key: str
    at: str
    partner: str
    kind: str
    order_id: str | None
    reason: str


class StateStore(Protocol):
    """What was read and what came of it (adapter: bot.adapters.sqlite_state)."""

    def exclusive(self) -> AbstractContextManager[None]:
        """Held for a whole cycle, so two bots on one state file never read the same mail."""
        ...

    def folder(self, name: str) -> FolderState | None: ...

    def start_folder(self, name: str, uidvalidity: int, skip_below: int = 0) -> None:
        """Read `name` from its start, or (`skip_below`) from that UID on, the rest skipped."""
        ...

    def uids_recorded(self, name: str, uidvalidity: int, below: int) -> set[int]:
        """The UIDs under `below` in the folder that have an outcome already."""
        ...

    def backlog_read(self, name: str) -> None:
        """The mail a `start = "new"` skipped in `name` has been read."""
        ...

    def requests_by_stage(self) -> dict[tuple[str, bool], int]:
        """(stage, ready) -> how many tracked requests (ports) are there."""
        ...

    def handled(self, key: str) -> bool: ...

    def request_for(self, ids: Sequence[str]) -> str | None: ...

    def thread_raws(self, request_id: str) -> list[bytes]: ...

    def record(self, record: MessageRecord) -> Recorded: ...

    def pending_deliveries(self) -> list[PendingDelivery]: ...

    def raw_of(self, row: int) -> bytes | None: ...

    def mark_delivered(self, row: int) -> None: ...

    def delivery_failed(self, row: int, reason: str, max_attempts: int) -> int:
        """Count a failed hand-on; at max_attempts the message is quarantined instead."""
        ...

    def delivery_deferred(self, row: int, reason: str) -> None:
        """A hand-on that must wait (an outage, a rate budget): kept pending, attempts unused."""
        ...

    def deferred_reasons(self) -> dict[str, str]:
        """request id -> why its newest pending hand-on waits (for `doctor` and the CLI)."""
        ...

    def ticket(self, request_id: str) -> TicketRecord | None: ...

    def begin_create(self, request_id: str, pending: PendingCreate) -> None:
        """Written BEFORE the create call: a restart repeats it with the same key."""
        ...

    def finish_create(self, request_id: str, ticket_id: int) -> None:
        """Written AFTER the create call: the ticket is the request's, the pending one done."""
        ...

    def abandon_create(self, request_id: str) -> None:
        """The desk refused the create for good: nothing was made, nothing to repeat."""
        ...

    def record_update(
        self, request_id: str, ticket_id: int, keys: Sequence[str], assessment_json: str, at: float
    ) -> None:
        """After an update call: what the ticket shows now, and one more update counted."""
        ...

    def updates_since(self, ticket_id: int, since: float) -> list[float]:
        """When the ticket was updated since `since`, oldest first."""
        ...

    def note_status(self, key: str) -> str | None:
        """'posting' (sent, or about to be: its answer not yet recorded), 'posted', or None."""
        ...

    def begin_note(self, key: str, request_id: str) -> None:
        """Written BEFORE the update that carries the note marked `key`."""
        ...

    def finish_note(self, key: str) -> None:
        """Written AFTER it: the note is on the ticket."""
        ...

    def forget_note(self, key: str) -> None:
        """It is not on the ticket (refused, or looked for and not found): post it afresh."""
        ...

    def notes_in_doubt(self, request_id: str) -> list[str]:
        """The keys of the request's notes left 'posting' (a stop or an outage came between)."""
        ...

    def reply_for(self, key: str) -> ReplyRecord | None: ...

    def reply_by_message_id(self, message_id: str) -> ReplyRecord | None: ...

    def last_sent(self, request_id: str) -> ReplyRecord | None: ...

    def replies_since(self, recipient: str, since: dt.datetime) -> int: ...

    def put(self, record: ReplyRecord) -> None:
        """Insert or replace by key, committed before returning (the reply's Message-ID
        joins the request's thread)."""
        ...

    def reply_counts(self) -> dict[str, int]: ...

    def port(self, request_id: str) -> PortRecord | None: ...

    def ports(self) -> list[PortRecord]: ...

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
        ...

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
        """Record a change and the port's new stage in one transaction, before any effect."""
        ...

    def set_port_ids(
        self, request_id: str, *, order_id: str | None = None, customer_ref: str | None = None
    ) -> None:
        """The partner's order id and our reference, as learned (a notice, the command line)."""
        ...

    def stage_change(self, change_id: int) -> ChangeRow | None: ...

    def pending_stage_changes(self) -> list[ChangeRow]: ...

    def stage_changes(self, request_id: str) -> list[ChangeRow]: ...

    def mark_change(self, change_id: int, *, ticket: bool = False, mail: bool = False) -> None: ...

    def record_reminder(self, request_id: str, ordinal: int, at: dt.datetime) -> None: ...

    def set_stale(self, request_id: str, since: dt.datetime | None) -> None:
        """Tagged stale at `since`; None: the customer came back (the count starts again)."""
        ...

    def add_unmatched(self, notice: UnmatchedNotice) -> None: ...

    def unmatched(self) -> list[UnmatchedNotice]: ...

    def request_of_ticket(self, ticket_id: int) -> str | None: ...

    def tickets(self) -> dict[str, int]:
        """request id -> its current ticket id."""
        ...

    def quarantined(self, *, open_only: bool = True) -> list[QuarantineEntry]: ...

    def mark_moved(self, quarantine_id: int) -> None: ...

    def mark_released(self, quarantine_id: int) -> None: ...

    def counts(self) -> dict[str, int]: ...

    def outcomes(self) -> list[tuple[str, int, int, str, str, str | None, str]]:
        """(folder, uidvalidity, uid, key, outcome, request_id, reason) of every message."""
        ...

    def close(self) -> None: ...


# --- the carrier partner (issue 17): portability, port-in orders, their status -------


class CarrierPartner(Protocol):
    """What the bot asks of a carrier partner's API (adapter: bot.adapters.twilio).

    Raises PartnerUnavailable (try again later) or PartnerRejected (will not work)."""

    name: str

    def portability(self, number: str) -> Portability: ...

    def upload_bill(self, reference: str, filename: str, content_type: str, data: bytes) -> str:
        """The bill as the order's proof of ownership; returns the partner's document id."""
        ...

    def create_port_in(self, order: PortInOrder, documents: Sequence[str]) -> PortInStatus: ...

    def find_port_in(self, document: str, created_on_or_after: dt.date) -> str | None:
        """The port-in created with `document`, if any (a create whose answer was lost)."""
        ...

    def port_in(self, sid: str) -> PortInStatus: ...


SubmissionStatus = Literal["begun", "uploaded", "creating", "created", "refused"]


@dataclass(frozen=True)
class Submission:
    """One attempt to create a request's port-in, recorded BEFORE any call.

    begun -> uploaded (the bill is the partner's document) -> creating (the create is
    sent, or about to be) -> created (its SID recorded); refused when the partner
    said no for good. A restart in `creating` looks the port-in up by the document."""

    request_id: str
    attempt: int  # 1, then one more per resubmission after a rejection
    reference: str
    status: SubmissionStatus
    document_sid: str | None
    port_in_sid: str | None
    created_on: dt.date
    source: str  # who asked: agent, cli
    event_key: str  # the stage change's key once the port-in exists
    detail: str  # the order as JSON, fixed when begun
    reason: str = ""


class PartnerLedger(Protocol):
    """The partner's side of the state (adapter: bot.adapters.partner_state)."""

    def portability(self, number: str, newer_than: dt.datetime) -> Portability | None: ...

    def save_portability(self, answer: Portability, at: dt.datetime) -> None: ...

    def submission(self, request_id: str) -> Submission | None:
        """The request's latest attempt."""
        ...

    def submissions(self, *statuses: str) -> list[Submission]: ...

    def by_port_in(self, sid: str) -> Submission | None: ...

    def begin_submission(self, submission: Submission) -> None: ...

    def update_submission(
        self,
        request_id: str,
        attempt: int,
        *,
        status: str,
        document_sid: str | None = None,
        port_in_sid: str | None = None,
        reason: str = "",
    ) -> None: ...

    def add_event(self, body: str, at: dt.datetime) -> int:
        """A webhook's body, queued as received (applied later, by a cycle)."""
        ...

    def events(self) -> list[tuple[int, str]]: ...

    def event_done(self, event_id: int) -> None: ...

    def applied(self, sid: str) -> str | None:
        """The fingerprint of the port-in's status last applied to the port."""
        ...

    def set_applied(self, sid: str, fingerprint: str) -> None: ...

    def close(self) -> None: ...
