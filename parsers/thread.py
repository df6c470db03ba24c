"""A thread of raw messages, read: each message's statements and documents."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from parsers.body import read_statements
from parsers.carriers import find_carrier
from parsers.documents import read_attachment
from parsers.email import parse_message
from parsers.limits import Limits
from parsers.model import Attachment, Document, Message, ParsedMessage, Statements

# Reads one attachment; never raises for bad input (a Document with `error` set).
# The bot passes one that reads in a worker process (bot/adapters/sandbox.py).
AttachmentReader = Callable[[Attachment, Limits], Document]


def read_message(
    raw: bytes, limits: Limits, read: AttachmentReader = read_attachment
) -> ParsedMessage:
    """Read one message; raises NotAnEmail (or another ParseError) for the message itself.

    A bad attachment never raises: it becomes a Document with `error` set. `read`
    reads each attachment (by default here, in this process).
    """
    return read_parsed(parse_message(raw, limits), limits, read)


def message_statements(message: Message) -> Statements:
    """What the customer stated in the message's text (and its subject's carrier)."""
    statements = read_statements(message.body)
    if statements.current_carrier is None:
        # "Port request: our Verizon lines" says it in the subject alone.
        statements = replace(statements, current_carrier=find_carrier(message.subject))
    return statements


def read_parsed(
    message: Message,
    limits: Limits,
    read: AttachmentReader = read_attachment,
    statements: Statements | None = None,
) -> ParsedMessage:
    """`read_message` from the email already parsed (`parse_message` with these limits)
    and, when given, its statements already read (`message_statements`)."""
    return ParsedMessage(
        message=message,
        statements=statements if statements is not None else message_statements(message),
        documents=_read_attachments(message.attachments, limits, read),
    )


def _read_attachments(
    attachments: Sequence[Attachment], limits: Limits, read: AttachmentReader
) -> tuple[Document, ...]:
    """Each attachment read, within the message's share of OCR time.

    OCR is the one costly step: once the message's OCR pages are used up, the
    remaining scans are listed unread with the reason (text PDFs are still read).
    """
    documents = []
    pages_left = limits.ocr_pages_per_message
    for index, attachment in enumerate(attachments):
        if pages_left <= 0 and limits.ocr:
            limits = replace(
                limits,
                ocr=False,
                ocr_off_reason=f"not read: this message's {limits.ocr_pages_per_message} "
                "pages of OCR are used up",
            )
        doc = _read_within_limits(index, attachment, limits, read)
        pages_left -= doc.ocr_pages
        documents.append(doc)
    return tuple(documents)


def _read_within_limits(
    index: int, attachment: Attachment, limits: Limits, read: AttachmentReader
) -> Document:
    # Each attachment may cost OCR time; a message with hundreds must not stall the bot.
    if index >= limits.max_attachments:
        return Document(
            attachment.filename,
            "other",
            error=f"not read: the message has more than {limits.max_attachments} attachments",
        )
    return read(attachment, limits)


def read_thread(
    raws: Sequence[bytes], limits: Limits, read: AttachmentReader = read_attachment
) -> tuple[ParsedMessage, ...]:
    """Messages of one thread, oldest first."""
    return tuple(read_message(raw, limits, read) for raw in raws)
