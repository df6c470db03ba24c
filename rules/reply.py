"""Whether to answer a message, and with what kind of reply: pure decisions.

Two questions, asked in this order by `decide_reply`:

1. `should_reply`: is the incoming message one a person wrote to us? Automatic
   mail (auto-replies, bounces, lists, our own replies coming back) never gets
   an answer: that is how two robots end up mailing each other all night. Each
   check is one small function in `LOOP_RULES`, returning a `Suppression` with
   a reason code, or None.
2. `plan_reply`: would a reply help the customer? Not when a follow-up changes
   nothing they can see (same items missing, same problems); yes, naming what
   the follow-up resolved, when it does. A ready request gets a confirmation.

Then the per-sender daily cap (`check_daily_cap`, counts from the state store).

`reply_message_id` makes the reply's Message-ID from the incoming message's key
and the plan's revision, so a resend after a crash carries the same Message-ID
(receivers and our own mailbox copy can dedupe on it) and `should_reply`
recognises it when it comes back (`portbot.` marker at one of our domains).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from parsers.model import Message
from rules.assessment import Assessment
from rules.contract import AssessmentView, view_of
from rules.mail_kind import speaks_of_porting

SuppressionReason = Literal[
    "auto_submitted",  # Auto-Submitted other than "no" (RFC 3834)
    "bounce",  # delivery status reports, X-Failed-Recipients
    "list",  # List-* headers (RFC 2369/2919)
    "precedence",  # Precedence bulk/junk/list/auto_reply
    "suppress_header",  # X-Auto-Response-Suppress asks for no auto-reply
    "autoreply_header",  # X-Autoreply, X-Autorespond, X-Loop and the like
    "auto_subject",  # "Automatic reply:", "Out of Office:", "Undeliverable:" ...
    "null_sender",  # no From address, or an empty return path
    "noreply_sender",  # mailer-daemon, postmaster, noreply, do-not-reply ...
    "own_message",  # one of our own messages came back
    "not_a_request",  # a first message with nothing of a porting request in it
    "already_replied",  # this message already has a reply (sent or being sent)
    "no_change",  # a follow-up that changes nothing the customer can see
    "rate_limited",  # the sender's daily cap of replies is reached
    "superseded",  # a later message of the request came with it: the reply answers that
]

ReplyKind = Literal["incomplete", "ready", "follow_up_boss"]

MARKER = "portbot"  # Message-IDs we mint: <portbot.HEX@domain>


@dataclass(frozen=True)
class Suppression:
    reason: SuppressionReason
    detail: str  # for the log and the ticket note: which header or rule, never a secret

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"


@dataclass(frozen=True)
class ProblemRef:
    code: str
    item: str
    number: str | None
    detail: str


@dataclass(frozen=True)
class ReplyPlan:
    kind: ReplyKind
    follow_up: bool  # a reply after an earlier one: says what changed
    received: tuple[str, ...]  # checklist keys the follow-up supplied (were missing)
    resolved: tuple[ProblemRef, ...]  # problems the follow-up resolved
    revision: str  # digest of what the customer sees; part of the Message-ID


@dataclass(frozen=True)
class Ours:
    """Who we are, for recognising our own mail.

    `domains` are the domains of the Message-IDs we mint (not of every colleague:
    a colleague at our company forwarding a customer's request is answered).
    `addresses` are the addresses we send from (support@, the bot's own).
    """

    domains: frozenset[str]
    addresses: frozenset[str]
    marker: str = MARKER

    @classmethod
    def of(cls, domains: Iterable[str], addresses: Iterable[str]) -> Ours:
        return cls(
            frozenset(d.lower().strip() for d in domains),
            frozenset(a.lower().strip() for a in addresses),
        )

    def minted(self, message_id: str | None) -> bool:
        """A Message-ID of our own making (`<portbot.HEX@our.domain>`)."""
        if not message_id:
            return False
        m = re.fullmatch(r"<?([^<>@\s]+)@([^<>@\s]+?)>?", message_id.strip())
        if m is None:
            return False
        return m.group(1).lower().startswith(self.marker + ".") and (
            m.group(2).lower() in self.domains
        )


# --- headers -------------------------------------------------------------------------


def _values(message: Message, name: str) -> list[str]:
    lname = name.lower()
    return [v.strip() for n, v in message.headers if n.lower() == lname]


def _first(message: Message, name: str) -> str | None:
    values = _values(message, name)
    return values[0] if values else None


def _addresses(value: str) -> list[str]:
    return [a.lower() for a in re.findall(r"[^\s<>\"',;:()]+@[^\s<>\"',;:()]+", value)]


# --- the loop-protection rules --------------------------------------------------------


@dataclass(frozen=True)
class Incoming:
    """The message with what a rule may need beyond the record: the MIME types of all
    its parts (a delivery report can sit below the top level; `Message` keeps only
    the top-level headers). `bot.render.reply_email.part_types(raw)` reads them."""

    message: Message
    part_types: frozenset[str] = frozenset()


LoopRule = Callable[[Incoming, Ours], "Suppression | None"]


def check_auto_submitted(incoming: Incoming, ours: Ours) -> Suppression | None:
    message = incoming.message
    for value in _values(message, "Auto-Submitted"):
        token = value.split(";", 1)[0].strip().lower()
        if token and token != "no":
            return Suppression("auto_submitted", f"Auto-Submitted: {token}")
    return None


_REPORT_TYPES = (
    "multipart/report",
    "message/delivery-status",
    "message/disposition-notification",
    "message/feedback-report",
    "text/rfc822-headers",
)


def check_bounce(incoming: Incoming, ours: Ours) -> Suppression | None:
    message = incoming.message
    if _values(message, "X-Failed-Recipients"):
        return Suppression("bounce", "X-Failed-Recipients header")
    content_type = (_first(message, "Content-Type") or "").split(";", 1)[0].strip().lower()
    if content_type in _REPORT_TYPES:
        return Suppression("bounce", f"Content-Type: {content_type}")
    # A report forwarded inside another message, or a DSN whose outer type is mislabelled.
    kinds = {a.content_type.split(";", 1)[0].strip().lower() for a in message.attachments}
    for kind in _REPORT_TYPES[1:]:
        if kind in kinds or kind in incoming.part_types:
            return Suppression("bounce", f"a {kind} part")
    return None


def check_list(incoming: Incoming, ours: Ours) -> Suppression | None:
    message = incoming.message
    for name, _ in message.headers:
        if name.lower().startswith("list-"):
            return Suppression("list", f"{name} header")
    return None


_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply", "auto-reply"})


def check_precedence(incoming: Incoming, ours: Ours) -> Suppression | None:
    message = incoming.message
    for name in ("Precedence", "X-Precedence"):
        for value in _values(message, name):
            if value.lower() in _PRECEDENCE:
                return Suppression("precedence", f"{name}: {value.lower()}")
    return None


def check_suppress_header(incoming: Incoming, ours: Ours) -> Suppression | None:
    message = incoming.message
    # Exchange's "do not auto-respond to this" (MS-OXCMAIL 2.2.3.2.14). Any value but
    # "None" marks mail a program sent; people's messages do not carry the header.
    for value in _values(message, "X-Auto-Response-Suppress"):
        tokens = {t.strip().lower() for t in re.split(r"[,;\s]+", value) if t.strip()}
        if tokens - {"none"}:
            return Suppression("suppress_header", f"X-Auto-Response-Suppress: {value.strip()}")
    return None


# Present at all means machine-made (their values vary by vendor).
_AUTOREPLY_HEADERS = frozenset(
    {
        "x-autoreply",
        "x-autorespond",
        "x-autoresponder",
        "x-autoreply-from",
        "x-mail-autoreply",
        "x-auto-generated",
        "x-autogenerated",
        "x-fc-machinegenerated",
        "x-loop",
        "x-ms-exchange-generated-message-source",
        "x-cron-env",
        "x-autoresponse",
    }
)


def check_autoreply_header(incoming: Incoming, ours: Ours) -> Suppression | None:
    message = incoming.message
    for name, value in message.headers:
        lname = name.lower()
        if lname in _AUTOREPLY_HEADERS:
            return Suppression("autoreply_header", f"{name} header")
        if lname == "x-post-messageclass" and "autoresponder" in value.lower():
            return Suppression("autoreply_header", f"{name}: {value.strip()}")
    return None


_AUTO_SUBJECT = re.compile(
    r"^\s*(automatic reply|auto[- ]?reply|autoreply|auto[- ]?response|out of (the )?office"
    r"|undeliverable|undelivered mail|delivery status notification|mail delivery failed"
    r"|delivery failure|returned mail|failure notice|abwesenheitsnotiz|r[ée]ponse automatique"
    r")\b",
    re.IGNORECASE,
)


def check_auto_subject(incoming: Incoming, ours: Ours) -> Suppression | None:
    message = incoming.message
    # Some autoresponders set no header at all; their subjects give them away.
    if _AUTO_SUBJECT.search(message.subject or ""):
        return Suppression("auto_subject", "the subject of an automatic message")
    return None


def check_null_sender(incoming: Incoming, ours: Ours) -> Suppression | None:
    message = incoming.message
    if not message.sender:
        return Suppression("null_sender", "no From address")
    for value in _values(message, "Return-Path"):
        if value.replace(" ", "") in ("<>", ""):
            return Suppression("null_sender", "empty Return-Path (<>)")
    return None


_NOREPLY = re.compile(
    r"(^|[-_.+])(mailer[-_.]?daemon|postmaster|no[-_.]?reply|do[-_.]?not[-_.]?reply"
    r"|donotreply|bounces?|auto[-_.]?reply|autoresponder)($|[-_.+])",
    re.IGNORECASE,
)


def noreply_address(address: str) -> bool:
    local = address.rsplit("@", 1)[0]
    return bool(_NOREPLY.search(local))


def check_noreply_sender(incoming: Incoming, ours: Ours) -> Suppression | None:
    message = incoming.message
    candidates = [message.sender, message.forwarded_from]
    candidates += [
        a
        for v in _values(message, "Return-Path") + _values(message, "Sender")
        for a in _addresses(v)
    ]
    for address in candidates:
        if address and noreply_address(address):
            return Suppression("noreply_sender", f"sender {address.rsplit('@', 1)[0]}@…")
    return None


def check_own_message(incoming: Incoming, ours: Ours) -> Suppression | None:
    message = incoming.message
    if message.sender and message.sender.lower() in ours.addresses:
        return Suppression("own_message", "From is one of our own addresses")
    if ours.minted(message.message_id):
        return Suppression("own_message", "Message-ID is one we made")
    for name, _ in message.headers:
        if name.lower().startswith("x-portbot-"):
            return Suppression("own_message", f"{name} header")
    # A reply *to* our Message-ID is how a customer answers us: not suppressed here.
    return None


# The order decides which reason is reported first; every rule is checked in `loop_checks`.
LOOP_RULES: tuple[LoopRule, ...] = (
    check_own_message,
    check_null_sender,
    check_bounce,
    check_auto_submitted,
    check_suppress_header,
    check_autoreply_header,
    check_precedence,
    check_list,
    check_noreply_sender,
    check_auto_subject,
)


def loop_checks(
    message: Message, ours: Ours, part_types: Collection[str] = ()
) -> list[Suppression]:
    """Every rule that fires, in order (for notes and tests)."""
    incoming = Incoming(message, frozenset(t.lower() for t in part_types))
    return [s for rule in LOOP_RULES if (s := rule(incoming, ours)) is not None]


def should_reply(
    message: Message,
    *,
    own_domains: Collection[str],
    own_addresses: Collection[str],
    part_types: Collection[str] = (),
) -> Suppression | None:
    """None when a person wrote this message and may be answered; else why not.

    `part_types`: the MIME types of every part of the raw message (optional; without
    them a delivery report nested below the top level goes unseen by this rule).
    """
    found = loop_checks(message, Ours.of(own_domains, own_addresses), part_types)
    return found[0] if found else None


def is_own_message(
    message: Message, *, own_domains: Collection[str], own_addresses: Collection[str]
) -> bool:
    """Our own reply came back (a copy, a misrouted delivery): not a request to assess."""
    return check_own_message(Incoming(message), Ours.of(own_domains, own_addresses)) is not None


# --- is it a porting request at all --------------------------------------------------


def looks_like_request(message: Message, view: AssessmentView) -> bool:
    """A first message worth a checklist: it speaks of porting or carries a request's parts.

    Spam and stray mail to support@ must not get a ten-item checklist back.
    """
    if speaks_of_porting(message.subject or "", message.body or ""):
        return True
    kinds = {d.kind for d in view.documents}
    return bool(kinds & {"bill", "loa", "number_list"}) or bool(
        view.request.current_carrier and view.request.numbers
    )


# --- what the customer sees, and what changed ----------------------------------------


def _age_free(detail: str) -> str:
    # "45 days ago" grows daily; a follow-up a day later has not changed the bill.
    return re.sub(r"\b\d+ days? ago\b", "", detail)


def visible_state(view: AssessmentView) -> dict[str, Any]:
    """What a reply shows (masked or not: PINs are only present or absent)."""
    numbers = view.request.numbers
    return {
        "checklist": dict(view.checklist),
        "problems": sorted(
            [p.code, p.item, p.number or "", _age_free(p.detail)] for p in view.problems
        ),
        "numbers": sorted(n.number for n in numbers),
        "without_pin": sorted(n.number for n in numbers if not n.pin),
        "ready": view.ready,
        "follow_up_boss": view.request.via_follow_up_boss,
    }


def revision_of(view: AssessmentView) -> str:
    """A digest of what a reply shows: part of the reply's Message-ID."""
    text = json.dumps(visible_state(view), sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _problem_refs(view: AssessmentView) -> dict[tuple[str, str | None], ProblemRef]:
    return {
        (p.code, p.number): ProblemRef(p.code, p.item, p.number, p.detail) for p in view.problems
    }


def _kind(view: AssessmentView) -> ReplyKind:
    if view.request.via_follow_up_boss:
        return "follow_up_boss"
    return "ready" if view.ready else "incomplete"


def _viewed(assessment: Assessment | AssessmentView) -> AssessmentView:
    return view_of(assessment) if isinstance(assessment, Assessment) else assessment


def plan_reply(
    assessment: Assessment | AssessmentView, previous: AssessmentView | None
) -> ReplyPlan | Suppression:
    """The reply to send now, given the assessment our last reply was rendered from.

    `previous` is the assessment behind the last reply *sent* for this request (None:
    no reply yet), so "changed" means changed for the customer, whatever happened in
    between.
    """
    view = _viewed(assessment)
    revision = revision_of(view)
    kind = _kind(view)
    if previous is None:
        return ReplyPlan(kind, False, (), (), revision)
    if visible_state(previous) == visible_state(view):
        return Suppression("no_change", "the follow-up changed nothing the customer can see")
    old_list, new_list = previous.checklist, view.checklist
    received = tuple(
        key
        for key, status in new_list.items()
        if status == "ok" and old_list.get(key) in ("missing", "not_provided")
    )
    old_p, new_p = _problem_refs(previous), _problem_refs(view)
    resolved = tuple(p for key, p in old_p.items() if key not in new_p)
    return ReplyPlan(kind, True, received, resolved, revision)


# --- caps, duplicates, and the whole decision ----------------------------------------


def check_daily_cap(replies_to_sender_today: int, cap: int) -> Suppression | None:
    """At most `cap` replies per sender per day (0: no replies at all)."""
    if replies_to_sender_today >= cap:
        return Suppression(
            "rate_limited", f"{replies_to_sender_today} replies to this sender today (cap {cap})"
        )
    return None


def check_already_replied(reply_status: str | None) -> Suppression | None:
    """`reply_status` as the state store holds it for this incoming message."""
    if reply_status == "sent":
        return Suppression("already_replied", "a reply to this message was sent")
    return None  # "sending": the pipeline's recovery decides (see bot.pipeline.reply_sink)


def decide_reply(
    message: Message,
    assessment: Assessment | AssessmentView,
    previous: AssessmentView | None,
    *,
    own_domains: Collection[str],
    own_addresses: Collection[str],
    replies_to_sender_today: int,
    daily_cap: int,
    reply_status: str | None = None,
    part_types: Collection[str] = (),
) -> ReplyPlan | Suppression:
    """The whole decision for one incoming message, in the order that matters:
    loop protection, duplicates, porting request at all, usefulness, the cap."""
    view = _viewed(assessment)
    found = should_reply(
        message, own_domains=own_domains, own_addresses=own_addresses, part_types=part_types
    )
    if found is None:
        found = check_already_replied(reply_status)
    if found is None and previous is None and not looks_like_request(message, view):
        found = Suppression("not_a_request", "nothing in the message speaks of a port")
    if found is not None:
        return found
    plan = plan_reply(view, previous)
    if isinstance(plan, Suppression):
        return plan
    return check_daily_cap(replies_to_sender_today, daily_cap) or plan


def reply_message_id(incoming_key: str, revision: str, domain: str, marker: str = MARKER) -> str:
    """The reply's Message-ID: the same for the same message and revision, so a resend
    after a crash is recognisably the same mail."""
    digest = hashlib.sha256(f"{incoming_key}\x00{revision}".encode()).hexdigest()[:32]
    return f"<{marker}.{digest}@{domain.lower()}>"


def reply_recipients(
    message: Message, internal_domains: Collection[str] = ()
) -> tuple[str | None, tuple[str, ...]]:
    """(To, Cc) of the reply.

    A forward answers the original customer, with the forwarder in Cc, but only when
    the forwarder vouches for them: a colleague at our company (`internal_domains`)
    or at the customer's own (same domain). An address read from a message body is
    no proof, and answering it would let anyone aim our mail at a stranger; then the
    person who wrote to us gets the reply.
    """
    sender, original = message.sender, message.forwarded_from
    if original and sender and original != sender:
        domain = sender.rsplit("@", 1)[-1]
        internal = {d.lower() for d in internal_domains}
        if domain in internal or domain == original.rsplit("@", 1)[-1]:
            return original, (sender,)
    return sender, ()


def references_for(message: Message, limit: int = 20) -> tuple[str, ...]:
    """References of a reply: the parent's References (or In-Reply-To) and its Message-ID."""
    refs: list[str] = list(message.references) or (
        [message.in_reply_to] if message.in_reply_to else []
    )
    if message.message_id:
        refs.append(message.message_id)
    refs = list(dict.fromkeys(refs))
    if len(refs) > limit:  # keep the root and the newest (RFC 5322 3.6.4 allows trimming)
        refs = [refs[0], *refs[-(limit - 1) :]]
    return tuple(refs)


__all__ = [
    "LOOP_RULES",
    "MARKER",
    "Incoming",
    "Ours",
    "ProblemRef",
    "ReplyKind",
    "ReplyPlan",
    "Suppression",
    "SuppressionReason",
    "check_already_replied",
    "check_daily_cap",
    "decide_reply",
    "is_own_message",
    "looks_like_request",
    "loop_checks",
    "noreply_address",
    "plan_reply",
    "references_for",
    "reply_message_id",
    "reply_recipients",
    "revision_of",
    "should_reply",
    "visible_state",
]
