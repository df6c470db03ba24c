"""The embedded demo: every fixture thread assessed, as a support lead would skim them.

Until the mailbox and Zendesk exist, the demo reads the threads in
fixtures/emails/ from disk, assesses each one and prints what an agent would
see first: ready or not, and what is missing or wrong.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import TextIO

from bot.app import assess_files
from bot.config import Config
from rules.contract import to_json

DEFAULT_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "emails"


def _today_of(thread: Path) -> dt.date:
    expected = thread / "expected.json"
    if expected.is_file():
        return dt.date.fromisoformat(json.loads(expected.read_text())["today"])
    return dt.date.today()


def run_demo(fixtures: Path, config: Config, out: TextIO) -> int:
    threads = sorted(p for p in fixtures.iterdir() if p.is_dir() and any(p.glob("*.eml")))
    if not threads:
        print(f"no threads in {fixtures}", file=out)
        return 1
    ready = 0
    for thread in threads:
        assessment = assess_files(sorted(thread.glob("*.eml")), config, _today_of(thread))
        ready += assessment.ready
        missing = [k for k, v in assessment.checklist.items() if v == "missing"]
        codes = sorted({p.code for p in assessment.problems})
        verdict = "READY  " if assessment.ready else "PENDING"
        detail = "; ".join(
            part for part in (
                f"missing: {', '.join(missing)}" if missing else "",
                f"problems: {', '.join(codes)}" if codes else "",
            ) if part
        )  # fmt: skip
        print(f"{verdict} {thread.name:<44} {detail}", file=out)
    print(f"\n{len(threads)} threads, {ready} ready to submit to the carrier.", file=out)
    example = threads[0]
    print(f"\nThe assessment of {example.name} (PINs masked):", file=out)
    assessment = assess_files(sorted(example.glob("*.eml")), config, _today_of(example))
    json.dump(to_json(assessment), out, ensure_ascii=False, indent=2)
    print(file=out)
    return 0


def main() -> int:
    fixtures = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_FIXTURES
    return run_demo(fixtures, Config(), sys.stdout)


if __name__ == "__main__":
    raise SystemExit(main())
