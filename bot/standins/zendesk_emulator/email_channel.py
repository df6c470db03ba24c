"""Zendesk's email channel, emulated: a raw email in, a ticket (or a comment) out.

What the real channel does with mail to the support address (Zendesk's documentation
and published comment examples; see the docstring of `ingest`):

- a new email makes a ticket `via.channel = "email"`, its requester the From address
  (an end user created when new), the subject, and the body as the first, public
  comment; the comment's `metadata.system.message_id` is the email's Message-ID and
  `via.source.from` / `via.source.to` hold the sender and the support address; the
  attachments are on that comment;
- an email whose In-Reply-To or References name a Message-ID the desk knows (one of
  its comments' emails, or a notification the desk sent) is added to that ticket as a
  comment; when that ticket is closed, it opens a follow-up ticket instead;
- an agent's public comment on an email ticket is emailed to the requester (the
  account's `outbox` here): its own Message-ID, In-Reply-To and References naming the
  thread's emails, so a customer's answer threads back to the ticket.

The emulator is fed through `POST /__emulator__/email` (the raw message as the body),
or `deliver(url, raw)` from a test or the demo. One Message-ID is ingested once:
the same email again answers the ticket it already made.
"""

from __future__ import annotations

import copy
import json
import re
import urllib.request
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from typing import Any

from bot.standins.zendesk_emulator.store import Json, Store, _token, html_to_text

_ID = re.compile(r"<[^<>\s]+>")
SUPPORT = "support@ourco.example"


def _ids(value: Any) -> list[str]:
    return _ID.findall(str(value or ""))


def _body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return "(no text)"
    text = str(part.get_content())
    if part.get_content_type() == "text/html":
        text = html_to_text(text)
    return text.strip() or "(no text)"


def _attachments(message: EmailMessage) -> list[tuple[str, bytes, str]]:
    out = []
    for part in message.iter_attachments():
        name = part.get_filename()
        if not name:
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            out.append((name, payload, part.get_content_type()))
    return out


def _thread_ticket(store: Store, refs: list[str]) -> Json | None:
    """The ticket whose emails (in or out) include one of `refs`, newest ref first."""
    if not refs:
        return None
    known: dict[str, int] = {}
    for tid, audits in store.account.audits.items():
        for audit in audits:
            mid = audit["metadata"].get("system", {}).get("message_id")
            if mid:
                known.setdefault(mid, tid)
    for sent in store.account.outbox:
        known.setdefault(sent["message_id"], sent["ticket_id"])
    for ref in reversed(refs):  # References lists the oldest first; the newest counts
        found = known.get(ref)
        if found is not None and found in store.account.tickets:
            ticket = store.account.tickets[found]
            if not ticket.get("_deleted"):
                return ticket
    return None


def _already(store: Store, message_id: str | None) -> Json | None:
    if not message_id:
        return None
    for tid, audits in store.account.audits.items():
        for audit in audits:
            if audit["metadata"].get("system", {}).get("message_id") == message_id:
                ticket = store.account.tickets.get(tid)
                if ticket is not None and not ticket.get("_deleted"):
                    return ticket
    return None


def ingest(store: Store, raw: bytes, recipient: str | None = None) -> tuple[Json, bool]:
    """One email through the channel: (the ticket it is on, whether it made that ticket).

    Call while holding `store.lock`.
    """
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    message_id = next(iter(_ids(message.get("Message-ID"))), None)
    done = _already(store, message_id)
    if done is not None:
        return done, False
    name, address = parseaddr(str(message.get("From") or ""))
    if "@" not in address:
        raise ValueError("the email has no From address")
    subject = str(message.get("Subject") or "").strip() or "(no subject)"
    sender = store._user_by_email(address) or store._new_user(
        {"name": name or address.split("@")[0], "email": address}
    )
    tokens = [
        store.upload(filename, payload, ctype, None)["token"]
        for filename, payload, ctype in _attachments(message)
    ]
    comment: Json = {
        "body": _body(message),
        "public": True,
        "author_id": sender["id"],
        "uploads": tokens,
    }
    refs = [*_ids(message.get("References")), *_ids(message.get("In-Reply-To"))]
    thread = _thread_ticket(store, refs)
    to = [a for _, a in getaddresses([str(v) for v in message.get_all("To") or []]) if a]
    via: Json = {
        "channel": "email",
        "source": {
            "from": {
                "address": address.lower(),
                "name": name or address,
                "original_recipients": to,
            },
            "to": {"name": "Support", "address": recipient or (to[0] if to else SUPPORT)},
            "rel": None,
        },
    }
    client = "Zendesk email channel"
    if thread is not None and thread["status"] != "closed":
        reopen = {"status": "open"} if thread["status"] in ("pending", "solved") else {}
        ticket, audit = store.update_ticket(
            thread["id"], {"comment": comment, **reopen}, sender, client
        )
        created = False
    else:
        data: Json = {
            "subject": subject,
            "comment": comment,
            "requester_id": sender["id"],
            "recipient": recipient or (to[0] if to else SUPPORT),
        }
        if thread is not None:  # an answer to a closed ticket: a follow-up, as Zendesk does
            data["via_followup_source_id"] = thread["id"]
            via["source"]["rel"] = "follow_up"
        ticket, audit = store.create_ticket(data, sender, client)
        ticket["via"] = copy.deepcopy(via)
        ticket["submitter_id"] = sender["id"]
        created = True
    audit["via"] = copy.deepcopy(via)
    identifier = f"{ticket['id']}/{_token(12)}"
    audit["metadata"]["system"] = {
        "message_id": message_id,
        "ip_address": None,
        "raw_email_identifier": identifier + ".eml",
        "json_email_identifier": identifier + ".json",
    }
    return ticket, created


def notify(store: Store, ticket: Json, audit: Json) -> None:
    """The email a public agent comment on an email ticket sends to the requester."""
    if ticket["via"].get("channel") != "email":
        return
    requester = store.account.users.get(ticket["requester_id"])
    if requester is None or not requester.get("email"):
        return
    for event in audit["events"]:
        if event["type"] != "Comment" or not event["public"]:
            continue
        author = store.account.users.get(event["author_id"]) or {}
        if author.get("role", "end-user") == "end-user":
            continue  # the requester's own words are not mailed back
        thread = [
            a["metadata"]["system"]["message_id"]
            for a in store.account.audits.get(ticket["id"], [])
            if a["metadata"].get("system", {}).get("message_id")
        ]
        thread += [s["message_id"] for s in store.account.outbox if s["ticket_id"] == ticket["id"]]
        store.account.outbox.append(
            {
                "ticket_id": ticket["id"],
                "comment_id": event["id"],
                "to": requester["email"],
                "subject": f"Re: {ticket['subject']}",
                "body": event["body"],
                "attachments": [
                    store.account.attachments[a]["file_name"] for a in event["attachment_ids"]
                ],
                "message_id": f"<{_token(16)}_{ticket['id']}@emulator.zendesk.invalid>",
                "in_reply_to": thread[-1] if thread else None,
                "references": thread,
                "at": store.clock.iso(),
            }
        )


def deliver(url: str, raw: bytes, timeout: float = 10.0) -> Json:
    """Hand `raw` to the emulator at `url` as mail to its support address."""
    request = urllib.request.Request(
        url.rstrip("/") + "/__emulator__/email",
        data=raw,
        method="POST",
        headers={"Content-Type": "message/rfc822"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        result: Json = json.loads(answer.read())
    return result


__all__ = ["SUPPORT", "deliver", "ingest", "notify"]
