"""Which unmatched carrier notices are settled: the ticket the bot opened for an agent
(found again by its idempotency key, kept as the ticket's external_id) is solved or
closed. `doctor` counts only the others as a problem (issue 15, point 9)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.errors import PortbotError
from bot.pipeline.ticket_sink import idempotency_key
from bot.ports import TicketDesk, UnmatchedNotice

__all__ = ["settled_notices"]


def settled_notices(desk: TicketDesk, notices: Sequence[UnmatchedNotice]) -> dict[str, int]:
    """notice key -> its ticket, for each notice whose ticket an agent solved or closed.

    A notice noted on the desk's own ticket ([zendesk] mode = "annotate") has no ticket
    of the bot's and is not found here; Zendesk out of reach settles nothing."""
    try:
        found = {n.key: desk.find_ticket(idempotency_key("notice", n.key)) for n in notices}
        ids = sorted({tid for tid in found.values() if tid is not None})
        states = desk.ticket_states(ids) if ids else {}
    except PortbotError:
        return {}
    return {
        key: tid
        for key, tid in found.items()
        if tid is not None and tid in states and states[tid].status in ("solved", "closed")
    }
