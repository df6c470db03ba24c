"""Attachments are read in worker processes: a bomb or a crash ends a worker, never the bot.

Every bomb is built here (tests/bombs.py) and read through bot.adapters.sandbox, as the
bot reads; each must end in a Document with the reason, the bot's process
alive and unharmed, within 1 GB (the worker's own peak, measured from its
rusage, never the clock). Time is bounded by the limits, not asserted: the
figures are in `bench/bench_assess.py --hostile`.
"""

from __future__ import annotations

import os
import resource
import signal
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from bot.adapters.sandbox import SandboxReader
from parsers.documents import read_attachment
from parsers.errors import ParseError
from parsers.limits import Limits
from parsers.model import Attachment, Document, NumberList
from parsers.thread import read_message
from tests import bombs

GB = 1 << 30
LIMITS = Limits()
CSV = b"Phone Number,PIN\n5125550101,1234\n"


def _own_peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@pytest.fixture
def reader() -> Iterator[SandboxReader]:
    with SandboxReader(LIMITS) as sandboxed:
        yield sandboxed


# --- the bombs -------------------------------------------------------------------------------

BOMBS = [
    (
        "pdf-image-xobject",
        "bill.pdf",
        "application/pdf",
        bombs.pdf_image_xobject_bomb,
        "draws an image of 40000 x 40000 pixels",
    ),
    (
        "png-decompression",
        "scan.png",
        "image/png",
        bombs.png_decompression_bomb,
        "far more pixels than the limit of 40,000,000",
    ),
    (
        "jpeg-pixel",
        "photo.jpg",
        "image/jpeg",
        bombs.jpeg_pixel_bomb,
        "far more pixels than the limit of 40,000,000",
    ),
    (
        "tiff-pixel",
        "fax.tiff",
        "image/tiff",
        bombs.tiff_pixel_bomb,
        "far more pixels than the limit of 40,000,000",
    ),
    (
        "xlsx-zip",
        "numbers.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        bombs.xlsx_zip_bomb,
        "the spreadsheet unpacks to 2048 MB",
    ),
    (
        "xlsx-zip-lying",
        "numbers.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        lambda: bombs.xlsx_zip_bomb(lying=True),
        "the spreadsheet",
    ),
    (
        "xlsx-entity",
        "numbers.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        bombs.xlsx_entity_bomb,
        "the spreadsheet",
    ),
]


@pytest.mark.parametrize(
    ("filename", "ctype", "build", "reason"), [b[1:] for b in BOMBS], ids=[b[0] for b in BOMBS]
)
def test_a_bomb_becomes_an_unreadable_document_with_its_reason_within_a_gigabyte(
    reader: SandboxReader, filename: str, ctype: str, build: object, reason: str
) -> None:
    assert callable(build)
    bomb = build()
    before = _own_peak()
    raw = bombs.message_with([(filename, ctype, bomb), ("numbers.csv", "text/csv", CSV)])
    parsed = read_message(raw, LIMITS, reader)
    bombed, numbers = parsed.documents
    assert bombed.error is not None and reason in bombed.error, bombed.error
    assert bombed.kind == ("number_list" if filename.endswith(".xlsx") else "bill")
    # nothing lost: the other attachment of the message is read as ever
    assert numbers.number_list is not None and numbers.error is None
    reports = {r.filename: r for r in reader.reports}
    assert reports[filename].peak_rss_bytes <= GB
    assert _own_peak() - before < 200 * 1024 * 1024  # the bot never held the bomb


def test_the_image_bomb_is_held_by_the_worker_even_without_the_pixel_budget(
    reader: SandboxReader,
) -> None:
    """pdfium rendering a 40000 x 40000 image without the dictionary check first."""
    with SandboxReader(LIMITS, read=render_every_page) as raw_reader:
        doc = raw_reader(
            Attachment("bill.pdf", "application/pdf", bombs.pdf_image_xobject_bomb()), LIMITS
        )
        assert raw_reader.last is not None
        assert raw_reader.last.peak_rss_bytes <= GB
    # a Document either way: pdfium's allocation refused, or the worker ended with a reason
    assert isinstance(doc, Document)


def test_a_deeply_nested_message_gets_a_clear_outcome(reader: SandboxReader) -> None:
    before = _own_peak()
    for depth in (8, 40, 3000):
        try:
            parsed = read_message(bombs.deep_mime_message(depth), LIMITS, reader)
        except ParseError as exc:  # the message itself refused, with the reason
            assert str(exc)
        else:
            if depth <= 8:  # within parsers.email's depth the number list is read
                assert [d.kind for d in parsed.documents] == ["number_list"]
    assert _own_peak() - before < 200 * 1024 * 1024


# --- the worker's own end --------------------------------------------------------------------


def kill_self_on_pdf(att: Attachment, limits: Limits) -> Document:
    """A reader that dies as a segfaulting parser would, mid-read."""
    if att.filename.endswith(".pdf"):
        os.kill(os.getpid(), signal.SIGKILL)
    return read_attachment(att, limits)


def crash_on_pdf(att: Attachment, limits: Limits) -> Document:
    if att.filename.endswith(".pdf"):
        os.abort()
    return read_attachment(att, limits)


def spin(att: Attachment, limits: Limits) -> Document:
    while True:
        pass


def hang(att: Attachment, limits: Limits) -> Document:
    time.sleep(3600)
    return read_attachment(att, limits)


def allocate(att: Attachment, limits: Limits) -> Document:
    hoard = bytearray(2 * GB)
    return Document(att.filename, "other", error=str(len(hoard)))


def raise_a_bug(att: Attachment, limits: Limits) -> Document:
    raise KeyError("a parser's bug")


def answer_huge(att: Attachment, limits: Limits) -> Document:
    from parsers.model import NumberEntry

    rows = tuple(NumberEntry(f"51255{i:05d}", "1234") for i in range(100_000))
    return Document(att.filename, "number_list", number_list=NumberList(rows))


class Sneaky:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("true",))


def answer_with_code(att: Attachment, limits: Limits) -> Document:
    return Sneaky()  # type: ignore[return-value]


def render_every_page(att: Attachment, limits: Limits) -> Document:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(att.payload)
    for page in pdf:
        page.render(scale=300 / 72, grayscale=True).close()
    return Document(att.filename, "other")


def test_a_worker_killed_mid_read_gives_the_message_its_outcome_and_is_replaced() -> None:
    raw = bombs.message_with(
        [
            ("bill.pdf", "application/pdf", b"%PDF-1.7\n" + b"x" * 100),
            ("numbers.csv", "text/csv", CSV),
        ]
    )
    with SandboxReader(LIMITS, read=kill_self_on_pdf) as reader:
        parsed = read_message(raw, LIMITS, reader)
        bill, numbers = parsed.documents
        assert bill.kind == "bill"
        assert bill.error == "the reader crashed on this attachment (killed by SIGKILL)"
        assert numbers.number_list is not None  # read by the worker that replaced it
        first = reader.worker_pids()
        again = read_message(raw, LIMITS, reader)  # the next message: the same outcome
        assert again.documents == parsed.documents
        assert reader.worker_pids() and reader.worker_pids() != first


@pytest.mark.parametrize(
    ("read", "limits", "reason"),
    [
        (crash_on_pdf, LIMITS, "the reader crashed on this attachment (killed by SIGABRT)"),
        (raise_a_bug, LIMITS, "the reader crashed on this attachment (KeyError)"),
        (
            allocate,
            LIMITS,
            "the attachment is too large to read safely: reading it needed more "
            "than the 768 MB of memory allowed",
        ),
        (
            spin,
            replace(LIMITS, worker_cpu_seconds=1),
            "reading the attachment took too long (over 1 seconds of CPU) and was stopped",
        ),
        (
            hang,
            replace(LIMITS, attachment_seconds=1),
            "reading the attachment took too long (over 1 seconds) and was stopped",
        ),
        (
            answer_huge,
            replace(LIMITS, worker_output_bytes=1 << 20),
            "the attachment is too large to read safely: what was read of it is more than 1 MB",
        ),
        (
            answer_with_code,
            LIMITS,
            "the reader crashed on this attachment (a bad answer: "
            "a worker's answer names posix.system)",
        ),
    ],
    ids=["abort", "exception", "memory", "cpu", "wall", "output", "code-in-answer"],
)
def test_each_way_a_read_can_end_badly_is_named(read: object, limits: Limits, reason: str) -> None:
    assert callable(read)
    with SandboxReader(limits, read=read) as reader:  # type: ignore[arg-type]
        doc = reader(Attachment("bill.pdf", "application/pdf", b"%PDF-1.7\n"), limits)
        assert (doc.kind, doc.error) == ("bill", reason)
        assert reader.last is not None and reader.last.peak_rss_bytes <= GB


def test_workers_are_reused_across_messages_and_stopped_on_close() -> None:
    raw = bombs.message_with([("numbers.csv", "text/csv", CSV)])
    with SandboxReader(LIMITS) as reader:
        first = read_message(raw, LIMITS, reader)
        pids = reader.worker_pids()
        second = read_message(raw, LIMITS, reader)
        assert reader.worker_pids() == pids and len(pids) == 1
        assert first.documents == second.documents == read_message(raw, LIMITS).documents
    assert reader.worker_pids() == []
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_worker_is_replaced_after_its_reads() -> None:
    limits = replace(LIMITS, worker_reads=2)
    raw = bombs.message_with([("numbers.csv", "text/csv", CSV)] * 2)
    with SandboxReader(limits) as reader:
        read_message(raw, limits, reader)
        assert reader.worker_pids() == []  # retired after its second read
        read_message(raw, limits, reader)
        assert reader.worker_pids() == []
        assert [r.outcome for r in reader.reports] == ["read"] * 4


def test_a_worker_that_died_while_idle_is_replaced() -> None:
    raw = bombs.message_with([("numbers.csv", "text/csv", CSV)])
    with SandboxReader(LIMITS) as reader:
        read_message(raw, LIMITS, reader)
        (pid,) = reader.worker_pids()
        os.killpg(pid, signal.SIGKILL)
        parsed = read_message(raw, LIMITS, reader)
        assert parsed.documents[0].number_list is not None
        assert reader.worker_pids() != [pid]
