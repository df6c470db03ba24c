"""The embedded demo: the real bot reading a real mailbox loaded with the fixture threads.

A local dovecot is started in a temporary directory (loopback, self-signed
certificate, see bot.localmail), every message of fixtures/emails/ is APPENDed to
its INBOX, and the bot polls it exactly as `portbot poll` would: IMAP over TLS,
the SQLite state store, threads joined by Message-ID/References, quarantine. Then
it polls again to show that nothing is read twice. Until the ticket desk is wired
in, the results shown are the assessments.

Each fixture thread was written for a day of its own (expected.json "today"); the
demo assesses each request on its thread's day so the bill-age rule reads as meant.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TextIO

from bot.config import Config, ImapConfig, QuarantineConfig, StateConfig
from bot.intake import CycleReport, Delivery, build_intake, message_key, thread_keys
from bot.localmail import LocalMail, LocalMailError, dovecot_binary, local_dovecot
from rules.assessment import Assessment
from rules.contract import to_json

DEFAULT_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "emails"


def _header(raw: bytes) -> bytes:
    for end in (b"\r\n\r\n", b"\n\n"):
        if end in raw:
            return raw.split(end, 1)[0] + end
    return raw


def _key(raw: bytes) -> str:
    header = _header(raw)
    return message_key(thread_keys(header), header)


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


def demo_config(server: LocalMail, state: Path) -> Config:
    return Config(
        imap=ImapConfig(host=server.host, port=server.tls_port, ca_file=str(server.ca_file),
                        username=server.user, password_file=str(server.password_file)),
        state=StateConfig(path=str(state)),
        quarantine=QuarantineConfig(folder="Quarantine"),
    )  # fmt: skip


def _line(name: str, assessment: Assessment) -> str:
    missing = [k for k, v in assessment.checklist.items() if v == "missing"]
    codes = sorted({p.code for p in assessment.problems})
    verdict = "READY  " if assessment.ready else "PENDING"
    detail = "; ".join(part for part in (
        f"missing: {', '.join(missing)}" if missing else "",
        f"problems: {', '.join(codes)}" if codes else "",
    ) if part)  # fmt: skip
    return f"{verdict} {name:<46} {detail}"


def run_demo(fixtures: Path, out: TextIO) -> int:
    threads = load_threads(fixtures)
    if not threads:
        print(f"no threads in {fixtures}", file=out)
        return 1
    if dovecot_binary() is None:
        print("The demo needs dovecot (Debian: apt-get install dovecot-imapd; scripts/setup "
              "installs it).", file=out)  # fmt: skip
        return 1
    # which fixture thread (and so which day) each message belongs to
    thread_of = {_key(raw): (name, today) for name, raws, today in threads for raw in raws}
    latest: dict[str, tuple[str, Assessment]] = {}

    with tempfile.TemporaryDirectory(prefix="portbot-demo-") as work, ExitStack() as stack:
        try:
            server = stack.enter_context(local_dovecot())
        except LocalMailError as exc:
            print(f"could not start the local dovecot: {exc}", file=out)
            return 1
        count = server.append("INBOX", (raw for _, raws, _ in threads for raw in raws))
        print(f"Local IMAP server on {server.host}:{server.tls_port} (TLS), "
              f"{count} messages from {len(threads)} fixture threads in INBOX.\n"
              "The bot polls it:\n", file=out)  # fmt: skip
        config = demo_config(server, Path(work) / "state.sqlite3")

        def assess_on_thread_day(raws: Sequence[bytes]) -> Assessment:
            from bot.app import assess_messages

            _, today = thread_of.get(_key(raws[0]), ("?", dt.date.today()))
            return assess_messages(raws, config, today)

        def show(delivery: Delivery) -> None:
            name, _ = thread_of.get(_key(delivery.raws[0]), (delivery.request_id, None))
            latest[delivery.request_id] = (name, delivery.assessment)

        with build_intake(config, assess=assess_on_thread_day, sinks=[show]) as intake:
            first = intake.poll()
            _print_results(first, latest, intake.state.quarantined(), out)
            again = intake.poll()
            print(f"\nPolling again: {len(again.handled)} messages read "
                  "(each message is read once).", file=out)  # fmt: skip
    if latest:
        request_id, (name, assessment) = next(iter(sorted(latest.items())))
        print(f"\nThe assessment of {request_id} ({name}), PINs masked:", file=out)
        json.dump(to_json(assessment), out, ensure_ascii=False, indent=2)
        print(file=out)
    return 0


def _print_results(report: CycleReport, latest: dict[str, tuple[str, Assessment]],
                   quarantined: Sequence[object], out: TextIO) -> None:  # fmt: skip
    for request_id, (name, assessment) in sorted(latest.items()):
        print(f"{request_id} {_line(name, assessment)}", file=out)
    for entry in quarantined:
        print(f"QUARANTINED {getattr(entry, 'message_id', '-')}: {getattr(entry, 'reason', '')}",
              file=out)  # fmt: skip
    ready = sum(a.ready for _, a in latest.values())
    print(f"\n{report.count('assessed')} messages assessed into {len(latest)} requests "
          f"({ready} ready to submit to the carrier), {report.count('quarantined')} quarantined.",
          file=out)  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    fixtures = Path(args[0]) if args else DEFAULT_FIXTURES
    return run_demo(fixtures, sys.stdout)


if __name__ == "__main__":
    raise SystemExit(main())
