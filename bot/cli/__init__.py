"""The `portbot` command line.

Only the standard library is imported at the top: `portbot run` installs its
SIGTERM/SIGINT handlers first, before the slow part of start-up (the pipeline's
imports, the configuration, the state file, the mailbox and Zendesk connections).
A stop during start-up abandons it and exits 0; once the runner is up its own
handlers take over and finish the message in hand (bot.pipeline.scheduler).
"""

from __future__ import annotations

import argparse
import datetime as dt
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopDuringStartup(BaseException):
    """A SIGTERM/SIGINT before the runner took over: start-up is abandoned, exit 0.

    A BaseException, so no `except Exception` on the way swallows it; what start-up
    opened (the state file) is closed by its own `with`/`finally` on the way out.
    """


def _stop_during_startup(signum: int, _frame: FrameType | None) -> None:
    raise StopDuringStartup(signum)


@contextmanager
def _stoppable_startup(command: str | None) -> Iterator[None]:
    """For `run` in the main thread: a stop from here on is a clean exit, not status 143."""
    if command != "run":
        yield
        return
    try:
        saved = {s: signal.signal(s, _stop_during_startup) for s in _STOP_SIGNALS}
    except ValueError:  # not the main thread (a test calling main): nothing to install
        yield
        return
    try:
        yield
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date in YYYY-MM-DD form: {text!r}") from exc


def _moment(text: str) -> dt.datetime:
    """--now: an ISO date-time (a date alone is its midnight); local time without a zone."""
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"not a date-time in ISO form (2026-12-01T09:00, 2026-12-01T09:00+01:00): {text!r}"
        ) from exc
    return moment.astimezone() if moment.tzinfo is None else moment


_NOW_HELP = (
    "run as if it were this moment (ISO date-time, e.g. 2026-12-01T09:00): reminders, "
    "stale marks, days and dates follow it; with a mailbox that is not on loopback only "
    "together with --dry-run, to preview what that cycle would send"
)

_DESCRIPTION = """\
portbot reads phone-number porting requests from a support mailbox (IMAP), checks
each like an agent would, files one Zendesk ticket per request and answers the
customer. First day: copy config.example.toml to portbot.toml, then `portbot
doctor`, `portbot zendesk setup`, `portbot poll --dry-run`, `portbot run`.

The mailbox commands read their configuration from --config FILE, else the file
named by $PORTBOT_CONFIG, else ./portbot.toml, else /etc/portbot/portbot.toml.
Exit status: 0 done, 1 doctor found a problem, 2 cannot run (the message says
why), 75 work waits on a service that is down (the message names it)."""


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("portbot")
    except PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="portbot",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"portbot {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, title="commands", metavar="COMMAND")
    assess = sub.add_parser(
        "assess",
        help="assess one email thread (oldest first) and print its assessment as JSON",
        description="Assess one porting-request thread offline: .eml files, oldest first.",
    )
    assess.add_argument("messages", nargs="+", type=Path, metavar="MESSAGE.eml")
    assess.add_argument("--today", type=_date, help="the date for the bill-age rule (YYYY-MM-DD)")
    assess.add_argument("--show-secrets", action="store_true", help="show PINs and SSN digits")
    assess.add_argument("--config", type=Path, help="configuration file (default: built in)")
    _mail_commands(sub)
    return parser


def _mail_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    def command(name: str, text: str, json_help: str = "") -> argparse.ArgumentParser:
        found = sub.add_parser(name, help=text, description=text)
        found.add_argument("--config", type=Path, help=_CONFIG_HELP)
        found.add_argument("-v", "--verbose", action="store_true", help="log each message")
        if json_help:
            found.add_argument("--json", action="store_true", help=json_help)
        return found

    dry = (
        "read the mailbox and assess as usual, print the ticket, note and reply each "
        "message would get, and write nothing anywhere (no IMAP flag or move, no ticket, "
        "no email, no change to the state file); secrets print as ••••"
    )
    run = command("run", "read the mailbox until stopped (SIGTERM/Ctrl-C): poll, optionally IDLE")
    run.add_argument("--dry-run", action="store_true", help=dry)
    run.add_argument("--once", action="store_true", help="run one cycle, print it, exit")
    run.add_argument("--now", type=_moment, metavar="DATETIME", help=_NOW_HELP)
    poll = command(
        "poll",
        "read the mailbox's new mail once, print each outcome, exit",
        "print one JSON document on stdout (the outcomes; with --show the assessments); "
        "logs stay on stderr",
    )
    poll.add_argument("--show", action="store_true", help="print each assessment as JSON")
    poll.add_argument("--dry-run", action="store_true", help=dry)
    poll.add_argument("--now", type=_moment, metavar="DATETIME", help=_NOW_HELP)
    poll.add_argument(
        "--backlog",
        action="store_true",
        help='also read the mail that [imap] start = "new" left unread on the '
        "first run (a folder not read before: from its first message)",
    )
    replay = command(
        "replay",
        "put quarantined mail back in its folder and read it again",
        "print one JSON document on stdout",
    )
    which = replay.add_mutually_exclusive_group()
    which.add_argument("ids", nargs="*", type=int, default=[], metavar="ID")
    which.add_argument("--all", action="store_true", help="every open quarantine entry")
    which.add_argument("--list", action="store_true", help="list the open entries and reasons")
    stage = command(
        "stage",
        "move a port to another stage (submitted, approved, scheduled, "
        "rejected, completed, cancelled): the ticket and the customer follow",
        "print one JSON document on stdout",
    )
    stage.add_argument("ticket", metavar="TICKET", help="the ticket number, or the request id")
    stage.add_argument("stage", metavar="STAGE", help="the new stage")
    stage.add_argument("--reason", help="the carrier's reason (needed for rejected)")
    stage.add_argument(
        "--date", type=_date, help="the porting (FOC) date, YYYY-MM-DD (needed for scheduled)"
    )
    stage.add_argument(
        "--force",
        action="store_true",
        help="submit a request that is not ready (needs --reason; who forced it is recorded)",
    )
    stage.add_argument("--now", type=_moment, metavar="DATETIME", help=_NOW_HELP)
    stage.add_argument(
        "--order",
        help="the carrier partner's port order id (remembered, so its notices find the request)",
    )
    ports = command(
        "ports",
        "list the porting requests with their stage, days in that stage and what holds "
        "them (missing items, problems, the carrier's rejection), from the state file",
        "print one JSON document on stdout",
    )
    ports.add_argument("--stage", metavar="STAGE", help="only the ports at this stage")
    ports.add_argument(
        "--now", type=_moment, metavar="DATETIME", help="count the days up to this moment"
    )
    submit = command(
        "submit",
        "submit a ready request to the carrier partner in one step ([carrier]): the bill "
        "uploaded, the port-in created once, its id on the ticket, the stage submitted, "
        "the customer told; refused, saying why, when the request is not ready",
        "print one JSON document on stdout",
    )
    submit.add_argument("ticket", metavar="TICKET", help="the ticket number, or the request id")
    submit.add_argument(
        "--dry-run",
        action="store_true",
        help="print the port-in it would create (PINs and the account number masked); "
        "send and record nothing",
    )
    submit.add_argument("--now", type=_moment, metavar="DATETIME", help=_NOW_HELP)
    doctor = command(
        "doctor",
        "check the configuration, the state file, the IMAP login and folders, the SMTP "
        "server (connect, TLS, login), the Zendesk login and fields and the carrier "
        "partner's credentials",
        "print one JSON document on stdout: every check with ok and its words",
    )
    doctor.add_argument(
        "--send-test",
        metavar="ADDRESS",
        help="also send a test email to ADDRESS through [smtp]",
    )
    doctor.add_argument(
        "--round-trip",
        action="store_true",
        help="also send a test request to [reply] support_address and wait until it "
        "arrives in the first of [imap] folders (then delete it): the whole mail path",
    )
    doctor.add_argument(
        "--wait",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="how long --round-trip waits for the message (default 120)",
    )
    demo = sub.add_parser(
        "demo",
        help="the demo: a local IMAP server and Zendesk emulator, the fixtures, the bot",
        description="Start a local dovecot and the Zendesk emulator, load fixtures/emails/ "
        "into the mailbox, let the bot read it and file the tickets, and serve "
        "the emulator's ticket page until Ctrl-C.",
    )
    demo.add_argument(
        "--once",
        action="store_true",
        help="print the summary and exit instead of serving the ticket page",
    )
    demo.add_argument(
        "--port",
        type=int,
        default=8765,
        help="the emulator's port (default 8765; 0 picks a free one)",
    )
    demo.add_argument(
        "--mode",
        choices=("create", "annotate"),
        default="create",
        help="create: the bot files the tickets; annotate: the emulator's email channel "
        "ingests the mail first, the bot pre-fills its tickets and replies through Zendesk",
    )
    zendesk = sub.add_parser(
        "zendesk", help="Zendesk account tasks", description="Zendesk account tasks."
    )
    zsub = zendesk.add_subparsers(dest="zendesk_command", required=True)
    setup = zsub.add_parser(
        "setup",
        help="create or find the custom ticket fields; print their ids for the config",
        description="Find the bot's custom ticket fields (and the stage dropdown) by title in "
        "the account, create those missing, and print a [zendesk.fields] table "
        "to paste into the configuration.",
    )
    setup.add_argument("--config", type=Path, help=_CONFIG_HELP)
    setup.add_argument("--json", action="store_true", help="print the field ids as JSON")
    setup.add_argument(
        "--write",
        action="store_true",
        help="write the ids into the configuration file's [zendesk.fields] "
        "(its comments and layout kept) instead of printing them to paste",
    )
    carrier = sub.add_parser(
        "carrier", help="carrier partner account tasks", description="Carrier partner tasks."
    )
    csub = carrier.add_subparsers(dest="carrier_command", required=True)
    csetup = csub.add_parser(
        "setup",
        help="point the partner's port-in webhooks at [carrier] webhook_url (idempotent)",
        description="Register [carrier] webhook_url as the account's port-in webhook "
        "(Twilio's webhook configuration); an account already pointing there is left alone.",
    )
    csetup.add_argument("--config", type=Path, help=_CONFIG_HELP)
    csetup.add_argument("--json", action="store_true", help="print what was done as JSON")
    emulator = sub.add_parser(
        "zendesk-emulator",
        help="run the local Zendesk emulator (API and ticket page)",
        description="A local Zendesk API emulator for trying the bot; its page at / shows "
        "the tickets as an agent would see them.",
    )
    from bot.standins.zendesk_emulator.cli import build_parser

    build_parser(emulator)


_CONFIG_HELP = (
    "configuration file (default: $PORTBOT_CONFIG, ./portbot.toml, /etc/portbot/portbot.toml)"
)


def _fail(message: str) -> int:
    print(f"portbot: {message}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    try:
        with _stoppable_startup(words[0] if words else None):
            return _main(words)
    except StopDuringStartup as stop:
        name = signal.Signals(stop.args[0]).name
        print(f"portbot: {name} during start-up: stopped before reading any mail", file=sys.stderr)
        return 0


def _main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(argv)
    if args.command == "assess":
        import json

        from bot.cli.assess import assess_files
        from bot.config import load_config
        from bot.errors import ConfigError
        from parsers.errors import ParseError
        from rules.contract import to_json

        try:
            config = load_config(args.config)
            result = assess_files(args.messages, config, today=args.today or dt.date.today())
        except (ConfigError, ParseError, OSError) as exc:
            return _fail(str(exc))
        json.dump(
            to_json(result, show_secrets=args.show_secrets),
            sys.stdout,
            ensure_ascii=False,
            indent=2,
        )
        sys.stdout.write("\n")
        return 0
    if args.command == "zendesk-emulator":
        from bot.standins.zendesk_emulator.cli import run

        return run(args)
    from bot.cli import commands  # the intake's commands; imported here to keep `assess` light

    return commands.main(args)
