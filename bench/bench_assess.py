"""Benchmark: CPU time of a whole assessment per request, beside bare PDF text extraction.

For every fixture thread without OCR, in the same run:
- the bot: `assess_files` on the thread (reading .eml files, parsing, documents, rules);
- the floor: extracting the text of the same PDF attachments with pypdfium2 alone.
Prints medians over repeated runs (CPU time, process_time) and their ratio.
Goal (issue 2): whole assessment <= 2x bare extraction, <= 50 ms per request.

    .venv/bin/python bench/bench_assess.py [--repeat N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import email
import email.policy
import functools
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import pypdfium2 as pdfium

from bot.app import assess_files
from bot.config import Config
from parsers.body import read_statements
from parsers.documents import read_attachment
from parsers.email import parse_message
from parsers.model import ParsedMessage
from parsers.phone import parse_phone
from rules.assessment import assess
from rules.request import build_request

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "emails"


def _pdfs(thread: Path) -> list[bytes]:
    out = []
    for eml in sorted(thread.glob("*.eml")):
        msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
        for part in msg.walk():
            if part.get_content_type() == "application/pdf" or (
                (part.get_filename() or "").lower().endswith(".pdf")
            ):
                payload = part.get_payload(decode=True)
                if isinstance(payload, bytes):
                    out.append(payload)
    return out


def _bare_extract(pdfs: list[bytes]) -> None:
    for data in pdfs:
        try:
            doc = pdfium.PdfDocument(data)
        except pdfium.PdfiumError:
            continue
        for page in doc:
            page.get_textpage().get_text_range()
        doc.close()


def _cpu(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        parse_phone.cache_clear()  # each run as a first sight of its numbers
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return statistics.median(times)


def _stages(files: list[Path], config: Config, today: dt.date) -> dict[str, float]:
    """CPU seconds of each stage of one assessment: where the time goes."""
    out = dict.fromkeys(("email", "statements", "attachments", "rules"), 0.0)
    parse_phone.cache_clear()
    messages = []
    for path in files:
        raw = path.read_bytes()
        t0 = time.process_time()
        message = parse_message(raw, config.limits)
        t1 = time.process_time()
        statements = read_statements(message.body)
        t2 = time.process_time()
        docs = tuple(read_attachment(a, config.limits) for a in message.attachments)
        t3 = time.process_time()
        out["email"] += t1 - t0
        out["statements"] += t2 - t1
        out["attachments"] += t3 - t2
        messages.append(ParsedMessage(message, statements, docs))
    t0 = time.process_time()
    assess(build_request(messages), config.policy, today)
    out["rules"] += time.process_time() - t0
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    config = Config()
    today = dt.date(2026, 11, 27)
    threads = sorted(
        p for p in FIXTURES.iterdir()
        if p.is_dir() and not p.name.startswith("ocr-") and any(p.glob("*.eml"))
    )  # fmt: skip
    bot_ms, bare_ms = [], []
    stages: dict[str, list[float]] = {}
    for thread in threads:
        files = sorted(thread.glob("*.eml"))
        pdfs = _pdfs(thread)
        assess_files(files, config, today)  # warm imports and caches once
        run = functools.partial(assess_files, files, config, today)
        bot_ms.append(1000 * _cpu(run, args.repeat))
        bare_ms.append(1000 * _cpu(functools.partial(_bare_extract, pdfs), args.repeat))
        for name, seconds in _stages(files, config, today).items():
            stages.setdefault(name, []).append(1000 * seconds)
    with_pdf = [(b, e) for b, e in zip(bot_ms, bare_ms, strict=True) if e > 0]
    print(f"threads: {len(threads)} ({len(with_pdf)} with PDFs), repeat {args.repeat}")
    print(f"assessment, CPU ms per request: median {statistics.median(bot_ms):.1f}, "
          f"max {max(bot_ms):.1f}")  # fmt: skip
    if with_pdf:
        bare_median = statistics.median(e for _, e in with_pdf)
        ratio = statistics.median(b / e for b, e in with_pdf)
        print(f"bare pypdfium2 text extraction, CPU ms per request: median {bare_median:.1f}")
        print(f"ratio assessment / bare extraction: median {ratio:.2f}x")
    print("where the time goes, CPU ms per request (median): " + ", ".join(
        f"{name} {statistics.median(ms):.1f}" for name, ms in stages.items()
    ))  # fmt: skip


if __name__ == "__main__":
    main()
