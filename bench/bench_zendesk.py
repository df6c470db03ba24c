"""Benchmark: the ticket sink on the fixture set, through real zenpy against the emulator.

Every fixture thread (without OCR unless --ocr) is handed to the ticket sink one
message at a time, as the intake hands them on: the first message opens the
ticket, each follow-up updates it. The assessments are made beforehand and not
timed. Reported: API calls per new request and per follow-up, each checked against
its budget of one call (the create or the update) plus one per attachment uploaded
(exit 1 when one goes over); attachments received and uploaded (only what an agent
needs: bill, LOA, number list); seconds per ticket operation (uploads included).

    .venv/bin/python bench/bench_zendesk.py [--ocr] [--repeat 1]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

from bot.adapters.sqlite_state import SqliteStateStore
from bot.adapters.zendesk import CallCounter
from bot.app import desk_from_config
from bot.config import Config, ZendeskConfig
from bot.pipeline.intake import Delivery, key_of
from bot.pipeline.reading import assess_messages
from bot.pipeline.ticket_sink import TicketSink
from bot.standins.zendesk_emulator import serve
from parsers.email import parse_message

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "emails"
TOKEN = "emulator-token"


def _threads(ocr: bool) -> list[tuple[str, list[bytes], dt.date]]:
    out = []
    for thread in sorted(p for p in FIXTURES.iterdir() if p.is_dir()):
        if thread.name.startswith("ocr-") and not ocr:
            continue
        raws = [p.read_bytes() for p in sorted(thread.glob("*.eml"))]
        expected = thread / "expected.json"
        today = (
            dt.date.fromisoformat(json.loads(expected.read_text())["today"])
            if expected.is_file()
            else dt.date.today()
        )
        if raws:
            out.append((thread.name, raws, today))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ocr", action="store_true", help="include the OCR fixture threads")
    parser.add_argument("--repeat", type=int, default=1, help="file the whole set N times")
    args = parser.parse_args()

    config = Config()
    threads = _threads(args.ocr)
    started = time.perf_counter()
    plans = []  # (name, deliveries, attachments per message)
    for name, raws, today in threads:
        deliveries = []
        for n in range(1, len(raws) + 1):
            try:
                assessment = assess_messages(raws[:n], config, today)
            except Exception as exc:  # a fixture the intake would quarantine
                print(f"skipped {name} message {n}: {type(exc).__name__}")
                break
            deliveries.append(
                Delivery(
                    name,
                    key_of(raws[n - 1]),
                    tuple(raws[:n]),
                    assessment,
                    messages=tuple(parse_message(r) for r in raws[:n]),
                )
            )
        if deliveries:
            attachments = [len(parse_message(d.raws[-1]).attachments) for d in deliveries]
            plans.append((name, deliveries, attachments))
    print(
        f"{len(plans)} threads, {sum(len(p[1]) for p in plans)} messages assessed in "
        f"{time.perf_counter() - started:.1f} s (not part of the figures below)"
    )

    emulator = serve(token=TOKEN, rate_limit_per_minute=1_000_000)
    os.environ["PORTBOT_ZENDESK_TOKEN"] = TOKEN
    zendesk = ZendeskConfig(subdomain="bench", email="agent@ourco.example", url=emulator.url)
    ids = desk_from_config(zendesk).setup_fields(zendesk.names)
    zendesk = replace(zendesk, names=replace(zendesk.names, field_ids=ids))
    counter = CallCounter()
    desk = desk_from_config(zendesk, counter=counter)

    seconds: list[float] = []
    per_new: list[int] = []
    per_follow_up: list[int] = []
    received = uploaded = 0
    over: list[str] = []
    kinds: Counter[str] = Counter()
    try:
        for round_ in range(args.repeat):
            with tempfile.TemporaryDirectory() as work:
                state = SqliteStateStore(Path(work) / "state.sqlite3")
                sink = TicketSink(desk, state, zendesk.names)
                for name, deliveries, attachments in plans:
                    for n, delivery in enumerate(deliveries):
                        request = replace(delivery, request_id=f"{name}#{round_}")
                        before, uploads = counter.total, counter.calls["upload"]
                        start = time.perf_counter()
                        sink(request)
                        seconds.append(time.perf_counter() - start)
                        calls = counter.total - before
                        sent = counter.calls["upload"] - uploads
                        received += attachments[n]
                        uploaded += sent
                        (per_follow_up if n else per_new).append(calls)
                        if calls > 1 + sent:
                            over.append(f"{name} message {n + 1}: {calls} calls, budget {1 + sent}")
                state.close()
        kinds.update(counter.calls)
    finally:
        emulator.stop()

    print(
        f"{len(per_new)} requests, {len(seconds)} ticket operations, {counter.total} API calls "
        f"({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}); "
        f"{counter.attempts} HTTP attempts"
    )
    print(f"attachments: {received} received, {uploaded} uploaded (bill, LOA, number list)")
    for label, figures in (("new request", per_new), ("follow-up", per_follow_up)):
        if figures:
            print(
                f"API calls per {label}: mean {statistics.mean(figures):.2f}, "
                f"max {max(figures)} ({len(figures)})"
            )
    print(f"over budget (1 + attachments uploaded): {len(over)}")
    for line in over:
        print(f"  OVER {line}")
    ordered = sorted(seconds)
    print(
        f"seconds per ticket operation: median {statistics.median(ordered):.4f}, "
        f"p90 {ordered[int(0.9 * (len(ordered) - 1))]:.4f}, max {ordered[-1]:.4f}"
    )
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
