"""Porting stages, applied: carrier notices, agents' changes on the ticket, the
command line and reminders, each carried to the ticket and the customer.

Gather (a notice's bytes, the tickets' stage fields, the state store's ports),
decide (rules.stages `transition`/`match_notice`/`decide_notice`,
rules.reminders `reminder_action`, rules.stage_messages `message_for`: pure),
apply (here).

Exactly once: a change is recorded with the port's new stage in one transaction
(`begin_stage_change`, keyed by its event: the notice's key, the agent's ticket
update, the command) BEFORE any effect. Its two effects are then done and
marked one by one: the customer's email (through `Replier.send_prepared`, keyed
`stage:REQUEST:CHANGE`, so a crash never sends twice) and the ticket update
(stage dropdown and tags, rejection tags, porting date, a private note saying
what the customer was sent). Effects left undone (an outage, a crash) are
resumed on the next cycle (`resume`).

Where things a person must see go:
- a notice matched to no request, or to several: recorded (`portbot doctor`
  lists them) and a ticket of its own, so an agent sees it where agents work;
- a notice refused (a failed sender check, an illegal move): a private note on
  the request's ticket;
- an agent's illegal move on the ticket: the dropdown is set back, with a note
  saying why and what to do;
- an automatic answer to one of our emails (a bounce, an out-of-office): a note
  on the request's ticket, not a message of the thread: it is not the customer
  writing, and a bounce as a new ticket would only be noise.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from html import escape
from typing import Any

from bot.errors import DeliveryDeferred, DeskRejected, MailRejected, MailUnavailable
from bot.pipeline.intake import Assessor, Classified, CycleReport, Delivery
from bot.pipeline.planning import thread_of
from bot.pipeline.reply_sink import Replier, ReplySettings
from bot.pipeline.ticket_sink import idempotency_key
from bot.ports import ChangeRow, EmailRef, PortRecord, StateStore, TicketDesk, UnmatchedNotice
from bot.render.reply_email import first_name, part_types, sent_note, threaded_message
from bot.render.ticket import STAGES, FieldValue, TicketDraft, ZendeskNames, requester
from parsers.carrier_notice import REASON_CODES, CarrierNotice, NoticePatterns, read_notice
from parsers.model import Message
from rules.contract import view_of
from rules.decide import Policy, PortKnown, PortStep, Thread, may_write, port_step
from rules.reminders import ClearStale, MarkStale, Remind, ReminderPolicy, reminder_action
from rules.reply import (
    Ours,
    ReplyPlan,
    Suppression,
    is_own_message,
    loop_checks,
    reply_message_id,
    reply_recipients,
    revision_of,
)
from rules.stage_messages import MessageSettings, StageMessage, correction_received, message_for
from rules.stages import (
    FINAL,
    IllegalMove,
    PortRef,
    Source,
    Stage,
    StageChange,
    Unchanged,
    decide_notice,
    match_notice,
    transition,
)

log = logging.getLogger("portbot.stages")

_MINTED = re.compile(rb"<portbot\.[0-9a-f]+@[^<>\s]+>", re.IGNORECASE)


# --- a change as stored ----------------------------------------------------------------


def change_to_json(change: StageChange) -> str:
    return json.dumps(
        {
            "previous": change.previous.value,
            "stage": change.stage.value,
            "source": change.source,
            "reason": change.reason,
            "reason_codes": list(change.reason_codes),
            "date": change.date.isoformat() if change.date else None,
            "via": [s.value for s in change.via],
            "follow_on": change.follow_on.value if change.follow_on else None,
        }
    )


def change_from_json(text: str) -> StageChange:
    d = json.loads(text)
    return StageChange(
        previous=Stage(d["previous"]),
        stage=Stage(d["stage"]),
        source=d["source"],
        reason=d["reason"],
        reason_codes=tuple(d["reason_codes"]),
        date=dt.date.fromisoformat(d["date"]) if d["date"] else None,
        via=tuple(Stage(s) for s in d["via"]),
        follow_on=Stage(d["follow_on"]) if d["follow_on"] else None,
    )


def final_stage(change: StageChange) -> Stage:
    """Where the port is once the change is applied (a rejection goes on to collecting)."""
    return change.follow_on or change.stage


def _source_words(source: Source, detail: str) -> str:
    words = {
        "agent": "an agent on the ticket",
        "carrier": "a carrier-partner notice",
        "cli": "the command line",
        "bot": "portbot",
    }[source]
    return f"{words} ({detail})" if detail else words


def change_note(change: StageChange, detail: str = "") -> str:
    """The private note's opening: the move, who made it, the date and reason."""
    path = " → ".join([change.previous.value, *(s.value for s in change.via), change.stage.value])
    if change.follow_on:
        path += f" → {change.follow_on.value} (the request goes back to collecting information)"
    lines = [f"Port stage: {path}", f"Source: {_source_words(change.source, detail)}"]
    if change.date:
        lines.append(f"Porting (FOC) date: {change.date.isoformat()}")
    if change.reason:
        lines.append(f"Reason: {change.reason}")
    if change.reason_codes:
        lines.append("Reason codes: " + ", ".join(change.reason_codes))
    return "\n".join(lines)


# --- emails the bot writes on its own ----------------------------------------------------


def bot_email(
    original: Message,
    subject: str,
    text: str,
    *,
    key: str,
    kind: str,
    settings: ReplySettings,
    now: dt.datetime,
) -> EmailMessage:
    """A message to the customer of `original`'s thread, threaded under it, marked as
    automatic (Auto-Submitted: auto-generated: it answers no message) and ours."""
    to, cc = reply_recipients(original, settings.internal_domains)
    if not to:
        raise ValueError("the thread has no customer address to write to")
    msg = threaded_message(
        original,
        to=to,
        cc=cc,
        subject=subject,
        message_id=reply_message_id(key, kind, settings.domain),
        kind=kind,
        auto_submitted="auto-generated",
        support_address=settings.support_address,
        support_name=settings.support_name,
        now=now,
    )
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    return msg


REMINDER_LINE = (
    "A friendly reminder: your porting request is still waiting for a few things "
    "from you. Until we have them we cannot submit the port to your current "
    "carrier."
)


def as_reminder(msg: EmailMessage, line: str = REMINDER_LINE) -> EmailMessage:
    """The auto-reply checklist with a reminder's opening under the greeting, marked
    `Auto-Submitted: auto-generated` (it answers no message: RFC 3834)."""
    del msg["Auto-Submitted"]
    msg["Auto-Submitted"] = "auto-generated"
    for part in msg.walk():
        if not isinstance(part, EmailMessage) or part.is_multipart():
            continue
        kind = part.get_content_type()
        content = str(part.get_content())
        if kind == "text/plain":
            greeting, _, rest = content.partition("\n\n")
            part.set_content(
                f"{greeting}\n\n{line}\n\n{rest}",
                subtype="plain",
                charset="utf-8",
                cte="quoted-printable",
            )
        elif kind == "text/html":
            head, sep, rest = content.partition("</p>")
            part.set_content(
                f"{head}{sep}<p>{escape(line)}</p>{rest}",
                subtype="html",
                charset="utf-8",
                cte="quoted-printable",
            )
    return msg


# --- what is ours, what is a notice --------------------------------------------------------


@dataclass(frozen=True)
class MailClassifier:
    """The intake's `classify`: our own mail, automatic answers to it, carrier notices.

    `ours` is None without a [reply] section: then nothing is recognised as ours.
    """

    ours: Ours | None
    # the intake's parse (bot.pipeline.reading.MessageCache.email: once, configured limits)
    read_email: Callable[[bytes], Message]
    patterns: NoticePatterns | None = None

    def answered_reply(self, message: Message, raw: bytes) -> str | None:
        """The Message-ID of our email that this automatic message answers or returns
        (a bounce quotes it in its headers part; an out-of-office in In-Reply-To)."""
        if self.ours is None:
            return None
        reasons = {s.reason for s in loop_checks(message, self.ours, part_types(raw))}
        if not reasons - {"own_message"}:
            return None  # written by a person: a customer answering us is a follow-up
        cited = [message.in_reply_to, *message.references]
        cited += [m.decode("ascii", "replace") for m in _MINTED.findall(raw[:200_000])]
        return next((c for c in cited if c and self.ours.minted(c)), None)

    def __call__(self, raw: bytes) -> Classified | None:
        message = self.read_email(raw)
        if self.ours is not None and is_own_message(
            message, own_domains=self.ours.domains, own_addresses=self.ours.addresses
        ):
            return Classified("own", "own-message")
        if self.answered_reply(message, raw) is not None:
            return Classified("notice", "automatic-answer-to-our-email")
        if read_notice(message, self.patterns) is not None:
            return Classified("notice", "carrier-notice")
        return None


# --- the keeper ---------------------------------------------------------------------------


@dataclass(frozen=True)
class KeeperSettings:
    names: ZendeskNames = field(default_factory=ZendeskNames)
    reminders: ReminderPolicy | None = field(default_factory=ReminderPolicy)
    require_authenticated: bool = False
    sync_seconds: float = 0.0
    customer_ref_format: str = ""
    messages: MessageSettings = field(default_factory=MessageSettings)
    # [zendesk] mode = "annotate": the desk's channel made a ticket of every email, so an
    # unmatched notice's note goes on that one instead of a ticket of the bot's
    annotate: bool = False
    # [stages] solve_when_final: a completed or cancelled port solves its ticket
    solve_final: bool = True


class PortKeeper:
    """Carries each request's port through its stages (see the module's docstring)."""

    def __init__(
        self,
        state: StateStore,
        desk: TicketDesk | None,
        settings: KeeperSettings,
        *,
        replier: Replier | None,
        classifier: MailClassifier,
        assess: Assessor | None,
        now: Callable[[], dt.datetime],
    ) -> None:
        self.state, self.desk, self.settings = state, desk, settings
        self.replier, self.classifier, self.assess, self.now = replier, classifier, assess, now
        self.names = settings.names
        self.stage_names = settings.names.stages()
        self._last_sync: dt.datetime | None = None

    # -- the intake's sink: what the port knows from the customer's mail --------------

    def known(self, thread: Thread) -> PortKnown:
        """What the state store holds of the request's port, for `rules.decide`."""
        port = self.state.port(thread.request_id)
        if port is None:
            return PortKnown(None)
        owed, done, sent = "", False, 0
        rows = self.state.stage_changes(thread.request_id)
        last = rows[-1] if rows else None
        if (
            last is not None
            and change_from_json(last.change_json).stage == Stage.REJECTED
            and last.event_key != thread.key
        ):
            owed = f"ack:{thread.request_id}:{last.id}"
            if self.replier is not None:
                done = self.replier.ledger.reply_for(owed) is not None
                sent = self._sent_today(thread.messages[-1])
        return PortKnown(Stage(port.stage), owed, done, sent)

    def step(self, thread: Thread) -> PortStep:
        """The port step by the same rule the planner uses, for a call on its own."""
        policy = self.replier.policy if self.replier is not None else Policy()
        return port_step(thread, self.known(thread), policy, writes=self.replier is not None)

    def track(self, delivery: Delivery) -> None:
        """The intake's sink: the port step of the message's plan."""
        step = delivery.plan.port if delivery.plan is not None else None
        if step is None:
            step = self.step(thread_of(delivery))
        _, name = requester(list(delivery.messages[:1]))
        self.state.note_activity(
            delivery.request_id,
            delivery.key,
            numbers=list(step.numbers),
            carrier=step.carrier,
            customer_name=first_name(name),
            ready=step.ready,
            missing=list(step.missing),
            at=self.now(),
        )
        if step.acknowledge:
            self._acknowledge_correction(delivery, step.acknowledge)

    def _acknowledge_correction(self, delivery: Delivery, key: str) -> None:
        """The customer answered a carrier's rejection (a corrected PIN, a new bill): the
        rejection email promised a check, so they hear it arrived, once per rejection."""
        port = self.state.port(delivery.request_id)
        rows = self.state.stage_changes(delivery.request_id)
        if port is None or not rows or self.replier is None or not delivery.messages:
            return
        change = change_from_json(rows[-1].change_json)
        text = correction_received(
            change, customer_name=port.customer_name, settings=self.settings.messages
        )
        line = self._send_bot_email(
            delivery.request_id, delivery.messages[-1], key, "correction", text
        )
        self._note(delivery.request_id, line)

    def _sent_today(self, message: Message) -> int:
        """Emails to the writer of `message` since midnight (the daily cap counts them)."""
        assert self.replier is not None
        to, _ = reply_recipients(message, self.replier.settings.internal_domains)
        since = self.now().replace(hour=0, minute=0, second=0, microsecond=0)
        return self.replier.ledger.replies_since(to, since) if to else 0

    def _may_write(self, message: Message, raw: bytes) -> Suppression | None:
        """The auto-reply's loop rules and daily cap (`rules.decide.may_write`), for every
        email the bot writes on its own (stage emails, reminders, acknowledgements)."""
        assert self.replier is not None
        sent = self._sent_today(message)
        return may_write(message, part_types(raw), sent, self.replier.policy)

    def _send_bot_email(
        self, request_id: str, original: Message, key: str, kind: str, text: StageMessage
    ) -> str:
        """Send one of the bot's own emails (subject and text) under the same rules as an
        auto-reply; the line for the ticket's note says what happened."""
        assert self.replier is not None
        raws = self.state.thread_raws(request_id)
        # judged once: a recorded email (sent, or cut off while sending) is only finished
        fresh = self.replier.ledger.reply_for(key) is None
        why = self._may_write(original, raws[-1] if raws else b"") if fresh else None
        if why is not None:
            self.replier.observe("suppressed", why.reason)
            return f'The customer was not emailed ("{text.subject}"): {why.reason}: {why.detail}'
        msg = bot_email(
            original,
            text.subject,
            text.text,
            key=key,
            kind=kind,
            settings=self.replier.settings,
            now=self.now(),
        )
        try:
            result = self.replier.send_prepared(key, request_id, msg, kind)
        except MailRejected as exc:
            return f"The customer's email could not be sent: {exc}"
        return (
            f'Customer emailed ({result.outcome}): "{text.subject}" to {msg["To"]}, '
            f"Message-ID {result.message_id}\n\n{text.text}"
        )

    def lifecycle(self, request_id: str) -> Stage | None:
        port = self.state.port(request_id)
        return Stage(port.stage) if port else None

    # -- applying a change ------------------------------------------------------------

    def apply(
        self,
        request_id: str,
        event_key: str,
        change: StageChange,
        detail: str = "",
        order_id: str | None = None,
    ) -> ChangeRow:
        final = final_stage(change)
        date = change.date if change.stage in (Stage.SCHEDULED, Stage.COMPLETED) else None
        change_id, new = self.state.begin_stage_change(
            request_id,
            event_key,
            change_to_json(change),
            change_note(change, detail),
            stage=final.value,
            porting_date=date,
            clear_date=final == Stage.REQUEST_RECEIVED,
            order_id=order_id,
            at=self.now(),
        )
        row = self.state.stage_change(change_id)
        assert row is not None
        if new:
            log.info(
                "request=%s stage %s -> %s (%s)", request_id, change.previous, final, change.source
            )
        self._effects(row)
        return self.state.stage_change(change_id) or row

    def _ticket_id(self, request_id: str) -> int | None:
        return self.state.tickets().get(request_id)

    def _effects(self, row: ChangeRow) -> None:
        change = change_from_json(row.change_json)
        mail_line, mail_waits = "", None
        if not row.mail_done:
            try:
                mail_line = self._tell_customer(row, change)
                self.state.mark_change(row.id, mail=True)
            except MailUnavailable as exc:  # the ticket need not wait for the mail server
                mail_waits = exc
                mail_line = f"The customer's email waits for the mail server: {exc}"
            if row.ticket_done and mail_waits is None and mail_line and self.desk is not None:
                ticket_id = self._ticket_id(row.request_id)
                if ticket_id is not None:  # the change's note went out before the email did
                    self.desk.amend(ticket_id, note=mail_line)
        if not row.ticket_done:
            self._update_ticket(row, change, mail_line)
            self.state.mark_change(row.id, ticket=True)
        if mail_waits is not None:
            raise mail_waits

    def _update_ticket(self, row: ChangeRow, change: StageChange, mail_line: str) -> None:
        ticket_id = self._ticket_id(row.request_id)
        if self.desk is None or ticket_id is None:
            return
        final = final_stage(change)
        sn = self.stage_names
        add = [sn.tag(final)]
        if change.stage == Stage.REJECTED:
            add += [sn.rejection_tag(c) for c in change.reason_codes]
        stage_tags = {self.names.stage_tag(s) for s in STAGES} | set(sn.all_tags())
        remove = sorted(stage_tags - set(add))
        if final != Stage.REQUEST_RECEIVED:
            remove.append(sn.stale_tag)
        fields: dict[str, FieldValue] = {"stage": sn.value(final)}
        if change.date is not None:
            fields["porting_date"] = change.date.isoformat()
        if final == Stage.REQUEST_RECEIVED:
            fields["porting_date"] = None
        if change.stage == Stage.REJECTED:
            fields["rejection_reason"] = change.reason or ", ".join(change.reason_codes)
        elif final != Stage.REQUEST_RECEIVED:
            # resubmitted, completed or cancelled: the rejection is history, not the state
            fields["rejection_reason"] = None
            remove += [sn.rejection_tag(c) for c in REASON_CODES]  # type: ignore[arg-type]
        status = "solved" if final in FINAL and self.settings.solve_final else None
        note = row.note + ("\n\n" + mail_line if mail_line else "")
        if status:
            note += f"\n\nThe port is {final.value}: the ticket is solved."
        try:
            self.desk.amend(
                ticket_id,
                note=note,
                fields=fields,
                add_tags=add,
                remove_tags=remove,
                status=status,
            )
        except DeskRejected as exc:
            if exc.status in (401, 403):
                raise
            # closed or gone: the stage is recorded here; nothing on Zendesk will take it
            log.warning(
                "request=%s ticket %d refused the stage update: %s", row.request_id, ticket_id, exc
            )

    def _customer_message(self, request_id: str) -> Message | None:
        raws = self.state.thread_raws(request_id)
        return self.classifier.read_email(raws[-1]) if raws else None

    def _tell_customer(self, row: ChangeRow, change: StageChange) -> str:
        port = self.state.port(row.request_id)
        text = message_for(
            change,
            numbers=port.numbers if port else (),
            carrier=port.carrier if port else None,
            customer_name=port.customer_name if port else None,
            settings=self.settings.messages,
        )
        if text is None:
            return ""
        if self.replier is None:
            return "The customer was not emailed: no [smtp] and [reply] configuration."
        original = self._customer_message(row.request_id)
        if original is None:
            return "The customer was not emailed: no message of theirs is on record."
        key = f"stage:{row.request_id}:{row.id}"
        return self._send_bot_email(
            row.request_id, original, key, f"stage-{change.stage.value}", text
        )

    # -- the intake's notice handler ----------------------------------------------------

    def refs(self) -> list[PortRef]:
        tickets = self.state.tickets()
        out = []
        for p in self.state.ports():
            ref = p.customer_ref
            fmt = self.settings.customer_ref_format
            if ref is None and fmt and p.request_id in tickets:
                ref = fmt.format(ticket=tickets[p.request_id], request=p.request_id)
            out.append(
                PortRef(
                    p.request_id,
                    Stage(p.stage),
                    p.order_id,
                    ref,
                    frozenset(p.numbers),
                    p.porting_date,
                )
            )
        return out

    def on_notice(self, key: str, raw: bytes) -> None:
        message = self.classifier.read_email(raw)
        answered = self.classifier.answered_reply(message, raw)
        if answered is not None:
            self._on_automatic_answer(message, answered)
            return
        notice = read_notice(message, self.classifier.patterns)
        if notice is None:
            return
        refs = self.refs()
        match = match_notice(notice, refs)
        if match.request_id is None:
            self._unmatched(key, message, notice, match.message, match.candidates)
            return
        request_id = match.request_id
        ref = next(r for r in refs if r.request_id == request_id)
        decision = decide_notice(
            notice, ref, require_authenticated=self.settings.require_authenticated
        )
        detail = f'{notice.partner} "{notice.status}", order {notice.order_id or "-"}, ' + (
            f"Message-ID {message.message_id or key}; {match.message}"
        )
        if isinstance(decision, StageChange):
            self.apply(request_id, f"notice:{key}", decision, detail, match.learn_order_id)
            return
        if match.learn_order_id:  # a late "submitted" still tells us the partner's order id
            self.state.set_port_ids(request_id, order_id=match.learn_order_id)
        if isinstance(decision, IllegalMove):
            log.warning("request=%s notice not applied: %s", request_id, decision.message)
            self.refuse(request_id, f"Carrier notice NOT applied: {decision.message}.", detail)
        else:
            log.info("request=%s notice changes nothing: %s", request_id, decision.message)
            self.refuse(
                request_id, f"Carrier notice ignored: {decision.message}; nothing changed.", detail
            )

    def refuse(self, request_id: str, why: str, detail: str = "") -> None:
        """A move refused or ignored, from any source: a private note saying why, and the
        ticket put back to the stage on record (dropdown and tag)."""
        port = self.state.port(request_id)
        ticket_id = self._ticket_id(request_id)
        if self.desk is None or ticket_id is None:
            return
        stored = Stage(port.stage) if port else Stage.REQUEST_RECEIVED
        sn = self.stage_names
        text = f"{why}\nThe stage stays {stored.value}." + (f"\n{detail}" if detail else "")
        stage_tags = {self.names.stage_tag(s) for s in STAGES} | set(sn.all_tags())
        try:
            self.desk.amend(
                ticket_id,
                note=text,
                fields={"stage": sn.value(stored)},
                add_tags=[sn.tag(stored)],
                remove_tags=sorted(stage_tags - {sn.tag(stored)}),
            )
        except DeskRejected as exc:
            if exc.status in (401, 403):
                raise
            log.warning("request=%s ticket %d takes no note: %s", request_id, ticket_id, exc)

    def _note(self, request_id: str, text: str) -> None:
        ticket_id = self._ticket_id(request_id)
        if self.desk is None or ticket_id is None:
            return
        try:
            self.desk.amend(ticket_id, note=text)
        except DeskRejected as exc:
            if exc.status in (401, 403):
                raise
            log.warning(
                "request=%s ticket %d takes no note (%s): %s",
                request_id,
                ticket_id,
                exc,
                text.splitlines()[0],
            )

    def _on_automatic_answer(self, message: Message, message_id: str) -> None:
        reply = self.state.reply_by_message_id(message_id)
        if reply is None:
            log.info("an automatic answer to %s, which is no email of ours on record", message_id)
            return
        kind = (
            "a bounce (delivery failure)"
            if {"bounce", "null_sender", "noreply_sender"}
            & {s.reason for s in loop_checks(message, self.classifier.ours or Ours.of((), ()))}
            else "an automatic answer"
        )
        self._note(
            reply.request_id,
            f"Our email {message_id} to {reply.recipient} came back as "
            f'{kind}: "{message.subject}" from '
            f"{message.sender or 'an empty sender'}.\n"
            "Check the customer's address; nothing was added to the "
            "request.",
        )

    def _unmatched(
        self, key: str, message: Message, notice: CarrierNotice, why: str, candidates: Sequence[str]
    ) -> None:
        tickets = self.state.tickets()
        listed = ", ".join(f"{c} (ticket #{tickets[c]})" if c in tickets else c for c in candidates)
        reason = why + (f": {listed}" if listed else "")
        self.state.add_unmatched(
            UnmatchedNotice(
                key,
                self.now().isoformat(timespec="seconds"),
                notice.partner,
                notice.kind,
                notice.order_id,
                reason,
            )
        )
        log.warning(
            "carrier notice %s (%s %s) matches no single request: %s",
            key,
            notice.partner,
            notice.kind,
            reason,
        )
        if self.desk is None:
            return
        text = "\n".join(
            [
                f'A {notice.partner} notice ({notice.kind}: "{notice.status}") could not be '
                f"matched to one porting request: {reason}.",
                f"Order id: {notice.order_id or '-'}; our reference: {notice.customer_ref or '-'}",
                "Numbers: " + (", ".join(notice.numbers) or "-"),
                *([f"Porting date: {notice.date.isoformat()}"] if notice.date else []),
                *([f"Reason: {notice.reason}"] if notice.reason else []),
                "Apply it by hand: `portbot stage TICKET STAGE [--reason …] [--date …]`.",
                "",
                f"Original message: {message.subject}",
                message.body.strip()[:4000],
            ]
        )
        draft = TicketDraft(
            requester_email=None,
            requester_name=None,
            subject=f"Carrier notice not matched: {notice.partner} {notice.kind} "
            f"{notice.order_id or notice.customer_ref or ''}".strip(),
            fields={},
            tags=(self.names.porting_tag, "port_unmatched_notice"),
            stage="",
            ready=False,
            note_text=text,
            note_html="<p>" + escape(text).replace("\n", "<br>") + "</p>",
        )
        ikey = idempotency_key("notice", key)
        if self.settings.annotate:
            ref = EmailRef(message.message_id or key, message.sender, message.subject, message.date)
            found = self.desk.find_email_ticket(ref)
            if found is None:
                raise DeliveryDeferred(f"the desk has no ticket for notice {key} yet")
            if not self.desk.has_note(found, ikey):
                self.desk.amend(found, note=text, add_tags=draft.tags, note_key=ikey)
            return
        if self.desk.find_ticket(ikey) is None:
            self.desk.create_ticket(draft, [], ikey)

    # -- ticks: resume, agents, reminders ----------------------------------------------

    def resume(self, report: CycleReport) -> None:
        """Effects of recorded changes left undone (an outage, a crash)."""
        for row in self.state.pending_stage_changes():
            try:
                self._effects(row)
            except MailUnavailable as exc:  # the next change may still reach its ticket
                log.warning(
                    "request=%s email of stage change %d waits: %s", row.request_id, row.id, exc
                )
                continue
            report.events.append(f"{row.request_id}: finished stage change {row.event_key}")

    def move(
        self,
        request_id: str,
        target: Stage,
        *,
        reason: str | None = None,
        date: dt.date | None = None,
        source: Source = "cli",
        detail: str = "",
        event_key: str | None = None,
    ) -> StageChange | Unchanged | IllegalMove:
        """Judge and apply a move asked by a person (the command line); one refused or
        changing nothing is noted on the ticket, which keeps the stage on record."""
        port = self.state.port(request_id)
        current = Stage(port.stage) if port else Stage.REQUEST_RECEIVED
        decision = transition(
            current,
            target,
            reason=reason,
            date=date,
            source=source,
            current_date=port.porting_date if port else None,
        )
        if isinstance(decision, StageChange):
            n = len(self.state.stage_changes(request_id))
            self.apply(request_id, event_key or f"{source}:{request_id}:{n + 1}", decision, detail)
        elif isinstance(decision, IllegalMove):
            self.refuse(request_id, f"Stage change refused: {decision.message}.", detail)
        else:
            self.refuse(
                request_id, f"Stage change ignored: {decision.message}; nothing changed.", detail
            )
        return decision

    def sync_agents(self, report: CycleReport) -> None:
        """Stages agents set on the tickets: applied when allowed, else set back."""
        if self.desk is None:
            return
        now = self.now()
        if (
            self._last_sync is not None
            and (now - self._last_sync).total_seconds() < self.settings.sync_seconds
        ):
            return
        tickets = self.state.tickets()
        pending = {r.request_id for r in self.state.pending_stage_changes()}
        # final ports too: an agent setting a completed port back is told it stays completed
        open_ports = {
            tickets[p.request_id]: p
            for p in self.state.ports()
            if p.request_id in tickets and p.request_id not in pending
        }
        states = self.desk.ticket_states(sorted(open_ports)) if open_ports else {}
        self._last_sync = now
        for ticket_id, ts in states.items():
            if ts.status == "closed":
                continue  # takes no change; a follow-up ticket is the agents' business
            port = open_ports[ticket_id]
            value = ts.fields.get("stage")
            read = self.stage_names.stage_of_ticket(
                value if isinstance(value, str) else None, ts.tags
            )
            stored = Stage(port.stage)
            if isinstance(value, str) and value and self.stage_names.from_value(value) is None:
                # a dropdown option that names no stage (an old or hand-made value)
                message = f"the stage dropdown's value {value!r} is no stage"
                self.refuse(
                    port.request_id,
                    f"Stage change refused: {message}; the stages are "
                    + ", ".join(s.value for s in Stage)
                    + ".",
                    f"ticket #{ticket_id}",
                )
                report.events.append(
                    f"{port.request_id}: agent's stage {value!r} refused (ticket #{ticket_id})"
                )
                continue
            if read is None or read == stored:
                continue
            self._agent_move(ticket_id, port, stored, read, ts.fields, ts.updated_at, report)

    def agent_event(self, request_id: str, ticket_id: int, updated_at: str, stage: Stage) -> str:
        """The key of an agent's move as read from the ticket: the same on every read until
        it is applied. Zendesk's updated_at counts whole seconds, so the port's count of
        changes so far tells a re-approval after a rejection from the first approval when
        both fall in one second."""
        done = len(self.state.stage_changes(request_id))
        return f"agent:{ticket_id}:{updated_at}:{done}:{stage.value}"

    def _agent_move(
        self,
        ticket_id: int,
        port: PortRecord,
        stored: Stage,
        read: Stage,
        fields: Mapping[str, Any],
        updated_at: str,
        report: CycleReport,
    ) -> None:
        date = _date(fields.get("porting_date"))
        reason = fields.get("rejection_reason")
        decision = transition(
            stored,
            read,
            reason=reason if isinstance(reason, str) else None,
            date=date,
            source="agent",
            current_date=port.porting_date,
        )
        if isinstance(decision, StageChange):
            self.apply(
                port.request_id,
                self.agent_event(port.request_id, ticket_id, updated_at, read),
                decision,
                f"ticket #{ticket_id}",
            )
            report.events.append(
                f"{port.request_id}: {stored} -> {final_stage(decision)} "
                f"(agent, ticket #{ticket_id})"
            )
            return
        if isinstance(decision, Unchanged):
            return  # the ticket already shows where the port is
        hint = ""
        if read == Stage.SCHEDULED:
            hint = f' Fill in "{self.names.title("porting_date")}" first, then set the stage again.'
        elif read == Stage.REJECTED:
            hint = (
                f' Fill in "{self.names.title("rejection_reason")}" with the carrier\'s '
                "reason first, then set the stage again."
            )
        self.refuse(
            port.request_id,
            f"Stage change refused: {decision.message}. The stage is "
            f"set back to {stored.value}.{hint}",
            f"ticket #{ticket_id}",
        )
        report.events.append(
            f"{port.request_id}: agent's move to {read} refused "
            f"(ticket #{ticket_id}): {decision.message}"
        )

    def remind(self, report: CycleReport) -> None:
        """Reminders for requests still missing items; the stale tag after the last."""
        policy = self.settings.reminders
        if policy is None:
            return
        now = self.now()
        tickets = self.state.tickets()
        due: list[tuple[PortRecord, Remind | MarkStale | ClearStale]] = []
        for port in self.state.ports():
            if port.request_id not in tickets:
                continue
            if port.stage != Stage.REQUEST_RECEIVED or port.ready:
                if port.stale_since is not None:  # settled since: the stale tag goes
                    due.append((port, ClearStale()))
                continue
            found = reminder_action(
                port.last_activity,
                port.reminders_sent,
                now,
                last_reminder_at=port.last_reminder_at,
                stale_since=port.stale_since,
                policy=policy,
            )
            if isinstance(found, Remind | MarkStale | ClearStale):
                due.append((port, found))
        if due and self.desk is not None:
            # an agent who solved or closed the ticket has settled the request: no reminder
            states = self.desk.ticket_states([tickets[p.request_id] for p, _ in due])
            due = [
                (p, a)
                for p, a in due
                if tickets[p.request_id] in states
                and states[tickets[p.request_id]].status not in ("solved", "closed")
            ]
        for port, action in due:
            ticket_id = tickets[port.request_id]
            if isinstance(action, Remind):
                if self._send_reminder(port, action, ticket_id):
                    self.state.record_reminder(port.request_id, action.ordinal, now)
                    report.events.append(
                        f"{port.request_id}: reminder {action.ordinal} of {action.of} sent"
                    )
            elif isinstance(action, MarkStale):
                if self.desk is not None:
                    self.desk.amend(
                        ticket_id,
                        add_tags=[self.stage_names.stale_tag],
                        note=f"No answer from the customer after "
                        f"{action.reminders_sent} reminder(s): tagged "
                        f"{self.stage_names.stale_tag} for an agent.",
                    )
                self.state.set_stale(port.request_id, now)
                report.events.append(f"{port.request_id}: tagged stale")
            elif isinstance(action, ClearStale):
                if self.desk is not None:
                    self.desk.amend(
                        ticket_id,
                        remove_tags=[self.stage_names.stale_tag],
                        note="The customer wrote again: no longer stale.",
                    )
                self.state.set_stale(port.request_id, None)

    def _send_reminder(self, port: PortRecord, action: Remind, ticket_id: int) -> bool:
        if self.replier is None or self.assess is None:
            return False
        raws = self.state.thread_raws(port.request_id)
        if not raws:
            return False
        assessment = self.assess(raws)
        if assessment.ready:
            return False
        original = self.classifier.read_email(raws[-1])
        key = f"reminder:{port.request_id}:{port.last_key}:{action.ordinal}"
        why = (
            self._may_write(original, raws[-1])
            if self.replier.ledger.reply_for(key) is None
            else None
        )
        if why is not None:
            # automatic mail (a web form's no-reply notice, a partner's robot) or the cap:
            # counted, so it is not tried again each cycle; the agent sees why
            self.replier.observe("suppressed", why.reason)
            self._note(
                port.request_id,
                f"Reminder {action.ordinal} of {action.of} not sent: {why.reason}: {why.detail}",
            )
            return True
        plan = ReplyPlan("incomplete", False, (), (), revision_of(view_of(assessment)))
        reply = self.replier.render(plan, assessment, original, key, with_loa=False, now=self.now())
        msg = as_reminder(reply)
        try:
            result = self.replier.send_prepared(key, port.request_id, msg, "reminder")
        except MailRejected as exc:
            self._note(port.request_id, f"Reminder {action.ordinal} could not be sent: {exc}")
            return True  # counted: trying again would be refused again
        if self.desk is not None:
            self.desk.amend(
                ticket_id,
                note=f"Reminder {action.ordinal} of {action.of} "
                f"({result.outcome}).\n" + sent_note(msg, "reminder"),
            )
        return True


def _date(value: object) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    return None


__all__ = [
    "KeeperSettings",
    "MailClassifier",
    "PortKeeper",
    "as_reminder",
    "bot_email",
    "change_from_json",
    "change_note",
    "change_to_json",
    "final_stage",
]
