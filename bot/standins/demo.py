"""The embedded demo: the real bot reading a real mailbox and filing real tickets.

A local dovecot is started in a temporary directory (loopback, self-signed
certificate, see bot.standins.localmail), every message of fixtures/emails/ is APPENDed to
its INBOX, and the local Zendesk emulator is started beside it (port 8765 unless
that is taken). The bot, built by the same composition root as `portbot poll`
(`bot.app.build_app`), polls the mailbox: IMAP over TLS, the SQLite state store,
threads joined by Message-ID/References, quarantine, and one ticket per request
through zenpy over HTTP, follow-ups updating it. Then it polls again to show that
nothing is read twice, prints the emulator's page address and serves it until
Ctrl-C (`--once`: exit after the summary).

Replies: when aiosmtpd is installed, a local SMTP server (STARTTLS with the
dovecot's self-signed certificate) takes the bot's auto-replies; each is filed
in the dovecot folder "Customers" (what the customers received), and the copy
to support@ lands back in INBOX, where the second poll recognises it as ours.

Each fixture thread was written for a day of its own (expected.json "today"); the
demo assesses each request on its thread's day so the bill-age rule reads as meant.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import socket
import sys
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from bot.app import build_app
from bot.config import (
    CarrierConfig,
    Config,
    ImapConfig,
    QuarantineConfig,
    ReplyConfig,
    SmtpConfig,
    StateConfig,
    ZendeskConfig,
)
from bot.ops.logs import Redactor, secrets_of
from bot.pipeline.intake import CycleReport, Delivery, key_of
from bot.standins.localmail import LocalMail, LocalMailError, dovecot_binary, local_dovecot
from bot.standins.twilio_emulator import TwilioEmulator
from bot.standins.twilio_emulator import start as start_twilio
from bot.standins.zendesk_emulator import Emulator, serve
from bot.standins.zendesk_emulator.email_channel import deliver
from bot.standins.zendesk_emulator.server import wait_forever
from rules.assessment import Assessment
from rules.contract import to_json

DEFAULT_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "emails"
DEMO_PORT = 8765
DEMO_TOKEN = "emulator-token"  # the emulator's own; nothing real
TWILIO_SID, TWILIO_TOKEN = "AC" + "d" * 32, "twilio-emulator-token"  # the Twilio emulator's
SUPPORT = "support@lofty.com"  # the fixtures' support address
CUSTOMERS_FOLDER = "Customers"


def start_smtp_sink(server: LocalMail, stack: ExitStack) -> SmtpConfig | None:
    """A local SMTP server filing what it is given into the dovecot (None without aiosmtpd)."""
    try:
        import ssl

        from aiosmtpd.controller import Controller
    except ImportError:
        return None

    class Deliver:
        async def handle_DATA(self, smtp: object, session: object, envelope: Any) -> str:
            content = bytes(envelope.original_content or envelope.content or b"")
            rcpt = [str(r).lower() for r in getattr(envelope, "rcpt_tos", [])]
            if any(r != SUPPORT for r in rcpt):
                server.append(CUSTOMERS_FOLDER, [content])
            if SUPPORT in rcpt:
                server.append("INBOX", [content])  # our copy, back in the support mailbox
            return "250 2.0.0 OK"

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(server.ca_file, server.ca_file.parent / "key.pem")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(
        Deliver(), hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True
    )
    controller.start()
    stack.callback(controller.stop)
    return SmtpConfig(
        host="127.0.0.1",
        port=port,
        security="starttls",
        ca_file=str(server.ca_file),
        timeout_seconds=30,
    )


def load_threads(fixtures: Path) -> list[tuple[str, list[bytes], dt.date]]:
    """(name, raw messages oldest first, the thread's day) of each fixture thread."""
    threads = []
    for thread in sorted(p for p in fixtures.iterdir() if p.is_dir()):
        raws = [p.read_bytes() for p in sorted(thread.glob("*.eml"))]
        if not raws:
            continue
        expected = thread / "expected.json"
        today = dt.date.today()
        if expected.is_file():
            today = dt.date.fromisoformat(json.loads(expected.read_text())["today"])
        threads.append((thread.name, raws, today))
    return threads


def demo_config(server: LocalMail, state: Path, zendesk_url: str | None = None) -> Config:
    zendesk = None
    if zendesk_url:
        zendesk = ZendeskConfig(subdomain="demo", email="portbot@example.test", url=zendesk_url)
    return Config(
        imap=ImapConfig(
            host=server.host,
            port=server.tls_port,
            ca_file=str(server.ca_file),
            username=server.user,
            password_file=str(server.password_file),
            start="all",
        ),  # the fixtures already in the mailbox are the demo
        state=StateConfig(path=str(state)),
        quarantine=QuarantineConfig(folder="Quarantine"),
        zendesk=zendesk,
    )


def start_emulator(port: int, out: TextIO) -> Emulator:
    """The emulator on `port`, or on a free one when that is taken."""
    try:
        return serve(port=port, token=DEMO_TOKEN)
    except OSError:
        print(f"(port {port} is taken: the Zendesk emulator takes a free one)", file=out)
        return serve(port=0, token=DEMO_TOKEN)


def _line(name: str, assessment: Assessment) -> str:
    missing = [k for k, v in assessment.checklist.items() if v == "missing"]
    codes = sorted({p.code for p in assessment.problems})
    verdict = "READY  " if assessment.ready else "PENDING"
    detail = "; ".join(
        part
        for part in (
            f"missing: {', '.join(missing)}" if missing else "",
            f"problems: {', '.join(codes)}" if codes else "",
        )
        if part
    )
    return f"{verdict} {name:<46} {detail}"


def run_demo(
    fixtures: Path, out: TextIO, *, once: bool = True, port: int = 0, mode: str = "create"
) -> int:
    """The demo; with `once` False it serves the ticket page until Ctrl-C afterwards.

    `mode` "annotate": the emulator's email channel ingests the mailbox first, as a desk
    fed by support@ would, and the bot pre-fills the desk's tickets and replies on them."""
    threads = load_threads(fixtures)
    if not threads:
        print(f"no threads in {fixtures}", file=out)
        return 1
    if dovecot_binary() is None:
        print(
            "The demo needs dovecot (Debian: apt-get install dovecot-imapd; scripts/setup "
            "installs it).",
            file=out,
        )
        return 1
    emulator = start_emulator(port, out)
    try:
        code = _file_tickets(threads, emulator, out, annotate=mode == "annotate")
        if code or once:
            return code
        print(
            f"\nThe tickets as an agent sees them: {emulator.url}/\n"
            "Serving that page until Ctrl-C.",
            file=out,
            flush=True,
        )
        wait_forever(emulator)  # returns on Ctrl-C
        return 0
    finally:
        emulator.stop()


def _file_tickets(
    threads: list[tuple[str, list[bytes], dt.date]],
    emulator: Emulator,
    out: TextIO,
    *,
    annotate: bool = False,
) -> int:
    from bot.adapters.zendesk import CallCounter
    from bot.app import desk_from_config

    # which fixture thread (and so which day) each message belongs to
    thread_of = {key_of(raw): (name, today) for name, raws, today in threads for raw in raws}
    latest: dict[str, tuple[str, Assessment]] = {}
    environ = {"PORTBOT_ZENDESK_TOKEN": DEMO_TOKEN}
    with tempfile.TemporaryDirectory(prefix="portbot-demo-") as work, ExitStack() as stack:
        try:
            server = stack.enter_context(local_dovecot())
        except LocalMailError as exc:
            print(f"could not start the local dovecot: {exc}", file=out)
            return 1
        count = server.append("INBOX", (raw for _, raws, _ in threads for raw in raws))
        zendesk = demo_config(server, Path(work) / "state.sqlite3", emulator.url).zendesk
        assert zendesk is not None
        ids = desk_from_config(zendesk, environ).setup_fields(zendesk.names)
        zendesk = replace(zendesk, names=replace(zendesk.names, field_ids=ids))
        config = replace(demo_config(server, Path(work) / "state.sqlite3"), zendesk=zendesk)
        smtp = None if annotate else start_smtp_sink(server, stack)
        if annotate:  # the desk's own channel made a ticket of every email already
            for _, raws, _ in threads:
                for raw in raws:
                    deliver(emulator.url, raw)
            config = replace(
                config,
                zendesk=replace(zendesk, mode="annotate"),
                reply=ReplyConfig(
                    support_address=SUPPORT, support_name="Lofty Porting Team", via="zendesk"
                ),
            )
            print(
                f"Annotate mode: the emulator's email channel made "
                f"{len(emulator.store.live_tickets())} tickets of the mail, as the desk does; "
                "the bot pre-fills the porting ones and replies on them through Zendesk.",
                file=out,
            )
        elif smtp is not None:
            config = replace(
                config,
                smtp=smtp,
                reply=ReplyConfig(
                    support_address=SUPPORT, support_name="Lofty Porting Team", copy_to=SUPPORT
                ),
            )
        twilio: TwilioEmulator | None = None
        if not annotate:  # the carrier partner: portability at intake, one port walked through
            twilio = start_twilio(TWILIO_SID, TWILIO_TOKEN)
            stack.callback(twilio.stop)
            environ["PORTBOT_TWILIO_AUTH_TOKEN"] = TWILIO_TOKEN
            config = replace(
                config,
                carrier=CarrierConfig(
                    account_sid=TWILIO_SID,
                    api_url=twilio.url,
                    upload_url=twilio.url,
                    notification_emails=(SUPPORT,),
                    poll_seconds=0.0,  # the partner's status read every cycle (no webhooks)
                ),
            )
        counter = CallCounter()
        desk = desk_from_config(zendesk, environ, counter)
        print(
            f"Local IMAP server on {server.host}:{server.tls_port} (TLS), "
            f"{count} messages from {len(threads)} fixture threads in INBOX.\n"
            f"Zendesk emulator on {emulator.url}/ (ticket fields set up).\n"
            + (
                f"SMTP server on 127.0.0.1:{smtp.port} (STARTTLS) for the replies.\n"
                if smtp
                else "Replies go through Zendesk (public comments it emails).\n"
                if annotate
                else "(No replies: the local SMTP server needs aiosmtpd.)\n"
            )
            + (f"Twilio emulator on {twilio.url} (the carrier partner).\n" if twilio else "")
            + "The bot polls the mailbox and files a ticket per request:\n",
            file=out,
        )

        def assess_on_thread_day(raws: Sequence[bytes]) -> Assessment:
            from bot.pipeline.reading import assess_messages

            _, today = thread_of.get(key_of(raws[0]), ("?", dt.date.today()))
            return assess_messages(raws, config, today)

        def show(delivery: Delivery) -> None:
            name, _ = thread_of.get(key_of(delivery.raws[0]), (delivery.request_id, None))
            latest[delivery.request_id] = (name, delivery.assessment)

        with build_app(
            config, assess=assess_on_thread_day, sinks=[show], desk=desk, environ=environ
        ) as intake:
            first = intake.poll()
            tickets = intake.state.tickets()
            _print_results(first, latest, intake.state.quarantined(), out, tickets)
            replies = intake.state.reply_counts()
            again = intake.poll()
            own = again.count("own")
            print(
                f"\nPolling again: {len(again.handled) - own} messages read as requests "
                "(each message is read once)"
                + (
                    f"; the {own} copies of our own replies that came back were recognised "
                    "as ours, not requests"
                    if own
                    else ""
                )
                + ".",
                file=out,
            )
            if smtp is not None:
                print(
                    f"{replies['sent']} replies sent to customers through the local SMTP "
                    f"server (filed in the dovecot folder {CUSTOMERS_FOLDER!r}); "
                    f"{replies['suppressed']} messages got none (nothing new for the "
                    "customer, automatic mail, not a porting request).",
                    file=out,
                )
            if twilio is not None:
                _walk_a_port(intake, emulator, twilio, config, latest, out)
            if annotate:
                made = emulator.store.live_tickets()
                print(
                    f"{replies['sent']} replies posted as public comments and emailed by "
                    f"Zendesk ({len(emulator.store.account.outbox)} emails in its outbox); "
                    f"{replies['suppressed']} messages got none. "
                    f"{len(made)} tickets in all, "
                    f"{sum(t['via']['channel'] == 'email' for t in made)} of them made by "
                    "the desk's email channel: the bot made none.",
                    file=out,
                )
        kinds: dict[str, int] = {}
        for kind, n in counter.calls.items():  # tickets/12/... and tickets/13/...: one kind
            kinds[re.sub(r"/\d+", "/:id", kind)] = kinds.get(re.sub(r"/\d+", "/:id", kind), 0) + n
        calls = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
        print(
            f"{len(set(tickets.values()))} tickets "
            + ("pre-filled" if annotate else "filed")
            + f" in the Zendesk emulator with {counter.total} API calls ({calls}).",
            file=out,
        )
    if latest:
        request_id, (name, assessment) = next(iter(sorted(latest.items())))
        print(
            f"\nThe assessment of {request_id} ({name}), PINs and account numbers masked:",
            file=out,
        )
        masked = Redactor()  # the demo's output is read, pasted and shared like a log
        masked.add_many(secrets_of(assessment))
        print(
            masked.redact(json.dumps(to_json(assessment), ensure_ascii=False, indent=2)), file=out
        )
    return 0


def _walk_a_port(
    intake: Any,
    emulator: Emulator,
    twilio: TwilioEmulator,
    config: Config,
    latest: dict[str, tuple[str, Assessment]],
    out: TextIO,
) -> None:
    """An agent approves a ready request; the partner takes it to completion."""
    import requests

    assert config.zendesk is not None
    tickets = intake.state.tickets()
    ready = sorted(r for r, (_, a) in latest.items() if a.ready and r in tickets)
    if not ready:
        return
    request_id = ready[0]
    ticket_id = tickets[request_id]
    asked = sum("Portability" in path for _, path in twilio.store.calls)
    print(
        f"\nThe carrier partner: {asked} portability checks were asked at intake (each "
        f"number once, cached). An agent sets ticket #{ticket_id} ({latest[request_id][0]}) "
        "to submitted:",
        file=out,
    )
    stage_field = config.zendesk.names.field_ids["stage"]
    requests.put(
        f"{emulator.url}/api/v2/tickets/{ticket_id}.json",
        auth=("portbot@example.test/token", DEMO_TOKEN),
        json={"ticket": {"custom_fields": [{"id": stage_field, "value": "port_stage_submitted"}]}},
        timeout=10,
    ).raise_for_status()
    intake.poll()
    made = [twilio.store.view(p) for p in twilio.store.port_ins.values()]
    if not made:
        print("  (no port-in was created)", file=out)
        return
    sid = str(made[0]["port_in_request_sid"])
    print(f"  port-in {sid} created at the partner, once", file=out)
    target = str(made[0].get("target_port_in_date") or "")
    for status, words in (
        ("port_pending", f"the partner set the date {target}"),
        ("completed", "the partner completed it"),
    ):
        extra = {"date": target} if status == "port_pending" else {}
        with twilio.store.lock:
            twilio.store.advance(sid, status, twilio.now(), **extra)
        intake.poll()
        port = intake.state.port(request_id)
        print(
            f"  {words}: the bot reads it and the port is {port.stage if port else '?'}", file=out
        )


def _print_results(
    report: CycleReport,
    latest: dict[str, tuple[str, Assessment]],
    quarantined: Sequence[object],
    out: TextIO,
    tickets: dict[str, int],
) -> None:
    for request_id, (name, assessment) in sorted(latest.items()):
        ticket = f"#{tickets[request_id]}" if request_id in tickets else "-"
        print(f"{request_id} {ticket:>4} {_line(name, assessment)}", file=out)
    for entry in quarantined:
        print(
            f"QUARANTINED {getattr(entry, 'message_id', '-')}: {getattr(entry, 'reason', '')}",
            file=out,
        )
    ready = sum(a.ready for _, a in latest.values())
    print(
        f"\n{report.count('assessed')} messages assessed into {len(latest)} requests "
        f"({ready} ready to submit to the carrier), {report.count('quarantined')} quarantined.",
        file=out,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="portbot demo", description=__doc__.split("\n")[0])
    parser.add_argument("fixtures", nargs="?", type=Path, default=DEFAULT_FIXTURES)
    parser.add_argument(
        "--once",
        action="store_true",
        help="exit after the summary instead of serving the ticket page",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEMO_PORT,
        help=f"the Zendesk emulator's port (default {DEMO_PORT})",
    )
    parser.add_argument(
        "--mode",
        choices=("create", "annotate"),
        default="create",
        help="create: the bot files the tickets; annotate: the desk's email channel "
        "ingests the mail and the bot pre-fills its tickets and replies through Zendesk",
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    return run_demo(args.fixtures, sys.stdout, once=args.once, port=args.port, mode=args.mode)


if __name__ == "__main__":
    raise SystemExit(main())
