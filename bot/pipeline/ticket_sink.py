"""The ticket sink: each assessed message brought onto its request's Zendesk ticket.

It applies the ticket step of the message's plan (`rules.decide.TicketStep`: create,
adopt, update, or nothing new; made by the intake's planner from `TicketSink.known`),
by desk calls each framed by ledger writes. A create a crash left in flight is finished
first, and a ticket found closed or gone is replaced; after either the step is taken
again by the same rule (`rules.decide.ticket_step`) from the ledger as it now stands.

Never two tickets for one request: before a create the ledger records its
Idempotency-Key with the messages and the assessment it is made from; after it,
the ticket id. A restart that finds a create in flight repeats it with the same
key and the same content, and gets the ticket the first call made (Zendesk
answers a repeated key with the first answer; the adapter looks a changed body
up by external_id).

The sink brings the ticket up to the state of the whole thread, not of one
message: a delivery retried after an outage, or seen again after a crash, finds
its message already on the ticket and does nothing; a follow-up that arrives
while the first message still waits makes one ticket showing both.

Beside a desk that already ingests the mailbox (`mode="annotate"`), the sink never
creates: Zendesk's email channel has made a ticket of the same email, and the sink
adopts it (found by the email's Message-ID, `TicketDesk.find_email_ticket`), records
it, and pre-fills it (fields, tags, the private note; subject, requester and
attachments stay the desk's) by the same exactly-once update as a follow-up's. Until
the desk's ticket appears the delivery waits (`DeliveryDeferred`, retried each cycle).
The desk threads follow-ups itself; the sink updates the ticket it knows, and when that
one is closed it adopts the follow-up ticket the desk opened for the new email.

Failures, as the intake reads them: `DeskUnavailable` (Zendesk down, rate
limited beyond the adapter's patience) and a spent per-ticket update budget
defer the message to a later cycle without using up its attempts; a refusal
(`DeskRejected`, e.g. an invalid field) quarantines it with the reason. Refused
credentials (401/403) are the account's problem, not the message's: they wait.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from html import escape
from typing import Any, Literal, Protocol

from bot.errors import DeliveryDeferred, DeskRejected, DeskUnavailable, TicketClosed
from bot.pipeline.intake import Delivery, key_of
from bot.ports import EmailRef, PendingCreate, TicketDesk, TicketRecord
from bot.render.ticket import TicketDraft, ZendeskNames, diff_note, draft_of
from parsers.model import Attachment, Message
from rules.contract import AssessmentView, DocumentView, to_json, view_from_json
from rules.decide import Policy, TicketKnown, TicketStep, ticket_step
from rules.stages import Stage

log = logging.getLogger("portbot.ticketing")


class TicketLedger(Protocol):
    """The part of the state store the sink uses (bot.adapters.sqlite_state.SqliteStateStore)."""

    def ticket(self, request_id: str) -> TicketRecord | None: ...

    def begin_create(self, request_id: str, pending: PendingCreate) -> None: ...

    def finish_create(self, request_id: str, ticket_id: int) -> None: ...

    def abandon_create(self, request_id: str) -> None: ...

    def record_update(
        self, request_id: str, ticket_id: int, keys: Sequence[str], assessment_json: str, at: float
    ) -> None: ...

    def updates_since(self, ticket_id: int, since: float) -> list[float]: ...

    def note_status(self, key: str) -> str | None: ...

    def begin_note(self, key: str, request_id: str) -> None: ...

    def finish_note(self, key: str) -> None: ...

    def notes_in_doubt(self, request_id: str) -> list[str]: ...

    def forget_note(self, key: str) -> None: ...


@dataclass(frozen=True)
class UpdateBudget:
    """At most `updates` updates of one ticket per `window` seconds (Zendesk: 30 per 10 min)."""

    updates: int = 30
    window: float = 600.0


def idempotency_key(request_id: str, message_key: str, purpose: str = "") -> str:
    """The Idempotency-Key (and external_id) of a create: the same on every retry.

    The message key (a Message-ID) is part of it, so a request id reused by a new
    state file never meets the key of an old ticket.
    """
    digest = hashlib.sha256(f"{request_id}\0{message_key}\0{purpose}".encode()).hexdigest()
    return f"portbot-{request_id}-{digest[:24]}"


def update_key(request_id: str, ticket_id: int, new_keys: Sequence[str]) -> str:
    """The marker of the update that brings `new_keys` onto the ticket: the same on every
    retry of that update, another for the next message (the ticket's next revision)."""
    text = "\0".join((request_id, str(ticket_id), *new_keys))
    return "update-" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


# -- decide ---------------------------------------------------------------------------

# What an agent works from: the documents the port needs. Signature images, logos and
# anything else stay in the mail (the note lists every document by name and kind).
AGENT_KINDS = frozenset({"bill", "loa", "number_list"})


def for_agent(
    attachments: Sequence[Attachment], documents: Sequence[DocumentView]
) -> list[Attachment]:
    """The attachments worth uploading: those the assessment read as a bill, an LOA or a
    number list."""
    wanted = {d.filename for d in documents if d.kind in AGENT_KINDS}
    return [a for a in attachments if a.filename in wanted]


def shown(snapshot: str | None) -> AssessmentView | None:
    """A snapshot the ledger kept (what a ticket shows, or a create is made from), typed."""
    return view_from_json(json.loads(snapshot)) if snapshot else None


def with_preamble(draft: TicketDraft, text: str) -> TicketDraft:
    """The draft with `text` (first line bold) above its private note."""
    first, *rest = text.splitlines() or [""]
    html = (
        f"<p><strong>{escape(first)}</strong>"
        + "".join(f"<br>{escape(r)}" for r in rest)
        + "</p><hr>"
    )
    return replace(
        draft, note_html=html + draft.note_html, note_text=text + "\n\n" + draft.note_text
    )


# -- apply ----------------------------------------------------------------------------


class TicketSink:
    """The intake's `Sink` for the ticket desk: one ticket per request, kept current."""

    timing = "ticket"  # its name in the per-message timings

    def __init__(
        self,
        desk: TicketDesk,
        ledger: TicketLedger,
        names: ZendeskNames,
        *,
        budget: UpdateBudget | None = None,
        now: Callable[[], float] = time.time,
        cool_off: float = 30.0,
        lifecycle: Callable[[str], Stage | None] | None = None,
        mode: Literal["create", "annotate"] = "create",
    ) -> None:
        self.desk = desk
        self.mode = mode
        # the port's stage by request id: past request_received a follow-up keeps it
        self.lifecycle = lifecycle or (lambda request_id: None)
        self.ledger = ledger
        self.names = names
        self.budget = budget or UpdateBudget()
        self.policy = Policy(
            mode=mode, updates_per_window=self.budget.updates, window_seconds=self.budget.window
        )
        self.now = now
        self.cool_off = cool_off  # after an outage, the desk is left alone this long
        self._down_until = 0.0

    def known(self, request_id: str, now: float) -> TicketKnown:
        """What the ledger holds of the request's ticket, for `rules.decide` (a create
        left in flight reads as none made: it is made, again, with its first key)."""
        record = self.ledger.ticket(request_id)
        if record is None or record.ticket_id is None or record.pending is not None:
            return TicketKnown(None, frozenset(), False)
        recent = self.ledger.updates_since(record.ticket_id, now - self.budget.window)
        return TicketKnown(record.ticket_id, record.applied, bool(record.last_json), tuple(recent))

    def _step(self, request_id: str, keys: Sequence[str], now: float) -> TicketStep:
        return ticket_step(
            keys,
            self.known(request_id, now),
            self.policy,
            now=now,
            stage=self.lifecycle(request_id),
        )

    def __call__(self, delivery: Delivery) -> None:
        record = self.ledger.ticket(delivery.request_id)
        in_doubt = self.ledger.notes_in_doubt(delivery.request_id)
        if (
            record is not None
            and record.pending is None
            and delivery.key in record.applied
            and not in_doubt
        ):
            return  # seen before: a retry after a crash, or another sink failed
        now = self.now()
        if now < self._down_until:
            raise DeliveryDeferred(
                "Zendesk was unavailable moments ago; trying next cycle",
                everything=True,
                service="Zendesk",
            )
        try:
            if in_doubt and record is not None and record.ticket_id is not None:
                self._settle_notes(record.ticket_id, in_doubt)
            if record is not None and record.pending is None and delivery.key in record.applied:
                return
            step = delivery.plan.ticket if delivery.plan is not None else None
            self._bring_up_to_date(delivery, record, now, step)
        except DeskUnavailable as exc:
            self._down_until = now + max(exc.retry_after or 0.0, self.cool_off)
            raise DeliveryDeferred(
                f"Zendesk unavailable: {exc}", everything=True, service="Zendesk"
            ) from exc
        except DeskRejected as exc:
            if exc.status not in (401, 403):
                raise
            self._down_until = now + self.cool_off
            raise DeliveryDeferred(
                f"Zendesk refused the bot's credentials ({exc.status}): "
                "check [zendesk] email and the API token",
                everything=True,
                service="Zendesk",
            ) from exc

    def _settle_notes(self, ticket_id: int, keys: Sequence[str]) -> None:
        """Notes left 'posting' (a stop or a lost answer came between the update and its
        record): the ticket's audits say whether each went. One that did is recorded
        posted; one that did not is forgotten, and its owner posts it again."""
        for key in keys:
            if self.desk.has_note(ticket_id, key):
                self.ledger.finish_note(key)
            else:
                self.ledger.forget_note(key)

    def _bring_up_to_date(
        self,
        delivery: Delivery,
        record: TicketRecord | None,
        now: float,
        step: TicketStep | None = None,
    ) -> None:
        """`step`: the plan's (None: taken here, by the same rule)."""
        request_id = delivery.request_id
        keys = tuple(key_of(raw) for raw in delivery.raws)
        messages = delivery.messages
        annotate = self.mode == "annotate"
        if record is not None and record.pending is not None:
            if annotate:  # an adoption cut short (or a create of another mode): find again
                self.ledger.abandon_create(request_id)
            else:
                self._finish(request_id, record, dict(zip(keys, messages, strict=True)))
            record = self.ledger.ticket(request_id)
            step = None  # the ledger changed under the plan: look again
        if step is None:
            step = self._step(request_id, keys, now)
        # the snapshot the ledger keeps (the contract form) and its typed view, rendered
        data = to_json(delivery.assessment, show_secrets=True)
        view = view_from_json(data)
        if step.action == "nothing":
            return
        if step.action == "create":
            self._create(request_id, record, delivery.key, keys, keys, data, messages, None)
            return
        if step.action == "adopt":
            self._adopt(request_id, messages, None)
            step = self._step(request_id, keys, now)  # the desk's ticket: now the pre-fill
        record = self.ledger.ticket(request_id)
        assert record is not None and record.ticket_id is not None
        ticket_id = record.ticket_id
        if step.wait is not None:
            raise DeliveryDeferred(
                f"ticket {ticket_id} has had {self.budget.updates} updates "
                f"in {self.budget.window:.0f} s; the next in {step.wait:.0f} s"
            )
        new_keys = tuple(keys[i] for i in step.new)
        first = step.prefill  # the desk's ticket, not pre-filled yet
        note = None if first else diff_note(shown(record.last_json), view)
        draft = draft_of(view, messages, self.names, follow_up=not first, lifecycle=step.stage)
        attachments = for_agent(
            [a for i in step.new for a in messages[i].attachments], view.documents
        )
        if annotate:  # the desk's channel has the mail's attachments and its subject
            draft, attachments = replace(draft, subject=""), []
        key = update_key(request_id, ticket_id, new_keys)
        if self.ledger.note_status(key) == "posted":  # made before a stop: only its record
            self.ledger.record_update(request_id, ticket_id, keys, json.dumps(data), now)
            return
        self.ledger.begin_note(key, request_id)  # before the call: a stop now is checked
        try:
            self.desk.update_ticket(ticket_id, draft, note, attachments, note_key=key)
        except TicketClosed:
            self.ledger.forget_note(key)
            if annotate:  # the desk opened a follow-up from the new email: that one
                self._adopt(request_id, [messages[i] for i in reversed(step.new)], ticket_id)
                self._bring_up_to_date(delivery, self.ledger.ticket(request_id), now)
                return
            log.info("request=%s ticket %d is closed: opening a follow-up", request_id, ticket_id)
            self._create(
                request_id, record, delivery.key, keys, new_keys, data, messages, ticket_id
            )
            return
        except DeskRejected as exc:
            self.ledger.forget_note(key)  # refused: nothing was posted
            if exc.status != 404:
                raise
            if annotate:
                self._adopt(request_id, [messages[i] for i in reversed(step.new)], ticket_id)
                self._bring_up_to_date(delivery, self.ledger.ticket(request_id), now)
                return
            log.warning("request=%s ticket %d is gone: opening a new one", request_id, ticket_id)
            self._create(
                request_id,
                record,
                delivery.key,
                keys,
                keys,
                data,
                messages,
                None,
                purpose=f"replaces-{ticket_id}",
            )
            return
        self.ledger.record_update(request_id, ticket_id, keys, json.dumps(data), now)
        self.ledger.finish_note(key)
        log.info(
            "request=%s ticket %d updated (%d new message(s), %d attachment(s))",
            request_id,
            ticket_id,
            len(new_keys),
            len(attachments),
        )

    def _adopt(self, request_id: str, messages: Sequence[Message], replaces: int | None) -> int:
        """Make the desk's ticket for one of `messages` (first found) the request's ticket.

        Recorded as a create with nothing applied yet, so the next update is the
        pre-fill. None found yet: the delivery waits for the desk's channel.
        """
        for message in messages:
            if not message.message_id:
                continue
            ref = EmailRef(message.message_id, message.sender, message.subject, message.date)
            found = self.desk.find_email_ticket(ref)
            if found is None or found == replaces:
                continue
            self.ledger.begin_create(
                request_id, PendingCreate(f"adopt-{found}", (), (), "", replaces)
            )
            self.ledger.finish_create(request_id, found)
            log.info("request=%s the desk's ticket %d adopted", request_id, found)
            return found
        first = next((m.message_id for m in messages if m.message_id), None)
        raise DeliveryDeferred(
            f"the desk has no ticket for {first or 'this email'} yet "
            "(its email channel has not made it); retried next cycle"
        )

    def _create(
        self,
        request_id: str,
        record: TicketRecord | None,
        message_key: str,
        keys: Sequence[str],
        attach_keys: Sequence[str],
        data: Mapping[str, Any],
        messages: Sequence[Message],
        followup_of: int | None,
        purpose: str = "",
    ) -> None:
        if followup_of is not None:
            purpose = f"followup-{followup_of}"
        pending = PendingCreate(
            idempotency_key(request_id, message_key, purpose),
            tuple(keys),
            tuple(attach_keys),
            json.dumps(data),
            followup_of,
        )
        self.ledger.begin_create(request_id, pending)  # before the call: a crash repeats it
        last = record.last_json if record is not None else None
        ticket_id = self._send(request_id, pending, last, dict(zip(keys, messages, strict=True)))
        self.ledger.finish_create(request_id, ticket_id)
        log.info(
            "request=%s ticket %d created%s",
            request_id,
            ticket_id,
            f" (follow-up of closed ticket {followup_of})" if followup_of else "",
        )

    def _finish(
        self, request_id: str, record: TicketRecord, messages: Mapping[str, Message]
    ) -> None:
        """A create in flight when the bot stopped: the same call again, the same key."""
        assert record.pending is not None
        # Made before the crash? Zendesk keeps the key as the ticket's external_id,
        # also after it has forgotten the Idempotency-Key (two hours).
        ticket_id = self.desk.find_ticket(record.pending.idempotency_key)
        if ticket_id is None:
            log.info("request=%s repeating a create left in flight", request_id)
            ticket_id = self._send(request_id, record.pending, record.last_json, messages)
        self.ledger.finish_create(request_id, ticket_id)

    def _send(
        self,
        request_id: str,
        pending: PendingCreate,
        last_json: str | None,
        messages: Mapping[str, Message],
    ) -> int:
        try:
            return self._send_create(request_id, pending, last_json, messages)
        except DeskRejected as exc:
            if isinstance(exc, TicketClosed):
                raise
            # refused (or not authenticated): Zendesk made nothing, so nothing is left in
            # flight to repeat; the message's next attempt starts afresh
            self.ledger.abandon_create(request_id)
            raise

    def _send_create(
        self,
        request_id: str,
        pending: PendingCreate,
        last_json: str | None,
        messages: Mapping[str, Message],
    ) -> int:
        """The create call for `pending`: rebuilt from the ledger alone, so a repeat matches."""
        view = shown(pending.assessment_json)
        assert view is not None
        on_ticket = [messages[k] for k in pending.keys if k in messages]
        attachments = for_agent(
            [a for k in pending.attach_keys if k in messages for a in messages[k].attachments],
            view.documents,
        )
        draft = draft_of(
            view,
            on_ticket,
            self.names,
            follow_up=pending.followup_of is not None or len(on_ticket) > 1,
            lifecycle=self.lifecycle(request_id),
        )
        if pending.followup_of is None:
            if last_json is not None:  # the old ticket is gone
                draft = with_preamble(
                    draft, "The earlier ticket of this request was deleted; this one replaces it."
                )
            return self.desk.create_ticket(draft, attachments, pending.idempotency_key)
        change = diff_note(shown(last_json), view)
        draft = with_preamble(
            draft, f"Follow-up to closed ticket #{pending.followup_of}. " + change
        )
        return self.desk.create_followup(
            pending.followup_of, draft, attachments, pending.idempotency_key
        )


# -- construction from the configuration ------------------------------------------------


__all__ = [
    "AGENT_KINDS",
    "TicketLedger",
    "TicketSink",
    "UpdateBudget",
    "for_agent",
    "idempotency_key",
    "update_key",
]
