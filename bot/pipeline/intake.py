"""Mailbox intake: each new message read once, decided, recorded, handed on.

Gather (the Mailbox and StateStore ports: the message's header and bytes, its thread so far),
decide (`decide`: pure, the assessment or why the message cannot be handled), apply
(record the outcome durably, then hand it to the sinks, then move quarantined mail).

Per-message isolation: `decide` is the boundary. Whatever the parsers or rules
raise for one message becomes that message's quarantine reason; the messages behind
it flow on. Only mailbox and state errors (transient: network, server) end a cycle,
and then nothing unrecorded counts as done.

The seam for what comes after the assessment (a ticket, a reply): a `Sink` receives
each assessed message as a `Delivery`. A sink may see a delivery again after a crash
between its call and the record of it, or when a sink after it failed;
`Delivery.key` is stable so it can tell. What a sink raises decides what happens:

    DeliveryDeferred, DeskUnavailable,  wait: retried every cycle, attempts not used up
      MailUnavailable                     (the rest waits too when the desk is down)
    DeliveryRefused, DeskRejected,      refused for good: quarantined now, with the reason
      MailRejected
    anything else (a bug)               retried up to max_delivery_attempts, then quarantined
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Literal, Protocol

from bot.errors import (
    ConfigError,
    DeliveryDeferred,
    DeskUnavailable,
    MailboxError,
    MailboxGone,
    MailUnavailable,
    Permanent,
    Transient,
)
from bot.ops.logs import log_outcome
from bot.ops.progress import NoProgress, Progress
from bot.pipeline.reading import MessageCache
from bot.ports import Envelope, Mailbox, MessageRecord, Outcome, QuarantineEntry, StateStore
from parsers.errors import NotAnEmail, ParseError
from parsers.model import Message
from rules.assessment import Assessment
from rules.decide import MessagePlan
from rules.mail_kind import MailVerdict

log = logging.getLogger("portbot.intake")

Assessor = Callable[[Sequence[bytes]], Assessment]


@dataclass(frozen=True)
class Classified:
    """A message that is not a porting request: `own` (our reply came back: recorded,
    nothing more) or `notice` (a carrier-partner notice, a bounce of our reply: handed
    to the notice handler, which may fail and be retried like any hand-on)."""

    outcome: Literal["own", "notice"]
    category: str  # short and secret-free: for logs and the poll report


Classifier = Callable[[bytes], "Classified | None"]
# (raw, whether it answers a known request) -> what it is (bot.pipeline.sorting)
Sorter = Callable[[bytes, bool], MailVerdict]
NoticeHandler = Callable[[str, bytes], None]  # (the message's key, its bytes)
Tick = Callable[["CycleReport"], None]  # work each cycle before the mail (stages, reminders)
# A progress display for `total` messages (bot.ops.progress.progress, with its stream bound)
ProgressFactory = Callable[[int], AbstractContextManager[Progress]]


def no_progress(total: int) -> AbstractContextManager[Progress]:
    return nullcontext(NoProgress(total))


@dataclass(frozen=True)
class Delivery:
    """One assessed message, handed to the sinks with its whole request."""

    request_id: str
    key: str  # the message's own key: stable across retries
    raws: tuple[bytes, ...]  # the request's thread, oldest first, this message last
    assessment: Assessment
    # a later message of the same request is handled in this same cycle (a backlog):
    # the customer is answered once, under that one
    superseded: bool = False
    # `raws` parsed (the MIME level), once, by the intake's cache: what the sinks read
    messages: tuple[Message, ...] = field(kw_only=True)
    # what becomes of it (rules.decide), decided once by the intake's planner before the
    # sinks; None when a sink is called on its own (it then asks the same rules itself)
    plan: MessagePlan | None = field(default=None, kw_only=True)


class Sink(Protocol):
    def __call__(self, delivery: Delivery) -> None: ...


# gathers what the state store knows of a delivery's request and decides once
# (bot.pipeline.planning.Planner)
PlanMaker = Callable[[Delivery], MessagePlan]


def outage_of(exc: BaseException) -> str:
    """The service whose outage `exc` is ("" when it is none: a rate budget, a bug)."""
    if isinstance(exc, DeskUnavailable):
        return "Zendesk"
    if isinstance(exc, MailUnavailable):
        return "the mail server"
    if isinstance(exc, DeliveryDeferred):
        return exc.service
    return ""


def _failure(exc: Exception) -> Literal["wait", "refused", "failed"]:
    if isinstance(exc, Transient):
        return "wait"
    if isinstance(exc, Permanent):
        return "refused"
    return "failed"


# -- decide ------------------------------------------------------------------------

_ID = re.compile(rb"<[^<>\s]+>")


@dataclass(frozen=True)
class ThreadKeys:
    message_id: str | None
    refs: tuple[str, ...]  # In-Reply-To, then References, newest first


def thread_keys(header: bytes) -> ThreadKeys:
    """Message-ID and the ids it answers, from a raw header block."""
    headers = BytesHeaderParser(policy=compat32).parsebytes(header)

    def ids(name: str) -> list[str]:
        values = headers.get_all(name) or []
        found: list[str] = []
        for value in values:
            text = str(value).encode("utf-8", "surrogateescape")
            found.extend(m.decode("utf-8", "replace") for m in _ID.findall(text))
        return found

    own = ids("Message-ID")
    refs = [*ids("In-Reply-To"), *reversed(ids("References"))]
    message_id = own[0] if own else None
    return ThreadKeys(message_id, tuple(dict.fromkeys(r for r in refs if r != message_id)))


def message_key(keys: ThreadKeys, header: bytes) -> str:
    """Copies of one message share a key: its Message-ID, or a hash of its header block."""
    if keys.message_id:
        return keys.message_id
    return "sha256:" + hashlib.sha256(header).hexdigest()


def header_of(raw: bytes) -> bytes:
    """The header block of a raw message, its blank line included."""
    for end in (b"\r\n\r\n", b"\n\n"):
        if end in raw:
            return raw.split(end, 1)[0] + end
    return raw


def key_of(raw: bytes) -> str:
    """`message_key` of a whole raw message (the key its `Delivery` had)."""
    header = header_of(raw)
    return message_key(thread_keys(header), header)


@dataclass(frozen=True)
class Gathered:
    folder: str
    uidvalidity: int
    envelope: Envelope
    raw: bytes | None  # None when not fetched (a duplicate, or over the size limit)
    keys: ThreadKeys
    key: str
    already_handled: bool
    request_id: str | None  # the request this message answers, if known
    earlier: tuple[bytes, ...]  # that request's messages so far


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reason: str = ""  # for the quarantine record: may quote the message; never logged
    category: str = ""  # short and secret-free: for logs
    assessment: Assessment | None = None
    messages: tuple[Message, ...] = ()  # the thread, parsed (MIME level), when assessed


def decide(
    gathered: Gathered,
    assess: Assessor,
    max_bytes: int,
    classify: Classifier | None = None,
    email: Callable[[bytes], Message] | None = None,
    sort: Sorter | None = None,
) -> Decision:
    """What to do with one message. Never raises for anything the message contains.

    `classify` is asked first: our own replies and carrier notices are not requests.
    """
    if gathered.already_handled:
        return Decision("duplicate", "a copy of this message was already handled", "duplicate")
    size = gathered.envelope.size
    if size > max_bytes:
        return Decision(
            "quarantined", f"{size} bytes, over the limit of {max_bytes} bytes", "too-large"
        )
    if gathered.raw is None:
        return Decision("quarantined", "the server returned no content", "no-content")
    if classify is not None:
        try:
            found = classify(gathered.raw)
        except Exception:  # unreadable: the assessment below says why, at its boundary
            found = None
        if found is not None:
            return Decision(found.outcome, found.category, found.category)
    if sort is not None:
        try:
            verdict: MailVerdict | None = sort(gathered.raw, gathered.request_id is not None)
        except Exception:  # unreadable: the assessment below says why, at its boundary
            verdict = None
        if verdict is not None and not verdict.is_request:
            # not the bot's: no ticket, no reply; recorded and counted, nothing lost
            return Decision("other", verdict.summary(), f"other:{verdict.kind}")
    raws = (*gathered.earlier, gathered.raw)
    try:
        assessment = assess(raws)
        messages = tuple(email(raw) for raw in raws) if email is not None else ()
    except NotAnEmail as exc:
        return Decision("quarantined", f"not an email: {exc}", "not-an-email")
    except ParseError as exc:
        return Decision("quarantined", f"unreadable: {exc}", "unreadable")
    except Exception as exc:  # the isolation boundary: one message's crash stops only it
        where = traceback.extract_tb(exc.__traceback__)[-1:]
        at = f" at {where[0].filename}:{where[0].lineno}" if where else ""
        return Decision(
            "quarantined",
            f"crash in the pipeline: {type(exc).__name__}: {exc}{at}",
            f"crash:{type(exc).__name__}",
        )
    return Decision("assessed", assessment=assessment, messages=messages)


# -- apply ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    folders: tuple[str, ...]
    quarantine_folder: str
    max_message_bytes: int
    max_delivery_attempts: int
    start: str = "all"  # a folder the state does not know: "all" its mail, or only "new"


@dataclass(frozen=True)
class Handled:
    folder: str
    uid: int
    message_id: str | None
    outcome: str
    category: str
    request_id: str | None
    seconds: float = 0.0  # spent on it: assessment and hand-on


@dataclass
class CycleReport:
    handled: list[Handled] = field(default_factory=list)
    delivered: int = 0
    delivery_failures: int = 0
    deferred: int = 0  # hand-ons waiting for a later cycle (an outage, a rate budget)
    outages: dict[str, int] = field(default_factory=dict)  # service -> hand-ons it holds
    moved_to_quarantine: int = 0
    stopped_early: bool = False
    events: list[str] = field(default_factory=list)  # what the ticks did: stage changes ...
    skipped: dict[str, int] = field(default_factory=dict)  # [imap] start = "new": per folder

    def count(self, outcome: str) -> int:
        return sum(1 for h in self.handled if h.outcome == outcome)

    def wait(self, exc: BaseException | None, n: int = 1) -> None:
        """`n` hand-ons wait for a later cycle, because of `exc` (None: the same outage
        as the one that stopped the hand-ons)."""
        self.deferred += n
        service = outage_of(exc) if exc is not None else next(iter(self.outages), "")
        if service and n:
            self.outages[service] = self.outages.get(service, 0) + n


class Intake:
    """One state store, a way to connect to the mailbox, the assessment, the sinks."""

    def __init__(
        self,
        state: StateStore,
        connect: Callable[[], Mailbox],
        assess: Assessor,
        sinks: Sequence[Sink],
        settings: Settings,
        *,
        messages: MessageCache,
        sort: Sorter | None = None,
        classify: Classifier | None = None,
        notices: NoticeHandler | None = None,
        ticks: Sequence[Tick] = (),
        progress: ProgressFactory = no_progress,
        plan: PlanMaker | None = None,
    ) -> None:
        self.planner = plan
        self.progress = progress
        self.state = state
        self.connect = connect
        self.assess = assess
        self.messages = messages  # every parse of a message in the pipeline goes through it
        self.sort = sort
        self.sinks = tuple(sinks)
        self.settings = settings
        self.classify = classify
        self.notices = notices
        self.ticks = list(ticks)

    def close(self) -> None:
        self.state.close()

    def __enter__(self) -> Intake:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def poll(
        self, stop: Callable[[], bool] = lambda: False, *, backlog: bool = False
    ) -> CycleReport:
        """One cycle: pending hand-ons and moves first, then every folder's new mail.

        `stop` is asked between messages, so a shutdown never leaves one half done.
        `backlog`: also the mail `[imap] start = "new"` skipped on the first run (and a
        folder met for the first time is read from its start).
        """
        report = CycleReport()
        with self.state.exclusive():
            self.run_ticks(report)
            self._deliver_pending(report)
            mailbox = self.connect()
            try:
                self._move_pending(mailbox, report)
                for folder in self.settings.folders:
                    if not self._poll_folder(mailbox, folder, stop, report, backlog):
                        report.stopped_early = True
                        break
            finally:
                mailbox.close()
        return report

    def run_ticks(self, report: CycleReport) -> None:
        """Each tick on its own: one that cannot work now (an outage) waits for the next
        cycle and never keeps the mail from being read."""
        for tick in self.ticks:
            try:
                tick(report)
            except Transient as exc:
                log.warning("%s waits for the next cycle: %s", getattr(tick, "__name__", tick), exc)
                service = outage_of(exc)
                if service:  # its work waits on the outage too
                    report.outages.setdefault(service, 0)
            except Exception:
                log.exception("%s failed; retried next cycle", getattr(tick, "__name__", tick))

    def _poll_folder(
        self,
        mailbox: Mailbox,
        folder: str,
        stop: Callable[[], bool],
        report: CycleReport,
        backlog: bool = False,
    ) -> bool:
        status = mailbox.select(folder)
        known = self.state.folder(folder)
        older: list[int] = []  # what a start = "new" skipped, read now (`--backlog`)
        if known is None or known.uidvalidity != status.uidvalidity:
            if known is not None:
                log.warning(
                    "folder=%s UIDVALIDITY changed %d -> %d: its UIDs are new, copies "
                    "of handled mail are recognised by Message-ID",
                    folder,
                    known.uidvalidity,
                    status.uidvalidity,
                )
            if self.settings.start == "new" and not backlog and status.exists:
                self._start_from_now(
                    mailbox, folder, status.uidvalidity, status.uidnext, status.exists, report
                )
                return True
            self.state.start_folder(folder, status.uidvalidity)
            last = 0
        else:
            last = known.last_uid
            if backlog and known.skipped_below:
                done = self.state.uids_recorded(folder, status.uidvalidity, known.skipped_below)
                older = [
                    u for u in mailbox.uids_from(1) if u < known.skipped_below and u not in done
                ]
        if not older and status.uidnext and status.uidnext <= last + 1:
            if backlog and known is not None and known.skipped_below:
                self.state.backlog_read(folder)
            return True  # nothing new: no search, so a big box costs nothing here
        uids = older + mailbox.uids_from(last + 1)
        with self.progress(len(uids)) as bar:
            for start in range(0, len(uids), 100):
                envelopes = mailbox.envelopes(uids[start : start + 100])
                for n, (envelope, raw) in enumerate(self._with_bodies(mailbox, envelopes)):
                    if stop():
                        return False
                    self._handle(
                        mailbox,
                        folder,
                        status.uidvalidity,
                        envelope,
                        raw,
                        report,
                        later=envelopes[n + 1 :],
                    )
                    bar.advance()
        if backlog and known is not None and known.skipped_below:
            self.state.backlog_read(folder)
        return True

    def _start_from_now(
        self,
        mailbox: Mailbox,
        folder: str,
        uidvalidity: int,
        uidnext: int,
        exists: int,
        report: CycleReport,
    ) -> None:
        """[imap] start = "new": the mail already in the folder is left unread."""
        if not uidnext:  # the server does not say: one past the highest UID there is
            uids = mailbox.uids_from(1)
            uidnext = uids[-1] + 1 if uids else 1
        self.state.start_folder(folder, uidvalidity, skip_below=uidnext)
        report.skipped[folder] = exists
        log.warning(
            "folder=%s: %d message(s) already there left unread ([imap] start = "
            '"new"); `portbot poll --backlog` reads them',
            folder,
            exists,
        )

    def _with_bodies(
        self, mailbox: Mailbox, envelopes: Sequence[Envelope]
    ) -> Iterator[tuple[Envelope, bytes | None]]:
        """Each envelope with its bytes, fetched a few at a time (bounded by size)."""
        wanted = [
            e
            for e in envelopes
            if e.size <= self.settings.max_message_bytes
            and not self.state.handled(message_key(thread_keys(e.header), e.header))
        ]
        bodies: dict[int, bytes] = {}
        batch: list[int] = []
        batch_bytes = 0
        position = {e.uid: i for i, e in enumerate(wanted)}
        for envelope in envelopes:
            if envelope.uid in position and envelope.uid not in bodies:
                bodies.clear()
                batch, batch_bytes = [], 0
                for e in wanted[position[envelope.uid] :]:
                    if batch and (len(batch) >= 20 or batch_bytes + e.size > 8 * 1024 * 1024):
                        break
                    batch.append(e.uid)
                    batch_bytes += e.size
                bodies = mailbox.bodies(batch)
            yield envelope, bodies.get(envelope.uid)

    def _handle(
        self,
        mailbox: Mailbox,
        folder: str,
        uidvalidity: int,
        envelope: Envelope,
        raw: bytes | None,
        report: CycleReport,
        later: Sequence[Envelope] = (),
    ) -> None:
        started = time.monotonic()
        timings: dict[str, float] = {}
        keys = thread_keys(envelope.header)
        key = message_key(keys, envelope.header)
        handled = self.state.handled(key)
        request_id = None if handled else self.state.request_for(keys.refs)
        earlier = tuple(self.state.thread_raws(request_id)) if request_id else ()
        gathered = Gathered(
            folder, uidvalidity, envelope, raw, keys, key, handled, request_id, earlier
        )
        decision = decide(
            gathered,
            self.assess,
            self.settings.max_message_bytes,
            self.classify,
            self.messages.email,
            self.sort,
        )
        timings["assess"] = time.monotonic() - started
        thread_ids = tuple(i for i in (keys.message_id, *keys.refs) if i)
        recorded = self.state.record(
            MessageRecord(
                folder=folder,
                uidvalidity=uidvalidity,
                uid=envelope.uid,
                key=key,
                message_id=keys.message_id,
                size=envelope.size,
                outcome=decision.outcome,
                reason=decision.reason,
                request_id=request_id,
                raw=raw if decision.outcome not in ("duplicate", "own", "other") else None,
                thread_ids=thread_ids,
            )
        )
        waits, failures = report.deferred, report.delivery_failures
        self._apply(
            mailbox,
            envelope,
            raw,
            key,
            earlier,
            decision,
            recorded.row,
            recorded.request_id,
            report,
            timings,
            later,
        )
        seconds = time.monotonic() - started
        report.handled.append(
            Handled(
                folder,
                envelope.uid,
                keys.message_id,
                decision.outcome,
                decision.category,
                recorded.request_id,
                seconds,
            )
        )
        outcome: str = decision.outcome
        if report.deferred > waits:
            outcome = "deferred"
        elif report.delivery_failures > failures:
            outcome = "failed"
        self._log_outcome(
            recorded.request_id,
            key,
            keys.message_id,
            outcome,
            decision.category,
            {**timings, "total": seconds},
        )

    def _log_outcome(
        self,
        request_id: str | None,
        key: str,
        message_id: str | None,
        outcome: str,
        category: str,
        timings: Mapping[str, float],
    ) -> None:
        """The one event per message: its outcome, ticket, reply and timings (no content)."""
        ticket_id = reply = None
        reason = category or None
        if request_id is not None:
            record = self.state.ticket(request_id)
            ticket_id = record.ticket_id if record is not None else None
            answer = self.state.reply_for(key)
            if answer is not None:
                reply = "sent" if answer.status in ("sent", "sending") else answer.status
                reason = answer.reason.split(":", 1)[0] or reason
        log_outcome(
            log,
            request_id=request_id,
            message_id=message_id,
            outcome=outcome,
            ticket_id=ticket_id,
            reply=reply,
            reason=reason,
            timings=timings,
            level=logging.WARNING if outcome in ("quarantined", "failed") else logging.INFO,
        )

    def _apply(
        self,
        mailbox: Mailbox,
        envelope: Envelope,
        raw: bytes | None,
        key: str,
        earlier: tuple[bytes, ...],
        decision: Decision,
        row: int,
        request_id: str | None,
        report: CycleReport,
        timings: dict[str, float],
        later: Sequence[Envelope],
    ) -> None:
        """The decision carried out: a quarantine move, or the hand-on to the sinks."""
        if decision.outcome == "quarantined":
            mailbox.move([envelope.uid], self.settings.quarantine_folder)
            for entry in self.state.quarantined():
                if entry.row == row:
                    self.state.mark_moved(entry.id)
            report.moved_to_quarantine += 1
        elif decision.outcome == "assessed" and decision.assessment is not None:
            assert request_id is not None
            delivery = Delivery(
                request_id,
                key,
                (*earlier, raw or b""),
                decision.assessment,
                superseded=self._answered_later(request_id, key, later),
                messages=decision.messages,
            )
            self._deliver(row, delivery, report, timings)
        elif decision.outcome == "notice":
            self._deliver_notice(row, key, raw or b"", report)

    def _answered_later(self, request_id: str, key: str, later: Sequence[Envelope]) -> bool:
        """Whether a later message in this batch continues the request (a backlog): a
        customer's message, not yet handled, in reply to it or to another such one."""
        linked = {key}  # this message's id; the request's earlier ones are in the state
        for envelope in later:
            keys = thread_keys(envelope.header)
            other = message_key(keys, envelope.header)
            ours = keys.refs and (
                linked.intersection(keys.refs) or self.state.request_for(keys.refs) == request_id
            )
            if not ours or other == key or self.state.handled(other):
                continue
            if envelope.size > self.settings.max_message_bytes or self._automatic(envelope):
                continue  # it will not be answered: it must not keep this one unanswered
            return True
        return False

    def _automatic(self, envelope: Envelope) -> bool:
        """Our own mail, a carrier notice or an automatic answer, judged by its header."""
        if self.classify is None:
            return False
        try:
            return self.classify(envelope.header) is not None
        except Exception:
            return False

    def _deliver_notice(self, row: int, key: str, raw: bytes, report: CycleReport) -> bool:
        if self.notices is None:  # nothing keeps stages: the notice is recorded, that is all
            self.state.mark_delivered(row)
            return True
        handler = self.notices
        return self._hand_on(row, f"notice {key}", lambda: handler(key, raw), report)

    def _deliver(
        self,
        row: int,
        delivery: Delivery,
        report: CycleReport,
        timings: dict[str, float] | None = None,
    ) -> bool:
        """Hand on to every sink; False when the sinks wait for a later cycle as a whole."""
        spent = timings if timings is not None else {}

        def every_sink() -> None:
            planned = delivery
            if self.planner is not None:  # gathered and decided once, before any sink
                started = time.monotonic()
                planned = replace(delivery, plan=self.planner(delivery))
                spent["plan"] = spent.get("plan", 0.0) + time.monotonic() - started
            for sink in self.sinks:
                started = time.monotonic()
                try:
                    sink(planned)
                finally:
                    name = getattr(sink, "timing", "hand_on")
                    spent[name] = spent.get(name, 0.0) + time.monotonic() - started

        return self._hand_on(row, f"request={delivery.request_id}", every_sink, report)

    def _hand_on(self, row: int, what: str, call: Callable[[], None], report: CycleReport) -> bool:
        try:
            call()
        except Exception as exc:  # a sink's failure is retried next cycle, never lost
            reason = f"could not be handed on: {type(exc).__name__}: {exc}"
            kind = _failure(exc)
            if kind == "wait":
                self.state.delivery_deferred(row, reason)
                log.warning("%s hand-on deferred to the next cycle: %s", what, exc)
                report.wait(exc)
                return not (isinstance(exc, DeskUnavailable) or getattr(exc, "everything", False))
            attempts = self.state.delivery_failed(
                row,
                reason,
                1 if kind == "refused" else self.settings.max_delivery_attempts,
            )
            if kind == "refused":
                log.warning("%s hand-on refused (%s): quarantined", what, type(exc).__name__)
            else:
                log.warning(
                    "%s delivery failed (%s), attempt %d of %d",
                    what,
                    type(exc).__name__,
                    attempts,
                    self.settings.max_delivery_attempts,
                )
            report.delivery_failures += 1
            return True
        self.state.mark_delivered(row)
        report.delivered += 1
        return True

    def _deliver_pending(self, report: CycleReport) -> None:
        pending_all = self.state.pending_deliveries()
        # a request's pending messages share one thread, hence one assessment, and
        # one reply: under the newest of them
        newest = {p.request_id: p.row for p in pending_all if p.outcome != "notice"}
        assessed: dict[str, tuple[tuple[bytes, ...], Assessment, tuple[Message, ...]]] = {}
        for n, pending in enumerate(pending_all):
            if pending.outcome == "notice":
                if not self._deliver_notice(
                    pending.row, pending.key, self.state.raw_of(pending.row) or b"", report
                ):
                    report.wait(None, len(pending_all) - n - 1)
                    return
                continue
            if pending.request_id in assessed:
                raws, assessment, messages = assessed[pending.request_id]
            else:
                raws = tuple(self.state.thread_raws(pending.request_id))
                try:
                    assessment = self.assess(raws)
                    messages = tuple(self.messages.email(raw) for raw in raws)
                except Exception as exc:
                    self.state.delivery_failed(
                        pending.row,
                        f"assessment failed on retry: {exc}",
                        self.settings.max_delivery_attempts,
                    )
                    report.delivery_failures += 1
                    continue
                assessed[pending.request_id] = (raws, assessment, messages)
            delivery = Delivery(
                pending.request_id,
                pending.key,
                raws,
                assessment,
                superseded=newest[pending.request_id] != pending.row,
                messages=messages,
            )
            if not self._deliver(pending.row, delivery, report):
                # the sinks wait as a whole (the desk is down): the rest waits unassessed
                report.wait(None, len(pending_all) - n - 1)
                return

    def _move_pending(self, mailbox: Mailbox, report: CycleReport) -> None:
        """Quarantined messages not yet moved (a crash or an error came in between)."""
        for entry in self.state.quarantined():
            if entry.moved:
                continue
            try:
                status = mailbox.select(entry.folder)
            except MailboxGone:
                self.state.mark_moved(entry.id)  # its folder is gone, and the message with it
                continue
            if status.uidvalidity == entry.uidvalidity:
                uids = [entry.uid]
            else:
                uids = self._locate(mailbox, entry.folder, entry)
            mailbox.select(entry.folder)
            mailbox.move(uids, self.settings.quarantine_folder)
            self.state.mark_moved(entry.id)
            report.moved_to_quarantine += len(uids)

    def _locate(self, mailbox: Mailbox, folder: str, entry: QuarantineEntry) -> list[int]:
        """The message's UIDs in `folder`, checked by key (not just by Message-ID or size)."""
        candidates = mailbox.find(folder, entry.message_id, entry.size)
        if not candidates:
            return []
        found = mailbox.envelopes(candidates)
        return [e.uid for e in found if message_key(thread_keys(e.header), e.header) == entry.key]

    def replay(self, ids: Sequence[int] | None) -> tuple[list[QuarantineEntry], CycleReport]:
        """Put quarantined messages back where they came from, then run a cycle on them.

        `ids` None: every open entry. Back in its folder a message has a new UID, and
        since it was never assessed it is read again like new mail.
        """
        open_entries = self.state.quarantined()
        if ids is not None:
            unknown = sorted(set(ids) - {e.id for e in open_entries})
            if unknown:
                raise ConfigError(
                    f"no open quarantine entry {', '.join(map(str, unknown))} "
                    "(see `portbot replay --list`)"
                )
            open_entries = [e for e in open_entries if e.id in set(ids)]
        with self.state.exclusive():
            mailbox = self.connect()
            try:
                self._move_pending(mailbox, CycleReport())
                for entry in open_entries:
                    uids = self._locate(mailbox, self.settings.quarantine_folder, entry)
                    if uids:
                        mailbox.select(self.settings.quarantine_folder)
                        mailbox.move(uids[:1], entry.folder)
                    else:
                        log.warning(
                            "quarantine entry %d is no longer in %s",
                            entry.id,
                            self.settings.quarantine_folder,
                        )
                    self.state.mark_released(entry.id)
            finally:
                mailbox.close()
        return open_entries, self.poll()


# -- composition root ----------------------------------------------------------------


__all__ = [
    "Classified",
    "Classifier",
    "CycleReport",
    "Delivery",
    "Intake",
    "MailboxError",
    "NoticeHandler",
    "PlanMaker",
    "ProgressFactory",
    "Sink",
    "Tick",
    "decide",
    "key_of",
    "no_progress",
    "outage_of",
    "thread_keys",
]
