"""`--dry-run`: the whole pipeline, its effects printed instead of done.

The intake runs as in production (the same decisions, the same ticket and reply
logic) with every effect replaced at its port:

- the mailbox is opened read-only (EXAMINE, BODY.PEEK): no flag or folder changes,
  a quarantine move is only noted (`ImapMailbox.readonly`);
- the state store is a private in-memory copy of the state file, which is only
  read: what the run records is forgotten when it ends;
- the ticket desk is `PrintingDesk`: the ticket (subject, requester, fields, tags,
  private note) is printed, nothing is sent to Zendesk (no token needed);
- the mailer is `PrintingMailer`: the reply is printed, nothing is sent.

Everything printed goes through the log redactor first, with each request's secrets
registered as it is read: PINs, SSN digits and account numbers print as ••••.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from typing import TYPE_CHECKING, TextIO

from bot.ops.logs import Redactor
from bot.ports import EmailRef, StateStore, TicketDesk, TicketState
from bot.render.ticket import FieldValue, TicketDraft, ZendeskNames
from parsers.model import Attachment
from rules.decide import MessagePlan, ReplyRecorded
from rules.reply import ReplyPlan, Suppression

if TYPE_CHECKING:
    from bot.pipeline.intake import Delivery

RULE = "-" * 72


class Printer:
    """Writes redacted text to `out`."""

    def __init__(self, out: TextIO, redactor: Redactor) -> None:
        self.out = out
        self.redactor = redactor

    def __call__(self, text: str = "") -> None:
        self.out.write(self.redactor.redact(text) + "\n")
        self.out.flush()


def _value(value: FieldValue) -> str:
    return "-" if value is None or value == "" else str(value)


class PrintingDesk:
    """A `TicketDesk` that prints each call instead of making it. New tickets get
    numbers from 900001 on (printed as "new"), so the rest of the run can refer to them.

    `reader`, when given (a preview with `--now`), answers what the cycle reads back from
    the tickets (their status, fields and tags), so reminders skip what an agent settled;
    every write is still only printed."""

    def __init__(self, say: Printer, reader: TicketDesk | None = None) -> None:
        self.say = say
        self.reader = reader
        self._next = 900_000
        self.new: set[int] = set()

    def _number(self) -> int:
        self._next += 1
        self.new.add(self._next)
        return self._next

    def _name(self, ticket_id: int) -> str:
        return "the new ticket" if ticket_id in self.new else f"ticket #{ticket_id}"

    def _draft(self, draft: TicketDraft, attachments: Sequence[Attachment]) -> None:
        say = self.say
        say(f"  subject:   {draft.subject}")
        who = " ".join(
            p
            for p in (
                draft.requester_name,
                f"<{draft.requester_email}>" if draft.requester_email else None,
            )
            if p
        )
        say(f"  requester: {who or '-'}")
        say(f"  stage:     {draft.stage}{' (ready)' if draft.ready else ''}")
        for name, value in draft.fields.items():
            say(f"  field {name}: {_value(value)}")
        say(f"  tags:      {' '.join(draft.tags)}")
        if attachments:
            say(f"  attachments: {', '.join(a.filename for a in attachments)}")
        say("  private note:")
        for line in draft.note_text.splitlines():
            say(f"    {line}")

    def create_ticket(
        self, draft: TicketDraft, attachments: Sequence[Attachment], idempotency_key: str
    ) -> int:
        self.say("would CREATE a ticket:")
        self._draft(draft, attachments)
        return self._number()

    def create_followup(
        self,
        closed_id: int,
        draft: TicketDraft,
        attachments: Sequence[Attachment],
        idempotency_key: str,
    ) -> int:
        self.say(f"would CREATE a follow-up ticket of closed ticket #{closed_id}:")
        self._draft(draft, attachments)
        return self._number()

    def update_ticket(
        self,
        ticket_id: int,
        draft: TicketDraft,
        note: str | None,
        attachments: Sequence[Attachment],
        note_key: str | None = None,
    ) -> None:
        self.say(f"would UPDATE {self._name(ticket_id)}:")
        if note:
            self.say("  what changed:")
            for line in note.splitlines():
                self.say(f"    {line}")
        self._draft(draft, attachments)

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
        self.say(f"would add to {self._name(ticket_id)}:")
        for line in (note or "").splitlines():
            self.say(f"  note: {line}")
        for att in attachments:
            self.say(f"  attach: {att.filename}")
        for name, value in (fields or {}).items():
            self.say(f"  field {name}: {_value(value)}")
        if add_tags:
            self.say(f"  tags added: {' '.join(add_tags)}")
        if remove_tags:
            self.say(f"  tags removed: {' '.join(remove_tags)}")
        if status:
            self.say(f"  status: {status}")

    def ticket_status(self, ticket_id: int) -> str:
        return "open"  # not asked: a dry run talks to no desk

    def find_ticket(self, external_id: str) -> int | None:
        return None

    def has_note(self, ticket_id: int, key: str) -> bool:
        return False  # not asked: a dry run talks to no desk

    def setup_fields(self, names: ZendeskNames) -> dict[str, int]:
        return dict(names.field_ids)

    def ticket_states(self, ticket_ids: Sequence[int]) -> dict[int, TicketState]:
        return {} if self.reader is None else self.reader.ticket_states(ticket_ids)

    def find_email_ticket(self, email: EmailRef) -> int | None:
        number = self._number()
        self.say(f"would look for the desk's ticket of {email.message_id} (taken as the new one)")
        return number

    def reply_public(
        self,
        ticket_id: int,
        text: str,
        html: str | None,
        attachments: Sequence[Attachment],
        key: str,
    ) -> None:
        self.say(f"would REPLY on {self._name(ticket_id)} (a public comment Zendesk emails):")
        for line in text.splitlines():
            self.say(f"  {line}")
        for att in attachments:
            self.say(f"  attach: {att.filename}")


class PrintingMailer:
    """A `Mailer` that prints the email instead of sending it."""

    def __init__(self, say: Printer) -> None:
        self.say = say
        self.sent = 0

    def send(
        self,
        message: EmailMessage | bytes,
        recipients: Sequence[str] | None = None,
        sender: str | None = None,
    ) -> None:
        if isinstance(message, bytes):
            parsed = email.message_from_bytes(message, policy=email.policy.SMTP)
            assert isinstance(parsed, EmailMessage)
            message = parsed
        self.sent += 1
        self.say("would SEND this email:")
        for name in ("From", "To", "Cc", "Subject", "In-Reply-To"):
            if message[name]:
                # a long header comes folded: one line, single-spaced, as a mail client shows it
                self.say(f"  {name}: {' '.join(str(message[name]).split())}")
        if recipients:
            self.say(f"  (to {', '.join(recipients)})")
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if isinstance(body, EmailMessage) else ""
        self.say("")
        for line in str(text).splitlines():
            self.say(f"  | {line}")


class DeliveryHeading:
    """The first sink of a dry run: a heading for each message handed on."""

    def __init__(self, say: Printer, tickets: bool = True) -> None:
        self.say = say
        self.tickets = tickets

    def __call__(self, delivery: Delivery) -> None:
        self.say(RULE)
        self.say(
            f"message {delivery.key} (request {delivery.request_id}, "
            f"{len(delivery.raws)} message(s) in its thread)"
        )
        if delivery.plan is not None:
            self.say(decision_line(delivery.plan))
        if not self.tickets:
            self.say("no ticket: no [zendesk] section")


def decision_line(plan: MessagePlan) -> str:
    """The message's plan (rules.decide) in one line: what the run then shows it doing."""
    parts = []
    t = plan.ticket
    if t is not None and t.action == "nothing":
        parts.append("ticket: nothing new")
    elif t is not None:
        which = ", ".join(str(i + 1) for i in t.new)
        line = f"ticket: {t.action} with message(s) {which} at stage {t.stage.value}"
        if t.prefill:
            line += ", pre-filled"
        if t.wait is not None:
            line += f", after {t.wait:.0f} s (the ticket's update budget)"
        parts.append(line)
    if plan.port is not None:
        missing = ", ".join(plan.port.missing)
        line = "port: ready" if plan.port.ready else f"port: missing {missing or 'nothing'}"
        if plan.port.acknowledge:
            line += ", the answer to the carrier's rejection acknowledged"
        parts.append(line)
    r = plan.reply
    if isinstance(r, ReplyPlan):
        parts.append(f"reply: {r.kind}{' follow-up' if r.follow_up else ''}")
    elif isinstance(r, Suppression):
        parts.append(f"reply: none ({r.reason})")
    elif isinstance(r, ReplyRecorded):
        parts.append(f"reply: already {r.status}")
    return "decision: " + ("; ".join(parts) or "nothing to do")


class ReplySummary:
    """The last sink of a dry run: what became of the reply to each message."""

    def __init__(self, say: Printer, state: StateStore, replies: bool) -> None:
        self.say = say
        self.state = state
        self.replies = replies

    def __call__(self, delivery: Delivery) -> None:
        if not self.replies:
            self.say("no reply: no [smtp] and [reply] sections")
            return
        record = self.state.reply_for(delivery.key)
        if record is None:
            self.say("no reply")
        elif record.status == "suppressed":
            self.say(f"no reply: {record.reason}")


__all__ = [
    "DeliveryHeading",
    "Printer",
    "PrintingDesk",
    "PrintingMailer",
    "ReplySummary",
    "decision_line",
]
