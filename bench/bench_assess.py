"""Benchmark: CPU time of a whole assessment per request, beside bare PDF text extraction.

For every fixture thread without OCR, in the same run:
- the bot: `assess_files` on the thread (reading .eml files, parsing, documents, rules);
- the floor: extracting the text of the same PDF attachments with pypdfium2 alone.
Prints medians over repeated runs (CPU time, process_time) and their ratio.
Goal (issue 2): whole assessment <= 2x bare extraction, <= 50 ms per request.
Since attachments are read in the sandbox's workers (issue 12), `assess_files`'
CPU time is this process's only (the "attachments" stage, read here, shows their
cost); --sandbox compares the two ways in wall time.

    .venv/bin/python bench/bench_assess.py [--repeat N]
    .venv/bin/python bench/bench_assess.py --pathological [--repeat N]

--pathological times the inputs the tests bound by counted work instead of by the
clock (issue 12): regex-bait lines, very long lines, a decompression bomb, a
two-page text PDF; for each input, twice its size too, with the ratio (about 2
when the cost is linear).

--sandbox compares reading each fixture thread's messages in this process with
reading them through bot.adapters.sandbox's workers (kept across messages), in wall time
(the workers' CPU is not this process's), and what a cold `assess_files` costs.

--hostile reads each bomb of tests/bombs.py in a child process without the
sandbox (its peak RSS, under a 3 GB address-space cap for the machine's sake)
and through the sandbox (the worker's peak RSS), with the wall time of each.

    .venv/bin/python bench/bench_assess.py --sandbox [--repeat N]
    .venv/bin/python bench/bench_assess.py --hostile
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import email
import email.policy
import functools
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pypdfium2 as pdfium

from bot.cli.assess import assess_files
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


def _wall(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _pathological(repeat: int) -> None:
    """The timings the tests no longer assert on, with the old limits beside them."""
    sys.path.insert(0, str(FIXTURES.parents[1]))  # the repository: fixtures/, tests/
    from fixtures.build_ocr import degrade
    from parsers.errors import LimitExceeded
    from parsers.ocr import ocr_image
    from parsers.pdf import read_pdf
    from tests.unit.parsers.test_email import _long_lines
    from tests.unit.parsers.test_pdf import make_pdf

    bomb_png = degrade.bomb_png(30000)

    def bomb() -> None:
        with contextlib.suppress(LimitExceeded):
            ocr_image(bomb_png, Config().limits)

    lines = [
        "-" * 999 + "x",
        " " * 998 + "x",
        "> " * 400,
        "account " * 120,
        "_" * 999 + "@",
        "Ab-" * 300,
    ]
    print(f"median wall ms over {repeat} runs (old test limit), and the 2x-input ratio")
    for line in lines:
        one = _wall(lambda line=line: read_statements((line + "\n") * 40), repeat)  # type: ignore[misc]
        two = _wall(lambda line=line: read_statements((line + "\n") * 80), repeat)  # type: ignore[misc]
        print(
            f"  statements, 40 lines of {line[:12]!r}...: {1000 * one:7.1f} (1000)"
            f"  x2: {two / one:.2f}"
        )
    one = _wall(lambda: parse_message(_long_lines(5)), repeat)
    two = _wall(lambda: parse_message(_long_lines(10)), repeat)
    print(f"  email with very long lines: {1000 * one:7.1f} (1000)  x2: {two / one:.2f}")
    print(f"  decompression bomb refused: {1000 * _wall(bomb, repeat):7.1f} (2000)")
    # The bill reader on hostile layout text: long lines (capped), runs of labels, ZIP
    # lines and CSR codes; the 2x ratio shows the work grows linearly, not quadratically.
    from parsers.bill import read_bill
    from parsers.text import DocText, PageText

    hostile = [
        "A" * 5000,
        "12 MAIN ST AUSTIN TX 78701",
        "Account: Service Address: " * 40,
        "BN1 X  BA1 1 MAIN ST  PO AUSTIN TX 78701",
        "1 " * 2000,
    ]
    for text in hostile:
        page1 = DocText((PageText((text + "\n") * 200),))
        page2 = DocText((PageText((text + "\n") * 400),))
        one = _wall(lambda p=page1: read_bill(p), repeat)  # type: ignore[misc]
        two = _wall(lambda p=page2: read_bill(p), repeat)  # type: ignore[misc]
        print(f"  bill, 200 lines of {text[:14]!r}...: {1000 * one:7.1f}  x2: {two / one:.2f}")
    page = [
        (40, 760 - 12 * i, f"Line {i}  (512) 555-01{i:02d}  Business Unlimited") for i in range(50)
    ] + [(400, 760 - 12 * i, f"${i}.00") for i in range(50)]
    data = make_pdf([page, page])
    read_pdf(data, Config().limits)
    pdf = _wall(lambda: read_pdf(data, Config().limits), repeat)
    print(f"  two-page text PDF read: {1000 * pdf:7.1f} (50)")


def _sandbox(repeat: int) -> None:
    """Wall ms per request: attachments read here, or by the sandbox's reused workers."""
    from bot.adapters.sandbox import SandboxReader
    from parsers.thread import read_message

    config = Config()
    threads = sorted(
        p
        for p in FIXTURES.iterdir()
        if p.is_dir() and not p.name.startswith("ocr-") and any(p.glob("*.eml"))
    )
    raws = [[f.read_bytes() for f in sorted(t.glob("*.eml"))] for t in threads]
    with SandboxReader(config.limits) as reader:
        start = time.perf_counter()
        read_message(raws[0][0], config.limits, reader)
        first = time.perf_counter() - start
        here, there = [], []
        for thread in raws:
            here.append(
                1000
                * _wall(
                    lambda t=thread: [
                        read_message(r, config.limits)  # type: ignore[misc]
                        for r in t
                    ],
                    repeat,
                )
            )
            there.append(
                1000
                * _wall(
                    lambda t=thread: [
                        read_message(r, config.limits, reader)  # type: ignore[misc]
                        for r in t
                    ],
                    repeat,
                )
            )
        peak = max(r.peak_rss_bytes for r in reader.reports)
    print(f"threads: {len(threads)}, repeat {repeat}, wall ms per request (messages read)")
    print(f"  in-process: median {statistics.median(here):.1f}, max {max(here):.1f}")
    print(
        f"  sandboxed (workers reused): median {statistics.median(there):.1f}, "
        f"max {max(there):.1f}; ratio median "
        f"{statistics.median(b / a for a, b in zip(here, there, strict=True)):.2f}x"
    )
    print(
        f"  first read (a worker started): {1000 * first:.0f} ms; worker peak RSS "
        f"{peak / 2**20:.0f} MB"
    )
    files = sorted(threads[0].glob("*.eml"))
    cold = _wall(lambda: assess_files(files, config, dt.date(2026, 11, 27)), repeat)
    print(f"  assess_files (as `portbot assess`: a worker per call): {1000 * cold:.0f} ms")


_HOSTILE_CHILD = """
import resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
from tests import bombs
from parsers.documents import read_attachment
from parsers.limits import Limits
from parsers.model import Attachment
name, ctype, build = sys.argv[1], sys.argv[2], sys.argv[3]
data = eval(build, {"bombs": bombs})
start = time.perf_counter()
try:
    doc = read_attachment(Attachment(name, ctype, data), Limits())
    what = doc.error or "read"
except BaseException as exc:
    what = "the bot itself failed: " + type(exc).__name__
took = time.perf_counter() - start
hwm = [int(x.split()[1]) for x in open("/proc/self/status") if x.startswith("VmHWM:")][0]
print(hwm // 1024, round(took, 2), what)
"""

_HOSTILE = [
    ("bill.pdf", "application/pdf", "bombs.pdf_image_xobject_bomb()"),
    ("scan.png", "image/png", "bombs.png_decompression_bomb()"),
    ("photo.jpg", "image/jpeg", "bombs.jpeg_pixel_bomb()"),
    ("fax.tiff", "image/tiff", "bombs.tiff_pixel_bomb()"),
    (
        "numbers.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "bombs.xlsx_zip_bomb()",
    ),
    (
        "numbers.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "bombs.xlsx_zip_bomb(lying=True)",
    ),
    (
        "numbers.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "bombs.xlsx_entity_bomb()",
    ),
]


def _hostile() -> None:
    """Peak memory and wall time per bomb: in a bare process, and in the sandbox."""
    import subprocess

    from bot.adapters.sandbox import SandboxReader
    from parsers.model import Attachment
    from tests import bombs

    root = str(FIXTURES.parents[1])
    print("bomb: in-process peak MB / s | sandboxed worker peak MB / s | outcome")
    for name, ctype, build in _HOSTILE:
        child = subprocess.run(
            [sys.executable, "-c", _HOSTILE_CHILD, name, ctype, build],
            capture_output=True,
            text=True,
            cwd=root,
            check=False,
        )
        mb, seconds, _ = (
            [*child.stdout.split(maxsplit=2), "?", "?", "?"][:3]
            if child.returncode == 0
            else ("died", "-", "")
        )
        data = eval(build, {"bombs": bombs})
        with SandboxReader(Config().limits) as reader:
            start = time.perf_counter()
            doc = reader(Attachment(name, ctype, data), Config().limits)
            took = time.perf_counter() - start
            assert reader.last is not None
            peak = reader.last.peak_rss_bytes / 2**20
        print(f"  {build}: {mb} / {seconds} | {peak:.0f} / {took:.2f} | {doc.error}")
    for depth in (40, 3000):
        child = subprocess.run(
            [
                sys.executable,
                "-c",
                (
                    "import resource, time\nfrom tests import bombs\nfrom parsers.limits import Limits\n"
                    "from parsers.thread import read_message\nstart = time.perf_counter()\n"
                    f"try:\n    read_message(bombs.deep_mime_message({depth}), Limits()); what = 'read'\n"
                    "except Exception as exc:\n    what = str(exc)[:60]\n"
                    "print([int(x.split()[1]) for x in open('/proc/self/status') "
                    "if x.startswith('VmHWM:')][0] // 1024, "
                    "round(time.perf_counter() - start, 2), what)"
                ),
            ],
            capture_output=True,
            text=True,
            cwd=root,
            check=False,
        )
        print(f"  deep MIME, {depth} levels (read by the bot itself): {child.stdout.strip()}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument(
        "--pathological",
        action="store_true",
        help="time the inputs the tests bound by work (issue 12)",
    )
    parser.add_argument(
        "--sandbox",
        action="store_true",
        help="reading in this process against reading in the sandbox",
    )
    parser.add_argument(
        "--hostile",
        action="store_true",
        help="peak memory and time per bomb, without and with the sandbox",
    )
    args = parser.parse_args()
    if args.pathological:
        _pathological(args.repeat)
        return
    if args.sandbox:
        _sandbox(args.repeat)
        return
    if args.hostile:
        sys.path.insert(0, str(FIXTURES.parents[1]))
        _hostile()
        return
    config = Config()
    today = dt.date(2026, 11, 27)
    threads = sorted(
        p
        for p in FIXTURES.iterdir()
        if p.is_dir() and not p.name.startswith("ocr-") and any(p.glob("*.eml"))
    )
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
    print(
        f"assessment, CPU ms per request: median {statistics.median(bot_ms):.1f}, "
        f"max {max(bot_ms):.1f}"
    )
    if with_pdf:
        bare_median = statistics.median(e for _, e in with_pdf)
        ratio = statistics.median(b / e for b, e in with_pdf)
        print(f"bare pypdfium2 text extraction, CPU ms per request: median {bare_median:.1f}")
        print(f"ratio assessment / bare extraction: median {ratio:.2f}x")
    print(
        "where the time goes, CPU ms per request (median): "
        + ", ".join(f"{name} {statistics.median(ms):.1f}" for name, ms in stages.items())
    )


if __name__ == "__main__":
    main()
