"""A progress bar for a large backlog read from a terminal; nothing anywhere else.

    with progress(len(uids), stream=sys.stderr, environ=os.environ) as bar:
        for uid in uids:
            ...
            bar.advance()

Drawn only when the stream is a terminal, the process is not under systemd (which
sets INVOCATION_ID or JOURNAL_STREAM: its stderr goes to the journal), the logs are
not JSON lines, and the backlog is at least `min_total` messages. Otherwise the
context manager is a no-op with the same interface. Hand-written (one line, redrawn
at most ten times a second) rather than tqdm: it is all the bot needs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import IO, Protocol

SYSTEMD_VARS = ("INVOCATION_ID", "JOURNAL_STREAM")


class Progress(Protocol):
    def advance(self, n: int = 1) -> None: ...


class NoProgress:
    """Counts, draws nothing."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0

    def advance(self, n: int = 1) -> None:
        self.done += n


class Bar:
    """`[#####.....]  52/120 messages  3.1/s  1:02 left`, on one line of a terminal."""

    def __init__(
        self,
        total: int,
        stream: IO[str],
        *,
        label: str = "messages",
        width: int = 30,
        clock: Callable[[], float] = time.monotonic,
        every: float = 0.1,
    ) -> None:
        self.total = max(total, 0)
        self.stream = stream
        self.label = label
        self.width = width
        self.clock = clock
        self.every = every
        self.done = 0
        self.started = clock()
        self._drawn_at: float | None = None

    def advance(self, n: int = 1) -> None:
        self.done = min(self.done + n, self.total) if self.total else self.done + n
        now = self.clock()
        if self._drawn_at is None or now - self._drawn_at >= self.every or self.done >= self.total:
            self.draw(now)

    def line(self, now: float) -> str:
        total = max(self.total, 1)
        filled = self.width * min(self.done, total) // total
        bar = "#" * filled + "." * (self.width - filled)
        digits = len(str(self.total))
        text = f"[{bar}] {self.done:>{digits}}/{self.total} {self.label}"
        elapsed = now - self.started
        if self.done and elapsed > 0:
            rate = self.done / elapsed
            text += f"  {rate:.1f}/s"
            if self.done < self.total:
                left = int((self.total - self.done) / rate)
                text += f"  {left // 60}:{left % 60:02d} left"
        return text

    def draw(self, now: float | None = None) -> None:
        now = self.clock() if now is None else now
        # \r and erase-to-end: redraw in place (a log line clears it the same way)
        self.stream.write("\r\x1b[K" + self.line(now))
        self.stream.flush()
        self._drawn_at = now

    def finish(self) -> None:
        self.draw()
        self.stream.write("\n")
        self.stream.flush()


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def wanted(stream: IO[str], environ: Mapping[str, str], *, json_logs: bool = False) -> bool:
    """Whether a bar belongs on `stream`: a terminal, not systemd, not JSON logs."""
    if json_logs or not _isatty(stream):
        return False
    return not any(environ.get(name) for name in SYSTEMD_VARS)


@contextmanager
def progress(
    total: int,
    *,
    stream: IO[str],
    environ: Mapping[str, str],
    json_logs: bool = False,
    min_total: int = 20,
    label: str = "messages",
) -> Iterator[Progress]:
    """A bar when one is wanted (see `wanted`) and `total` >= `min_total`, else a no-op."""
    if total < min_total or not wanted(stream, environ, json_logs=json_logs):
        yield NoProgress(total)
        return
    bar = Bar(total, stream, label=label)
    bar.draw()
    try:
        yield bar
    finally:
        bar.finish()


__all__ = ["Bar", "NoProgress", "Progress", "progress", "wanted"]
