"""The judgement on requests the rules were not written against.

Threads come from the independent corpus generator (`fixtures/build/corpus`) with a
seed of their own, so they are not the threads `bench/accuracy.py` is scored on; each is
assessed exactly as `portbot assess` does and compared with the generator's truth by
the scorer's own comparison. The floors are below the measured figures (README), so a
change that makes the bot judge worse fails here; a request called ready that is not
fails always.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bot.cli.assess import assess_files
from bot.config import Config
from rules.contract import to_json

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from accuracy import compare  # noqa: E402

from fixtures.build.corpus import build  # noqa: E402

SEED = 7  # not the scorer's seed
THREADS = 60


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    out = []
    for i in range(THREADS):
        t = build(i, SEED, False)
        folder = tmp_path_factory.mktemp(f"t{i:03d}")
        paths = []
        for k, raw in enumerate(t.emls, start=1):
            path = folder / f"{k:02d}.eml"
            path.write_bytes(raw)
            paths.append(path)
        got = to_json(assess_files(paths, Config(), today=t.today), show_secrets=True)
        out.append(compare({"expected": t.expected, "got": got}) | {"slug": t.slug})
    return out


def test_no_request_is_called_ready_that_is_not(scored: list[dict[str, Any]]) -> None:
    assert [c["slug"] for c in scored if c["false_ready"]] == []


def test_the_checklist_is_right_on_unseen_requests(scored: list[dict[str, Any]]) -> None:
    exact = sum(c["exact"] for c in scored) / len(scored)
    assert exact >= 0.85, [c["slug"] for c in scored if not c["exact"]]


def test_the_problems_raised_are_real_and_complete(scored: list[dict[str, Any]]) -> None:
    expected: Counter[tuple[str, str | None]] = Counter()
    raised: Counter[tuple[str, str | None]] = Counter()
    matched = 0
    for c in scored:
        expected += c["pe"]
        raised += c["pg"]
        matched += sum((c["pe"] & c["pg"]).values())
    assert matched / max(1, sum(raised.values())) >= 0.85  # precision
    assert matched / max(1, sum(expected.values())) >= 0.9  # recall
