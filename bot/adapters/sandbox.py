"""Attachments read in worker processes with hard limits: a bomb ends a worker, never the bot.

Each attachment (PDF text, rendering, OCR, images, spreadsheets: whatever the
reader does) is read by a worker: a fresh interpreter (nothing of the bot's
state is inherited) in its own process group, which sets its own
`resource.setrlimit` limits before it takes the first byte of an attachment:

- address space (RLIMIT_AS, `Limits.worker_memory_mb`): a decompression bomb
  fails to allocate (MemoryError) or the worker dies;
- CPU seconds per attachment (RLIMIT_CPU, `Limits.worker_cpu_seconds`, set
  afresh before each one): SIGXCPU ends a parser that spins;
- no core files, a bound on the files it writes (Tesseract's temporary images);
- wall time (`Limits.attachment_seconds`), enforced here: past it the worker's
  whole process group (Tesseract with it) is killed;
- the size of the answer (`Limits.worker_output_bytes`), checked on both sides.

Whatever happens, the caller gets a Document: the worker's own, or one with
`error` set ("the attachment is too large to read safely", "reading the
attachment took too long", "the reader crashed") and the kind judged as for
any unreadable attachment. Workers are reused across attachments and messages
(a text PDF costs a pipe round trip, not a process start), replaced when one
died or has read `Limits.worker_reads` attachments, started on first use, and
stopped by `close()` (or when the reader is collected, or at exit). A worker
left behind by a killed bot reads end-of-file on its pipe and exits.

The answer is unpickled with only the parsers' record classes allowed: a worker
that was subverted by what it read cannot make the bot run code.
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import resource
import select
import signal
import struct
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from bot.errors import SandboxUnavailable
from parsers.documents import read_attachment, unread_document
from parsers.limits import Limits
from parsers.model import Attachment, Document

Reader = Callable[[Attachment, Limits], Document]
Outcome = Literal["read", "memory", "cpu", "wall", "output", "crash"]

_HEADER = struct.Struct(">Q")
_TAKEN = b"T"  # a worker's acknowledgement of a request, before it reads the attachment
_MB = 1024 * 1024
# A worker waits this long for its next attachment, then exits (a new one starts on demand).
_IDLE_EXIT_SECONDS = 600.0
# Files a worker may write (Tesseract's page images), beyond which SIGXFSZ ends it.
_MAX_FILE_BYTES = 512 * _MB
# How long close() waits for an idle worker to leave before killing it.
_CLOSE_GRACE_SECONDS = 2.0
# Kept quiet: thread pools reserve address space per thread, malloc arenas too.
_WORKER_ENV = {
    "OMP_THREAD_LIMIT": "1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "MALLOC_ARENA_MAX": "2",
}


@dataclass(frozen=True)
class ReadReport:
    """How one attachment's read ended, and the worker's peak memory (for bench/ and tests)."""

    filename: str
    outcome: Outcome
    peak_rss_bytes: int  # the worker's (and its children's, Tesseract's) peak resident set
    detail: str = ""


# --- the worker side -------------------------------------------------------------------------


def _set_cpu_budget(seconds: float) -> None:
    """CPU seconds from now (RLIMIT_CPU counts the process's lifetime, so it moves up)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = usage.ru_utime + usage.ru_stime
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = int(used + seconds) + 1
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _set_limits(memory_bytes: int) -> None:
    """The limits that hold for the worker's whole life, set before any attachment is read."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    if hard == resource.RLIM_INFINITY or hard > _MAX_FILE_BYTES:
        resource.setrlimit(resource.RLIMIT_FSIZE, (_MAX_FILE_BYTES, _MAX_FILE_BYTES))


def _read_exactly(fd: int, size: int) -> bytes | None:
    """`size` bytes from fd, or None at end of file (the bot has gone or closed the pipe)."""
    chunks = io.BytesIO()
    while chunks.tell() < size:
        chunk = os.read(fd, min(size - chunks.tell(), _MB))
        if not chunk:
            return None
        chunks.write(chunk)
    return chunks.getvalue()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _peak_rss() -> int:
    """The worker's own peak (VmHWM: ru_maxrss would count the bot's pages copied at fork)
    or its children's (Tesseract), in bytes."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    own = children
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status", "rb") as status:
        for line in status:
            if line.startswith(b"VmHWM:"):
                own = int(line.split()[1])
    return max(own, children) * 1024  # kilobytes


def worker_main() -> None:
    """The worker: limits first, then one attachment at a time until end of file.

    Request frames (from the bot, trusted): pickled (reader, attachment, limits).
    Answer frames: pickled (outcome, document or None, detail, peak RSS bytes).
    """
    memory_bytes = int(sys.argv[1])
    requests = 0
    answers = os.dup(1)
    os.dup2(2, 1)  # a library's stray print must not corrupt the answers
    # The code that reads: imported (trusted) before the limits, warmed for every read.
    import parsers.documents  # noqa: F401

    _set_limits(memory_bytes)
    while True:
        ready, _, _ = select.select([requests], [], [], _IDLE_EXIT_SECONDS)
        if not ready:
            return  # idle long enough: the bot starts another when it needs one
        header = _read_exactly(requests, _HEADER.size)
        if header is None:
            return
        body = _read_exactly(requests, _HEADER.unpack(header)[0])
        if body is None:
            return
        read, attachment, limits = pickle.loads(body)
        _set_cpu_budget(limits.worker_cpu_seconds)
        _write_all(answers, _TAKEN)  # from here on, what happens to this worker is the read's
        outcome: Outcome = "read"
        detail = ""
        document: Document | None = None
        try:
            document = read(attachment, limits)
        except MemoryError:
            outcome = "memory"
        except Exception as exc:  # a parser's bug: reported, and this worker retires
            outcome, detail = "crash", type(exc).__name__
        answer = pickle.dumps((outcome, document, detail, _peak_rss()), protocol=5)
        if len(answer) > limits.worker_output_bytes:
            outcome, detail = "output", str(len(answer))
            answer = pickle.dumps((outcome, None, detail, _peak_rss()), protocol=5)
        _write_all(answers, _HEADER.pack(len(answer)) + answer)
        if outcome != "read":
            return  # after a failure, a fresh worker reads the next attachment


# --- the bot side ----------------------------------------------------------------------------

_ALLOWED = {
    ("parsers.model", "Document"),
    ("parsers.model", "BillFields"),
    ("parsers.model", "LoaFields"),
    ("parsers.model", "NumberList"),
    ("parsers.model", "NumberEntry"),
    ("parsers.model", "Address"),
    ("datetime", "date"),
    ("builtins", "frozenset"),
    ("builtins", "set"),
}


class _AnswerUnpickler(pickle.Unpickler):
    """Only the parsers' plain records: a worker's answer never names code to run."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"a worker's answer names {module}.{name}")
        return super().find_class(module, name)


class _WorkerLost(Exception):
    """The worker had ended before it took the request (idle, killed): try another."""


class _WorkerGone(Exception):
    """The worker died or was killed; `status` says how (a wait status), `rss` its peak."""

    def __init__(self, status: int, rss: int, timed_out: bool = False) -> None:
        super().__init__(status)
        self.status, self.rss, self.timed_out = status, rss, timed_out


class _Worker:
    def __init__(self, memory_bytes: int) -> None:
        env = {**os.environ, **_WORKER_ENV}
        try:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "from bot.adapters.sandbox import worker_main; worker_main()",
                    str(memory_bytes),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=env,
                process_group=0,
                close_fds=True,
            )
        except OSError as exc:
            raise SandboxUnavailable(f"a document reader could not be started: {exc}") from exc
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout
        self.reads = 0
        self.rss = 0

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.returncode is None and self._reap(block=False) is None

    def read(self, request: bytes, deadline: float, max_answer: int) -> tuple[Any, ...]:
        """Send one request, return the answer; raises _WorkerGone if the worker ends
        while reading, _WorkerLost if it had ended before taking the request."""
        try:
            self.stdin.write(_HEADER.pack(len(request)) + request)
            self.stdin.flush()
        except (BrokenPipeError, ConnectionResetError, ValueError):
            self.kill()
            raise _WorkerLost() from None
        try:
            self._receive(len(_TAKEN), deadline)
        except _WorkerGone as gone:
            if gone.timed_out:
                raise
            raise _WorkerLost() from None
        header = self._receive(_HEADER.size, deadline)
        (size,) = _HEADER.unpack(header)
        if size > max_answer:
            self.kill()
            return ("output", None, str(size), self.rss)
        answer = _AnswerUnpickler(io.BytesIO(self._receive(size, deadline))).load()
        if not (isinstance(answer, tuple) and len(answer) == 4):
            raise pickle.UnpicklingError("a worker's answer is not an answer")
        self.rss = max(self.rss, int(answer[3]))
        return tuple(answer)

    def _receive(self, size: int, deadline: float) -> bytes:
        fd = self.stdout.fileno()
        out = io.BytesIO()
        while out.tell() < size:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(left, 0.0))
            if not ready:
                self.kill()
                raise self._gone(timed_out=True)
            chunk = os.read(fd, min(size - out.tell(), _MB))
            if not chunk:
                raise self._gone()
            out.write(chunk)
        return out.getvalue()

    def _gone(self, timed_out: bool = False) -> _WorkerGone:
        status = self._reap(block=True)
        return _WorkerGone(status if status is not None else 0, self.rss, timed_out)

    def _reap(self, *, block: bool) -> int | None:
        """The wait status once the worker has ended (reaped here, for its rusage)."""
        if self.proc.returncode is not None:
            return getattr(self, "_status", 0)
        try:
            pid, status, usage = os.wait4(self.pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            self.proc.returncode = -1
            self._status = 0
            return 0
        if pid == 0:
            return None
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        self._status = status
        # (an upper bound: it counts the bot's own pages as the worker was forked)
        self.rss = max(self.rss, usage.ru_maxrss * 1024)
        return status

    def kill(self) -> None:
        """The worker and whatever it started (Tesseract): its whole process group."""
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        self._reap(block=True)
        self._close_pipes()

    def stop(self, grace: float) -> None:
        """End of file on its pipe, a moment to leave, then the kill."""
        with contextlib.suppress(OSError, ValueError):
            self.stdin.close()
        deadline = time.monotonic() + grace
        while self._reap(block=False) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        self.kill()

    def _close_pipes(self) -> None:
        for pipe in (self.stdin, self.stdout):
            with contextlib.suppress(OSError, ValueError):
                pipe.close()


def _outcome_document(att: Attachment, outcome: Outcome, detail: str, limits: Limits) -> Document:
    """The Document of a read that did not end well: the reason, the kind as for any unreadable."""
    if outcome == "memory":
        reason = (
            "the attachment is too large to read safely: reading it needed more than "
            f"the {limits.worker_memory_mb} MB of memory allowed"
        )
    elif outcome == "output":
        reason = (
            "the attachment is too large to read safely: what was read of it is more "
            f"than {limits.worker_output_bytes / _MB:.0f} MB"
        )
    elif outcome == "wall":
        reason = (
            f"reading the attachment took too long (over {limits.attachment_seconds:g} "
            "seconds) and was stopped"
        )
    elif outcome == "cpu":
        reason = (
            f"reading the attachment took too long (over {limits.worker_cpu_seconds:g} "
            "seconds of CPU) and was stopped"
        )
    else:
        reason = f"the reader crashed on this attachment ({detail})"
    return unread_document(att, reason)


def _ended_by(status: int) -> tuple[Outcome, str]:
    """What a dead worker's wait status says about the read."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = signal.Signals(sig).name if sig in signal.valid_signals() else f"signal {sig}"
        if sig == signal.SIGXCPU:
            return "cpu", name
        if sig == signal.SIGXFSZ:
            return "output", name
        return "crash", f"killed by {name}"
    return "crash", f"exit status {os.waitstatus_to_exitcode(status)}"


class SandboxReader:
    """A Reader (attachment, limits) -> Document that reads in a pool of worker processes.

    `read` is the function the workers run, named by reference (module and name; it
    must be importable in a fresh interpreter): parsers.documents.read_attachment
    unless a test gives its own. Thread-safe: at most `limits.workers` reads at once.
    """

    def __init__(self, limits: Limits, read: Reader | None = None) -> None:
        if read is None:
            read = read_attachment
        self.limits = limits
        self._read = read
        self._idle: list[_Worker] = []
        self._busy = 0
        self._lock = threading.Condition()
        self._closed = False
        self.last: ReadReport | None = None
        self.reports: list[ReadReport] = []  # the most recent reads, for bench/ and tests
        self._finalizer = weakref.finalize(self, _stop_all, self._idle, _CLOSE_GRACE_SECONDS)

    def __call__(self, att: Attachment, limits: Limits) -> Document:
        for attempt in range(3):  # a worker found dead before it took the request is replaced
            worker = self._checkout()
            keep = False
            try:
                document, report, keep = self._read_in(worker, att, limits)
                break
            except _WorkerLost:
                if attempt == 2:
                    raise SandboxUnavailable(
                        "document readers keep ending before they read anything"
                    ) from None
            except BaseException:
                worker.kill()  # a stop in the middle of a read: the worker's state is unknown
                raise
            finally:
                self._checkin(worker, keep)
        with self._lock:
            self.last = report
            self.reports = [*self.reports[-99:], report]
        return document

    def _read_in(
        self, worker: _Worker, att: Attachment, limits: Limits
    ) -> tuple[Document, ReadReport, bool]:
        request = pickle.dumps((self._read, att, limits), protocol=5)
        deadline = time.monotonic() + limits.attachment_seconds
        try:
            outcome, document, detail, rss = worker.read(
                request, deadline, limits.worker_output_bytes
            )
        except _WorkerGone as gone:
            outcome, detail = ("wall", "") if gone.timed_out else _ended_by(gone.status)
            document, rss = None, gone.rss
        except pickle.UnpicklingError as exc:
            worker.kill()
            outcome, detail, document, rss = "crash", f"a bad answer: {exc}", None, worker.rss
        if outcome != "read" or not isinstance(document, Document):
            if outcome == "read":
                outcome, detail = "crash", "no document in its answer"
            document = _outcome_document(att, outcome, detail, limits)
        worker.reads += 1
        report = ReadReport(att.filename, outcome, rss, detail)
        return document, report, outcome == "read" and worker.reads < limits.worker_reads

    def _checkout(self) -> _Worker:
        with self._lock:
            if self._closed:
                raise SandboxUnavailable("the document readers are closed")
            while self._busy >= max(1, self.limits.workers):
                self._lock.wait()
            self._busy += 1
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    return worker
                worker.kill()
        try:
            return _Worker(self.limits.worker_memory_mb * _MB)
        except BaseException:
            with self._lock:
                self._busy -= 1
                self._lock.notify()
            raise

    def _checkin(self, worker: _Worker, keep: bool) -> None:
        with self._lock:
            self._busy -= 1
            kept = keep and not self._closed
            if kept:
                self._idle.append(worker)
            self._lock.notify()
        if not kept:
            worker.stop(0.0 if worker.proc.returncode is not None else _CLOSE_GRACE_SECONDS)

    def worker_pids(self) -> list[int]:
        with self._lock:
            return [w.pid for w in self._idle]

    def close(self) -> None:
        """Stop the idle workers (a read in progress ends on its own and is not kept)."""
        with self._lock:
            self._closed = True
        self._finalizer()

    def __enter__(self) -> SandboxReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _stop_all(idle: list[_Worker], grace: float) -> None:
    while idle:
        idle.pop().stop(grace)


def reader_for(limits: Limits) -> Reader:
    """The reader the bot uses: sandboxed unless `[limits] sandbox = false`."""
    if limits.sandbox:
        return SandboxReader(limits)
    return read_attachment


@contextlib.contextmanager
def open_reader(limits: Limits) -> Iterator[Reader]:
    """`reader_for`, closed on the way out (one-shot commands: `portbot assess`)."""
    reader = reader_for(limits)
    try:
        yield reader
    finally:
        if isinstance(reader, SandboxReader):
            reader.close()
