"""A thread of raw messages, read: each message's statements and documents."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from parsers.body import read_statements
from parsers.carriers import find_carrier
from parsers.documents import read_attachment
from parsers.email import parse_message
from parsers.limits import Limits
from parsers.model import ParsedMessage


def read_message(raw: bytes, limits: Limits) -> ParsedMessage:
    """Read one message; raises NotAnEmail (or another ParseError) for the message itself.

    A bad attachment never raises: it becomes a Document with `error` set.
    """
    message = parse_message(raw, limits)
    statements = read_statements(message.body)
    if statements.current_carrier is None:
        # "Port request: our Verizon lines" says it in the subject alone.
        statements = replace(statements, current_carrier=find_carrier(message.subject))
    return ParsedMessage(
        message=message,
        statements=statements,
        documents=tuple(read_attachment(a, limits) for a in message.attachments),
    )


def read_thread(raws: Sequence[bytes], limits: Limits) -> tuple[ParsedMessage, ...]:
    """Messages of one thread, oldest first."""
    return tuple(read_message(raw, limits) for raw in raws)
