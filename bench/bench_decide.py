"""The one decision per message (rules.decide): what it costs beside the assessment.

Every fixture thread, as the intake hands it on (each message parsed once), is made a
`Thread` (`bot.pipeline.planning.thread_of`: keys and MIME part types) and decided
(`rules.decide.decide_message`) against a request the state store has not seen; the
state store's reads are not part of it. Reports the median and p90 per message beside
the median assessment of the same threads.

    .venv/bin/python bench/bench_decide.py [--repeat 5]

Nothing here is asserted by a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import Config
from bot.pipeline.intake import Delivery, key_of
from bot.pipeline.planning import thread_of
from bot.pipeline.reading import assess_messages
from parsers.email import parse_message
from rules.decide import (
    Known,
    Policy,
    PortKnown,
    ReplyKnown,
    TicketKnown,
    decide_message,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "emails"
NEW = Known(TicketKnown(None, frozenset(), False), PortKnown(None), ReplyKnown(None, None, 0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    deliveries: list[Delivery] = []
    assessing: list[float] = []
    for folder in sorted(p for p in FIXTURES.iterdir() if (p / "01.eml").exists()):
        raws = tuple(p.read_bytes() for p in sorted(folder.glob("*.eml")))
        expected = json.loads((folder / "expected.json").read_text())
        started = time.perf_counter()
        assessment = assess_messages(raws, Config(), dt.date.fromisoformat(expected["today"]))
        assessing.append(time.perf_counter() - started)
        messages = tuple(parse_message(raw) for raw in raws)
        deliveries.append(
            Delivery("PR-000001", key_of(raws[-1]), raws, assessment, messages=messages)
        )
    deciding: list[float] = []
    for _ in range(args.repeat):
        for delivery in deliveries:
            started = time.perf_counter()
            decide_message(thread_of(delivery), NEW, Policy(), now=0.0)
            deciding.append(time.perf_counter() - started)
    deciding.sort()
    median, p90 = statistics.median(deciding), deciding[int(len(deciding) * 0.9)]
    assess_median = statistics.median(assessing)
    print(
        f"{len(deliveries)} threads x {args.repeat}: decision per message median "
        f"{median * 1000:.2f} ms, p90 {p90 * 1000:.2f} ms"
    )
    print(
        f"assessment per thread median {assess_median * 1000:.1f} ms "
        f"(the decision is {median / assess_median:.1%} of it)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
