"""The stages of a port after the request arrives, and the moves between them.

    request_received -> submitted -> approved -> scheduled -> completed
    submitted -> scheduled          an approval that carries the porting date
    submitted | approved -> completed   a partner that reports no FOC first
    submitted | approved | scheduled -> rejected -> request_received
    scheduled -> scheduled          the porting date moved
    any stage not final -> cancelled

`request_received` is the whole time information is being collected (the
intake's `awaiting_customer` and `ready` are sub-states of it). A rejection
goes back there: the customer fixes what the carrier refused, the request is
resubmitted. `completed` and `cancelled` are final.

The allowed moves and what each stage needs are data (`ALLOWED`, `REQUIRES`);
`transition` is the one judge, for every source of a change (an agent on the
ticket, a carrier-partner email, the command line, the bot itself). It returns
a value and changes nothing. `match_notice` and `decide_notice` find the
request a partner's email is about and the move it asks for.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from parsers.carrier_notice import CarrierNotice, ReasonCode, classify_reason

__all__ = [
    "ALLOWED",
    "FINAL",
    "FOLLOW_ON",
    "HAPPY_PATH",
    "INTAKE_STAGES",
    "REQUIRES",
    "IllegalMove",
    "NoticeMatch",
    "PortRef",
    "Source",
    "Stage",
    "StageChange",
    "StageNames",
    "Unchanged",
    "decide_notice",
    "match_notice",
    "notice_target",
    "parse_stage",
    "transition",
]

Source = Literal["agent", "carrier", "cli", "bot"]


class Stage(enum.StrEnum):
    REQUEST_RECEIVED = "request_received"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    SCHEDULED = "scheduled"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


S = Stage

# Where each stage may go next. Besides the straight line: a partner may report
# a rejection after approving or even after the FOC date (an exception raised
# late), and may report completion without a separate FOC notice; a scheduled
# port may be scheduled again when the date moves.
ALLOWED: Mapping[Stage, frozenset[Stage]] = {
    S.REQUEST_RECEIVED: frozenset({S.SUBMITTED, S.CANCELLED}),
    S.SUBMITTED: frozenset({S.APPROVED, S.REJECTED, S.SCHEDULED, S.COMPLETED, S.CANCELLED}),
    S.APPROVED: frozenset({S.SCHEDULED, S.REJECTED, S.COMPLETED, S.CANCELLED}),
    S.REJECTED: frozenset({S.REQUEST_RECEIVED, S.CANCELLED}),
    S.SCHEDULED: frozenset({S.SCHEDULED, S.COMPLETED, S.REJECTED, S.CANCELLED}),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
}

FINAL = frozenset({S.COMPLETED, S.CANCELLED})

# What a move into a stage must carry.
REQUIRES: Mapping[Stage, tuple[Literal["reason", "date"], ...]] = {
    S.REJECTED: ("reason",),
    S.SCHEDULED: ("date",),
}

# A stage that is left again at once, by the bot: after a rejection the request
# goes back to collecting information.
FOLLOW_ON: Mapping[Stage, Stage] = {S.REJECTED: S.REQUEST_RECEIVED}

# The straight line, for telling a late carrier notice ("submitted" arriving
# after "approved") from a real move backwards.
HAPPY_PATH = (S.REQUEST_RECEIVED, S.SUBMITTED, S.APPROVED, S.SCHEDULED, S.COMPLETED)

# The intake's stages (bot/render/ticket.py STAGES) are all "collecting information".
INTAKE_STAGES: Mapping[str, Stage] = {
    "request_received": S.REQUEST_RECEIVED,
    "awaiting_customer": S.REQUEST_RECEIVED,
    "ready": S.REQUEST_RECEIVED,
}

_WHY_FINAL = {
    S.COMPLETED: "the port is already completed",
    S.CANCELLED: "the request was cancelled; a new request is needed to port these numbers",
}


@dataclass(frozen=True)
class StageChange:
    """A move to apply: set the stage's tag and field, tell the customer, note it.

    `via` names stages passed through in the same step (an approval carrying the
    porting date goes to `scheduled` via `approved`). `follow_on`, when set, is
    the stage the bot moves on to right after applying this one.
    """

    previous: Stage
    stage: Stage
    source: Source
    reason: str | None = None
    reason_codes: tuple[ReasonCode, ...] = ()
    date: dt.date | None = None
    via: tuple[Stage, ...] = ()
    follow_on: Stage | None = None

    @property
    def reason_code(self) -> ReasonCode | None:
        return self.reason_codes[0] if self.reason_codes else None

    @property
    def rescheduled(self) -> bool:
        return self.previous == S.SCHEDULED and self.stage == S.SCHEDULED


@dataclass(frozen=True)
class Unchanged:
    """Nothing to do: the port is already there (a repeated or late notice)."""

    stage: Stage
    target: Stage
    source: Source
    message: str


@dataclass(frozen=True)
class IllegalMove:
    """A move refused; `message` says why in words an agent can act on."""

    current: Stage
    target: Stage
    source: Source
    message: str

    def __str__(self) -> str:
        return self.message


def _names(stages: Iterable[Stage]) -> str:
    ordered = [s.value for s in Stage if s in set(stages)]
    if len(ordered) <= 1:
        return "".join(ordered)
    return ", ".join(ordered[:-1]) + " or " + ordered[-1]


def _behind(current: Stage, target: Stage) -> bool:
    if current in HAPPY_PATH and target in HAPPY_PATH:
        return HAPPY_PATH.index(target) < HAPPY_PATH.index(current)
    return False


def transition(
    current: Stage,
    target: Stage,
    *,
    reason: str | None = None,
    date: dt.date | None = None,
    source: Source,
    reason_codes: Iterable[ReasonCode] = (),
    current_date: dt.date | None = None,
) -> StageChange | Unchanged | IllegalMove:
    """Judge a move from `current` to `target`.

    `reason` is the carrier's or agent's words (needed for `rejected`; its code
    is worked out from the words unless `reason_codes` are given); `date` is the
    porting (FOC) date (needed for `scheduled`; with `approved` it schedules the
    port in the same step). `current_date` is the porting date already set, so
    a repeated FOC notice with the same date changes nothing.
    """
    reason = reason.strip() if reason and reason.strip() else None
    codes = tuple(dict.fromkeys(reason_codes))
    via: tuple[Stage, ...] = ()
    if target == S.APPROVED and date is not None and S.SCHEDULED in ALLOWED[current]:
        target, via = S.SCHEDULED, (S.APPROVED,)

    def illegal(why: str) -> IllegalMove:
        message = f"cannot move from {current} to {target}: {why}"
        return IllegalMove(current, target, source, message)

    if current in FINAL:
        if target == current:
            return Unchanged(current, target, source, f"the port is already {current}")
        return illegal(_WHY_FINAL[current])
    if target == current and not (target == S.SCHEDULED and date not in (None, current_date)):
        return Unchanged(current, target, source, f"the port is already {current}")
    if target not in ALLOWED[current]:
        if source == "carrier" and _behind(current, target):
            # Partners' emails can arrive late or out of order; an older step is news to no one.
            return Unchanged(
                current, target, source, f"the port is already {current}, past {target}"
            )
        nexts = _names(ALLOWED[current])
        return illegal(f"from {current} the port can only go to {nexts}")
    needs = REQUIRES.get(target, ())
    if "reason" in needs and reason is None and not codes:
        return illegal("a rejection needs the carrier's reason (what to fix)")
    if "date" in needs and date is None:
        return illegal("scheduling needs the porting (FOC) date")
    if target == S.REJECTED and not codes:
        codes = classify_reason(reason or "")
    return StageChange(
        previous=current,
        stage=target,
        source=source,
        reason=reason,
        reason_codes=codes if target == S.REJECTED else (),
        date=date if target in (S.SCHEDULED, S.COMPLETED) else None,
        via=via,
        follow_on=FOLLOW_ON.get(target),
    )


def notice_target(notice: CarrierNotice) -> Stage:
    """The stage a carrier-partner notice asks for (an approval with a date schedules)."""
    if notice.kind == "approved" and notice.date is not None:
        return S.SCHEDULED
    return _NOTICE_STAGE[notice.kind]


_NOTICE_STAGE: Mapping[str, Stage] = {
    "submitted": S.SUBMITTED,
    "approved": S.APPROVED,
    "rejected": S.REJECTED,
    "foc": S.SCHEDULED,
    "completed": S.COMPLETED,
    "cancelled": S.CANCELLED,
}


def parse_stage(text: str) -> Stage | None:
    """A stage as typed on the command line: its name (the one vocabulary of the
    dropdown, tags, emails and metrics), any case, spaces or hyphens; no aliases."""
    key = text.strip().lower().replace("-", "_").replace(" ", "_")
    try:
        return Stage(key)
    except ValueError:
        return None


# --- names on the ticket -------------------------------------------------------------

_LABELS: Mapping[Stage, str] = {
    S.REQUEST_RECEIVED: "Request received (collecting information)",
    S.SUBMITTED: "Submitted to carrier",
    S.APPROVED: "Approved by carrier",
    S.REJECTED: "Rejected by carrier",
    S.SCHEDULED: "Porting date scheduled",
    S.COMPLETED: "Completed",
    S.CANCELLED: "Cancelled",
}


@dataclass(frozen=True)
class StageNames:
    """Tag, dropdown value and label of each stage on the Zendesk ticket.

    In Zendesk a dropdown option's value is itself a tag the ticket carries, so
    by default value and tag are the same (`port_stage_<stage>`, the prefix
    bot/render/ticket.py already uses). Overrides go in `tags` / `values` / `labels`.
    """

    tag_prefix: str = "port_stage_"
    tags: Mapping[Stage, str] = field(default_factory=dict)
    values: Mapping[Stage, str] = field(default_factory=dict)
    labels: Mapping[Stage, str] = field(default_factory=dict)
    # Kept after a rejection, when the stage is back to collecting information.
    rejection_tag_prefix: str = "port_rejected_"
    stale_tag: str = "port_stale"

    def __post_init__(self) -> None:
        for what, mapping in (
            ("tags", self.tags),
            ("values", self.values),
            ("labels", self.labels),
        ):
            unknown = [str(k) for k in mapping if k not in set(Stage)]
            if unknown:
                raise ValueError(
                    f"stage {what}: unknown stage(s) {', '.join(unknown)}; "
                    f"known: {', '.join(Stage)}"
                )
            bad = [str(v) for v in mapping.values() if not str(v).strip() or " " in str(v)]
            if bad and what != "labels":
                raise ValueError(
                    f"stage {what} must be non-empty, without spaces (Zendesk tags): {bad!r}"
                )
        for what, getter in (("tag", self.tag), ("dropdown value", self.value)):
            seen: dict[str, Stage] = {}
            for stage in Stage:
                name = getter(stage)
                if name in seen:
                    raise ValueError(
                        f"stages {seen[name]} and {stage} have the same {what} {name!r}"
                    )
                seen[name] = stage
        if not self.tag_prefix.strip() or " " in self.tag_prefix:
            raise ValueError("stage tag_prefix must be non-empty and without spaces")

    def tag(self, stage: Stage) -> str:
        return self.tags.get(stage, self.tag_prefix + stage.value)

    def value(self, stage: Stage) -> str:
        return self.values.get(stage, self.tag(stage))

    def label(self, stage: Stage) -> str:
        return self.labels.get(stage, _LABELS[stage])

    def all_tags(self) -> tuple[str, ...]:
        """Every stage tag: on a change, those other than the new stage's are removed."""
        return tuple(self.tag(s) for s in Stage)

    def rejection_tag(self, code: ReasonCode) -> str:
        return self.rejection_tag_prefix + code

    def dropdown_options(self) -> tuple[tuple[str, str], ...]:
        """(label, value) pairs for the stage dropdown, in the order of the stages."""
        return tuple((self.label(s), self.value(s)) for s in Stage)

    def from_value(self, value: str | None) -> Stage | None:
        """The stage a dropdown value stands for; intake sub-stages read as request_received."""
        if not value:
            return None
        for stage in Stage:
            if self.value(stage) == value:
                return stage
        if value.startswith(self.tag_prefix):
            return INTAKE_STAGES.get(value[len(self.tag_prefix) :])
        return None

    def from_tags(self, tags: Iterable[str]) -> Stage | None:
        """The furthest stage whose tag the ticket carries (tags are unordered)."""
        present = set(tags)
        found = [s for s in Stage if self.tag(s) in present]
        found += [st for name, st in INTAKE_STAGES.items() if self.tag_prefix + name in present]
        if not found:
            return None
        final = [s for s in found if s in FINAL]
        if final:
            return final[0]
        return max(found, key=lambda s: HAPPY_PATH.index(s) if s in HAPPY_PATH else 1.5)

    def stage_of_ticket(self, field_value: str | None, tags: Iterable[str]) -> Stage | None:
        """The stage a ticket shows: its dropdown if set, else its tags."""
        return self.from_value(field_value) or self.from_tags(tags)


# --- carrier notices: which request, and what move ----------------------------------------


@dataclass(frozen=True)
class PortRef:
    """What the state store knows of one request, for matching notices to it."""

    request_id: str
    stage: Stage
    order_id: str | None = None  # the partner's port order id, once known
    customer_ref: str | None = None  # our reference given to the partner on submitting
    numbers: frozenset[str] = frozenset()  # E.164
    porting_date: dt.date | None = None


_MatchedBy = Literal["order_id", "customer_ref", "numbers"]


@dataclass(frozen=True)
class NoticeMatch:
    """The request a notice is about, or why none could be chosen.

    `learn_order_id` is set when the request should now remember the notice's
    order id (matched by reference or numbers, or the partner issued a new one).
    """

    request_id: str | None
    by: _MatchedBy | None
    message: str
    candidates: tuple[str, ...] = ()
    learn_order_id: str | None = None


def _same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a.strip().casefold() == b.strip().casefold()


def match_notice(notice: CarrierNotice, refs: Iterable[PortRef]) -> NoticeMatch:
    """Find the request a notice is about: by port order id, by our reference, by numbers.

    Numbers count only among requests that are not final, and only when one
    request shares more of the notice's numbers than any other.
    """
    refs = list(refs)

    def found(ref: PortRef, by: _MatchedBy) -> NoticeMatch:
        new_id = notice.order_id and not _same(ref.order_id, notice.order_id)
        return NoticeMatch(
            ref.request_id,
            by,
            f"matched by {by.replace('_', ' ')}",
            (ref.request_id,),
            notice.order_id if new_id else None,
        )

    keys: tuple[tuple[str | None, _MatchedBy], ...] = (
        (notice.order_id, "order_id"),
        (notice.customer_ref, "customer_ref"),
    )
    for key, by in keys:
        hits = [r for r in refs if _same(getattr(r, by), key)]
        if len(hits) == 1:
            return found(hits[0], by)
        if len(hits) > 1:
            return NoticeMatch(
                None,
                None,
                f"{len(hits)} requests have {by.replace('_', ' ')} {key}",
                tuple(r.request_id for r in hits),
            )
    wanted = set(notice.numbers)
    if not wanted:
        return NoticeMatch(None, None, "no request has this order and the notice names no numbers")
    shared = sorted(
        ((len(wanted & r.numbers), r) for r in refs if r.stage not in FINAL and wanted & r.numbers),
        key=lambda pair: -pair[0],
    )
    if not shared:
        return NoticeMatch(None, None, "no open request has any of the notice's numbers")
    if len(shared) > 1 and shared[0][0] == shared[1][0]:
        tied = tuple(r.request_id for n, r in shared if n == shared[0][0])
        return NoticeMatch(None, None, "several open requests share the notice's numbers", tied)
    return found(shared[0][1], "numbers")


def decide_notice(
    notice: CarrierNotice, ref: PortRef, *, require_authenticated: bool = False
) -> StageChange | Unchanged | IllegalMove:
    """The move a notice asks of the request it was matched to.

    A notice whose sender failed the receiving server's DKIM/DMARC check is
    refused (anyone can write "From: Bandwidth"); with `require_authenticated`,
    so is one that carries no verdict at all.
    """
    target = notice_target(notice)
    if notice.authenticated is False or (require_authenticated and notice.authenticated is None):
        why = "failed" if notice.authenticated is False else "has no"
        message = (
            f"not applied: the email claiming to be from {notice.partner} {why} sender "
            "authentication (DKIM/DMARC); an agent should check it"
        )
        return IllegalMove(ref.stage, target, "carrier", message)
    return transition(
        ref.stage,
        target,
        reason=notice.reason,
        date=notice.date,
        source="carrier",
        reason_codes=notice.reason_codes,
        current_date=ref.porting_date,
    )
