"""One decision per message: what becomes of one assessed message of a request.

The shell gathers (bot.pipeline.planning: the thread as the intake parsed it once, and
what the state store knows of the request: its ticket, its port, its replies), calls
`decide_message` once, and applies the `MessagePlan` it returns, one step per sink:

- `TicketStep`: open the request's ticket, adopt the desk's, update it with the
  messages it does not show yet, or nothing; the stage it shows; wait when the
  ticket's update budget is spent.
- `PortStep`: what the port records from the customer's mail (numbers, carrier,
  readiness, what is missing), and whether the customer hears that their answer to a
  carrier's rejection arrived.
- `ReplyStep`: the reply to send (a `rules.reply.ReplyPlan`), why none goes (a
  `Suppression`), or that a reply is already on record (finish or only note it).

Quarantine, duplicates, our own mail and other mail are decided before this, by the
intake's triage (`bot.pipeline.intake.decide`): a plan is made for a porting request only.
Each step is also a function of its own (`ticket_step`, `port_step`, `reply_step`), so a
sink that has to look again (a create left in flight by a crash, a ticket closed under
it) asks the same rule, not a copy of it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal

from parsers.model import Message
from parsers.phone import parse_phone
from rules.assessment import Assessment
from rules.contract import AssessmentView
from rules.reply import (
    ReplyPlan,
    Suppression,
    check_daily_cap,
    decide_reply,
    reply_recipients,
    should_reply,
)
from rules.stages import Stage

# -- what the shell gathers ---------------------------------------------------------


@dataclass(frozen=True)
class Thread:
    """One assessed message with its request's whole thread, parsed once by the intake."""

    request_id: str
    key: str  # this message's key (its Message-ID, or a digest of its header)
    keys: tuple[str, ...]  # the thread's message keys, oldest first, this message last
    messages: tuple[Message, ...]  # the thread, parsed (the MIME level), in `keys` order
    assessment: Assessment
    # a later message of the request is handled in the same cycle (a backlog): the
    # customer gets one reply, under that one
    superseded: bool = False
    part_types: frozenset[str] = frozenset()  # MIME types of every part of `incoming`
    last_part_types: frozenset[str] = frozenset()  # ... and of the thread's newest message

    @property
    def incoming(self) -> Message:
        """The message this plan is for (a retried delivery carries the whole thread)."""
        for message in reversed(self.messages):
            if message.message_id == self.key:
                return message
        return self.messages[-1]


@dataclass(frozen=True)
class TicketKnown:
    """What the ticket ledger holds for the request (a create in flight counted as made:
    the sink finishes it before anything else)."""

    ticket_id: int | None  # None: no ticket yet
    applied: frozenset[str]  # message keys the ticket shows
    prefilled: bool  # the ticket shows an assessment (false for a desk's ticket just adopted)
    recent_updates: tuple[float, ...] = ()  # times of the ticket's updates in the budget window


@dataclass(frozen=True)
class PortKnown:
    stage: Stage | None  # None: no port recorded yet
    # the acknowledgement owed for the port's last carrier rejection ("" when none is
    # owed: the last change is no rejection, or this very message brought it)
    rejection_ack: str = ""
    acknowledged: bool = False  # that acknowledgement is on record already
    sent_today: int = 0  # emails to the newest message's writer since midnight (the cap)


@dataclass(frozen=True)
class ReplyKnown:
    status: str | None  # the reply recorded for this message: sending, sent, suppressed, failed
    last_sent: AssessmentView | None  # the assessment the customer last saw (its reply's)
    sent_today: int  # replies to this message's reply address since midnight (the cap)


@dataclass(frozen=True)
class Known:
    """What the state store knows of the request; None for a part the bot does not run
    (no ticket desk, no replies)."""

    ticket: TicketKnown | None
    port: PortKnown | None
    reply: ReplyKnown | None


@dataclass(frozen=True)
class Policy:
    """The configured values the decision depends on."""

    mode: Literal["create", "annotate"] = "create"  # [zendesk] mode
    updates_per_window: int = 30  # Zendesk: 30 updates of one ticket per 10 minutes
    window_seconds: float = 600.0
    own_domains: frozenset[str] = frozenset()  # of the Message-IDs we mint
    own_addresses: frozenset[str] = frozenset()  # the addresses we send from
    internal_domains: frozenset[str] = frozenset()  # colleagues who forward
    daily_cap: int = 5  # replies per customer address per day


# -- the plan ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TicketStep:
    # create: a new ticket; adopt: the desk's own ticket of the email, then `update`
    action: Literal["nothing", "create", "adopt", "update"]
    new: tuple[int, ...] = ()  # indexes into the thread of the messages the ticket lacks
    stage: Stage = Stage.REQUEST_RECEIVED  # the stage the ticket shows
    # the update is the first on a ticket the bot did not write: no "what changed" note
    prefill: bool = False
    wait: float | None = None  # the ticket's update budget is spent: seconds to the next


@dataclass(frozen=True)
class PortStep:
    numbers: tuple[str, ...]  # E.164
    carrier: str | None
    ready: bool
    missing: tuple[str, ...]  # checklist items missing
    acknowledge: str = ""  # the key of the acknowledgement to send ("" none)


@dataclass(frozen=True)
class ReplyRecorded:
    """A reply to this message is on record: `sending` is finished (found sent, or the
    recorded bytes sent again); any other status only has its ticket note made sure of."""

    status: str


ReplyStep = ReplyPlan | Suppression | ReplyRecorded


@dataclass(frozen=True)
class MessagePlan:
    request_id: str
    key: str
    thread: Thread  # what it was decided from: the sinks read it, not a second parse
    ticket: TicketStep | None
    port: PortStep | None
    reply: ReplyStep | None


# -- the decisions ----------------------------------------------------------------------


def ticket_step(
    keys: Sequence[str],
    known: TicketKnown | None,
    policy: Policy,
    *,
    now: float,
    stage: Stage | None = None,
) -> TicketStep:
    """What the ticket needs so it shows the whole thread `keys` (oldest first); `known`
    None: no ticket yet. `stage`: the port's; past request_received (submitted and on) a
    follow-up keeps it on the ticket."""
    shown = stage or Stage.REQUEST_RECEIVED
    if known is None or known.ticket_id is None:
        everything = tuple(range(len(keys)))
        if policy.mode == "annotate":
            return TicketStep("adopt", everything, shown, prefill=True)
        return TicketStep("create", everything, shown)
    new = tuple(i for i, k in enumerate(keys) if k not in known.applied)
    if not new:
        return TicketStep("nothing", stage=shown)
    prefill = policy.mode == "annotate" and not known.prefilled
    wait = over_budget(known.recent_updates, policy, now)
    return TicketStep("update", new, shown, prefill=prefill, wait=wait)


def over_budget(recent: Sequence[float], policy: Policy, now: float) -> float | None:
    """Seconds until the ticket may be updated again, or None when it may be now."""
    if len(recent) < policy.updates_per_window:
        return None
    return max(0.0, recent[-policy.updates_per_window] + policy.window_seconds - now)


def may_write(
    message: Message, part_types: Collection[str], sent_today: int, policy: Policy
) -> Suppression | None:
    """Whether the bot may email the writer of `message` at all: the loop rules (never
    automatic mail) and the daily cap. None: it may."""
    found = should_reply(
        message,
        own_domains=policy.own_domains,
        own_addresses=policy.own_addresses,
        part_types=part_types,
    )
    if found is not None:
        return found
    to, _ = reply_recipients(message, policy.internal_domains)
    if not to:
        return Suppression("null_sender", "the thread has no customer address to write to")
    return check_daily_cap(sent_today, policy.daily_cap)


def port_step(thread: Thread, port: PortKnown, policy: Policy, *, writes: bool) -> PortStep:
    """What the port keeps from the assessment, and whether an answer to a carrier's
    rejection is acknowledged (once per rejection; the rejection email promised a check,
    even when nothing the checklist shows changed: a PIN's value never shows). `writes`:
    the bot emails customers at all."""
    a = thread.assessment
    acknowledge = ""
    if (
        writes
        and not thread.superseded
        and port.stage == Stage.REQUEST_RECEIVED
        and port.rejection_ack
        and not port.acknowledged
        and thread.messages
        # the acknowledgement answers the thread's newest message
        and may_write(thread.messages[-1], thread.last_part_types, port.sent_today, policy) is None
    ):
        acknowledge = port.rejection_ack
    return PortStep(
        numbers=tuple(parse_phone(e.raw).key for e in a.numbers),
        carrier=a.request.current_carrier,
        ready=a.ready,
        missing=tuple(k for k, v in a.checklist.items() if v == "missing"),
        acknowledge=acknowledge,
    )


SUPERSEDED = Suppression(
    "superseded",
    "a later message of this request came in with it; the reply answers that one",
)


def reply_step(
    thread: Thread, known: ReplyKnown, policy: Policy, *, also_sent: int = 0
) -> ReplyStep:
    """The reply to this message, or why none goes. `also_sent`: emails to the same
    address this plan sends before the reply (an acknowledgement), counted in the cap."""
    if known.status is not None:
        return ReplyRecorded(known.status)
    if thread.superseded:
        return SUPERSEDED
    return decide_reply(
        thread.incoming,
        thread.assessment,
        known.last_sent,
        own_domains=policy.own_domains,
        own_addresses=policy.own_addresses,
        replies_to_sender_today=known.sent_today + also_sent,
        daily_cap=policy.daily_cap,
        part_types=thread.part_types,
    )


def decide_message(thread: Thread, known: Known, policy: Policy, *, now: float) -> MessagePlan:
    """The whole plan for one assessed message. `now`: seconds since the epoch."""
    stage = known.port.stage if known.port is not None else None
    ticket = None
    if known.ticket is not None:
        ticket = ticket_step(thread.keys, known.ticket, policy, now=now, stage=stage)
    port = None
    if known.port is not None:
        port = port_step(thread, known.port, policy, writes=known.reply is not None)
    reply = None
    if known.reply is not None:
        # an acknowledgement sent to the reply's address first counts in the reply's cap
        acked = port is not None and bool(port.acknowledge) and _same_writer(thread, policy)
        reply = reply_step(thread, known.reply, policy, also_sent=int(acked))
    return MessagePlan(thread.request_id, thread.key, thread, ticket, port, reply)


def _same_writer(thread: Thread, policy: Policy) -> bool:
    first, _ = reply_recipients(thread.messages[-1], policy.internal_domains)
    second, _ = reply_recipients(thread.incoming, policy.internal_domains)
    return bool(first) and (first or "").lower() == (second or "").lower()


__all__ = [
    "SUPERSEDED",
    "Known",
    "MessagePlan",
    "Policy",
    "PortKnown",
    "PortStep",
    "ReplyKnown",
    "ReplyRecorded",
    "ReplyStep",
    "Thread",
    "TicketKnown",
    "TicketStep",
    "decide_message",
    "may_write",
    "over_budget",
    "port_step",
    "reply_step",
    "ticket_step",
]
