"""`portbot assess`: one thread of email files to its assessment, offline; kept apart from
the composition root so that the one-shot command starts without the mail and Zendesk
clients."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from bot.adapters.sandbox import open_reader
from bot.config import Config
from bot.pipeline.reading import read_files
from parsers.errors import ParseError
from parsers.thread import read_message
from rules.assessment import Assessment, assess
from rules.request import build_request


def assess_files(paths: Sequence[Path], config: Config, today: dt.date) -> Assessment:
    """`portbot assess`: attachments read in worker processes ([limits] sandbox)."""
    raws = read_files(paths, config.limits.max_message_bytes)
    messages = []
    with open_reader(config.limits) as read:
        for path, raw in zip(paths, raws, strict=True):
            try:
                messages.append(read_message(raw, config.limits, read))
            except ParseError as exc:
                raise ParseError(f"{path}: {exc}") from exc
    return assess(build_request(tuple(messages)), config.policy, today)
