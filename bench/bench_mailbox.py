"""Benchmark: the mailbox intake against a local dovecot, end to end.

1. A box of N messages (default 2,000: copies of the fixture threads without OCR,
   each copy with its own Message-IDs so threads stay threads) read from an empty
   state with the real pipeline: messages per second, and the process's peak RSS.
2. A restart (a new intake on the same state file) with 10 new messages, timed
   several times; the same on a small box (default 100). The restart must cost the
   same whatever the size of the box: the ratio big/small of the medians is ~1.

    .venv/bin/python bench/bench_mailbox.py [--messages 2000] [--small 100] [--repeat 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import resource
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from bot.app import build_intake
from bot.config import Config, ImapConfig, QuarantineConfig, StateConfig
from bot.ports import FixedClock
from bot.standins.localmail import LocalMail, local_dovecot

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "emails"
_ID_HEADER = re.compile(
    rb"^(message-id|in-reply-to|references):[^\r\n]*(\r?\n[ \t][^\r\n]*)*",
    re.IGNORECASE | re.MULTILINE,
)


def _threads() -> list[list[bytes]]:
    threads = []
    for thread in sorted(p for p in FIXTURES.iterdir() if p.is_dir()):
        if not thread.name.startswith("ocr-"):
            threads.append([p.read_bytes() for p in sorted(thread.glob("*.eml"))])
    return [t for t in threads if t]


def _copy(raw: bytes, n: int) -> bytes:
    """The message with every id in its threading headers made unique to copy n."""
    head, sep, body = raw.partition(b"\r\n\r\n") if b"\r\n\r\n" in raw else raw.partition(b"\n\n")
    head = _ID_HEADER.sub(lambda m: m.group(0).replace(b"<", b"<c%d." % n), head)
    return head + sep + body


def messages(count: int, start: int = 0) -> Iterator[bytes]:
    threads = _threads()
    made, n = 0, start
    while made < count:
        for raw in threads[n % len(threads)]:
            if made == count:
                return
            yield _copy(raw, n)
            made += 1
        n += 1


def _config(server: LocalMail, folder: str, state: Path) -> Config:
    return Config(
        imap=ImapConfig(
            host=server.host,
            port=server.tls_port,
            ca_file=str(server.ca_file),
            username=server.user,
            password_file=str(server.password_file),
            folders=(folder,),
            start="all",
        ),
        state=StateConfig(path=str(state)),
        quarantine=QuarantineConfig(folder=folder + "-quarantine"),
    )


def _today() -> dt.date:
    return dt.date(2026, 11, 20)


def _clock() -> FixedClock:
    return FixedClock(dt.datetime.combine(_today(), dt.time(12)))


def _fill_and_read(server: LocalMail, folder: str, state: Path, count: int) -> tuple[float, int]:
    server.append(folder, messages(count))
    config = _config(server, folder, state)
    started = time.perf_counter()
    with build_intake(config, clock=_clock()) as intake:
        report = intake.poll()
    elapsed = time.perf_counter() - started
    done = len(report.handled)
    assert done == count, f"{done} of {count} handled"
    return elapsed, report.count("quarantined")


def _no_assessment(raws: Sequence[bytes]) -> object:
    return None


def _restarts(
    server: LocalMail, folder: str, state: Path, repeat: int, bare: bool = False
) -> list[float]:
    """Restart times; `bare`: without the assessment, the intake's own cost only."""
    times = []
    for i in range(repeat):
        # the same 10 new messages whatever the box, so only the box size differs
        server.append(folder, messages(10, start=(200_000 if bare else 100_000) + 1000 * i))
        started = time.perf_counter()
        assess = _no_assessment if bare else None
        with build_intake(_config(server, folder, state), clock=_clock(), assess=assess) as intake:  # type: ignore[arg-type]
            report = intake.poll()
        times.append(time.perf_counter() - started)
        assert len(report.handled) == 10, len(report.handled)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work, local_dovecot() as server:
        root = Path(work)
        big_time, quarantined = _fill_and_read(server, "Big", root / "big.db", args.messages)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"{args.messages} messages from empty state: {big_time:.1f} s, "
            f"{args.messages / big_time:.1f} messages/s, peak RSS {peak_mb:.0f} MB"
            f" ({quarantined} quarantined)"
        )
        big = _restarts(server, "Big", root / "big.db", args.repeat)
        _fill_and_read(server, "Small", root / "small.db", args.small)
        small = _restarts(server, "Small", root / "small.db", args.repeat)
        big_bare = _restarts(server, "Big", root / "big.db", args.repeat, bare=True)
        small_bare = _restarts(server, "Small", root / "small.db", args.repeat, bare=True)
        for what, on_big, on_small in (
            ("with the assessment", big, small),
            ("intake only, no assessment", big_bare, small_bare),
        ):
            big_median, small_median = statistics.median(on_big), statistics.median(on_small)
            print(
                f"restart + 10 new, {what}: box of {args.messages} median "
                f"{big_median * 1000:.0f} ms, box of {args.small} median "
                f"{small_median * 1000:.0f} ms, ratio {big_median / small_median:.2f} "
                f"(goal ~1, not {args.messages / args.small:.0f})"
            )


if __name__ == "__main__":
    main()
