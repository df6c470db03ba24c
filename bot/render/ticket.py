"""What the Zendesk ticket of a porting request says: pure rendering, no I/O.

`draft_for` turns an assessment (its contract JSON, secrets shown) and the
thread's messages into a `TicketDraft`: requester, subject, custom field values
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
from rules.contract import to_json
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


def stage_of(data: Mapping[str, Any], *, follow_up: bool) -> str:
    if data["request"].get("via_follow_up_boss"):
        return "follow_up_boss"
    if data.get("ready"):
        return "ready"
    return "awaiting_customer" if follow_up else "request_received"


def address_line(address: Mapping[str, Any] | None) -> str | None:
    if not address:
        return None
    tail = " ".join(p for p in (address.get("state"), address.get("zip")) if p)
    parts = [p for p in (address.get("street"), address.get("city"), tail) if p]
    return ", ".join(parts) or None


def subject_of(data: Mapping[str, Any], names: ZendeskNames, who: str | None) -> str:
    r = data["request"]
    account = r.get("account_name") or who or "unknown account"
    n = len(r.get("numbers") or [])
    carrier = r.get("current_carrier") or "unknown carrier"
    return f"{names.subject_prefix}: {account} — {n} number{'s' if n != 1 else ''} from {carrier}"


def fields_of(data: Mapping[str, Any], stage: str, names: ZendeskNames) -> dict[str, FieldValue]:
    r = data["request"]
    return {
        "current_carrier": r.get("current_carrier"),
        "account_name": r.get("account_name"),
        "account_number": r.get("account_number"),
        "service_address": address_line(r.get("service_address")),
        "btn": r.get("billing_telephone_number"),
        "number_count": len(r.get("numbers") or []),
        "stage": names.stage_tag(stage),
        "ready": bool(data.get("ready")),
    }


def tags_of(data: Mapping[str, Any], stage: str, names: ZendeskNames) -> tuple[str, ...]:
    tags = [names.porting_tag, names.stage_tag(stage)]
    tags += [names.missing_tag_prefix + k for k, v in data["checklist"].items() if v == "missing"]
    for problem in data["problems"]:
        tag = names.problem_tag_prefix + problem["code"]
        if tag not in tags:
            tags.append(tag)
    if data.get("ready"):
        tags.append(names.ready_tag)
    if data["request"].get("via_follow_up_boss"):
        tags.append(names.follow_up_boss_tag)
    return tuple(tags)


# --- evidence: what the email said against what a document shows ----------------

# code -> (request key, document kind, document field)
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


def _document(data: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    """The document of that kind the rules judged: the newest readable one, as they do."""
    docs = [d for d in data.get("documents") or [] if d.get("kind") == kind]
    readable = [d for d in docs if "error" not in (d.get("fields") or {})]
    chosen: Mapping[str, Any] | None = (readable or docs or [None])[-1]
    return chosen


def _show(value: Any) -> str:
    if value is None:
        return "(not given)"
    if isinstance(value, dict):
        return address_line(value) or "(not given)"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


@dataclass(frozen=True)
class Evidence:
    stated: str | None  # what the email said (None: nothing to compare)
    shown: str  # what the document shows
    document: str
    ocr: bool


def evidence_for(data: Mapping[str, Any], problem: Mapping[str, Any]) -> Evidence | None:
    if problem["code"] == "bill_field_unread":
        return _unread_evidence(data, problem)
    spec = _EVIDENCE.get(problem["code"])
    if spec is None:
        return None
    key, kind, doc_field = spec
    doc = _document(data, kind)
    if doc is None:
        return None
    fields = doc.get("fields") or {}
    stated: str | None = None
    if key == "numbers":
        stated = problem.get("number")
    elif key is not None:
        stated = _show(data["request"].get(key))
    shown = _show(fields.get(doc_field))
    return Evidence(stated, shown, str(doc.get("filename")), bool(doc.get("ocr")))


def _unread_evidence(data: Mapping[str, Any], problem: Mapping[str, Any]) -> Evidence | None:
    """What the agent must compare by eye: the request's values the bill did not show."""
    doc = _document(data, "bill")
    if doc is None:
        return None
    detail = str(problem.get("detail") or "")
    said = [
        f"{label} {_show(data['request'].get(key))!r}"
        for label, key in _UNREAD_PARTS
        if label in detail
    ]
    stated = "; ".join(said) if said else None
    return Evidence(
        stated,
        "(not found by the bot: compare by eye)",
        str(doc.get("filename")),
        bool(doc.get("ocr")),
    )


# --- the note ----------------------------------------------------------------------


def _numbers_rows(data: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    numbers = data["request"].get("numbers") or []
    return [
        (
            n["number"],
            n.get("pin") or "—",
            n.get("assignee_name") or "—",
            n.get("assignee_email") or "—",
        )
        for n in numbers
    ]


def _checklist_rows(data: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    r = data["request"]
    values = {
        "current_carrier": r.get("current_carrier"),
        "account_number": r.get("account_number"),
        "account_name": r.get("account_name"),
        "service_address": address_line(r.get("service_address")),
        "billing_telephone_number": r.get("billing_telephone_number"),
        "numbers": f"{len(r.get('numbers') or [])} listed",
        "pins": "customer says there is no PIN" if r.get("no_pin_stated") else None,
    }
    for kind in ("bill", "loa"):
        doc = _document(data, kind)
        values[kind] = doc.get("filename") if doc else None
    return [
        (CHECKLIST_LABELS.get(k, k), status, str(values.get(k) or ""))
        for k, status in data["checklist"].items()
        if k != "ssn_last4"
    ]


def _status_line(data: Mapping[str, Any]) -> str:
    if data.get("ready"):
        return "READY to submit: every item is in and nothing is wrong."
    missing = [k for k, v in data["checklist"].items() if v == "missing"]
    return f"NOT READY: {len(missing)} item(s) missing, {len(data['problems'])} problem(s)."


def _original(messages: Sequence[Message], limit: int = 4000) -> list[tuple[str, str]]:
    out = []
    for m in messages:
        who = m.forwarded_from or m.sender or "unknown sender"
        body = m.body.strip()
        if len(body) > limit:
            body = body[:limit] + " […]"
        out.append((f"{who} — {m.subject}", body))
    return out


def note_text(data: Mapping[str, Any], messages: Sequence[Message]) -> str:
    lines = [
        "Porting request read by portbot (internal note: holds PINs, never share).",
        _status_line(data),
        "",
        "Numbers:",
    ]
    rows = _numbers_rows(data)
    lines += [f"  {n} | PIN {p} | {a} | {e}" for n, p, a, e in rows] or ["  (none listed)"]
    lines += ["", "Checklist:"]
    lines += [f"  [{s}] {label}{': ' + v if v else ''}" for label, s, v in _checklist_rows(data)]
    if data["problems"]:
        lines += ["", "Problems:"]
        for p in data["problems"]:
            lines.append(
                f"  - {p['code']}{' (' + p['number'] + ')' if p.get('number') else ''}: "
                f"{p['detail']}"
            )
            ev = evidence_for(data, p)
            if ev is not None:
                source = "read by OCR" if ev.ocr else "text layer"
                said = f"email said {ev.stated!r}; " if ev.stated is not None else ""
                lines.append(f"      {said}{ev.document} shows {ev.shown!r} ({source})")
    if data.get("documents"):
        lines += ["", "Documents:"]
        lines += [
            f"  {d['filename']}: {d['kind']}{', OCR' if d.get('ocr') else ''}"
            for d in data["documents"]
        ]
    if data.get("notes"):
        lines += ["", "Notes:"] + [f"  {n}" for n in data["notes"]]
    for heading, body in _original(messages):
        lines += ["", f"Original message: {heading}", body]
    return "\n".join(lines)


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    trs = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"


def note_html(data: Mapping[str, Any], messages: Sequence[Message]) -> str:
    parts = [
        "<p><strong>Porting request read by portbot</strong> (internal note: holds PINs, "
        f"never share).<br>{escape(_status_line(data))}</p>",
        "<h3>Numbers</h3>",
    ]
    rows = _numbers_rows(data)
    parts.append(
        _table(("Number", "PIN", "Assignee", "Email"), rows) if rows else "<p>None listed.</p>"
    )
    parts += ["<h3>Checklist</h3>", _table(("Item", "Status", "Value"), _checklist_rows(data))]
    if data["problems"]:
        items = []
        for p in data["problems"]:
            text = (
                f"<li><code>{escape(p['code'])}</code>"
                f"{' (' + escape(p['number']) + ')' if p.get('number') else ''}: "
                f"{escape(p['detail'])}"
            )
            ev = evidence_for(data, p)
            if ev is not None:
                source = "read by OCR" if ev.ocr else "text layer"
                said = f"email said <q>{escape(ev.stated)}</q>; " if ev.stated is not None else ""
                text += (
                    f"<br><small>{said}{escape(ev.document)} shows "
                    f"<q>{escape(ev.shown)}</q> ({source})</small>"
                )
            items.append(text + "</li>")
        parts += ["<h3>Problems</h3>", "<ul>" + "".join(items) + "</ul>"]
    if data.get("documents"):
        parts += [
            "<h3>Documents</h3>",
            _table(
                ("File", "Kind", "Read by"),
                [
                    (d["filename"], d["kind"], "OCR" if d.get("ocr") else "text layer")
                    for d in data["documents"]
                ],
            ),
        ]
    if data.get("notes"):
        parts += [
            "<h3>Notes</h3>",
            "<ul>" + "".join(f"<li>{escape(n)}</li>" for n in data["notes"]) + "</ul>",
        ]
    for heading, body in _original(messages):
        parts += [
            f"<h3>Original message: {escape(heading)}</h3>",
            "<p>" + escape(body).replace("\n", "<br>") + "</p>",
        ]
    return "".join(parts)


# --- the draft and the follow-up note -------------------------------------------------


def draft_from_json(
    data: Mapping[str, Any],
    messages: Sequence[Message],
    names: ZendeskNames | None = None,
    *,
    follow_up: bool = False,
    lifecycle: Stage | None = None,
) -> TicketDraft:
    """The ticket for an assessment in contract JSON form (with secrets shown).

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
        subject=subject_of(data, names, name or email),
        fields=fields_of(data, stage, names),
        tags=tags_of(data, stage, names),
        stage=stage,
        ready=bool(data.get("ready")),
        note_text=note_text(data, messages),
        note_html=note_html(data, messages),
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
    return draft_from_json(
        to_json(assessment, show_secrets=True),
        messages,
        names,
        follow_up=follow_up,
        lifecycle=lifecycle,
    )


def _problem_key(p: Mapping[str, Any]) -> tuple[str, str | None]:
    return p["code"], p.get("number")


_VALUE_LABELS = (
    ("current_carrier", "Current carrier"),
    ("account_name", "Account name"),
    ("account_number", "Account number"),
    ("service_address", "Service address"),
    ("billing_telephone_number", "Billing telephone number"),
)


def _changed_values(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Values a follow-up changed, old and new (a private note: PINs may show)."""
    lines = []
    for key, label in _VALUE_LABELS:
        before, after = old.get(key), new.get(key)
        if before is not None and after is not None and before != after:
            lines.append(f"Changed: {label}: {_show(before)!r} → {_show(after)!r}")
    before_n = {n["number"]: n for n in old.get("numbers") or []}
    after_n = {n["number"]: n for n in new.get("numbers") or []}
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
        for key, label in (
            ("pin", "PIN"),
            ("assignee_name", "user"),
            ("assignee_email", "user's email"),
        ):
            if was.get(key) != entry.get(key) and entry.get(key) is not None:
                lines.append(
                    f"Changed: {label} of {number}: {_show(was.get(key))!r} → "
                    f"{_show(entry.get(key))!r}"
                )
    return lines


def diff_note(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """What a follow-up changed: items now received, problems resolved and new."""
    lines = ["What changed with this message:"]
    old_list, new_list = old.get("checklist") or {}, new.get("checklist") or {}
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
    old_p = {_problem_key(p): p for p in old.get("problems") or []}
    new_p = {_problem_key(p): p for p in new.get("problems") or []}
    resolved = [p for k, p in old_p.items() if k not in new_p]
    raised = [p for k, p in new_p.items() if k not in old_p]
    for p in resolved:
        lines.append(f"Resolved: {p['code']}{' (' + p['number'] + ')' if p.get('number') else ''}")
    for p in raised:
        lines.append(
            f"New problem: {p['code']}"
            f"{' (' + p['number'] + ')' if p.get('number') else ''}: {p['detail']}"
        )
    lines += _changed_values(old.get("request") or {}, new.get("request") or {})
    old_docs = {d["filename"] for d in old.get("documents") or []}
    added = [d["filename"] for d in new.get("documents") or [] if d["filename"] not in old_docs]
    if added:
        lines.append("New documents: " + ", ".join(added))
    if bool(old.get("ready")) != bool(new.get("ready")):
        lines.append("Now READY to submit." if new.get("ready") else "No longer ready.")
    if len(lines) == 1:
        lines.append("Nothing in the assessment changed.")
    return "\n".join(lines)
