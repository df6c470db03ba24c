"""The intake's commands: run, poll, replay, doctor, demo, zendesk setup (parsed by bot.cli)."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import json
import logging
import os
import sys
import time
from collections.abc import Mapping
from email.message import EmailMessage
from pathlib import Path

from bot.adapters.imap import ImapMailbox, connect_from_config, imap_secret
from bot.adapters.sqlite_state import SqliteStateStore
from bot.app import build_app, webhook_receiver
from bot.cli.config_edit import write_field_ids
from bot.cli.notices import settled_notices
from bot.cli.partner import carrier_setup, check_carrier, request_of, submit_command
from bot.cli.port_list import print_lines, read_lines
from bot.config import (
    Config,
    ZendeskConfig,
    find_config,
    is_loopback,
    load_config,
    read_secret,
    resolve_paths,
)
from bot.errors import MailboxError, PortbotError, StateError
from bot.ops.logs import Redactor, is_json, setup_logging
from bot.ops.metrics import MetricsServer, build_metrics, serve
from bot.ops.progress import progress
from bot.pipeline.intake import CycleReport, Delivery, Intake
from bot.pipeline.scheduler import Runner
from bot.ports import Clock, FixedClock, SystemClock, UnmatchedNotice
from bot.render.template_check import check_templates
from bot.render.views import view_specs
from rules.contract import to_json


def _fail(message: str) -> int:
    print(f"portbot: {message}", file=sys.stderr)
    return 2


def _level(config: Config, args: argparse.Namespace) -> str:
    """`run` logs at [logging] level; the one-shot commands only warnings, unless -v."""
    level = config.logging.level.upper()
    if args.command == "run":
        return level
    if getattr(args, "verbose", False):
        return level if logging.getLevelName(level) <= logging.INFO else "INFO"
    return "WARNING"


def register_secrets(redactor: Redactor, config: Config, environ: Mapping[str, str]) -> None:
    """The run's own secrets (passwords, tokens), read the one way the bot reads them
    (bot.config.read_secret), from each file and each variable the configuration names."""
    where = [
        ("imap", "password_file", config.imap.password_file, config.imap.password_env),
        ("imap", "oauth2_token_file", config.imap.oauth2_token_file, ""),
    ]
    if config.zendesk is not None:
        where.append(("zendesk", "token_file", config.zendesk.token_file, config.zendesk.token_env))
    if config.smtp is not None:
        where.append(("smtp", "password_file", config.smtp.password_file, config.smtp.password_env))
    if config.carrier is not None:
        c = config.carrier
        where.append(("carrier", "auth_token_file", c.auth_token_file, c.auth_token_env))
    for section, key, file, env_name in where:
        for source in ((file, ""), ("", env_name)):
            if not any(source):
                continue
            # a secret that cannot be read: the command that needs it says what is wrong
            with contextlib.suppress(PortbotError):
                redactor.add_fixed(read_secret(section, key, *source, "secret", environ))


def print_report(
    report: CycleReport,
    tickets: dict[str, int] | None = None,
    replies: dict[str, int] | None = None,
    *,
    dry_run: bool = False,
    config_path: Path | None = None,
) -> None:
    tickets = {} if dry_run else (tickets or {})  # a dry run's ticket numbers are made up
    for folder, skipped in report.skipped.items():
        where = f" --config {config_path}" if config_path else ""
        print(
            f"{folder}: {skipped} message(s) already there were left unread ([imap] start = "
            f'"new": only mail arriving from now on is read). To read them too: '
            f"`portbot poll --backlog{where}` (add --dry-run to see first what it would do)"
        )
    for event in report.events:
        print(event)
    would = "would be " if dry_run else ""
    for h in report.handled:
        detail = h.request_id or h.category
        if h.request_id in tickets:
            detail += f" ticket #{tickets[h.request_id]}"
        print(f"{h.folder} uid {h.uid} {h.message_id or '-'} {would}{h.outcome} {detail}")
    print(
        f"{report.count('assessed')} {would}assessed, {report.count('quarantined')} "
        f"{would}quarantined, {report.count('duplicate')} duplicates, {report.delivered} "
        + ("would be handed on" if dry_run else "handed on")
        + (f", {report.delivery_failures} hand-ons failed" if report.delivery_failures else "")
        + (f", {report.deferred} waiting for a later cycle" if report.deferred else "")
    )
    if dry_run:
        print(
            "dry run: nothing was written (mailbox, state file, Zendesk, mail)"
            + (
                "; quarantined mail would be moved to the quarantine folder"
                if report.count("quarantined")
                else ""
            )
        )
        return
    if replies:
        print(
            "emails to customers since the state file began: "
            f"{replies['sent']} sent, {replies['suppressed']} not sent "
            f"(automatic mail, nothing new, caps), {replies['sending']} waiting to be sent, "
            f"{replies['failed']} refused by the mail server"
        )


def report_json(
    report: CycleReport,
    tickets: dict[str, int] | None = None,
    replies: dict[str, int] | None = None,
    *,
    dry_run: bool = False,
) -> dict[str, object]:
    """The cycle as one JSON document (`poll --json`)."""
    tickets = {} if dry_run else (tickets or {})
    return {
        "dry_run": dry_run,
        "skipped": dict(report.skipped),
        "messages": [
            {
                "folder": h.folder,
                "uid": h.uid,
                "message_id": h.message_id,
                "outcome": h.outcome,
                "request_id": h.request_id,
                "category": h.category,
                "ticket": tickets.get(h.request_id or ""),
            }
            for h in report.handled
        ],
        "counts": {
            "assessed": report.count("assessed"),
            "quarantined": report.count("quarantined"),
            "duplicate": report.count("duplicate"),
            "handed_on": report.delivered,
            "hand_on_failed": report.delivery_failures,
            "waiting": report.deferred,
        },
        "outages": dict(report.outages),
        "replies": dict(replies or {}),
        "events": [str(e) for e in report.events],
    }


EX_TEMPFAIL = 75  # sysexits.h: a temporary failure; cron and monitors can tell


def outage_status(report: CycleReport) -> int:
    """0, or EX_TEMPFAIL saying on stderr which service held work back for a later cycle."""
    if not report.outages:
        return 0
    for service, waiting in sorted(report.outages.items()):
        what = f"{waiting} hand-on(s) wait" if waiting else "work waits"
        print(
            f"{service} is unavailable: {what} for a later cycle (exit {EX_TEMPFAIL})",
            file=sys.stderr,
        )
    return EX_TEMPFAIL


def _delivery_json(delivery: Delivery) -> dict[str, object]:
    return {"request_id": delivery.request_id, "assessment": to_json(delivery.assessment)}


def _print_delivery(delivery: Delivery) -> None:
    print(json.dumps(_delivery_json(delivery), ensure_ascii=False, indent=2))


def print_json(document: object) -> None:
    json.dump(document, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")


def main(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from bot.standins.demo import main as demo_main

        return demo_main(
            [*(["--once"] if args.once else []), "--port", str(args.port), "--mode", args.mode]
        )
    root, chatty = logging.getLogger(), [logging.getLogger(name) for name in _CHATTY]
    levels = root.level, [c.level for c in chatty]
    try:
        return _main(args)
    finally:  # called in-process (tests): the logging is left as it was found
        for handler in list(root.handlers):
            if handler.get_name() == "portbot":
                root.removeHandler(handler)
        root.setLevel(levels[0])
        for logger, level in zip(chatty, levels[1], strict=True):
            logger.setLevel(level)


# a line or more per call about the job or the request (the partner's: its headers too):
# noise in a journal, kept only at [logging] level = "DEBUG"
_CHATTY = ("apscheduler", "twilio.http_client")


def _main(args: argparse.Namespace) -> int:
    # before the configuration is read: whatever is logged meanwhile is redacted too
    redactor = setup_logging(
        level="INFO" if args.command == "run" else "WARNING", environ=os.environ
    )
    server: MetricsServer | None = None
    try:
        path = find_config(args.config)
        args.config = path
        config = resolve_paths(load_config(path), path.absolute().parent)
        redactor = setup_logging(
            json=config.logging.json,
            level=_level(config, args),
            secrets_source=redactor,
            environ=os.environ,
        )
        register_secrets(redactor, config, os.environ)
        if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
            for name in _CHATTY:
                logging.getLogger(name).setLevel(logging.WARNING)
        if args.command == "zendesk":
            return zendesk_setup(config, args.config, as_json=args.json, write=args.write)
        if args.command == "doctor":
            return doctor(config, args, path)
        if args.command == "ports":
            return ports_command(config, args)
        if args.command == "carrier":
            return carrier_setup(config, args.config, as_json=args.json)
        refused = now_refused(config, args)
        if refused:
            return _fail(refused)
        if args.command == "stage":
            return stage_command(config, args)
        if args.command == "submit":
            return submit_command(config, args, clock_at(args.now))
        if not config.imap.host:
            return _fail(f"{args.config}: [imap] host is not set")
        dry_run = getattr(args, "dry_run", False)
        once = args.command == "poll" or getattr(args, "once", False)
        metrics = None
        if args.command == "run" and not once and config.metrics.enabled and not dry_run:
            metrics = build_metrics(config.metrics)
            m = config.metrics
            try:
                server = serve(metrics, m.host, m.port)
            except OSError as exc:
                return _fail(
                    f"[metrics] cannot listen on {m.host}:{m.port}: "
                    f"{exc.strerror or exc}; change [metrics] port, or set "
                    "[metrics] enabled = false"
                )
        bar = functools.partial(
            progress,
            stream=sys.stderr,
            environ=os.environ,
            json_logs=is_json(sys.stderr, config.logging.json),
        )
        as_json = getattr(args, "json", False)
        if dry_run and not as_json:
            print(
                "DRY RUN: the mailbox is only read, nothing is written anywhere; "
                "secrets are shown as ••••"
            )
        shown: list[dict[str, object]] = []
        moment = getattr(args, "now", None)  # `replay` has no --now
        clock = clock_at(moment)  # the run's one clock: the intake and the webhooks
        show = _print_delivery if not as_json else (lambda d: shown.append(_delivery_json(d)))
        with build_app(
            config,
            sinks=[show] if getattr(args, "show", False) else [],
            redactor=redactor,
            metrics=metrics,
            progress=bar,
            dry_run=sys.stdout if dry_run else None,
            preview_ticks=moment is not None,
            clock=clock,
        ) as intake:
            if once:
                report = intake.poll(backlog=getattr(args, "backlog", False))
                if as_json:
                    document = report_json(
                        report,
                        intake.state.tickets(),
                        intake.state.reply_counts(),
                        dry_run=dry_run,
                    )
                    if getattr(args, "show", False):
                        document["assessments"] = shown
                    print_json(document)
                    return outage_status(report)
                print_report(
                    report,
                    intake.state.tickets(),
                    intake.state.reply_counts(),
                    dry_run=dry_run,
                    config_path=args.config,
                )
                return outage_status(report)
            if args.command == "replay":
                return replay(intake, args)
            if args.command == "run":
                runner = Runner(
                    intake,
                    config.schedule,
                    lambda: connect_from_config(config.imap, readonly=dry_run),
                    metrics=metrics,
                )
                # the partner's webhooks: queued at once, applied by the cycle they wake
                receiver = (
                    None if dry_run else webhook_receiver(config, runner.poll_now, clock=clock)
                )
                try:
                    runner.run()
                finally:
                    if receiver is not None:
                        receiver.stop()
                return 0
    except PortbotError as exc:
        return _fail(str(exc))
    finally:
        if server is not None:
            server.close()
    return 2


def clock_at(now: dt.datetime | None) -> Clock:
    """The run's one clock: fixed at `--now`, else the real time."""
    return SystemClock() if now is None else FixedClock(now)


def now_refused(config: Config, args: argparse.Namespace) -> str | None:
    """`--now` writes as if it were another time: only to a test mailbox (on loopback),
    or as a dry run (a preview that writes nothing)."""
    now = getattr(args, "now", None)
    if now is None or getattr(args, "dry_run", False) or is_loopback(config.imap.host):
        return None
    dry = " add --dry-run to preview what that cycle would send;" if args.command != "stage" else ""
    return (
        f"--now {now.isoformat(timespec='minutes')} with the live mailbox at "
        f"{config.imap.host or '(no [imap] host)'}: refused (it would write to customers and "
        f"tickets as if it were another time);{dry} a mailbox on loopback (a test setup) "
        "takes --now as it is"
    )


def ports_command(config: Config, args: argparse.Namespace) -> int:
    """`portbot ports [--stage S] [--json]`: bot.cli.port_list, from the state file."""
    from rules.stages import Stage, parse_stage

    stage = None
    if args.stage:
        stage = parse_stage(args.stage)
        if stage is None:
            return _fail(
                f"unknown stage {args.stage!r}; the stages: " + ", ".join(s.value for s in Stage)
            )
    lines = read_lines(Path(config.state.path), clock_at(args.now).utc_now(), stage)
    print_lines(lines, as_json=args.json)
    return 0


def stage_command(config: Config, args: argparse.Namespace) -> int:
    """`portbot stage TICKET STAGE`: judged like any change, applied to the ticket, the
    customer told; an illegal move is refused, saying why."""
    from bot.app import build_keeper
    from bot.pipeline.stage_keeper import final_stage
    from rules.stages import IllegalMove, Stage, StageChange, Unchanged, parse_stage

    target = parse_stage(args.stage)
    if target is None:
        return _fail(
            f"unknown stage {args.stage!r}; the stages: " + ", ".join(s.value for s in Stage)
        )
    state, keeper = build_keeper(config, clock=clock_at(args.now))
    try:
        with state.exclusive():
            request_id = request_of(state, args.ticket)
            if request_id is None:
                return _fail(
                    f"no porting request with ticket or id {args.ticket!r} in {config.state.path}"
                )
            port = state.port(request_id)
            detail = " ".join(["portbot stage", args.ticket, args.stage])
            if target is Stage.SUBMITTED and port is not None and not port.ready:
                missing = ", ".join(port.missing) or "see the ticket's note"
                if not (args.force and args.reason):
                    return _fail(
                        f"{request_id} is not ready for the carrier (missing or wrong: "
                        f"{missing}); to submit it anyway: --force --reason WHY"
                    )
                who = _who()
                detail += f" (forced by {who} though not ready: {missing}; {args.reason})"
                print(f"{request_id}: not ready ({missing}); submitted anyway, forced by {who}")
            if args.order:
                state.set_port_ids(request_id, order_id=args.order)
            try:
                decision = keeper.move(
                    request_id,
                    target,
                    reason=None if target is Stage.SUBMITTED else args.reason,
                    date=args.date,
                    detail=detail,
                )
            except PortbotError as exc:
                print(
                    f"{request_id}: the change is recorded; the rest waits for the bot's "
                    f"next cycle: {exc}"
                )
                return 0
            if isinstance(decision, IllegalMove):
                return _fail(f"{request_id}: {decision.message}")
            if isinstance(decision, Unchanged):
                print(f"{request_id}: nothing to do: {decision.message}")
                return 0
            assert isinstance(decision, StageChange)
            [row] = state.stage_changes(request_id)[-1:]
            if getattr(args, "json", False):
                print_json(
                    {
                        "request_id": request_id,
                        "from": str(decision.previous),
                        "to": str(final_stage(decision)),
                        "ticket_updated": bool(row.ticket_done),
                        "customer_told": bool(row.mail_done),
                        "detail": detail,
                    }
                )
                return 0
            print(
                f"{request_id}: {decision.previous} -> {final_stage(decision)}"
                f"{'' if row.ticket_done else ' (the ticket update waits)'}"
                f"{'' if row.mail_done else ' (the email to the customer waits)'}"
            )
            return 0
    finally:
        state.close()


def _who() -> str:
    """Who ran the command: the login name, and SUDO_USER behind sudo."""
    import getpass

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid {os.getuid()}"
    sudo = os.environ.get("SUDO_USER")
    return f"{sudo} (as {user})" if sudo and sudo != user else user


def replay(intake: Intake, args: argparse.Namespace) -> int:
    if args.list:
        entries = intake.state.quarantined()
        if getattr(args, "json", False):
            print_json(
                {
                    "entries": [
                        {
                            "id": e.id,
                            "recorded_at": e.recorded_at,
                            "message_id": e.message_id,
                            "folder": e.folder,
                            "moved": bool(e.moved),
                            "reason": e.reason,
                        }
                        for e in entries
                    ]
                }
            )
            return 0
        print("ID\tRECORDED\tMESSAGE-ID\tWHERE\tREASON")
        for e in entries:
            where = intake.settings.quarantine_folder if e.moved else f"{e.folder} (not moved yet)"
            print(f"{e.id}\t{e.recorded_at}\t{e.message_id or '-'}\tin {where}\t{e.reason}")
        print(f"{len(entries)} open quarantine entries")
        return 0
    if not args.all and not args.ids:
        return _fail("replay: give quarantine entry IDs, --all or --list")
    entries, report = intake.replay(None if args.all else args.ids)
    print(f"{len(entries)} message(s) put back: " + ", ".join(str(e.id) for e in entries))
    print_report(report, intake.state.tickets())
    return 0


def zendesk_setup(config: Config, path: Path, *, as_json: bool = False, write: bool = False) -> int:
    """Find or create the fields and the views (one per stage, stale, rejected waiting on
    the customer); print the [zendesk.fields] table to paste, or with `write` put the
    ids into the configuration file itself (its comments kept)."""
    from bot.app import desk_from_config

    if config.zendesk is None:
        return _fail(f"{path} has no [zendesk] section (see config.example.toml)")
    desk = desk_from_config(config.zendesk)
    ids = desk.setup_fields(config.zendesk.names)
    views = desk.setup_views(view_specs(config.zendesk.names))
    views_json = [{"title": t, "id": i, "created": c} for t, i, c in views]
    view_lines = [f"view {t!r} #{i} ({'created' if c else 'found'})" for t, i, c in views]
    if write:
        changes = write_field_ids(path, ids)
        if as_json:
            print_json(
                {
                    "fields": dict(ids),
                    "views": views_json,
                    "written": str(path) if changes else None,
                    "changed": [{"name": c.name, "old": c.old, "new": c.new} for c in changes],
                }
            )
            return 0
        if not changes:
            print(f"{path}: [zendesk.fields] already has these ids; nothing written")
        for c in changes:
            was = "new" if c.old is None else f"was {c.old}"
            print(f"{path}: [zendesk.fields] {c.name} = {c.new} ({was})")
        for line in view_lines:
            print(line)
        return 0
    if as_json:
        print_json({"fields": dict(ids), "views": views_json})
        return 0
    for line in view_lines:  # comments: what follows stays TOML to paste
        print(f"# {line}")
    print(f"# The ticket fields in Zendesk. Paste into {path}, replacing any [zendesk.fields]:")
    print("[zendesk.fields]")
    for name, fid in ids.items():
        print(f"{name} = {fid}")
    return 0


def _check_zendesk(zendesk: ZendeskConfig, say: _Checks) -> None:
    """The token, a login (GET users/me) and the configured field ids."""
    import requests

    from bot.app import read_token
    from bot.render.ticket import FIELD_SPECS

    try:
        token = read_token(zendesk)
    except PortbotError as exc:
        say(False, str(exc))
        return
    say(True, "Zendesk API token found")
    base = zendesk.url.rstrip("/") or f"https://{zendesk.subdomain}.zendesk.com"
    auth = (f"{zendesk.email}/token", token)
    try:
        me = requests.get(
            f"{base}/api/v2/users/me.json", auth=auth, timeout=zendesk.timeout_seconds
        )
        user = me.json().get("user") or {} if me.ok else {}
        if not me.ok or not user.get("id"):
            say(
                False,
                f"Zendesk at {base} did not accept {zendesk.email} with the token "
                f"(HTTP {me.status_code})",
            )
            return
        say(
            user.get("role") in ("agent", "admin"),
            f"logged in to Zendesk at {base} as {user.get('email')} ({user.get('role')})",
        )
        missing = [n for n in FIELD_SPECS if n not in zendesk.names.field_ids]
        if missing:
            say(
                False,
                f"[zendesk.fields] has no id for {', '.join(missing)}: run "
                "`portbot zendesk setup --write` (or paste what `portbot zendesk setup` prints)",
            )
            return
        listed = requests.get(
            f"{base}/api/v2/ticket_fields.json", auth=auth, timeout=zendesk.timeout_seconds
        )
        have = {f.get("id") for f in listed.json().get("ticket_fields", [])} if listed.ok else set()
        gone = [n for n, fid in zendesk.names.field_ids.items() if fid not in have]
        say(
            not gone,
            "every [zendesk.fields] id exists"
            if not gone
            else f"[zendesk.fields] ids not in the account: {', '.join(gone)} (run zendesk setup)",
        )
    except (requests.RequestException, ValueError) as exc:
        say(False, f"cannot reach Zendesk at {base}: {type(exc).__name__}")


class _Checks:
    """doctor's findings: printed one line each as they come, or gathered for --json."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.items: list[dict[str, object]] = []
        self.problems = 0

    def __call__(self, ok: bool, text: str, *, warning: bool = False) -> None:
        self.problems += not ok
        self.items.append({"ok": ok, "warning": warning, "text": text})
        if not self.as_json:
            print(f"{'ok     ' if ok and not warning else 'WARNING' if ok else 'PROBLEM'} {text}")

    def note(self, text: str) -> None:
        self.items.append({"ok": True, "warning": False, "text": text, "detail": True})
        if not self.as_json:
            print(f"        {text}")


def _check_smtp(config: Config, say: _Checks, send_test: str | None) -> None:
    """Connect, EHLO, STARTTLS or TLS, log in; with --send-test, send a test email."""
    from bot.adapters.smtp import SmtpMailer
    from bot.app import smtp_settings

    smtp, reply = config.smtp, config.reply
    if smtp is None or reply is None:
        say(True, "no [smtp] and [reply] sections: no emails to customers")
        if send_test:
            say(False, "--send-test needs the [smtp] and [reply] sections")
        return
    where = f"SMTP {smtp.host}:{smtp.port} ({smtp.security})"
    if smtp.security == "plain":
        say(True, f"{where}: no TLS (allowed only because the server is on loopback)", warning=True)
    try:
        mailer = SmtpMailer(smtp_settings(smtp))
        done = mailer.probe()
    except PortbotError as exc:
        say(False, f"{where}: {exc}")
        return
    say(True, f"{where}: {done}; replies come from {reply.support_address}")
    if send_test:
        try:
            mailer.send(_test_email(reply.support_address, send_test, "test email"))
        except PortbotError as exc:
            say(False, f"test email to {send_test} not sent: {exc}")
            return
        say(True, f'test email sent to {send_test} (subject "portbot doctor: test email")')


def _test_email(sender: str, to: str, what: str, token: str = "") -> EmailMessage:
    import email.utils

    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = f"portbot doctor: {what}" + (f" {token}" if token else "")
    message["Date"] = email.utils.formatdate(localtime=True)
    message["Message-ID"] = email.utils.make_msgid("doctor", sender.rsplit("@", 1)[-1])
    message["Auto-Submitted"] = "auto-generated"  # never answered, never a ticket
    message["X-Portbot-Doctor"] = what
    message.set_content(
        f"A {what} sent by `portbot doctor` to check that mail goes through. "
        "Nothing needs doing: it can be deleted.\n"
    )
    return message


def _round_trip(config: Config, mailbox: ImapMailbox, say: _Checks, wait: float) -> None:
    """Send a test request to the support address; watch the first folder until it is there."""
    import uuid

    from bot.adapters.smtp import SmtpMailer
    from bot.app import smtp_settings

    if config.smtp is None or config.reply is None:
        say(False, "--round-trip needs the [smtp] and [reply] sections (to send the test)")
        return
    address, folder = config.reply.support_address, config.imap.folders[0]
    token = uuid.uuid4().hex[:12]
    message = _test_email(address, address, "round trip", token)
    try:
        SmtpMailer(smtp_settings(config.smtp)).send(message)
    except PortbotError as exc:
        say(False, f"round trip: the test message to {address} was not sent: {exc}")
        return
    started = time.monotonic()
    found: list[int] = []
    while True:  # a condition polled on the server, not a fixed sleep
        found = mailbox.find(folder, str(message["Message-ID"]), 0)
        if found or time.monotonic() - started > wait:
            break
        time.sleep(0.5)
    took = time.monotonic() - started
    if not found:
        say(
            False,
            f"round trip: the test message sent to {address} did not arrive in {folder!r} "
            f"within {wait:g} s: check that mail to {address} is delivered to this mailbox "
            "(forwarding, filters, [imap] folders)",
        )
        return
    mailbox.delete(folder, found)
    say(True, f"round trip: a test message to {address} arrived in {folder!r} in {took:.1f} s")


def doctor(config: Config, args: argparse.Namespace | None = None, path: Path | None = None) -> int:
    """Each check on one line (or one JSON document); exit 1 when any failed, saying what to do."""
    as_json = bool(args is not None and getattr(args, "json", False))
    say = _Checks(as_json)
    if path is not None:
        say(True, f"configuration {path}")
    if config.zendesk is None:
        say(True, "no [zendesk] section: assessments only, no tickets")
    else:
        _check_zendesk(config.zendesk, say)
    _check_smtp(config, say, getattr(args, "send_test", None))
    check_carrier(config, say)
    if config.reply is not None and config.reply.templates_dir:
        for finding in check_templates(config.reply.templates_dir):
            say(finding.ok, finding.text, warning=finding.warning)
    _check_state(config, say)
    _check_imap(config, say, args)
    if as_json:
        print_json({"ok": not say.problems, "problems": say.problems, "checks": say.items})
    else:
        print("all good" if not say.problems else f"{say.problems} problem(s)")
    return 1 if say.problems else 0


def _check_state(config: Config, say: _Checks) -> None:
    path = Path(config.state.path)
    if not path.exists():
        say(
            True,
            f"state file {path} is new: it does not exist yet, the first poll creates it "
            "(if portbot ran before, point [state] path at that file: a new state file "
            'takes the mail already there as unread, or with start = "new" skips it)',
            warning=True,
        )
        return
    try:
        state = SqliteStateStore(path)
        counts = state.counts()
        waiting = state.deferred_reasons()
        tickets = state.tickets()
        replies = state.reply_counts()
        ports = state.ports()
        pending = state.pending_stage_changes()
        unmatched = state.unmatched()
        say(
            True,
            f"state file {path}: {counts['assessed']} assessed, "
            f"{counts['open_quarantine']} in quarantine, "
            f"{counts['undelivered']} not handed on, {len(tickets)} with a ticket",
        )
        for request_id, reason in waiting.items():
            say.note(f"{request_id} waits: {reason}")
        if config.reply is not None:
            say(
                replies["failed"] == 0,
                f"emails to customers: {replies['sent']} sent, {replies['sending']} waiting, "
                f"{replies['failed']} refused by the mail server",
            )
        settled: dict[str, int] = {}
        if config.zendesk is not None:
            settled = _settled(config.zendesk, unmatched) if unmatched else {}
            still = len(unmatched) - len(settled)
            say(
                not still,
                f"ports: {len(ports)} tracked, {len(pending)} stage change(s) "
                f"not fully applied, {still} carrier notice(s) "
                "matched to no single request"
                + (f" ({len(settled)} settled: their tickets are solved)" if settled else ""),
            )
        state.close()
        for n in unmatched:
            done = f" (settled: ticket #{settled[n.key]} solved)" if n.key in settled else ""
            say.note(f"{n.at} {n.partner} {n.kind} order {n.order_id or '-'}: {n.reason}{done}")
    except StateError as exc:
        say(False, f"state file: {exc}")


def _settled(zendesk: ZendeskConfig, unmatched: list[UnmatchedNotice]) -> dict[str, int]:
    """The unmatched notices whose tickets an agent solved (bot.cli.notices)."""
    from bot.app import desk_from_config

    try:
        return settled_notices(desk_from_config(zendesk), unmatched)
    except PortbotError:  # no token: the Zendesk check above says so
        return {}


def _check_imap(config: Config, say: _Checks, args: argparse.Namespace | None) -> None:
    imap = config.imap
    if not imap.host:
        say(False, "[imap] host is not set")
        return
    try:
        imap_secret(imap, os.environ)
        say(True, f"{imap.auth} credentials found")
    except MailboxError as exc:
        say(False, str(exc))
        return
    if imap.security == "plain":
        say(
            True,
            f"IMAP {imap.host}:{imap.port}: no TLS (allowed only because it is on loopback)",
            warning=True,
        )
    try:
        mailbox = connect_from_config(imap)
    except MailboxError as exc:
        say(
            False,
            f"cannot log in to {imap.host}:{imap.port} ({imap.security}) as "
            f"{imap.username!r}: {exc}",
        )
        return
    say(True, f"logged in to {imap.host}:{imap.port} ({imap.security}) as {imap.username}")
    try:
        existing = set(mailbox.folders())
        for folder in imap.folders:
            if folder in existing:
                status = mailbox.select(folder)
                say(True, f"folder {folder!r} (UIDVALIDITY {status.uidvalidity})")
            else:
                say(
                    False,
                    f"folder {folder!r} does not exist; the server has: "
                    + ", ".join(sorted(existing)),
                )
        quarantine = config.quarantine.folder
        say(
            True,
            f"quarantine folder {quarantine!r} "
            + ("exists" if quarantine in existing else "will be created when first needed"),
        )
        if quarantine in imap.folders:
            say(False, f"quarantine folder {quarantine!r} must not be one of [imap] folders")
        if args is not None and getattr(args, "round_trip", False):
            _round_trip(config, mailbox, say, args.wait)
    except MailboxError as exc:
        say(False, str(exc))
    finally:
        mailbox.close()
