"""Test-only entry point: `portbot poll` built with a slow, observable pipeline.

    python -m tests.integration.slow_poll CONFIG.toml PROGRESS_FILE SECONDS [HOLD_AT]

The assessment writes "start KEY" to PROGRESS_FILE, then sleeps SECONDS (only in
the HOLD_AT-th assessment, when given), so a test can SIGKILL the process in the
middle of a known message; the sink writes "delivered KEY". Everything else is the
production composition root.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bot.app import build_intake
from bot.config import load_config
from bot.pipeline.intake import Delivery, message_key, thread_keys
from tests.integration.mailbox_support import FakeAssessment


def main(argv: Sequence[str]) -> int:
    config_path, progress_path, seconds = Path(argv[0]), Path(argv[1]), float(argv[2])
    hold_at = int(argv[3]) if len(argv) > 3 else None
    assessed = 0

    def note(line: str) -> None:
        with progress_path.open("a") as progress:
            progress.write(line + "\n")
            progress.flush()

    def slow_assess(raws: Sequence[bytes]) -> FakeAssessment:
        nonlocal assessed
        assessed += 1
        raw = raws[-1]
        header = raw.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
        note(f"start {message_key(thread_keys(header), header)}")
        if hold_at is None or assessed == hold_at:
            time.sleep(seconds)
        return FakeAssessment(len(raws))

    def sink(delivery: Delivery) -> None:
        note(f"delivered {delivery.key}")

    with build_intake(load_config(config_path), assess=slow_assess, sinks=[sink]) as intake:
        report = intake.poll()
    print(f"{len(report.handled)} handled")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
