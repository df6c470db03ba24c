"""Apply the auto-reply: the reply step of the message's plan (rules.decide.reply_step,
made by the intake's planner from `Replier.known`), rendered (bot.render.reply_email),
sent (bot.adapters.smtp), and each step recorded in a `ReplyLedger` so that a crash never
sends twice.

The protocol, per incoming message (its state-store key):

1. Recorded `sent`, `suppressed` or `failed` (`ReplyRecorded`): nothing more to do (a
   note still owed to the ticket is written again).
2. A `Suppression` (the loop rules, no change, the cap, superseded): recorded as
   `suppressed` with its reason.
3. A `ReplyPlan`: render the reply, then record `sending` *with the rendered bytes and the
   envelope* (committed), then hand the bytes to the mailer, then record `sent`.
4. Recorded `sending` (a crash, or a transient failure, between 3's record and
   its `sent`): the reply may or may not have gone out. If `copy_found` (e.g. an
   IMAP search of our mailbox for the Message-ID of the copy sent to `copy_to`)
   finds it, it went: record `sent`. Otherwise send *the recorded bytes* again:
   the same Message-ID, so receivers that dedupe (and our mailbox) see one mail.

Transient mail errors leave `sending` and raise (the intake retries the delivery);
a permanent rejection records `failed` with the reason and raises `MailRejected`
for the message's record. The per-sender daily cap counts `sending` and `sent`.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from email.message import EmailMessage
from typing import Literal, Protocol

from bot.errors import DeskRejected, MailRejected, PartiallyRefused
from bot.pipeline.intake import Delivery
from bot.pipeline.planning import thread_of
from bot.ports import Mailer, ReplyRecord
from bot.render.loa_form import LoaTemplate
from bot.render.notes import note_marker
from bot.render.reply_email import (
    envelope_recipients,
    render_reply,
    reply_attachments,
    sent_note,
    suppressed_note,
)
from parsers.model import Attachment, Message
from rules.assessment import Assessment
from rules.contract import to_json, view_from_json
from rules.decide import Policy, ReplyKnown, ReplyRecorded, ReplyStep, Thread, reply_step
from rules.reply import ReplyPlan, Suppression, reply_recipients

log = logging.getLogger("portbot.reply")


class NoteWriter(Protocol):
    """Writes a private note on the request's ticket once (under `key`), with the files
    the reply carried (the filled-in LOA) when there are any."""

    def __call__(self, request_id: str, text: str, key: str, /, *files: Attachment) -> None: ...


class ReplyLedger(Protocol):
    """What the state store keeps for replies (one row per incoming message key)."""

    def reply_for(self, key: str) -> ReplyRecord | None: ...

    def last_sent(self, request_id: str) -> ReplyRecord | None:
        """The newest `sent` (or `sending`) reply of the request: its assessment is what
        the customer last saw."""
        ...

    def replies_since(self, recipient: str, since: dt.datetime) -> int:
        """Replies `sending` or `sent` to `recipient` at or after `since`."""
        ...

    def put(self, record: ReplyRecord) -> None:
        """Insert or replace by key; durable (committed) on return."""
        ...

    # the note ledger (bot.adapters.sqlite_state): a note is recorded 'posting' before the ticket update
    # that carries it and 'posted' after; the ticket sink settles one left in doubt
    def note_status(self, key: str) -> str | None: ...

    def begin_note(self, key: str, request_id: str) -> None: ...

    def finish_note(self, key: str) -> None: ...


@dataclass(frozen=True)
class ReplySettings:
    support_address: str
    support_name: str
    domain: str  # of our Message-IDs
    own_addresses: frozenset[str] = frozenset()  # support_address is always included
    internal_domains: frozenset[str] = frozenset()  # our company's: colleagues who forward
    daily_cap: int = 5
    copy_to: str = ""  # also send to this address (our mailbox): evidence for recovery
    loa: LoaTemplate | None = None  # a missing or wrong LOA: the reply carries one filled in
    templates_dir: str = ""  # [reply] templates_dir: templates overriding the package's

    def __post_init__(self) -> None:
        if "@" not in self.support_address or not self.domain:
            raise ValueError("support_address and domain are needed")
        if self.daily_cap < 0:
            raise ValueError("daily_cap must not be negative")

    @property
    def ours(self) -> frozenset[str]:
        return frozenset({self.support_address.lower(), *(a.lower() for a in self.own_addresses)})

    def policy(self) -> Policy:
        """The reply's part of `rules.decide.Policy` (the ticket's part at its defaults)."""
        return Policy(
            own_domains=frozenset({self.domain}),
            own_addresses=self.ours,
            internal_domains=self.internal_domains,
            daily_cap=self.daily_cap,
        )


Outcome = Literal["sent", "resent", "suppressed", "already_done", "recovered"]


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    reason: str = ""
    message_id: str | None = None


class ReplyChannel(Protocol):
    """Another way out for a rendered reply than the mailer (`[reply] via = "zendesk"`:
    a public comment on the request's ticket, which the desk emails to the customer)."""

    def deliver(self, record: ReplyRecord) -> None:
        """Hand over `record.raw`; made once under the record's key. Raises the desk's
        errors (DeskUnavailable: try again later; DeskRejected: will not work)."""
        ...

    def delivered(self, record: ReplyRecord) -> bool:
        """Whether a reply left 'sending' (a stop, a lost answer) is there after all."""
        ...


class Replier:
    timing = "reply"  # its name in the per-message timings

    def __init__(
        self,
        ledger: ReplyLedger,
        mailer: Mailer,
        settings: ReplySettings,
        *,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        # (request_id, private note text, the note's key: made once on the ticket)
        note: NoteWriter | None = None,
        copy_found: Callable[[str], bool] | None = None,  # Message-ID -> in our mailbox?
        observe: Callable[[Literal["sent", "suppressed"], str], None] | None = None,
        read_email: Callable[[bytes], Message],  # the intake's parse (MessageCache.email)
        channel: ReplyChannel | None = None,  # instead of the mailer
    ) -> None:
        self.read_email = read_email
        self.channel = channel
        self.ledger, self.mailer, self.settings = ledger, mailer, settings
        self.now, self.note, self.copy_found = now, note, copy_found
        self.observe = observe or (lambda result, reason: None)
        self.policy = settings.policy()

    def __call__(self, delivery: Delivery) -> None:
        """The intake's Sink: one assessed message with its whole request."""
        plan = delivery.plan
        if plan is not None and plan.reply is not None:  # decided once, by the planner
            self.apply(plan.thread, plan.reply)
            return
        thread = thread_of(delivery)
        self.apply(thread, self.decide(thread))

    def known(self, thread: Thread) -> ReplyKnown:
        """What the ledger holds for the reply to `thread.key`, for `rules.decide`."""
        record = self.ledger.reply_for(thread.key)
        previous = self.ledger.last_sent(thread.request_id)
        to, _ = reply_recipients(thread.incoming, self.settings.internal_domains)
        return ReplyKnown(
            status=record.status if record is not None else None,
            last_sent=view_from_json(json.loads(previous.assessment_json))
            if previous and previous.assessment_json
            else None,
            sent_today=self.ledger.replies_since(to, self.midnight()) if to else 0,
        )

    def midnight(self) -> dt.datetime:
        """Where today's count of replies to one address starts (the daily cap)."""
        return self.now().replace(hour=0, minute=0, second=0, microsecond=0)

    def decide(self, thread: Thread) -> ReplyStep:
        """The reply step by the same rule the planner uses, for a call on its own."""
        return reply_step(thread, self.known(thread), self.policy)

    def handle(
        self,
        request_id: str,
        key: str,
        raws: Sequence[bytes],
        assessment: Assessment,
        *,
        superseded: bool = False,
    ) -> Result:
        """One message on its own (gathered and decided here). `superseded`: a later
        message of the request is handled in the same cycle (a backlog); this one gets
        no reply of its own, the customer one reply under that."""
        messages = tuple(self.read_email(raw) for raw in raws)
        thread = thread_of(
            Delivery(
                request_id, key, tuple(raws), assessment, superseded=superseded, messages=messages
            )
        )
        return self.apply(thread, self.decide(thread))

    def apply(self, thread: Thread, step: ReplyStep) -> Result:
        """Carry out the reply step of the plan for `thread.key`."""
        request_id, key = thread.request_id, thread.key
        if isinstance(step, ReplyRecorded):
            record = self.ledger.reply_for(key)
            assert record is not None
            if record.status == "sending":
                return self._recover(record)
            self._note_once(record)
            return Result("already_done", record.reason, record.message_id)
        if isinstance(step, Suppression):
            done = ReplyRecord(key, request_id, "suppressed", self.now(), reason=step.reason)
            self.ledger.put(done)
            self.observe("suppressed", step.reason)
            log.info("request=%s no auto-reply: %s", request_id, step.reason)
            self._note_once(done, suppressed_note(step))
            return Result("suppressed", step.reason)
        return self._send_new(request_id, key, thread.incoming, thread.assessment, step)

    def send_prepared(self, key: str, request_id: str, reply: EmailMessage, kind: str) -> Result:
        """Send a message the bot wrote on its own (a stage change, a reminder) by the
        same protocol: recorded `sending` with its bytes, sent, recorded `sent`; under
        `key` it goes out once. No loop rules or daily cap: no incoming mail asked for it.
        The caller writes the ticket's note (one note per change, saying what was sent)."""
        record = self.ledger.reply_for(key)
        if record is not None and record.status == "sending":
            return self._recover(record)
        if record is not None:
            return Result("already_done", record.reason, record.message_id)
        return self._record_and_send(key, request_id, reply, kind, noted=True)

    def render(
        self,
        plan: ReplyPlan,
        assessment: Assessment,
        message: Message,
        key: str,
        *,
        with_loa: bool = True,
        now: dt.datetime | None = None,
    ) -> EmailMessage:
        """The reply to `message` (under the incoming `key`), by the configured settings;
        `with_loa`: a missing or wrong LOA gets the filled-in form attached."""
        s = self.settings
        return render_reply(
            plan,
            assessment,
            message,
            support_address=s.support_address,
            support_name=s.support_name,
            domain=s.domain,
            incoming_key=key,
            internal_domains=s.internal_domains,
            now=now or self.now(),
            loa=s.loa if with_loa else None,
            templates_dir=s.templates_dir,
        )

    def _send_new(
        self, request_id: str, key: str, message: Message, assessment: Assessment, plan: ReplyPlan
    ) -> Result:
        reply = self.render(plan, assessment, message, key)
        seen = json.dumps(to_json(assessment))  # what the customer saw: the next one's base
        return self._record_and_send(key, request_id, reply, plan.kind, assessment_json=seen)

    def _record_and_send(
        self,
        key: str,
        request_id: str,
        reply: EmailMessage,
        reason: str,
        *,
        noted: bool = False,
        assessment_json: str | None = None,
    ) -> Result:
        """Record `reply` as `sending` with its bytes and envelope (committed: a crash now
        is recovered, never repeated), then send it."""
        s = self.settings
        envelope = tuple(envelope_recipients(reply, [s.copy_to] if s.copy_to else []))
        to = envelope_recipients(reply)[0]
        record = ReplyRecord(
            key,
            request_id,
            "sending",
            self.now(),
            reason=reason,
            message_id=str(reply["Message-ID"]),
            recipient=to.lower(),
            raw=reply.as_bytes(policy=email.policy.SMTP),
            envelope=envelope,
            noted=noted,
            assessment_json=assessment_json,
        )
        self.ledger.put(record)
        self._transmit(record)
        return Result("sent", reason, record.message_id)

    def _recover(self, record: ReplyRecord) -> Result:
        if self.channel is not None:
            found = self.channel.delivered(record)
        else:
            found = bool(
                record.message_id
                and self.copy_found is not None
                and self.copy_found(record.message_id)
            )
        if found:
            self._mark_sent(record)
            return Result("recovered", record.reason, record.message_id)
        self._transmit(record)
        return Result("resent", record.reason, record.message_id)

    def _transmit(self, record: ReplyRecord) -> None:
        # The recorded bytes, always: a resend is the very same mail.
        assert record.raw is not None
        try:
            if self.channel is not None:
                self.channel.deliver(record)
            else:
                self.mailer.send(record.raw, list(record.envelope), self.settings.support_address)
        except PartiallyRefused as exc:  # out to some: sending again would repeat it
            log.warning("request=%s auto-reply partly refused: %s", record.request_id, exc)
        except (MailRejected, DeskRejected) as exc:
            self.ledger.put(replace(record, status="failed", reason=f"rejected: {exc}", raw=None))
            self._note_once(
                self.ledger.reply_for(record.key) or record, f"auto-reply could not be sent: {exc}"
            )
            raise
        self._mark_sent(record)

    def _mark_sent(self, record: ReplyRecord) -> None:
        # through the desk, the reply is itself on the ticket: no note about it
        sent = replace(
            record, status="sent", at=self.now(), noted=record.noted or bool(self.channel)
        )
        self.ledger.put(sent)
        self.observe("sent", record.reason)
        log.info(
            "request=%s auto-reply sent (%s) %s",
            record.request_id,
            record.reason,
            record.message_id,
        )
        self._note_once(sent)

    def _note_once(self, record: ReplyRecord, text: str | None = None) -> None:
        """The ticket's note about this reply, once: recorded 'posting' before the call and
        'posted' after, under the marker the desk gives a note of this text. One left
        'posting' by a stop or a lost answer is looked for on the ticket by the ticket
        sink, which runs first; found, it is only recorded here."""
        if self.note is None or record.noted:
            return
        files: list[Attachment] = []
        if text is None:
            text, files = _note_for(record), _files_of(record)
        # Keyed by the incoming message too: two messages may earn the same words
        # ("superseded") and each gets its note.
        key = note_marker(f"{record.key}\x00{text}")
        if self.ledger.note_status(key) != "posted":
            self.ledger.begin_note(key, record.request_id)
            self.note(record.request_id, text, key, *files)
            self.ledger.finish_note(key)
        self.ledger.put(replace(record, noted=True))


def _files_of(record: ReplyRecord) -> list[Attachment]:
    """What a sent reply carried (the filled-in LOA), for the agent on the ticket."""
    if record.status != "sent" or record.raw is None:
        return []
    reply = email.message_from_bytes(record.raw, policy=email.policy.SMTP)
    assert isinstance(reply, EmailMessage)
    return [Attachment(name, ctype, data) for name, ctype, data in reply_attachments(reply)]


def _note_for(record: ReplyRecord) -> str:
    if record.status == "sent" and record.raw is not None:
        reply = email.message_from_bytes(record.raw, policy=email.policy.SMTP)
        assert isinstance(reply, EmailMessage)
        return sent_note(reply, record.reason)
    if record.status == "suppressed":
        return f"auto-reply not sent: {record.reason}"
    return f"auto-reply {record.status}: {record.reason}"


class MemoryLedger:
    """A ReplyLedger in memory: for tests and the demo (the state store keeps the real one)."""

    def __init__(self) -> None:
        self.records: dict[str, ReplyRecord] = {}
        self.notes: dict[str, str] = {}

    def reply_for(self, key: str) -> ReplyRecord | None:
        return self.records.get(key)

    def last_sent(self, request_id: str) -> ReplyRecord | None:
        found = [
            r
            for r in self.records.values()
            if r.request_id == request_id and r.status in ("sent", "sending")
        ]
        return max(found, key=lambda r: r.at) if found else None

    def replies_since(self, recipient: str, since: dt.datetime) -> int:
        return sum(
            1
            for r in self.records.values()
            if r.status in ("sent", "sending")
            and r.recipient == recipient.lower()
            and r.at >= since
        )

    def put(self, record: ReplyRecord) -> None:
        self.records[record.key] = record

    def note_status(self, key: str) -> str | None:
        return self.notes.get(key)

    def begin_note(self, key: str, request_id: str) -> None:
        self.notes.setdefault(key, "posting")

    def finish_note(self, key: str) -> None:
        self.notes[key] = "posted"


__all__ = [
    "MemoryLedger",
    "Replier",
    "ReplyChannel",
    "ReplyLedger",
    "ReplySettings",
    "Result",
]
