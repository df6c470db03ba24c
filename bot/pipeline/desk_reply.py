"""Replies through the desk (`[reply] via = "zendesk"`): a `ReplyChannel` for the Replier.

The reply is rendered and recorded exactly as for SMTP (loop rules, daily cap, the
ledger's `sending` before and `sent` after); only the last step differs: the rendered
email's text and attachments become a public comment on the request's ticket, and
Zendesk emails it to the requester in the thread the agent sees. The comment carries a
marker in its audit's metadata (as private notes do, bot.render.notes), derived from
the incoming message's key: a reply left `sending` by a stop or a lost answer is looked
for on the ticket's audits (`TicketDesk.has_note`) and never posted twice.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
from collections.abc import Callable, Sequence
from email.message import EmailMessage

from bot.errors import DeliveryDeferred, MailRejected
from bot.ports import ReplyRecord, TicketDesk
from parsers.model import Attachment


def reply_marker(record: ReplyRecord) -> str:
    """The marker of the public comment that carries this reply: the same on every try."""
    text = f"{record.key}\0{record.message_id or ''}"
    return "reply-" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def comment_of(raw: bytes) -> tuple[str, list[Attachment]]:
    """The reply's plain text and its attachments (an LOA to sign), from its bytes."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    body = message.get_body(preferencelist=("plain",))
    text = str(body.get_content()).strip() if body is not None else ""
    attachments = []
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes) and part.get_filename():
            attachments.append(
                Attachment(
                    filename=str(part.get_filename()),
                    content_type=part.get_content_type(),
                    payload=payload,
                )
            )
    return text, attachments


class DeskReplies:
    """The `ReplyChannel` that posts each reply as a public comment on its ticket."""

    def __init__(self, desk: TicketDesk, ticket_of: Callable[[str], int | None]) -> None:
        self.desk = desk
        self.ticket_of = ticket_of  # request id -> its ticket (the state store's)

    def _ticket(self, record: ReplyRecord) -> int:
        ticket_id = self.ticket_of(record.request_id)
        if ticket_id is None:  # the ticket sink runs first; its ticket is not known yet
            raise DeliveryDeferred(f"request {record.request_id} has no ticket yet to reply on")
        return ticket_id

    def deliver(self, record: ReplyRecord) -> None:
        if record.raw is None:
            raise MailRejected("the reply's text was not kept")
        text, attachments = comment_of(record.raw)
        self.desk.reply_public(self._ticket(record), text, None, attachments, reply_marker(record))

    def delivered(self, record: ReplyRecord) -> bool:
        return self.desk.has_note(self._ticket(record), reply_marker(record))


class NoMailer:
    """The `Mailer` of a bot that replies only through the desk: never asked."""

    def send(
        self,
        message: EmailMessage | bytes,
        recipients: Sequence[str] | None = None,
        sender: str | None = None,
    ) -> None:
        raise MailRejected('[reply] via = "zendesk": the bot sends no email itself')


__all__ = ["DeskReplies", "NoMailer", "comment_of", "reply_marker"]
