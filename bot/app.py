"""The composition root: builds the pipeline from a Config for the CLI and the tests.

Gather (read bytes), decide (parsers + rules, pure), apply (print, later: ticket,
reply). Nothing here runs at import time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from bot.config import Config
from parsers.errors import ParseError
from parsers.thread import read_message
from rules.assessment import Assessment, assess
from rules.request import build_request


def read_files(paths: Sequence[Path], max_bytes: int) -> list[bytes]:
    """The raw messages, or a ParseError/OSError whose text names the file."""
    raws = []
    for path in paths:
        if not path.is_file():
            raise OSError(f"{path}: no such file")
        size = path.stat().st_size
        if size > max_bytes:
            raise ParseError(f"{path}: {size} bytes, over the limit of {max_bytes} bytes")
        raws.append(path.read_bytes())
    return raws


def assess_messages(raws: Sequence[bytes], config: Config, today: dt.date) -> Assessment:
    messages = tuple(read_message(raw, config.limits) for raw in raws)
    return assess(build_request(messages), config.policy, today)


def assess_files(paths: Sequence[Path], config: Config, today: dt.date) -> Assessment:
    raws = read_files(paths, config.limits.max_message_bytes)
    messages = []
    for path, raw in zip(paths, raws, strict=True):
        try:
            messages.append(read_message(raw, config.limits))
        except ParseError as exc:
            raise ParseError(f"{path}: {exc}") from exc
    return assess(build_request(tuple(messages)), config.policy, today)
