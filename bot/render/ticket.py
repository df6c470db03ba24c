"""What the Zendesk ticket of a porting request says: pure rendering, no I/O.

`draft_of` turns an assessment's typed view (`rules.contract.AssessmentView`, secrets
shown: from the assessment by `draft_for`, from a stored snapshot by `draft_from_json`)
and the thread's messages into a `TicketDraft`: requester, subject, custom field values
by logical name, tags, and the private note an agent reads. PINs appear only in
that private note, never in the subject, a field or a tag. `diff_note` says what
a follow-up changed. Tag and field names come from `ZendeskNames`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

from parsers.model import Message
from rules.assessment import Assessment
from rules.contract import (
    AddressView,
    AssessmentView,
    ProblemView,
    RequestView,
    view_from_json,
    view_of,
)
from rules.stages import Stage, StageNames

FieldValue = str | int | bool | None

CHECKLIST_LABELS = {
    "current_carrier": "Current carrier",
    "account_number": "Account number",
    "account_name": "Account name",
    "service_address": "Service address",
    "billing_telephone_number": "Billing telephone number (BTN)",
    "ssn_last4": "SSN last 4 (optional)",
    "numbers": "Numbers to port",
    "pins": "PINs",
    "bill": "Recent bill",
    "loa": "Signed LOA",
}

# Every problem code of the contract: tags of codes no longer raised are removed.
PROBLEM_CODES = (
    "number_invalid",
    "number_not_us_ca",
    "number_not_local",
    "number_duplicate",
    "number_no_assignee",
    "assignee_email_invalid",
    "address_not_physical",
    "bill_too_old",
    "bill_date_unknown",
    "bill_unreadable",
    "bill_field_unread",
    "bill_name_mismatch",
    "bill_account_mismatch",
    "bill_address_mismatch",
    "bill_btn_mismatch",
    "loa_unsigned",
    "loa_numbers_missing",
    "loa_name_mismatch",
    "follow_up_boss",
)

STAGES = ("request_received", "awaiting_customer", "ready", "follow_up_boss")
STAGE_LABELS = {
    "request_received": "Request received",
    "awaiting_customer": "Awaiting customer",
    "ready": "Ready to submit",
    "follow_up_boss": "Follow Up Boss process",
}

# Logical field name -> (default title, Zendesk field type).
FIELD_SPECS = {
    "current_carrier": ("Port: current carrier", "text"),
    "account_name": ("Port: account name", "text"),
    "account_number": ("Port: account number", "text"),
    "service_address": ("Port: service address", "textarea"),
    "btn": ("Port: billing telephone number", "text"),
    "number_count": ("Port: number count", "integer"),
    "stage": ("Port: stage", "tagger"),
    "ready": ("Port: ready to submit", "checkbox"),
    # Written by the stage changes (and read back when an agent sets the stage):
    "porting_date": ("Port: porting date", "date"),
    "rejection_reason": ("Port: carrier rejection reason", "text"),
}


@dataclass(frozen=True)
class ZendeskNames:
    """Tag and field names (configurable; the defaults suit a fresh account)."""

    porting_tag: str = "porting"
    stage_tag_prefix: str = "port_stage_"
    missing_tag_prefix: str = "port_missing_"
    problem_tag_prefix: str = "port_problem_"
    ready_tag: str = "port_ready"
    follow_up_boss_tag: str = "port_follow_up_boss"
    subject_prefix: str = "Port request"
    # Kept after a carrier rejection (+ the reason code), and set on a silent request.
    rejection_tag_prefix: str = "port_rejected_"
    stale_tag: str = "port_stale"
    # Logical field name -> title in Zendesk (see FIELD_SPECS for the names).
    field_titles: Mapping[str, str] = field(
        default_factory=lambda: {k: v[0] for k, v in FIELD_SPECS.items()}
    )
    # Logical field name -> Zendesk field id, as `portbot zendesk setup` prints them.
    field_ids: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = sorted((set(self.field_titles) | set(self.field_ids)) - set(FIELD_SPECS))
        if unknown:
            raise ValueError(
                f"unknown ticket field name(s): {', '.join(unknown)}; "
                f"known: {', '.join(FIELD_SPECS)}"
            )

    def title(self, name: str) -> str:
        return self.field_titles.get(name, FIELD_SPECS[name][0])

    def stage_tag(self, stage: str) -> str:
        return self.stage_tag_prefix + stage

    def stages(self) -> StageNames:
        """The lifecycle stages' tags and dropdown values (same prefix as the intake's)."""
        return StageNames(
            tag_prefix=self.stage_tag_prefix,
            rejection_tag_prefix=self.rejection_tag_prefix,
            stale_tag=self.stale_tag,
        )

    def stage_options(self) -> tuple[tuple[str, str], ...]:
        """(label, value) of every stage dropdown option: the stages of rules.stages, no
        other (the intake's old sub-stage values still read as request_received)."""
        return self.stages().dropdown_options()

    def managed_tags(self) -> tuple[str, ...]:
        """Every tag the bot may set; on update, those not wanted now are removed."""
        return (
            self.porting_tag,
            self.ready_tag,
            self.follow_up_boss_tag,
            *dict.fromkeys([*(self.stage_tag(s) for s in STAGES), *self.stages().all_tags()]),
            *(self.missing_tag_prefix + k for k in CHECKLIST_LABELS),
            *(self.problem_tag_prefix + c for c in PROBLEM_CODES),
        )


@dataclass(frozen=True)
class TicketDraft:
    """Everything the ticket should say now. `note_html` is private: it holds PINs."""

    requester_email: str | None
    requester_name: str | None
    subject: str
    fields: Mapping[str, FieldValue]  # by logical name (FIELD_SPECS)
    tags: tuple[str, ...]
    stage: str
    ready: bool
    note_text: str
    note_html: str

    def __repr__(self) -> str:  # keep PINs out of logs and tracebacks
        return f"TicketDraft(subject={self.subject!r}, stage={self.stage!r}, tags={self.tags!r})"


# --- the parts -------------------------------------------------------------------


def requester(messages: Sequence[Message]) -> tuple[str | None, str | None]:
    """The customer: for a forwarded request the original sender, not the colleague."""
    for message in messages:
        if message.forwarded_from:
            return message.forwarded_from, message.forwarded_from_name
        if message.sender:
            return message.sender, message.sender_name
    return None, None


def stage_of(view: AssessmentView, *, follow_up: bool) -> str:
    if view.request.via_follow_up_boss:
        return "follow_up_boss"
    if view.ready:
        return "ready"
    return "awaiting_customer" if follow_up else "request_received"


def address_line(address: AddressView | None) -> str | None:
    return address.line() if address is not None else None


def subject_of(view: AssessmentView, names: ZendeskNames, who: str | None) -> str:
    r = view.request
    account = r.account_name or who or "unknown account"
    n = len(r.numbers)
    carrier = r.current_carrier or "unknown carrier"
    return f"{names.subject_prefix}: {account} — {n} number{'s' if n != 1 else ''} from {carrier}"


def fields_of(view: AssessmentView, stage: str, names: ZendeskNames) -> dict[str, FieldValue]:
    r = view.request
    return {
        "current_carrier": r.current_carrier,
        "account_name": r.account_name,
        "account_number": r.account_number,
        "service_address": address_line(r.service_address),
        "btn": r.billing_telephone_number,
        "number_count": len(r.numbers),
        "stage": names.stage_tag(stage),
        "ready": view.ready,
    }


def tags_of(view: AssessmentView, stage: str, names: ZendeskNames) -> tuple[str, ...]:
    tags = [names.porting_tag, names.stage_tag(stage)]
    tags += [names.missing_tag_prefix + k for k in view.missing()]
    for problem in view.problems:
        tag = names.problem_tag_prefix + problem.code
        if tag not in tags:
            tags.append(tag)
    if view.ready:
        tags.append(names.ready_tag)
    if view.request.via_follow_up_boss:
        tags.append(names.follow_up_boss_tag)
    return tuple(tags)


# --- evidence: what the email said against what a document shows ----------------

# code -> (request field, document kind, document field): names of the view's records
_EVIDENCE = {
    "bill_name_mismatch": ("account_name", "bill", "account_name"),
    "bill_account_mismatch": ("account_number", "bill", "account_number"),
    "bill_address_mismatch": ("service_address", "bill", "service_address"),
    "bill_btn_mismatch": ("billing_telephone_number", "bill", "billing_telephone_number"),
    "loa_name_mismatch": ("account_name", "loa", "account_name"),
    "loa_numbers_missing": ("numbers", "loa", "numbers"),
    "loa_unsigned": (None, "loa", "signed"),
    "bill_too_old": (None, "bill", "bill_date"),
    "bill_date_unknown": (None, "bill", "bill_date"),
    "bill_unreadable": (None, "bill", "error"),
}

# What `bill_field_unread` names, and the request value an agent compares by eye.
_UNREAD_PARTS = (
    ("account name", "account_name"),
    ("account number", "account_number"),
    ("service address", "service_address"),
)

Shown = str | int | bool | AddressView | tuple[str, ...] | None


def _show(value: Shown) -> str:
    if value is None:
        return "(not given)"
    if isinstance(value, AddressView):
        return value.line() or "(not given)"
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value) or "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _stated(request: RequestView, name: str) -> Shown:
    value: Shown = getattr(request, name)
    return value


@dataclass(frozen=True)
class Evidence:
    stated: str | None  # what the email said (None: nothing to compare)
    shown: str  # what the document shows
    document: str
    ocr: bool


def evidence_for(view: AssessmentView, problem: ProblemView) -> Evidence | None:
    if problem.code == "bill_field_unread":
        return _unread_evidence(view, problem)
    spec = _EVIDENCE.get(problem.code)
    if spec is None:
        return None
    key, kind, doc_field = spec
    doc = view.document(kind)
    if doc is None:
        return None
    stated: str | None = None
    if key == "numbers":
        stated = problem.number
    elif key is not None:
        stated = _show(_stated(view.request, key))
    shown: Shown = getattr(doc.fields, doc_field)
    return Evidence(stated, _show(shown), doc.filename, doc.ocr)


def _unread_evidence(view: AssessmentView, problem: ProblemView) -> Evidence | None:
    """What the agent must compare by eye: the request's values the bill did not show."""
    doc = view.document("bill")
    if doc is None:
        return None
    said = [
        f"{label} {_show(_stated(view.request, key))!r}"
        for label, key in _UNREAD_PARTS
        if label in problem.detail
    ]
    stated = "; ".join(said) if said else None
    return Evidence(stated, "(not found by the bot: compare by eye)", doc.filename, doc.ocr)


# --- the note ----------------------------------------------------------------------


def _numbers_rows(view: AssessmentView) -> list[tuple[str, str, str, str]]:
    return [
        (n.number, n.pin or "—", n.assignee_name or "—", n.assignee_email or "—")
        for n in view.request.numbers
    ]


def _checklist_rows(view: AssessmentView) -> list[tuple[str, str, str]]:
    r = view.request
    values = {
        "current_carrier": r.current_carrier,
        "account_number": r.account_number,
        "account_name": r.account_name,
        "service_address": address_line(r.service_address),
        "billing_telephone_number": r.billing_telephone_number,
        "numbers": f"{len(r.numbers)} listed",
        "pins": "customer says there is no PIN" if r.no_pin_stated else None,
    }
    for kind in ("bill", "loa"):
        doc = view.document(kind)
        values[kind] = doc.filename if doc else None
    return [
        (CHECKLIST_LABELS.get(k, k), status, str(values.get(k) or ""))
        for k, status in view.checklist.items()
        if k != "ssn_last4"
    ]


def _status_line(view: AssessmentView) -> str:
    if view.ready:
        return "READY to submit: every item is in and nothing is wrong."
    return f"NOT READY: {len(view.missing())} item(s) missing, {len(view.problems)} problem(s)."


def _problem_head(p: ProblemView) -> str:
    return f"{p.code}{' (' + p.number + ')' if p.number else ''}"


def _original(messages: Sequence[Message], limit: int = 4000) -> list[tuple[str, str]]:
    out = []
    for m in messages:
        who = m.forwarded_from or m.sender or "unknown sender"
        body = m.body.strip()
        if len(body) > limit:
            body = body[:limit] + " […]"
        out.append((f"{who} — {m.subject}", body))
    return out


def note_text(view: AssessmentView, messages: Sequence[Message]) -> str:
    lines = [
        "Porting request read by portbot (internal note: holds PINs, never share).",
        _status_line(view),
        "",
        "Numbers:",
    ]
    rows = _numbers_rows(view)
    lines += [f"  {n} | PIN {p} | {a} | {e}" for n, p, a, e in rows] or ["  (none listed)"]
    lines += ["", "Checklist:"]
    lines += [f"  [{s}] {label}{': ' + v if v else ''}" for label, s, v in _checklist_rows(view)]
    if view.problems:
        lines += ["", "Problems:"]
        for p in view.problems:
            lines.append(f"  - {_problem_head(p)}: {p.detail}")
            ev = evidence_for(view, p)
            if ev is not None:
                source = "read by OCR" if ev.ocr else "text layer"
                said = f"email said {ev.stated!r}; " if ev.stated is not None else ""
                lines.append(f"      {said}{ev.document} shows {ev.shown!r} ({source})")
    if view.documents:
        lines += ["", "Documents:"]
        lines += [f"  {d.filename}: {d.kind}{', OCR' if d.ocr else ''}" for d in view.documents]
    if view.notes:
        lines += ["", "Notes:"] + [f"  {n}" for n in view.notes]
    for heading, body in _original(messages):
        lines += ["", f"Original message: {heading}", body]
    return "\n".join(lines)


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    trs = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"


def note_html(view: AssessmentView, messages: Sequence[Message]) -> str:
    parts = [
        "<p><strong>Porting request read by portbot</strong> (internal note: holds PINs, "
        f"never share).<br>{escape(_status_line(view))}</p>",
        "<h3>Numbers</h3>",
    ]
    rows = _numbers_rows(view)
    parts.append(
        _table(("Number", "PIN", "Assignee", "Email"), rows) if rows else "<p>None listed.</p>"
    )
    parts += ["<h3>Checklist</h3>", _table(("Item", "Status", "Value"), _checklist_rows(view))]
    if view.problems:
        items = []
        for p in view.problems:
            text = (
                f"<li><code>{escape(p.code)}</code>"
                f"{' (' + escape(p.number) + ')' if p.number else ''}: "
                f"{escape(p.detail)}"
            )
            ev = evidence_for(view, p)
            if ev is not None:
                source = "read by OCR" if ev.ocr else "text layer"
                said = f"email said <q>{escape(ev.stated)}</q>; " if ev.stated is not None else ""
                text += (
                    f"<br><small>{said}{escape(ev.document)} shows "
                    f"<q>{escape(ev.shown)}</q> ({source})</small>"
                )
            items.append(text + "</li>")
        parts += ["<h3>Problems</h3>", "<ul>" + "".join(items) + "</ul>"]
    if view.documents:
        parts += [
            "<h3>Documents</h3>",
            _table(
                ("File", "Kind", "Read by"),
                [(d.filename, d.kind, "OCR" if d.ocr else "text layer") for d in view.documents],
            ),
        ]
    if view.notes:
        parts += [
            "<h3>Notes</h3>",
            "<ul>" + "".join(f"<li>{escape(n)}</li>" for n in view.notes) + "</ul>",
        ]
    for heading, body in _original(messages):
        parts += [
            f"<h3>Original message: {escape(heading)}</h3>",
            "<p>" + escape(body).replace("\n", "<br>") + "</p>",
        ]
    return "".join(parts)


# --- the draft and the follow-up note -------------------------------------------------


def draft_of(
    view: AssessmentView,
    messages: Sequence[Message],
    names: ZendeskNames | None = None,
    *,
    follow_up: bool = False,
    lifecycle: Stage | None = None,
) -> TicketDraft:
    """The ticket for an assessment's typed view (with secrets shown: the note is private).

    `lifecycle`: the port's stage. Past request_received (submitted to the carrier
    and on) the draft keeps that stage: a customer's follow-up does not reset it.
    """
    names = names or ZendeskNames()
    email, name = requester(messages)
    # One stage vocabulary (rules.stages.Stage) on the dropdown, the tags, the command
    # line, the emails and the metrics: while information is collected the stage is
    # request_received; ready and Follow Up Boss are tags of their own (port_ready, ...).
    stage = lifecycle.value if lifecycle is not None else Stage.REQUEST_RECEIVED.value
    return TicketDraft(
        requester_email=email,
        requester_name=name,
        subject=subject_of(view, names, name or email),
        fields=fields_of(view, stage, names),
        tags=tags_of(view, stage, names),
        stage=stage,
        ready=view.ready,
        note_text=note_text(view, messages),
        note_html=note_html(view, messages),
    )


def draft_for(
    assessment: Assessment,
    messages: Sequence[Message],
    names: ZendeskNames | None = None,
    *,
    follow_up: bool = False,
    lifecycle: Stage | None = None,
) -> TicketDraft:
    """The ticket for a `rules.assessment.Assessment` (PINs go to the private note only)."""
    view = view_of(assessment, show_secrets=True)
    return draft_of(view, messages, names, follow_up=follow_up, lifecycle=lifecycle)


def draft_from_json(
    data: Mapping[str, Any],
    messages: Sequence[Message],
    names: ZendeskNames | None = None,
    *,
    follow_up: bool = False,
    lifecycle: Stage | None = None,
) -> TicketDraft:
    """The ticket for a stored snapshot (contract JSON, secrets shown), read as its view."""
    view = view_from_json(data)
    return draft_of(view, messages, names, follow_up=follow_up, lifecycle=lifecycle)


_VALUE_LABELS = (
    ("current_carrier", "Current carrier"),
    ("account_name", "Account name"),
    ("account_number", "Account number"),
    ("service_address", "Service address"),
    ("billing_telephone_number", "Billing telephone number"),
)

# What a ticket showed before its first note: nothing (every number and document is new).
NOTHING_SHOWN = AssessmentView(RequestView(), (), {}, (), False)


def _changed_values(old: RequestView, new: RequestView) -> list[str]:
    """Values a follow-up changed, old and new (a private note: PINs may show)."""
    lines = []
    for key, label in _VALUE_LABELS:
        before, after = _stated(old, key), _stated(new, key)
        if before is not None and after is not None and before != after:
            lines.append(f"Changed: {label}: {_show(before)!r} → {_show(after)!r}")
    before_n = {n.number: n for n in old.numbers}
    after_n = {n.number: n for n in new.numbers}
    added = [k for k in after_n if k not in before_n]
    removed = [k for k in before_n if k not in after_n]
    if added:
        lines.append("Numbers added: " + ", ".join(added))
    if removed:
        lines.append("Numbers removed: " + ", ".join(removed))
    for number, entry in after_n.items():
        was = before_n.get(number)
        if was is None:
            continue
        for then, now, label in (
            (was.pin, entry.pin, "PIN"),
            (was.assignee_name, entry.assignee_name, "user"),
            (was.assignee_email, entry.assignee_email, "user's email"),
        ):
            if then != now and now is not None:
                lines.append(f"Changed: {label} of {number}: {_show(then)!r} → {_show(now)!r}")
    return lines


def diff_note(old: AssessmentView | None, new: AssessmentView) -> str:
    """What a follow-up changed since `old` (what the ticket showed; None: nothing):
    items now received, problems resolved and new, values changed."""
    old = old or NOTHING_SHOWN
    lines = ["What changed with this message:"]
    old_list, new_list = old.checklist, new.checklist
    received = [k for k, v in new_list.items() if v != "missing" and old_list.get(k) == "missing"]
    lost = [
        k
        for k, v in new_list.items()
        if v == "missing" and old_list.get(k) not in (None, "missing")
    ]
    if received:
        lines.append("Now received: " + ", ".join(CHECKLIST_LABELS.get(k, k) for k in received))
    if lost:
        lines.append("Now missing: " + ", ".join(CHECKLIST_LABELS.get(k, k) for k in lost))
    old_p = {(p.code, p.number): p for p in old.problems}
    new_p = {(p.code, p.number): p for p in new.problems}
    for key, p in old_p.items():
        if key not in new_p:
            lines.append(f"Resolved: {_problem_head(p)}")
    for key, p in new_p.items():
        if key not in old_p:
            lines.append(f"New problem: {_problem_head(p)}: {p.detail}")
    lines += _changed_values(old.request, new.request)
    old_docs = {d.filename for d in old.documents}
    added = [d.filename for d in new.documents if d.filename not in old_docs]
    if added:
        lines.append("New documents: " + ", ".join(added))
    if old.ready != new.ready:
        lines.append("Now READY to submit." if new.ready else "No longer ready.")
    if len(lines) == 1:
        lines.append("Nothing in the assessment changed.")
    return "\n".join(lines)
