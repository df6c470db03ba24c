"""The composition root: builds the pipeline from a Config for the CLI and the tests.

Gather (read bytes), decide (parsers + rules, pure), apply (the ticket desk, and
whatever further sinks are given). Nothing here runs at import time.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

from bot.adapters.imap import connect_from_config
from bot.adapters.partner_state import SqlitePartnerLedger
from bot.adapters.retry import RetryPolicy
from bot.adapters.sandbox import reader_for
from bot.adapters.smtp import SmtpMailer, SmtpSettings
from bot.adapters.sqlite_state import SqliteStateStore
from bot.adapters.twilio import TwilioAccount, TwilioPartner
from bot.adapters.twilio_webhook import WebhookReceiver
from bot.adapters.zendesk import CallCounter, CallObserver, ZendeskAccount, ZenpyDesk
from bot.config import (
    CarrierConfig,
    Config,
    LoaConfig,
    ReplyConfig,
    SmtpConfig,
    ZendeskConfig,
    read_secret,
)
from bot.errors import (
    ConfigError,
    MailboxError,
    MailUnavailable,
)
from bot.ops.logs import Redactor, secrets_in_message
from bot.ops.metrics import Metrics
from bot.pipeline.desk_reply import DeskReplies, NoMailer
from bot.pipeline.dryrun import DeliveryHeading, Printer, PrintingDesk, PrintingMailer, ReplySummary
from bot.pipeline.intake import (
    Assessor,
    Classifier,
    Intake,
    NoticeHandler,
    PlanMaker,
    ProgressFactory,
    Settings,
    Sink,
    Sorter,
    Tick,
    no_progress,
)
from bot.pipeline.observe import watch_assessor, watch_sink
from bot.pipeline.partner import PartnerDesk, PartnerSettings, portability_assessor
from bot.pipeline.planning import Planner
from bot.pipeline.reading import MessageCache, thread_assessor
from bot.pipeline.reply_sink import Replier, ReplySettings
from bot.pipeline.sorting import MailSorter
from bot.pipeline.stage_keeper import KeeperSettings, MailClassifier, PortKeeper
from bot.pipeline.ticket_sink import TicketSink, UpdateBudget
from bot.ports import (
    CarrierPartner,
    Clock,
    Mailbox,
    Mailer,
    SystemClock,
    TicketDesk,
)
from bot.render.template_check import check_templates
from bot.render.ticket import ZendeskNames
from parsers.carrier_notice import default_patterns, load_patterns
from parsers.errors import ParseError
from parsers.model import Attachment, Message
from rules.decide import Policy
from rules.mail_kind import SortPolicy
from rules.reminders import ReminderPolicy
from rules.reply import Ours
from rules.stage_messages import MessageSettings
from rules.stages import FINAL, Stage

log = logging.getLogger("portbot.app")


def build_app(
    config: Config,
    *,
    sinks: Sequence[Sink] = (),
    desk: TicketDesk | None = None,
    clock: Clock | None = None,
    assess: Assessor | None = None,
    connect: Callable[[], Mailbox] | None = None,
    environ: Mapping[str, str] | None = None,
    mailer: Mailer | None = None,
    redactor: Redactor | None = None,
    metrics: Metrics | None = None,
    progress: ProgressFactory | None = None,
    dry_run: TextIO | None = None,
    partner: CarrierPartner | None = None,
    preview_ticks: bool = False,
) -> Intake:
    """The intake with the sinks the configuration asks for, then `sinks`.

    In order: the ticket desk ([zendesk]: `desk`, or the zenpy adapter built from
    the section, its token read from `environ`), the port's stage keeper (with the
    desk: carrier notices, agents' stage changes, reminders on each cycle), the
    auto-reply ([smtp] and [reply]: `mailer`, or smtplib, its password read from
    `environ`). Tests and the demo replace the parts they need to.

    `redactor` learns each request's secrets as it is read (the logs mask them);
    `metrics` counts what happens (OCR, Zendesk calls, replies). `dry_run`: the same
    pipeline writing nothing anywhere (see bot.pipeline.dryrun), printing to this stream;
    with `preview_ticks` (`--now`) the dry run also previews the cycle's reminders and
    stale marks, reading the tickets' status from Zendesk (its writes only printed).
    """
    the_clock = clock or SystemClock()
    state = SqliteStateStore(
        Path(config.state.path), in_memory_copy=dry_run is not None, clock=the_clock
    )
    try:
        # Attachments are read in worker processes, started on first use; they stop
        # when the intake (holding this cache) is dropped, or at exit.
        messages = MessageCache(config.limits, read=None if assess else reader_for(config.limits))
        assess_thread = thread_assessor(config, the_clock.today, messages)

        def connect_imap() -> Mailbox:
            return connect_from_config(config.imap, environ, readonly=dry_run is not None)

        if dry_run is not None and redactor is None:
            redactor = Redactor()  # what a dry run prints is masked like the logs
        if redactor is not None:
            seed_redactor(redactor, state, messages.email)
        the_assess = assess or assess_thread
        carrier = config.carrier if dry_run is None else None  # a dry run asks no partner
        ledger = the_partner = None
        if carrier is not None:
            the_partner = partner or partner_from_config(carrier, environ)
            ledger = SqlitePartnerLedger(config.state.path)
            if carrier.portability:
                the_assess = portability_assessor(
                    the_assess, the_partner, ledger, partner_settings(carrier), the_clock.utc_now
                )
        if redactor is not None or metrics is not None:
            the_assess = watch_assessor(the_assess, redactor=redactor, metrics=metrics)
        the_connect = connect or connect_imap
        first: list[Sink] = []
        last: list[Sink] = []
        if dry_run is not None:
            assert redactor is not None
            say = Printer(dry_run, redactor)
            if desk is None and config.zendesk is not None:
                reader = desk_from_config(config.zendesk, environ) if preview_ticks else None
                desk = PrintingDesk(say, reader)
            if mailer is None and config.smtp is not None:
                mailer = PrintingMailer(say)
            first = [DeliveryHeading(say, tickets=desk is not None)]
            last = [ReplySummary(say, state, config.reply is not None)]
        parts = _parts(
            config,
            state,
            desk=desk,
            environ=environ,
            clock=the_clock,
            mailer=mailer,
            assess=the_assess,
            connect=the_connect,
            messages=messages,
            metrics=metrics,
        )
        ticks: list[Tick] = []
        if parts.keeper is not None and dry_run is not None and preview_ticks:
            ticks = [parts.keeper.remind]  # what a cycle at that time would remind and mark
        if parts.keeper is not None and dry_run is None:
            # (a dry run reads no agent changes and sends no reminders: mail only)
            ticks = [parts.keeper.resume, parts.keeper.sync_agents, parts.keeper.remind]
            if carrier is not None and the_partner is not None and ledger is not None:
                partner_desk = PartnerDesk(
                    the_partner,
                    ledger,
                    state,
                    parts.desk,
                    parts.keeper,
                    assess=the_assess,
                    read_email=messages.email,
                    names=config.zendesk.names if config.zendesk else ZendeskNames(),
                    settings=partner_settings(carrier),
                    now=the_clock.utc_now,
                    today=the_clock.today,
                )
                # approvals before the keeper reads the agents' stages: an approval of a
                # request that is not ready is set back before it becomes a move
                ticks = [
                    parts.keeper.resume,
                    partner_desk.apply_events,
                    partner_desk.sync_submissions,
                    parts.keeper.sync_agents,
                    partner_desk.poll_status,
                    parts.keeper.remind,
                ]
        return build_intake(
            config,
            sinks=[*first, *parts.sinks, *sinks, *last],
            clock=the_clock,
            assess=the_assess,
            connect=the_connect,
            environ=environ,
            state=state,
            classify=parts.classifier,
            sort=parts.sorter,
            messages=messages,
            plan=parts.planner,
            notices=parts.keeper.on_notice if parts.keeper else None,
            ticks=ticks,
            progress=progress or no_progress,
        )
    except BaseException:
        state.close()
        raise


def partner_from_config(
    config: CarrierConfig, environ: Mapping[str, str] | None = None
) -> TwilioPartner:
    """The carrier partner's adapter, its auth token read at the edge."""
    return TwilioPartner(
        TwilioAccount(
            config.account_sid,
            partner_token(config, environ),
            api_url=config.api_url,
            upload_url=config.upload_url,
            timeout=config.timeout_seconds,
        )
    )


def partner_token(config: CarrierConfig, environ: Mapping[str, str] | None = None) -> str:
    return read_secret(
        "carrier",
        "auth_token_file",
        config.auth_token_file,
        config.auth_token_env,
        "Twilio auth token",
        environ,
    )


def partner_settings(config: CarrierConfig) -> PartnerSettings:
    return PartnerSettings(
        name="Twilio",
        portability=config.portability,
        cache=dt.timedelta(hours=config.cache_hours),
        min_days=config.min_days,
        notification_emails=config.notification_emails,
        poll_seconds=config.poll_seconds,
    )


def webhook_receiver(
    config: Config,
    wake: Callable[[], None],
    environ: Mapping[str, str] | None = None,
    clock: Clock | None = None,
) -> WebhookReceiver | None:
    """`portbot run`'s receiver of the partner's webhooks, started; None without
    `[carrier] webhook_listen`. It only queues (its own ledger connection)."""
    carrier = config.carrier
    if carrier is None or not carrier.webhook_listen:
        return None
    host, _, port = carrier.webhook_listen.rpartition(":")
    ledger = SqlitePartnerLedger(config.state.path)
    the_clock = clock or SystemClock()

    def queue(body: str) -> None:
        ledger.add_event(body, the_clock.utc_now())

    try:
        receiver = WebhookReceiver(
            (host, int(port)),
            auth_token=partner_token(carrier, environ),
            public_url=carrier.webhook_url,
            queue=queue,
            wake=wake,
        )
    except OSError as exc:
        ledger.close()
        raise ConfigError(f"[carrier] webhook_listen {carrier.webhook_listen}: {exc}") from exc
    receiver.on_stop = ledger.close
    log.info(
        "webhooks: listening on %s for %s (signed by %s's auth token)",
        receiver.url,
        carrier.webhook_url,
        carrier.partner,
    )
    return receiver.start()


def seed_redactor(
    redactor: Redactor, state: SqliteStateStore, read_email: Callable[[bytes], Message]
) -> int:
    """Teach the redactor every open request's secrets, read again from the stored mail.

    The state store keeps each request's raw messages (for follow-ups), not its
    secrets: re-reading the bodies (no attachment opened, no OCR) recovers what the
    customer stated and whatever stands beside a PIN or account label, so a restarted
    bot masks the values of mail it read before the restart. `read_email` is the intake's
    cache: what is parsed here is not parsed again. Returns how many values.
    """
    closed = {p.request_id for p in state.ports() if Stage(p.stage) in FINAL}
    open_requests = sorted({*state.tickets(), *(p.request_id for p in state.ports())} - closed)
    before = len(redactor)
    for request_id in open_requests:
        for raw in state.thread_raws(request_id):
            try:
                message = read_email(raw)
            except (ParseError, ValueError, LookupError):
                continue
            redactor.add_many(secrets_in_message(message))
    return len(redactor) - before


def build_keeper(
    config: Config,
    *,
    desk: TicketDesk | None = None,
    environ: Mapping[str, str] | None = None,
    mailer: Mailer | None = None,
    clock: Clock | None = None,
) -> tuple[SqliteStateStore, PortKeeper]:
    """The state store and the stage keeper alone (`portbot stage`); needs [zendesk]."""
    if config.zendesk is None:
        raise ConfigError("stages need a [zendesk] section (see config.example.toml)")
    the_clock = clock or SystemClock()
    state = SqliteStateStore(Path(config.state.path), clock=the_clock)
    messages = MessageCache(config.limits, read=reader_for(config.limits))
    try:
        parts = _parts(
            config,
            state,
            desk=desk,
            environ=environ,
            clock=the_clock,
            mailer=mailer,
            assess=thread_assessor(config, the_clock.today, messages),
            connect=lambda: connect_from_config(config.imap, environ),
            messages=messages,
        )
    except BaseException:
        state.close()
        raise
    assert parts.keeper is not None
    return state, parts.keeper


def build_partner_desk(
    config: Config,
    *,
    desk: TicketDesk | None = None,
    environ: Mapping[str, str] | None = None,
    mailer: Mailer | None = None,
    clock: Clock | None = None,
    partner: CarrierPartner | None = None,
) -> tuple[SqliteStateStore, PartnerDesk]:
    """The state store and the partner desk alone (`portbot submit`): the same assessment
    (portability included), ledger and stage keeper as `portbot run`'s; needs [carrier]
    and [zendesk]."""
    carrier = config.carrier
    if carrier is None:
        raise ConfigError("submitting needs a [carrier] section (see config.example.toml)")
    if config.zendesk is None:
        raise ConfigError("submitting needs a [zendesk] section (see config.example.toml)")
    the_clock = clock or SystemClock()
    the_partner = partner or partner_from_config(carrier, environ)
    state = SqliteStateStore(Path(config.state.path), clock=the_clock)
    ledger = SqlitePartnerLedger(config.state.path)
    try:
        messages = MessageCache(config.limits, read=reader_for(config.limits))
        settings = partner_settings(carrier)
        assess: Assessor = thread_assessor(config, the_clock.today, messages)
        if carrier.portability:
            assess = portability_assessor(assess, the_partner, ledger, settings, the_clock.utc_now)
        parts = _parts(
            config,
            state,
            desk=desk,
            environ=environ,
            clock=the_clock,
            mailer=mailer,
            assess=assess,
            connect=lambda: connect_from_config(config.imap, environ),
            messages=messages,
        )
        assert parts.keeper is not None
        return state, PartnerDesk(
            the_partner,
            ledger,
            state,
            parts.desk,
            parts.keeper,
            assess=assess,
            read_email=messages.email,
            names=config.zendesk.names,
            settings=settings,
            now=the_clock.utc_now,
            today=the_clock.today,
        )
    except BaseException:
        ledger.close()
        state.close()
        raise


@dataclass
class Parts:
    sinks: list[Sink]
    classifier: MailClassifier
    sorter: MailSorter | None
    keeper: PortKeeper | None
    replier: Replier | None
    desk: TicketDesk | None
    planner: Planner  # gathers what the parts know of a request, decides once


def _parts(
    config: Config,
    state: SqliteStateStore,
    *,
    desk: TicketDesk | None,
    environ: Mapping[str, str] | None,
    clock: Clock,
    mailer: Mailer | None,
    assess: Assessor,
    connect: Callable[[], Mailbox],
    messages: MessageCache,
    metrics: Metrics | None = None,
) -> Parts:
    """The configured sinks and the stage keeper, over one state store."""
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
        the_desk = desk_from_config(
            config.zendesk, environ, observer=metrics.zendesk_call if metrics else None
        )
    via_desk = config.reply is not None and config.reply.via == "zendesk"
    if config.reply is not None and (config.smtp is not None or via_desk):
        settings = reply_settings(config.reply, config.loa)
        desk_for_notes = the_desk

        def note(request_id: str, text: str, key: str, /, *files: Attachment) -> None:
            ticket_id = state.tickets().get(request_id)
            if desk_for_notes is not None and ticket_id is not None:
                desk_for_notes.amend(ticket_id, note=text, note_key=key, attachments=files)

        folder = config.reply.copy_folder or config.imap.folders[0]
        if mailer is None:
            mailer = SmtpMailer(smtp_settings(config.smtp, environ)) if config.smtp else NoMailer()
        channel = None
        if via_desk and the_desk is not None:  # replies as public comments on the ticket
            channel = DeskReplies(the_desk, lambda request_id: state.tickets().get(request_id))
        replier = Replier(
            state,
            mailer,
            settings,
            now=clock.utc_now,
            note=note if the_desk is not None else None,
            copy_found=copy_finder(connect, folder) if settings.copy_to else None,
            observe=metrics.reply if metrics else None,
            read_email=messages.email,
            channel=channel,
        )
    classifier = MailClassifier(
        ours_of(replier.settings) if replier else None, messages.email, patterns
    )
    sinks: list[Sink] = []
    keeper = None
    the_ticket_sink = None
    if config.zendesk is not None and the_desk is not None:
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
                solve_final=config.stages.solve_when_final,
                annotate=config.zendesk.mode == "annotate",
                messages=MessageSettings(sign_off=replier.settings.support_name)
                if replier
                else MessageSettings(),
            ),
            replier=replier,
            classifier=classifier,
            assess=assess,
            now=clock.utc_now,
        )
        the_ticket_sink = TicketSink(
            the_desk,
            state,
            config.zendesk.names,
            now=clock.seconds,
            budget=budget_from_config(config.zendesk),
            lifecycle=keeper.lifecycle,
            mode=config.zendesk.mode,
        )
        ticket_sink: Sink = the_ticket_sink
        if metrics is not None:
            ticket_sink = watch_sink(ticket_sink, metrics)
        sinks.append(ticket_sink)
        sinks.append(keeper.track)
    if replier is not None:
        sinks.append(replier)
    sorter = None
    if config.sorting.enabled:
        sorter = MailSorter(
            messages.email,
            messages.statements,
            SortPolicy.configured(config.sorting.threshold, config.sorting.extra_words),
            ours_of(replier.settings) if replier else None,
            patterns or default_patterns(),
        )
    policy = replier.policy if replier is not None else Policy()
    if the_ticket_sink is not None:
        policy = replace(
            policy,
            mode=the_ticket_sink.policy.mode,
            updates_per_window=the_ticket_sink.policy.updates_per_window,
            window_seconds=the_ticket_sink.policy.window_seconds,
        )
    planner = Planner(
        policy,
        clock,
        tickets=the_ticket_sink.known if the_ticket_sink is not None else None,
        ports=keeper.known if keeper is not None else None,
        replies=replier.known if replier is not None else None,
    )
    return Parts(sinks, classifier, sorter, keeper, replier, the_desk, planner)


# -- the auto-reply's parts from [smtp] and [reply]: secrets read at the edge --------


def smtp_password(config: SmtpConfig, environ: Mapping[str, str] | None = None) -> str:
    """The first line of password_file, else the variable password_env ('' without a login)."""
    if not config.username:
        return ""
    return read_secret(
        "smtp", "password_file", config.password_file, config.password_env, "SMTP password", environ
    )


def smtp_settings(config: SmtpConfig, environ: Mapping[str, str] | None = None) -> SmtpSettings:
    try:
        return SmtpSettings(
            host=config.host,
            port=config.port,
            security=config.security,
            ca_file=config.ca_file,
            username=config.username,
            password=smtp_password(config, environ),
            timeout_seconds=config.timeout_seconds,
            envelope_from=config.envelope_from,
        )
    except ValueError as exc:
        raise ConfigError(f"[smtp] {exc}") from exc


def reply_settings(config: ReplyConfig, loa: LoaConfig | None = None) -> ReplySettings:
    """[reply] as the reply sink's settings; with [loa] on, its LOA template."""
    try:
        template = loa.template(config.support_name) if loa is not None and loa.enabled else None
    except ValueError as exc:
        raise ConfigError(f"[loa] {exc}") from exc
    try:
        return ReplySettings(
            support_address=config.support_address,
            support_name=config.support_name,
            domain=config.message_domain,
            own_addresses=frozenset(a.lower() for a in config.own_addresses),
            internal_domains=frozenset(d.lower() for d in config.internal_domains),
            daily_cap=config.daily_cap,
            copy_to=config.copy_to,
            loa=template,
            templates_dir=_checked_templates(config.templates_dir),
        )
    except ValueError as exc:
        raise ConfigError(f"[reply] {exc}") from exc


def _checked_templates(directory: str) -> str:
    """[reply] templates_dir, refused at start-up when a reply could not be rendered
    from it (doctor says the same, and warns of what is only ignored)."""
    if directory:
        problems = [f.text for f in check_templates(directory) if not f.ok]
        if problems:
            raise ConfigError(f"{problems[0]} (portbot doctor lists every problem)")
    return directory


def ours_of(settings: ReplySettings) -> Ours:
    """What `rules.reply` recognises as our own mail."""
    return Ours.of([settings.domain], settings.ours)


def copy_finder(connect: Callable[[], Mailbox], folder: str) -> Callable[[str], bool]:
    """Is our copy of the reply with this Message-ID in `folder`? (evidence it went out)

    When the mailbox cannot be asked, the answer is not "no" (that would resend):
    the delivery waits (MailUnavailable) for the next cycle.
    """

    def found(message_id: str) -> bool:
        try:
            mailbox = connect()
            try:
                return bool(mailbox.find(folder, message_id, 0))
            finally:
                mailbox.close()
        except MailboxError as exc:
            raise MailUnavailable(
                f"cannot look for our copy of {message_id} in {folder}: {exc}"
            ) from exc

    return found


def read_token(config: ZendeskConfig, environ: Mapping[str, str] | None = None) -> str:
    """The API token: the first line of token_file, else the variable token_env."""
    return read_secret(
        "zendesk", "token_file", config.token_file, config.token_env, "Zendesk API token", environ
    )


@dataclass(frozen=True)
class DeskPatience:
    """How long one message may hold the intake on Zendesk, whatever [zendesk] says:
    a slow or failing desk defers the message to a later cycle instead.

    The tighter of these and [zendesk] timeout_seconds / retry_attempts /
    retry_max_wait_seconds applies (candidates for [zendesk] keys of their own).
    """

    connect_timeout: float = 5.0  # seconds to connect
    read_timeout: float = 15.0  # seconds to wait for an answer
    tries: int = 2  # HTTP attempts per call in one cycle, the first included
    max_wait: float = 10.0  # a longer Retry-After is waited out between cycles instead


def desk_from_config(
    config: ZendeskConfig,
    environ: Mapping[str, str] | None = None,
    counter: CallCounter | None = None,
    sleep: Callable[[float], None] = time.sleep,
    observer: CallObserver | None = None,
    patience: DeskPatience | None = None,
) -> ZenpyDesk:
    """The zenpy adapter for [zendesk]; no network call is made here."""
    p = patience or DeskPatience()
    account = ZendeskAccount(
        subdomain=config.subdomain or "emulator",
        email=config.email,
        token=read_token(config, environ),
        timeout=min(config.timeout_seconds, p.read_timeout),
        connect_timeout=min(config.timeout_seconds, p.connect_timeout),
        base_url=config.url or None,
    )
    retry = RetryPolicy(
        attempts=max(1, min(config.retry_attempts, p.tries)),
        backoff=config.retry_backoff_seconds,
        max_backoff=config.retry_max_backoff_seconds,
        max_retry_after=min(config.retry_max_wait_seconds, p.max_wait),
    )
    try:
        return ZenpyDesk(
            account, config.names, counter or CallCounter(), retry, sleep=sleep, observer=observer
        )
    except ValueError as exc:
        raise ConfigError(f"[zendesk] {exc}") from exc


def budget_from_config(config: ZendeskConfig) -> UpdateBudget:
    return UpdateBudget(config.updates_per_ticket, config.update_window_seconds)


def build_intake(
    config: Config,
    *,
    sinks: Sequence[Sink] = (),
    clock: Clock | None = None,
    assess: Assessor | None = None,
    connect: Callable[[], Mailbox] | None = None,
    environ: Mapping[str, str] | None = None,
    state: SqliteStateStore | None = None,
    classify: Classifier | None = None,
    notices: NoticeHandler | None = None,
    ticks: Sequence[Tick] = (),
    progress: ProgressFactory = no_progress,
    messages: MessageCache | None = None,
    sort: Sorter | None = None,
    plan: PlanMaker | None = None,
) -> Intake:
    """The intake from a Config; tests and the demo replace the parts they need to.

    `bot.app.build_app` adds the sinks the configuration asks for (the ticket desk).
    """
    if config.quarantine.folder in config.imap.folders:
        raise ConfigError(
            f"[quarantine] folder {config.quarantine.folder!r} is also in [imap] folders"
        )
    the_clock = clock or SystemClock()

    the_messages = messages or MessageCache(config.limits)
    assess_thread = thread_assessor(config, the_clock.today, the_messages)

    def connect_imap() -> Mailbox:
        return connect_from_config(config.imap, environ)

    return Intake(
        state=state or SqliteStateStore(Path(config.state.path), clock=the_clock),
        connect=connect or connect_imap,
        assess=assess or assess_thread,
        sinks=sinks,
        settings=Settings(
            folders=config.imap.folders,
            quarantine_folder=config.quarantine.folder,
            max_message_bytes=config.limits.max_message_bytes,
            max_delivery_attempts=config.quarantine.max_delivery_attempts,
            start=config.imap.start,
        ),
        classify=classify,
        notices=notices,
        ticks=ticks,
        progress=progress,
        messages=the_messages,
        sort=sort,
        plan=plan,
    )
