"""The gather half of the one decision per message (`rules.decide`).

`Planner` is what the intake calls for each assessed message before the sinks: it reads
what the state store knows of the request, through the sinks' own read methods (each
ledger is read in one place: `TicketSink.known`, `PortKeeper.known`, `Replier.known`),
calls `rules.decide.decide_message` once, and the intake hands the plan on in the
`Delivery`. Each sink applies its step of it.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.pipeline.intake import Delivery, key_of
from bot.ports import Clock
from bot.render.reply_email import part_types
from rules.decide import (
    Known,
    MessagePlan,
    Policy,
    PortKnown,
    ReplyKnown,
    Thread,
    TicketKnown,
    decide_message,
)


def thread_of(delivery: Delivery) -> Thread:
    """The delivery as the decision reads it: keys, the parse the intake made, part types."""
    keys = tuple(key_of(raw) for raw in delivery.raws)
    incoming = len(keys) - 1  # the message whose key this is (else the newest)
    for n in range(len(keys) - 1, -1, -1):
        if delivery.messages and delivery.messages[n].message_id == delivery.key:
            incoming = n
            break
    last = delivery.raws[-1] if delivery.raws else b""
    return Thread(
        request_id=delivery.request_id,
        key=delivery.key,
        keys=keys,
        messages=delivery.messages,
        assessment=delivery.assessment,
        superseded=delivery.superseded,
        part_types=part_types(delivery.raws[incoming]) if delivery.raws else frozenset(),
        last_part_types=part_types(last),
    )


class Planner:
    """Gather, then decide once: `Intake(plan=Planner(...))`.

    `tickets`, `ports`, `replies`: the read side of each part the bot runs (None: not
    run, e.g. no [zendesk] section); `now` the seconds on the one clock.
    """

    def __init__(
        self,
        policy: Policy,
        clock: Clock,
        *,
        tickets: Callable[[str, float], TicketKnown] | None = None,
        ports: Callable[[Thread], PortKnown] | None = None,
        replies: Callable[[Thread], ReplyKnown] | None = None,
    ) -> None:
        self.policy = policy
        self.clock = clock
        self.tickets, self.ports, self.replies = tickets, ports, replies

    def __call__(self, delivery: Delivery) -> MessagePlan:
        thread = thread_of(delivery)
        now = self.clock.seconds()
        known = Known(
            ticket=self.tickets(thread.request_id, now) if self.tickets else None,
            port=self.ports(thread) if self.ports else None,
            reply=self.replies(thread) if self.replies else None,
        )
        return decide_message(thread, known, self.policy, now=now)


__all__ = ["Planner", "thread_of"]
