"""The composition root: builds the pipeline from a Config for the CLI and the tests.

Gather (read bytes), decide (parsers + rules, pure), apply (the ticket desk, and
whatever further sinks are given). Nothing here runs at import time.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import Config
from parsers.errors import ParseError
from parsers.thread import read_message
from rules.assessment import Assessment, assess
from rules.request import build_request

if TYPE_CHECKING:
    from bot.intake import Assessor, Clock, Intake, Sink
    from bot.mailbox import Mailbox
    from bot.zendesk import TicketDesk


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


def build_app(
    config: Config,
    *,
    sinks: Sequence[Sink] = (),
    desk: TicketDesk | None = None,
    clock: Clock | None = None,
    assess: Assessor | None = None,
    connect: Callable[[], Mailbox] | None = None,
    environ: Mapping[str, str] | None = None,
    now: Callable[[], float] = time.time,
) -> Intake:
    """The intake with the sinks the configuration asks for, then `sinks`.

    With a [zendesk] section the first sink is the ticket desk (`desk`, or the
    zenpy adapter built from the section, its token read from `environ`). Tests
    and the demo replace the parts they need to.
    """
    from bot.intake import build_intake
    from bot.state import SqliteStateStore

    state = SqliteStateStore(Path(config.state.path))
    try:
        all_sinks: list[Sink] = []
        if config.zendesk is not None:
            from bot.ticketing import TicketSink, budget_from_config, desk_from_config

            the_desk = desk or desk_from_config(config.zendesk, environ)
            all_sinks.append(TicketSink(the_desk, state, config.zendesk.names,
                                        limits=config.limits,
                                        budget=budget_from_config(config.zendesk),
                                        now=now))  # fmt: skip
        all_sinks.extend(sinks)
        return build_intake(config, sinks=all_sinks, clock=clock, assess=assess,
                            connect=connect, environ=environ, state=state)  # fmt: skip
    except BaseException:
        state.close()
        raise
