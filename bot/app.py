"""The composition root: builds the pipeline from a Config for the CLI and the tests.

Gather (read bytes), decide (parsers + rules, pure), apply (the ticket desk, and
whatever further sinks are given). Nothing here runs at import time.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot.config import Config
from bot.errors import ConfigError
from parsers.errors import ParseError
from parsers.limits import Limits
from parsers.model import ParsedMessage
from parsers.thread import AttachmentReader, read_message
from rules.assessment import Assessment, assess
from rules.request import build_request

if TYPE_CHECKING:
    from bot.intake import Assessor, Clock, Intake, ProgressFactory, Sink
    from bot.logs import Redactor
    from bot.mailbox import Mailbox
    from bot.mailer import Mailer
    from bot.metrics import Metrics
    from bot.replier import Replier
    from bot.stagesync import MailClassifier, PortKeeper
    from bot.state import SqliteStateStore
    from bot.zendesk import TicketDesk


def read_files(paths: Sequence[Path], max_bytes: int) -> list[bytes]:
    """The raw messages, or a ParseError/OSError whose text names the file."""
    raws = []
    for path in paths:
        if path.is_dir():
            raise OSError(f"{path}: a folder, not an email file")
        if not path.is_file():
            raise OSError(f"{path}: no such file")
        size = path.stat().st_size
        if size > max_bytes:
            raise ParseError(f"{path}: {size} bytes, over the limit of {max_bytes} bytes")
        raws.append(path.read_bytes())
    return raws


class MessageCache:
    """Each message read once per process, within a bound on the bytes kept.

    A follow-up is assessed with its whole thread; without this every earlier
    message (its OCR above all) would be read again at each follow-up.
    """

    def __init__(
        self,
        limits: Limits,
        max_bytes: int = 128 * 1024 * 1024,
        read: AttachmentReader | None = None,
    ) -> None:
        self.limits = limits
        self.read_attachment = read
        self.max_bytes = max_bytes
        self._kept: OrderedDict[bytes, tuple[int, ParsedMessage]] = OrderedDict()
        self._bytes = 0

    def read(self, raw: bytes) -> ParsedMessage:
        key = hashlib.sha256(raw).digest()
        hit = self._kept.get(key)
        if hit is not None:
            self._kept.move_to_end(key)
            return hit[1]
        parsed = _read_message(raw, self.limits, self.read_attachment)
        self._kept[key] = (len(raw), parsed)
        self._bytes += len(raw)
        while self._bytes > self.max_bytes and len(self._kept) > 1:
            _, (size, _) = self._kept.popitem(last=False)
            self._bytes -= size
        return parsed


def _read_message(raw: bytes, limits: Limits, read: AttachmentReader | None) -> ParsedMessage:
    return read_message(raw, limits) if read is None else read_message(raw, limits, read)


def assess_messages(
    raws: Sequence[bytes],
    config: Config,
    today: dt.date,
    cache: MessageCache | None = None,
    read: AttachmentReader | None = None,
) -> Assessment:
    """The assessment of a thread; attachments read by `read` (default: in this process)."""
    read_one = (
        cache.read
        if cache is not None
        else functools.partial(_read_message, limits=config.limits, read=read)
    )
    messages = tuple(read_one(raw) for raw in raws)
    return assess(build_request(messages), config.policy, today)


def thread_assessor(
    config: Config, today: Callable[[], dt.date], read: AttachmentReader | None = None
) -> Callable[[Sequence[bytes]], Assessment]:
    """The intake's assessor: a thread of raw messages, read through one cache."""
    cache = MessageCache(config.limits, read=read)

    def assess_thread(raws: Sequence[bytes]) -> Assessment:
        return assess_messages(raws, config, today(), cache)

    return assess_thread


def assess_files(paths: Sequence[Path], config: Config, today: dt.date) -> Assessment:
    """`portbot assess`: attachments read in worker processes ([limits] sandbox)."""
    from bot.sandbox import open_reader

    raws = read_files(paths, config.limits.max_message_bytes)
    messages = []
    with open_reader(config.limits) as read:
        for path, raw in zip(paths, raws, strict=True):
            try:
                messages.append(read_message(raw, config.limits, read))
            except ParseError as exc:
                raise ParseError(f"{path}: {exc}") from exc
    return assess(build_request(tuple(messages)), config.policy, today)


def build_app(
    config: Config,
    *,
    sinks: Sequence[Sink] = (),
    desk: TicketDesk | None = None,
    clock: Clock | None = None,
    assess: Assessor | None = None,
    connect: Callable[[], Mailbox] | None = None,
    environ: Mapping[str, str] | None = None,
    now: Callable[[], float] = time.time,
    mailer: Mailer | None = None,
    redactor: Redactor | None = None,
    metrics: Metrics | None = None,
    progress: ProgressFactory | None = None,
    dry_run: TextIO | None = None,
) -> Intake:
    """The intake with the sinks the configuration asks for, then `sinks`.

    In order: the ticket desk ([zendesk]: `desk`, or the zenpy adapter built from
    the section, its token read from `environ`), the port's stage keeper (with the
    desk: carrier notices, agents' stage changes, reminders on each cycle), the
    auto-reply ([smtp] and [reply]: `mailer`, or smtplib, its password read from
    `environ`). Tests and the demo replace the parts they need to.

    `redactor` learns each request's secrets as it is read (the logs mask them);
    `metrics` counts what happens (OCR, Zendesk calls, replies). `dry_run`: the same
    pipeline writing nothing anywhere (see bot.dryrun), printing to this stream.
    """
    from bot.intake import SystemClock, Tick, build_intake, no_progress
    from bot.mailbox import connect_from_config
    from bot.observe import watch_assessor
    from bot.sandbox import reader_for
    from bot.state import SqliteStateStore

    state = SqliteStateStore(Path(config.state.path), in_memory_copy=dry_run is not None)
    try:
        the_clock = clock or SystemClock()

        # Attachments are read in worker processes, started on first use; they stop
        # when the intake (holding this assessor) is dropped, or at exit.
        assess_thread = thread_assessor(
            config, the_clock.today, None if assess else reader_for(config.limits)
        )

        def connect_imap() -> Mailbox:
            return connect_from_config(config.imap, environ, readonly=dry_run is not None)

        def utc_now() -> dt.datetime:
            return dt.datetime.fromtimestamp(now(), dt.UTC)

        if dry_run is not None and redactor is None:
            from bot.logs import Redactor

            redactor = Redactor()  # what a dry run prints is masked like the logs
        if redactor is not None:
            seed_redactor(redactor, state)
        the_assess = assess or assess_thread
        if redactor is not None or metrics is not None:
            the_assess = watch_assessor(the_assess, redactor=redactor, metrics=metrics)
        the_connect = connect or connect_imap
        first: list[Sink] = []
        last: list[Sink] = []
        if dry_run is not None:
            from bot.dryrun import (
                DeliveryHeading,
                Printer,
                PrintingDesk,
                PrintingMailer,
                ReplySummary,
            )

            assert redactor is not None
            say = Printer(dry_run, redactor)
            if desk is None and config.zendesk is not None:
                desk = PrintingDesk(say)
            if mailer is None and config.smtp is not None:
                mailer = PrintingMailer(say)
            first = [DeliveryHeading(say, tickets=desk is not None)]
            last = [ReplySummary(say, state, config.reply is not None)]
        parts = _parts(
            config,
            state,
            desk=desk,
            environ=environ,
            now=now,
            utc_now=utc_now,
            mailer=mailer,
            assess=the_assess,
            connect=the_connect,
            metrics=metrics,
        )
        ticks: list[Tick] = []
        if parts.keeper is not None and dry_run is None:
            # (a dry run reads no agent changes and sends no reminders: mail only)
            ticks = [parts.keeper.resume, parts.keeper.sync_agents, parts.keeper.remind]
        return build_intake(
            config,
            sinks=[*first, *parts.sinks, *sinks, *last],
            clock=the_clock,
            assess=the_assess,
            connect=the_connect,
            environ=environ,
            state=state,
            classify=parts.classifier,
            notices=parts.keeper.on_notice if parts.keeper else None,
            ticks=ticks,
            progress=progress or no_progress,
        )
    except BaseException:
        state.close()
        raise


def seed_redactor(redactor: Redactor, state: SqliteStateStore) -> int:
    """Teach the redactor every open request's secrets, read again from the stored mail.

    The state store keeps each request's raw messages (for follow-ups), not its
    secrets: re-reading the bodies (no attachment opened, no OCR) recovers what the
    customer stated and whatever stands beside a PIN or account label, so a restarted
    bot masks the values of mail it read before the restart. Returns how many values.
    """
    from bot.logs import secrets_in_raw
    from rules.stages import FINAL, Stage

    closed = {p.request_id for p in state.ports() if Stage(p.stage) in FINAL}
    open_requests = sorted({*state.tickets(), *(p.request_id for p in state.ports())} - closed)
    before = len(redactor)
    for request_id in open_requests:
        for raw in state.thread_raws(request_id):
            redactor.add_many(secrets_in_raw(raw))
    return len(redactor) - before


def build_keeper(
    config: Config,
    *,
    desk: TicketDesk | None = None,
    environ: Mapping[str, str] | None = None,
    now: Callable[[], float] = time.time,
    mailer: Mailer | None = None,
    clock: Clock | None = None,
) -> tuple[SqliteStateStore, PortKeeper]:
    """The state store and the stage keeper alone (`portbot stage`); needs [zendesk]."""
    from bot.intake import SystemClock
    from bot.mailbox import connect_from_config
    from bot.sandbox import reader_for
    from bot.state import SqliteStateStore

    if config.zendesk is None:
        raise ConfigError("stages need a [zendesk] section (see config.example.toml)")
    the_clock = clock or SystemClock()
    state = SqliteStateStore(Path(config.state.path))
    read = reader_for(config.limits)
    try:
        parts = _parts(
            config,
            state,
            desk=desk,
            environ=environ,
            now=now,
            utc_now=lambda: dt.datetime.fromtimestamp(now(), dt.UTC),
            mailer=mailer,
            assess=lambda raws: assess_messages(raws, config, the_clock.today(), read=read),
            connect=lambda: connect_from_config(config.imap, environ),
        )
    except BaseException:
        state.close()
        raise
    assert parts.keeper is not None
    return state, parts.keeper


@dataclass
class Parts:
    sinks: list[Sink]
    classifier: MailClassifier
    keeper: PortKeeper | None
    replier: Replier | None
    desk: TicketDesk | None


def _parts(
    config: Config,
    state: SqliteStateStore,
    *,
    desk: TicketDesk | None,
    environ: Mapping[str, str] | None,
    now: Callable[[], float],
    utc_now: Callable[[], dt.datetime],
    mailer: Mailer | None,
    assess: Assessor,
    connect: Callable[[], Mailbox],
    metrics: Metrics | None = None,
) -> Parts:
    """The configured sinks and the stage keeper, over one state store."""
    from bot.replier import Replier
    from bot.replying import copy_finder, ours_of, reply_settings, smtp_settings
    from bot.stagesync import KeeperSettings, MailClassifier, PortKeeper
    from parsers.carrier_notice import load_patterns
    from rules.reminders import ReminderPolicy
    from rules.stage_messages import MessageSettings

    patterns = None
    if config.stages.notice_patterns:
        try:
            patterns = load_patterns(Path(config.stages.notice_patterns).read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"[stages] notice_patterns {config.stages.notice_patterns}: {exc}"
            ) from exc
    replier = None
    the_desk = desk
    if config.zendesk is not None and the_desk is None:
        from bot.ticketing import desk_from_config

        the_desk = desk_from_config(
            config.zendesk, environ, observer=metrics.zendesk_call if metrics else None
        )
    if config.smtp is not None and config.reply is not None:
        from bot.mailer import SmtpMailer

        settings = reply_settings(config.reply)
        desk_for_notes = the_desk

        def note(request_id: str, text: str, key: str) -> None:
            ticket_id = state.tickets().get(request_id)
            if desk_for_notes is not None and ticket_id is not None:
                desk_for_notes.amend(ticket_id, note=text, note_key=key)

        folder = config.reply.copy_folder or config.imap.folders[0]
        replier = Replier(
            state,
            mailer or SmtpMailer(smtp_settings(config.smtp, environ)),
            settings,
            now=utc_now,
            note=note if the_desk is not None else None,
            copy_found=copy_finder(connect, folder) if settings.copy_to else None,
            observe=metrics.reply if metrics else None,
        )
    classifier = MailClassifier(ours_of(replier.settings) if replier else None, patterns)
    sinks: list[Sink] = []
    keeper = None
    if config.zendesk is not None and the_desk is not None:
        from bot.ticketing import TicketSink, budget_from_config

        r = config.reminders
        keeper = PortKeeper(
            state,
            the_desk,
            KeeperSettings(
                names=config.zendesk.names,
                reminders=ReminderPolicy.from_days(
                    r.remind_after_days, r.stale_after_days, r.max_reminders
                )
                if r.enabled
                else None,
                require_authenticated=config.stages.require_authenticated,
                sync_seconds=config.stages.sync_seconds,
                customer_ref_format=config.stages.customer_ref_format,
                messages=MessageSettings(sign_off=replier.settings.support_name)
                if replier
                else MessageSettings(),
            ),
            replier=replier,
            classifier=classifier,
            assess=assess,
            now=utc_now,
        )
        ticket_sink: Sink = TicketSink(
            the_desk,
            state,
            config.zendesk.names,
            limits=config.limits,
            now=now,
            budget=budget_from_config(config.zendesk),
            lifecycle=keeper.lifecycle,
        )
        if metrics is not None:
            from bot.observe import watch_sink

            ticket_sink = watch_sink(ticket_sink, metrics)
        sinks.append(ticket_sink)
        sinks.append(keeper.track)
    if replier is not None:
        sinks.append(replier)
    return Parts(sinks, classifier, keeper, replier, the_desk)
