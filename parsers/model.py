"""Frozen records that the parsers return and the rules read.

Everything here is plain data: no I/O, no library objects. Raw values are kept
as the customer or document wrote them where the rules need to judge them
(a phone number that may be invalid, an account number to compare).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

DocKind = Literal["bill", "loa", "number_list", "other"]


@dataclass(frozen=True)
class Address:
    """A postal address, USPS-normalised where it could be (upper case, St/Ste/N)."""

    street: str | None
    city: str | None
    state: str | None
    zip: str | None
    po_box: bool = False  # a PO Box or other non-physical address

    def as_json(self) -> dict[str, str | None]:
        return {"street": self.street, "city": self.city, "state": self.state, "zip": self.zip}


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    payload: bytes


@dataclass(frozen=True)
class Message:
    """One email, reduced to what portbot reads.

    `body` is the new text of this message: the quoted history of a reply is
    removed, but the text of a forwarded message is kept (a colleague's forward
    counts as the customer's request).
    """

    message_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    subject: str
    sender: str | None  # address of the From header, lower case
    sender_name: str | None
    date: dt.datetime | None
    body: str
    attachments: tuple[Attachment, ...]
    # The original customer when this message forwards their request.
    forwarded_from: str | None = None
    forwarded_from_name: str | None = None
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class NumberEntry:
    """A number to port as given (raw), with what was said about it."""

    raw: str
    pin: str | None = None
    assignee_name: str | None = None
    assignee_email: str | None = None


@dataclass(frozen=True)
class Statements:
    """Values a customer stated in the text of one message. None: not stated."""

    current_carrier: str | None = None
    account_number: str | None = None
    account_name: str | None = None
    service_address: Address | None = None
    billing_telephone_number: str | None = None  # raw, as written
    ssn_last4: str | None = None
    pin_for_all: str | None = None  # "PIN for all lines: 4821"
    no_pin_stated: bool = False
    numbers: tuple[NumberEntry, ...] = ()


@dataclass(frozen=True)
class NumberList:
    """A table of numbers: from a CSV/XLSX attachment or pasted into the body."""

    rows: tuple[NumberEntry, ...]


@dataclass(frozen=True)
class BillFields:
    bill_date: dt.date | None
    account_name: str | None
    account_number: str | None
    service_address: Address | None
    billing_telephone_number: str | None  # E.164 or None
    # Words of the fields OCR read with low confidence; the rules then hedge.
    uncertain: frozenset[str] = frozenset()


@dataclass(frozen=True)
class LoaFields:
    signed: bool
    signed_date: dt.date | None
    account_name: str | None
    numbers: tuple[str, ...]  # E.164 where parseable, else raw
    uncertain: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Document:
    """One attachment, classified and read.

    `error` is set when the attachment could not be read (encrypted, corrupt,
    no text); then `bill`/`loa` are None and `kind` is what the attachment was
    meant to be, judged from its name.
    """

    filename: str
    kind: DocKind
    ocr: bool = False
    bill: BillFields | None = None
    loa: LoaFields | None = None
    number_list: NumberList | None = None
    error: str | None = None
    # pages OCR read (or tried to) and the seconds it took: for the metrics, nothing else
    ocr_pages: int = 0
    ocr_seconds: float = 0.0


@dataclass(frozen=True)
class ParsedMessage:
    """A message with its statements and documents read."""

    message: Message
    statements: Statements
    documents: tuple[Document, ...] = field(default=())
