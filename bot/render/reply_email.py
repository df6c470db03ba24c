"""The auto-reply as an email: rendered from a `ReplyPlan` and the assessment.

The templates and every customer-facing phrase live in `bot/render/templates/`
(plain text and HTML alternative per kind, `wording.toml` for item and problem
texts), rendered with Jinja2: HTML autoescaped, undefined names an error.

Nothing secret reaches a template: the view is built from the *masked* typed view
of the assessment (`rules.contract.view_of`, PINs and SSN digits as ••••), and the
account number is shown by its last digits only (fewer when they
happen to equal a PIN or the SSN digits). `render_reply` is pure: no clock unless
`now` is left out, no network.

Headers, and why:
- `In-Reply-To`/`References` to the customer's message, `Re:` subject (never
  "Re: Re:"): the reply lands in the customer's thread.
- `Auto-Submitted: auto-replied` (RFC 3834) and `X-Auto-Response-Suppress: All`
  (Exchange): other robots do not answer us.
- No `Precedence`: it is not a standard, RFC 3834 defers to Auto-Submitted, and
  `bulk`/`junk` make spam filters and mail clients file the reply away from the
  customer, who needs to read it.
- `Message-ID` `<portbot.HEX@domain>` from `rules.reply.reply_message_id`: the
  same for a resend after a crash, and recognised by `should_reply` if it comes back.
- `X-Portbot-Reply: <kind>`: a second marker of our own mail.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import email.utils
import functools
import re
import textwrap
import tomllib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import phonenumbers
from phonenumbers import geocoder

from bot.ops.logs import mask_file_names, secrets_of
from bot.render.loa_form import FILENAME as LOA_FORM_FILENAME
from bot.render.loa_form import LoaTemplate, render_loa_form, wants_loa_form
from parsers.model import Message
from parsers.phone import parse_phone
from rules.assessment import CHECKLIST_KEYS, Assessment
from rules.contract import AssessmentView, NumberView, ProblemView, view_of
from rules.reply import ReplyPlan, Suppression, references_for, reply_message_id, reply_recipients

TEMPLATE_PACKAGE = "bot.render"
TEMPLATE_DIR = "templates"
WRAP = 76


# --- templates and wording ------------------------------------------------------------


WORDING = "wording.toml"


@dataclass(frozen=True)
class ReplyTemplates:
    """What a reply is rendered with: the package's templates and wording, each
    template overridden by a file of the same name in `directory` (`[reply]
    templates_dir`), and its `wording.toml` merged over the package's key by key."""

    directory: str
    environment: jinja2.Environment
    wording: Mapping[str, Any]


def _package_wording() -> dict[str, Any]:
    text = resources.files(TEMPLATE_PACKAGE).joinpath(TEMPLATE_DIR, WORDING).read_text("utf-8")
    return tomllib.loads(text)


def _merged(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), Mapping):
            out[key] = _merged(base[key], value)
        else:
            out[key] = value
    return out


@functools.cache
def reply_templates(directory: str = "") -> ReplyTemplates:
    """The templates of `directory` over the package's (cached: read once a process).
    Raises `TemplateDirError` when the folder or its wording.toml cannot be read."""
    package = jinja2.PackageLoader(TEMPLATE_PACKAGE, TEMPLATE_DIR)
    words = _package_wording()
    loader: jinja2.BaseLoader = package
    if directory:
        folder = Path(directory)
        if not folder.is_dir():
            raise TemplateDirError(f"templates_dir {directory} is not a folder")
        loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(folder), package])
        if (folder / WORDING).is_file():
            try:
                words = _merged(words, tomllib.loads((folder / WORDING).read_text("utf-8")))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
                raise TemplateDirError(f"{folder / WORDING}: {exc}") from exc
    environment = jinja2.Environment(
        loader=loader,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return ReplyTemplates(directory, environment, words)


class TemplateDirError(ValueError):
    """`[reply] templates_dir` cannot be used (a configuration error)."""


def wording() -> Mapping[str, Any]:
    """The package's wording (no override)."""
    return reply_templates().wording


# --- small formatters -----------------------------------------------------------------

_E164_NANP = re.compile(r"\+1(\d{3})(\d{3})(\d{4})\b")


def show_number(number: str) -> str:
    """(512) 555-0101 for US/CA numbers, +1 876-555-0101 for other NANP ones."""
    m = _E164_NANP.fullmatch(number)
    if not m:
        return number
    a, b, c = m.groups()
    if parse_phone(number).region in ("US", "CA"):
        return f"({a}) {b}-{c}"
    return f"+1 {a}-{b}-{c}"


def _pretty(text: str) -> str:
    return _E164_NANP.sub(lambda m: show_number(m.group(0)), text)


def _country(number: str) -> str:
    try:
        name: str = geocoder.country_name_for_number(phonenumbers.parse(number), "en")
    except phonenumbers.NumberParseException:
        return ""
    return name or (parse_phone(number).region or "")


def _account_tail(account: str, secrets: Collection[str]) -> str:
    """The last digits of an account number, never a whole one nor a secret's digits."""
    chars = "".join(c for c in account if c.isalnum())
    for n in (4, 3, 2):
        if len(chars) <= n + 2:  # too short: a tail would be most of it
            continue
        tail = chars[-n:]
        if not any(tail in s or (s and s in tail) for s in secrets):
            return f"ending {tail}"
    return "received"


def first_name(name: str | None) -> str | None:
    """The greeting name of a sender ("Lee, Jason" -> "Jason"); None when unsure."""
    if not name:
        return None
    name = name.strip().strip("\"'")
    if "," in name:  # "Lee, Jason"
        name = name.split(",", 1)[1].strip()
    first = name.split()[0] if name.split() else ""
    if len(first) < 2 or "@" in first or any(c.isdigit() for c in first):
        return None
    return first[:1].upper() + first[1:] if first.islower() else first


def _wrap(text: str, width: int = WRAP) -> str:
    """Wrap long plain-text lines, bullets hanging under their first word."""
    out: list[str] = []
    for line in text.split("\n"):
        if len(line) <= width:
            out.append(line)
            continue
        m = re.match(r"(\s*(?:[-*]|\d+\.)?\s*)", line)
        lead = m.group(1) if m else ""
        out.extend(
            textwrap.wrap(
                line,
                width=width,
                subsequent_indent=" " * len(lead),
                break_long_words=False,
                break_on_hyphens=False,
            )
        )
    return "\n".join(out)


def reply_subject(subject: str) -> str:
    """'Re: ' once, whatever reply prefixes the customer's client stacked up."""
    rest = subject.strip()
    prefix = re.compile(
        r"^\s*(re|aw|sv|vs|antw|r|ref|réf|rif|odp|yn|atb)\s*(\[\d+\])?\s*:\s*", re.IGNORECASE
    )
    while (m := prefix.match(rest)) is not None:
        rest = rest[m.end() :]
    return f"Re: {rest}" if rest else "Re: Your porting request"


# --- the view: only what a customer may read -----------------------------------------


def _secrets(assessment: Assessment) -> list[str]:
    found = [e.pin for e in assessment.numbers if e.pin]
    if assessment.request.ssn_last4:
        found.append(assessment.request.ssn_last4)
    return [re.sub(r"\D", "", s) or s for s in found]


def _item(key: str, words: Mapping[str, Any]) -> Mapping[str, str]:
    items: Mapping[str, Mapping[str, str]] = words["items"]
    return items[key]


def _problem_words(code: str, words: Mapping[str, Any]) -> Mapping[str, str]:
    problems: Mapping[str, Mapping[str, str]] = words["problems"]
    return problems.get(code) or {"title": code.replace("_", " "), "fix": "", "fixed": ""}


def _problem_line(p: ProblemView) -> str:
    code, number = p.code, p.number
    if code == "number_not_us_ca" and number:
        country = _country(number)
        return f"{show_number(number)} ({country})" if country else show_number(number)
    if code == "number_not_local" and number:
        return f"{show_number(number)} ({parse_phone(number).kind})"
    if code in ("loa_numbers_missing", "number_no_assignee") and number:
        return show_number(number)
    if code == "bill_account_mismatch":
        # The rule's detail shows both tails, which can be equal; say it plainly.
        return "The account number you gave differs from the one on the bill."
    return _pretty(p.detail)


_NAME_CODES = frozenset({"bill_name_mismatch", "loa_name_mismatch"})


def _problem_groups(view: AssessmentView, wording: Mapping[str, Any]) -> list[dict[str, Any]]:
    groups: dict[str, dict[str, Any]] = {}
    for p in view.problems:
        if p.code == "follow_up_boss":
            continue
        words = _problem_words(p.code, wording)
        key = words.get("group", p.code)
        group = groups.setdefault(
            key, {"title": words["title"], "lines": [], "fix": words["fix"], "why": None}
        )
        line = _problem_line(p)
        if line and line not in group["lines"]:
            group["lines"].append(line)
        if p.code in _NAME_CODES:
            group["why"] = wording["name_rule"]
    return list(groups.values())


def _user(n: NumberView) -> str | None:
    name, mail = n.assignee_name, n.assignee_email
    if name and mail:
        return f"{name} <{mail}>"
    return name or mail or None


def _number_rows(view: AssessmentView) -> list[str]:
    rows = []
    for n in view.request.numbers:
        user = _user(n)
        rows.append(f"{show_number(n.number)}, for {user}" if user else show_number(n.number))
    return rows


def _have(
    view: AssessmentView, secrets: Collection[str], words: Mapping[str, Any]
) -> list[dict[str, Any]]:
    r, checklist = view.request, view.checklist
    values: dict[str, str | None] = {
        "current_carrier": r.current_carrier,
        "account_number": _account_tail(r.account_number, secrets) if r.account_number else None,
        "account_name": r.account_name,
        "service_address": r.service_address.line() if r.service_address else None,
        "billing_telephone_number": show_number(r.billing_telephone_number)
        if r.billing_telephone_number
        else None,
        "ssn_last4": "received",
        "pins": "the account has no PIN, as you told us"
        if r.no_pin_stated
        else "received for every number",
    }
    numbers = r.numbers
    values["numbers"] = f"{len(numbers)} number{'s' if len(numbers) != 1 else ''}"
    for kind in ("bill", "loa"):
        doc = view.document(kind)
        if doc is not None:
            when = doc.fields.bill_date if kind == "bill" else None
            values[kind] = f"{doc.filename}" + (f" (dated {when})" if when else "")
    rows = []
    for key in CHECKLIST_KEYS:
        if checklist.get(key) != "ok" or not values.get(key):
            continue
        rows.append(
            {
                "label": _item(key, words)["label"],
                "value": values[key],
                "rows": _number_rows(view) if key == "numbers" else [],
            }
        )
    return rows


def _missing(view: AssessmentView, wording: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    numbers = view.request.numbers
    for key in CHECKLIST_KEYS:
        if view.checklist.get(key) != "missing":
            continue
        words = _item(key, wording)
        out.append(
            {
                "ask": words["ask"],
                "why": wording["name_rule"] if key == "account_name" else None,
                "numbers": [show_number(n.number) for n in numbers if not n.pin]
                if key == "pins"
                else [],
            }
        )
    return out


def _greeting(original: Message, to: str | None) -> str:
    name = (
        original.forwarded_from_name
        if to and to == original.forwarded_from
        else (original.sender_name)
    )
    first = first_name(name)
    return f"Hi {first}," if first else "Hello,"


def reply_view(
    plan: ReplyPlan,
    assessment: Assessment,
    original: Message,
    *,
    to: str | None,
    support_address: str,
    support_name: str,
    loa_form: bool = False,
    templates: ReplyTemplates | None = None,
) -> dict[str, Any]:
    """Everything the templates may show (the keys of `VIEW_KEYS`). Built from the
    masked view only. `loa_form`: the reply carries the filled-in LOA (one line says
    what to do with it)."""
    words = (templates or reply_templates()).wording
    view = view_of(assessment, show_secrets=False)
    secrets = _secrets(assessment)
    r = view.request
    optional = None
    if view.checklist.get("ssn_last4") == "not_provided" and plan.kind == "incomplete":
        optional = _item("ssn_last4", words)["ask"]
    return {
        "kind": plan.kind,
        "follow_up": plan.follow_up,
        "greeting": _greeting(original, to),
        "received": [f"{_item(k, words)['label']}: received" for k in plan.received],
        "resolved": list(
            dict.fromkeys(
                _problem_words(p.code, words)["fixed"]
                for p in plan.resolved
                if _problem_words(p.code, words).get("fixed")
            )
        ),
        "missing": _missing(view, words),
        "problems": _problem_groups(view, words),
        "have": _have(view, secrets, words),
        "optional": optional,
        "numbers": _number_rows(view),
        "account_name": r.account_name,
        "carrier": r.current_carrier,
        "wording": {k: v for k, v in words.items() if isinstance(v, str)},
        "support_name": support_name,
        "support_address": support_address,
        "loa_form": loa_form,
    }


def render_bodies(
    view: Mapping[str, Any], templates: ReplyTemplates | None = None
) -> tuple[str, str]:
    """(plain text, HTML) of the reply."""
    env = (templates or reply_templates()).environment
    text = env.get_template(f"{view['kind']}.txt").render(view)
    html = env.get_template(f"{view['kind']}.html").render(view)
    text = re.sub(r"\n{3,}", "\n\n", _wrap(text)).strip() + "\n"
    return text, html


# --- the message ------------------------------------------------------------------------


def part_types(raw: bytes, max_parts: int = 200) -> frozenset[str]:
    """The MIME types of every part of a raw message (for `rules.reply.should_reply`):
    a delivery report may sit below the top level, where `Message` does not look."""
    try:
        parsed = email.message_from_bytes(raw, policy=email.policy.compat32)
    except Exception:  # a message the parser cannot take has no parts to tell of
        return frozenset()
    found: set[str] = set()
    for n, part in enumerate(parsed.walk()):
        if n >= max_parts:
            break
        found.add(part.get_content_type().lower())
    return frozenset(found)


def render_reply(
    plan: ReplyPlan,
    assessment: Assessment,
    original: Message,
    *,
    support_address: str,
    support_name: str,
    domain: str,
    incoming_key: str | None = None,
    internal_domains: Collection[str] = (),
    now: dt.datetime | None = None,
    loa: LoaTemplate | None = None,
    templates_dir: str = "",
) -> EmailMessage:
    """The reply to `original` (the customer's latest message), ready to send.

    `templates_dir` (`[reply] templates_dir`): templates and wording overriding the
    package's, file by file (see `reply_templates`).

    With `loa` (the `[loa]` template), a reply about an incomplete request whose LOA
    is missing or wrong carries the LOA filled in from the assessment, to sign.

    `incoming_key` is the state store's key of `original` (its Message-ID, or a
    hash of its header block when it has none); with `plan.revision` it fixes the
    reply's Message-ID. `internal_domains`: our company's domains, whose people may
    forward a customer's request (see `rules.reply.reply_recipients`).
    """
    to, cc = reply_recipients(original, internal_domains)
    if not to:
        raise ValueError("the message has no sender to reply to")
    templates = reply_templates(templates_dir)
    key = incoming_key or original.message_id
    if not key:
        raise ValueError("incoming_key is needed for a message without a Message-ID")
    form = (
        render_loa_form(assessment, loa)
        if loa is not None and plan.kind == "incomplete" and wants_loa_form(assessment)
        else None
    )
    view = reply_view(
        plan,
        assessment,
        original,
        to=to,
        support_address=support_address,
        support_name=support_name,
        loa_form=form is not None,
        templates=templates,
    )
    text, html = render_bodies(view, templates)
    # File names are the customer's words too ("CSR_<account number>.pdf"): masked
    # like any value, by digit runs and by this request's known secrets.
    known = secrets_of(assessment)
    text, html = mask_file_names(text, known), mask_file_names(html, known)

    msg = threaded_message(
        original,
        to=to,
        cc=cc,
        subject=reply_subject(original.subject),
        message_id=reply_message_id(key, plan.revision, domain),
        kind=plan.kind,
        auto_submitted="auto-replied",
        support_address=support_address,
        support_name=support_name,
        now=now,
    )
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    if form is not None:
        msg.add_attachment(form, maintype="application", subtype="pdf", filename=LOA_FORM_FILENAME)
    return msg


def threaded_message(
    original: Message,
    *,
    to: str,
    cc: Sequence[str],
    subject: str,
    message_id: str,
    kind: str,
    auto_submitted: str,
    support_address: str,
    support_name: str,
    now: dt.datetime | None,
) -> EmailMessage:
    """The headers of every email the bot sends a customer: from support, threaded
    under `original`, marked automatic (RFC 3834) and ours (`X-Portbot-Reply`)."""
    msg = EmailMessage()
    msg["From"] = Address(display_name=support_name, addr_spec=support_address)
    name = original.forwarded_from_name if to == original.forwarded_from else original.sender_name
    msg["To"] = Address(display_name=name or "", addr_spec=to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    msg["Subject"] = subject
    msg["Date"] = (
        email.utils.format_datetime(now) if now else email.utils.formatdate(localtime=True)
    )
    msg["Message-ID"] = message_id
    if original.message_id:
        msg["In-Reply-To"] = original.message_id
    refs = references_for(original)
    if refs:
        msg["References"] = " ".join(refs)
    msg["Auto-Submitted"] = auto_submitted
    msg["X-Auto-Response-Suppress"] = "All"
    msg["X-Portbot-Reply"] = kind
    msg["Content-Language"] = "en"
    return msg


def reply_text(msg: EmailMessage) -> str:
    """The plain-text body of a rendered reply."""
    part = msg.get_body(preferencelist=("plain",))
    return part.get_content() if isinstance(part, EmailMessage) else ""


def sent_note(msg: EmailMessage, kind: str) -> str:
    """The ticket's private note: what the customer was sent, word for word."""
    names = [part.get_filename() for part in msg.iter_attachments() if part.get_filename()]
    attached = f"Attached: {', '.join(str(n) for n in names)}\n" if names else ""
    return (
        f"auto-reply sent: {kind} to {msg['To']}"
        f"{', cc ' + str(msg['Cc']) if msg['Cc'] else ''}\n"
        f"Message-ID: {msg['Message-ID']}\nSubject: {msg['Subject']}\n{attached}\n"
        f"{reply_text(msg)}"
    )


def reply_attachments(msg: EmailMessage) -> list[tuple[str, str, bytes]]:
    """The files a rendered reply carries: (filename, content type, bytes)."""
    out = []
    for part in msg.iter_attachments():
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            out.append((part.get_filename() or "attachment", part.get_content_type(), payload))
    return out


def suppressed_note(suppression: Suppression) -> str:
    """The ticket's private note when no reply goes out (for reasons an agent should see)."""
    return f"auto-reply not sent: {suppression.reason} ({suppression.detail})"


def envelope_recipients(msg: EmailMessage, extra: Sequence[str] = ()) -> list[str]:
    """To and Cc addresses of `msg`, plus `extra` (a copy to our own mailbox)."""
    found = [
        a
        for _, a in email.utils.getaddresses(
            [str(v) for v in (msg.get_all("To") or []) + (msg.get_all("Cc") or [])]
        )
    ]
    return list(dict.fromkeys([*(a for a in found if a), *extra]))


__all__ = [
    "envelope_recipients",
    "part_types",
    "render_bodies",
    "render_reply",
    "reply_attachments",
    "reply_subject",
    "reply_text",
    "reply_view",
    "sent_note",
    "show_number",
    "suppressed_note",
    "wording",
]
