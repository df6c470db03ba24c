"""Test-only entry point: `portbot run` with a slow, observable assessment.

    python -m tests.integration.slow_run CONFIG.toml PROGRESS_FILE SECONDS_PER_MESSAGE

Like tests.integration.slow_poll, but under the production Runner and its signal
handling: the assessment writes "start KEY" to PROGRESS_FILE and says
"slow_run: message started" on stderr, then sleeps, so a test can send SIGTERM in
the middle of a known message; the sink writes "delivered KEY".
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bot.app import build_intake
from bot.config import load_config
from bot.pipeline.intake import Delivery, message_key, thread_keys
from bot.pipeline.scheduler import Runner
from tests.integration.mailbox_support import FakeAssessment


def main(argv: Sequence[str]) -> int:
    config_path, progress_path, seconds = Path(argv[0]), Path(argv[1]), float(argv[2])

    def note(line: str) -> None:
        with progress_path.open("a") as progress:
            progress.write(line + "\n")

    def slow_assess(raws: Sequence[bytes]) -> FakeAssessment:
        raw = raws[-1]
        header = raw.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
        note(f"start {message_key(thread_keys(header), header)}")
        print("slow_run: message started", file=sys.stderr, flush=True)
        time.sleep(seconds)
        return FakeAssessment(len(raws))

    def sink(delivery: Delivery) -> None:
        note(f"delivered {delivery.key}")

    config = load_config(config_path)
    with build_intake(config, assess=slow_assess, sinks=[sink]) as intake:
        Runner(intake, config.schedule).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
