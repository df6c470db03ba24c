"""Gather: raw messages read into parsed messages (each once per process, within the
configured limits) and assessed as a thread. Pure but for the attachment reader given."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.config import Config
from parsers.email import parse_message
from parsers.errors import ParseError
from parsers.limits import Limits
from parsers.model import Message, ParsedMessage, Statements
from parsers.thread import AttachmentReader, message_statements, read_message, read_parsed
from rules.assessment import Assessment, assess
from rules.request import build_request


def read_files(paths: Sequence[Path], max_bytes: int) -> list[bytes]:
    """The raw messages, or a ParseError/OSError whose text names the file."""
    raws = []
    for path in paths:
        if path.is_dir():
            raise OSError(f"{path}: a folder, not an email file")
        if not path.is_file():
            raise OSError(f"{path}: no such file")
        size = path.stat().st_size
        if size > max_bytes:
            raise ParseError(f"{path}: {size} bytes, over the limit of {max_bytes} bytes")
        raws.append(path.read_bytes())
    return raws


class MessageCache:
    """Each message parsed once per process, with the configured limits, within a bound
    on the bytes kept: the one place the pipeline reads a message.

    Two levels share one entry: `email` (the MIME parse: headers, body, attachments;
    what the sinks and the classifier need) and `read` (the email with its statements
    and documents read: what the assessment needs; OCR above all). A follow-up is
    assessed with its whole thread; without this every earlier message would be read
    again at each follow-up, and each sink would parse the message again.
    """

    def __init__(
        self,
        limits: Limits,
        max_bytes: int = 128 * 1024 * 1024,
        read: AttachmentReader | None = None,
    ) -> None:
        self.limits = limits
        self.read_attachment = read
        self.max_bytes = max_bytes
        self._kept: OrderedDict[bytes, _Entry] = OrderedDict()
        self._bytes = 0
        # how many parses were done (not served from the cache), by level
        self.parsed = {"email": 0, "read": 0}

    def email(self, raw: bytes) -> Message:
        return self._entry(raw).message

    def statements(self, raw: bytes) -> Statements:
        """What the message's text states (read once; the sorter's and the assessment's)."""
        entry = self._entry(raw)
        if entry.statements is None:
            entry.statements = message_statements(entry.message)
        return entry.statements

    def read(self, raw: bytes) -> ParsedMessage:
        entry = self._entry(raw)
        if entry.parsed is None:
            self.parsed["read"] += 1
            statements = self.statements(raw)
            entry.parsed = (
                read_parsed(entry.message, self.limits, statements=statements)
                if self.read_attachment is None
                else read_parsed(entry.message, self.limits, self.read_attachment, statements)
            )
        return entry.parsed

    def _entry(self, raw: bytes) -> _Entry:
        key = hashlib.sha256(raw).digest()
        hit = self._kept.get(key)
        if hit is not None:
            self._kept.move_to_end(key)
            return hit
        self.parsed["email"] += 1
        entry = _Entry(len(raw), parse_message(raw, self.limits))
        self._kept[key] = entry
        self._bytes += len(raw)
        while self._bytes > self.max_bytes and len(self._kept) > 1:
            _, old = self._kept.popitem(last=False)
            self._bytes -= old.size
        return entry


@dataclass
class _Entry:
    size: int
    message: Message
    statements: Statements | None = None
    parsed: ParsedMessage | None = None


def _read_message(raw: bytes, limits: Limits, read: AttachmentReader | None) -> ParsedMessage:
    return read_message(raw, limits) if read is None else read_message(raw, limits, read)


def assess_messages(
    raws: Sequence[bytes],
    config: Config,
    today: dt.date,
    cache: MessageCache | None = None,
    read: AttachmentReader | None = None,
) -> Assessment:
    """The assessment of a thread; attachments read by `read` (default: in this process)."""
    read_one = (
        cache.read
        if cache is not None
        else functools.partial(_read_message, limits=config.limits, read=read)
    )
    messages = tuple(read_one(raw) for raw in raws)
    return assess(build_request(messages), config.policy, today)


def thread_assessor(
    config: Config, today: Callable[[], dt.date], cache: MessageCache
) -> Callable[[Sequence[bytes]], Assessment]:
    """The intake's assessor: a thread of raw messages, read through the intake's cache."""

    def assess_thread(raws: Sequence[bytes]) -> Assessment:
        return assess_messages(raws, config, today(), cache)

    return assess_thread
