"""The Zendesk views `portbot zendesk setup` makes: one per stage, "stale" and
"rejected, waiting on customer", each a ticket list an agent opens in the sidebar.

Views select by the tags the bot keeps on its tickets (a stage dropdown's value is
itself a tag, bot/render/ticket.py): every stage tag, the stale tag, and one
rejection tag per reason code while a rejected request waits on the customer.
Zendesk asks each view to test the status (or type, group, assignee, requester) in
its `all` conditions: open ports are those not solved; a final stage's view also
shows the solved tickets ([stages] solve_when_final solves them).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.render.ticket import ZendeskNames
from parsers.carrier_notice import REASON_CODES
from rules.stages import FINAL, Stage

__all__ = ["ViewSpec", "view_specs"]

Condition = tuple[str, str, str]  # field, operator, value


@dataclass(frozen=True)
class ViewSpec:
    """One view: its title (how setup finds it again), description and conditions."""

    title: str
    description: str
    all: tuple[Condition, ...]
    any: tuple[Condition, ...] = ()

    def as_json(self) -> dict[str, object]:
        """The body of POST /api/v2/views (`view`)."""

        def cond(c: Condition) -> dict[str, str]:
            return {"field": c[0], "operator": c[1], "value": c[2]}

        return {
            "title": self.title,
            "description": self.description,
            "active": True,
            "all": [cond(c) for c in self.all],
            "any": [cond(c) for c in self.any],
            "output": {
                "columns": ["status", "description", "requester", "updated"],
                "sort_by": "updated",
                "sort_order": "asc",  # the longest waiting first
            },
        }


def view_specs(names: ZendeskNames, prefix: str = "Porting: ") -> tuple[ViewSpec, ...]:
    """Every view, in the order of the stages, then stale, then rejected-waiting."""
    stages = names.stages()
    open_only = ("status", "less_than", "solved")
    specs = [
        ViewSpec(
            title=f"{prefix}{stages.label(stage)}",
            description=f"portbot: ports at stage {stage.value} (tag {stages.tag(stage)})",
            all=(
                ("status", "less_than", "closed") if stage in FINAL else open_only,
                ("current_tags", "includes", stages.tag(stage)),
            ),
        )
        for stage in Stage
    ]
    specs.append(
        ViewSpec(
            title=f"{prefix}Stale (no answer after the reminders)",
            description=f"portbot: requests tagged {stages.stale_tag}: the customer did not "
            "answer the reminders",
            all=(open_only, ("current_tags", "includes", stages.stale_tag)),
        )
    )
    rejected = " ".join(stages.rejection_tag(code) for code in REASON_CODES)  # type: ignore[arg-type]
    specs.append(
        ViewSpec(
            title=f"{prefix}Rejected, waiting on customer",
            description="portbot: the carrier rejected the port; the request waits for the "
            "customer's correction before it is submitted again",
            all=(
                open_only,
                ("current_tags", "includes", stages.tag(Stage.REQUEST_RECEIVED)),
                ("current_tags", "includes", rejected),
            ),
        )
    )
    return tuple(specs)
