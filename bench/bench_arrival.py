"""Arrival -> ticket: how long a porting request waits between landing in the mailbox
and its Zendesk ticket, under `portbot run` as deployed (its own process, the default
[schedule]: IMAP IDLE where the server announces it, a poll every 60 s as fallback).

    .venv/bin/python bench/bench_arrival.py [--requests N] [--no-idle --poll-seconds S]

The local dovecot (bot/standins/localmail.py) and the Zendesk emulator (in this
process) stand in for the mailbox and the desk. Each request is the first message of
one fixture thread, APPENDed to the watched folder once the previous one has its
ticket; the time runs from the APPEND's answer to the ticket's appearance in the
emulator's store (looked at every 5 ms). Reports p50, p95 and the maximum; the goal
of issue 16 is p95 <= 5 s with the defaults. Nothing here is asserted by a test.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.standins.localmail import LocalMail, local_dovecot  # noqa: E402
from bot.standins.zendesk_emulator.server import Emulator, serve  # noqa: E402

FIXTURES = ROOT / "fixtures" / "emails"
TOKEN = "emulator-token"


def _config(mail: LocalMail, em: Emulator, folder: Path, args: argparse.Namespace) -> Path:
    schedule = (
        f"[schedule]\nidle = false\npoll_seconds = {args.poll_seconds}\n"
        if args.no_idle
        else ""  # the defaults, as a new user has them
    )
    path = folder / "portbot.toml"
    path.write_text(
        f"""[imap]
host = "{mail.host}"
port = {mail.tls_port}
ca_file = "{mail.ca_file}"
username = "{mail.user}"
password_file = "{mail.password_file}"
folders = ["INBOX"]

[state]
path = "state.sqlite3"

[metrics]
enabled = false

{schedule}
[zendesk]
subdomain = "bench"
email = "agent@ourco.example"
url = "{em.url}"
"""
    )
    return path


def _tickets(em: Emulator) -> int:
    with em.store.lock:
        return len(em.store.live_tickets())


def _wait_line(lines: list[str], text: str, changed: threading.Condition, seconds: float) -> None:
    with changed:
        if not changed.wait_for(lambda: any(text in line for line in lines), seconds):
            raise SystemExit(f"bench_arrival: no {text!r} from portbot run:\n{''.join(lines)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--no-idle", action="store_true", help="poll only (idle = false)")
    parser.add_argument("--poll-seconds", type=float, default=2.0, help="with --no-idle")
    args = parser.parse_args()
    threads = sorted(p for p in FIXTURES.iterdir() if p.is_dir() and any(p.glob("*.eml")))
    firsts = [sorted(t.glob("*.eml"))[0].read_bytes() for t in threads][: args.requests]
    work = Path(tempfile.mkdtemp(prefix="bench-arrival-"))
    em = serve(token=TOKEN)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PORTBOT_")},
        "PORTBOT_ZENDESK_TOKEN": TOKEN,
        "ZENPY_FORCE_SCHEME": "http",
        "ZENPY_FORCE_NETLOC": em.netloc,
        "PYTHONPATH": str(ROOT),
    }
    portbot = [sys.executable, "-m", "bot.cli"]
    with local_dovecot() as mail:
        config = _config(mail, em, work, args)
        subprocess.run(
            [*portbot, "zendesk", "setup", "--write", "--config", str(config)],
            env=env,
            check=True,
            capture_output=True,
        )
        bot = subprocess.Popen(
            [*portbot, "run", "--config", str(config)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines: list[str] = []
        changed = threading.Condition()

        def read() -> None:
            assert bot.stderr is not None
            for line in bot.stderr:
                with changed:
                    lines.append(line)
                    changed.notify_all()

        threading.Thread(target=read, daemon=True).start()
        took: list[float] = []
        missing = 0
        try:
            # ready: the first poll done and, by default, the IDLE connection open
            _wait_line(lines, "running: poll every", changed, 120)
            if not args.no_idle:
                _wait_line(lines, "IMAP IDLE on", changed, 120)
            for raw in firsts:
                before = _tickets(em)
                mail.append("INBOX", [raw])
                start = time.perf_counter()
                while _tickets(em) == before:
                    if time.perf_counter() - start > 180:
                        missing += 1
                        break
                    time.sleep(0.005)
                else:
                    took.append(time.perf_counter() - start)
        finally:
            bot.send_signal(signal.SIGTERM)
            bot.wait(60)
    em.stop()
    if not took:
        print("no ticket was made", file=sys.stderr)
        return 1
    took.sort()
    p95 = took[min(len(took) - 1, max(0, round(0.95 * len(took)) - 1))]
    mode = (
        f"poll every {args.poll_seconds:g} s, no IDLE"
        if args.no_idle
        else "defaults (IDLE, poll every 60 s)"
    )
    print(f"arrival -> ticket, portbot run with {mode}, {len(took)} requests on dovecot:")
    print(
        f"  p50 {statistics.median(took):.2f} s   p95 {p95:.2f} s   max {took[-1]:.2f} s"
        f"   min {took[0]:.2f} s" + (f"   ({missing} without a ticket in 180 s)" if missing else "")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
