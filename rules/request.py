"""The request as it stands after the last message of a thread.

The contract's thread rules live here: a value stated later replaces the one
stated before; the newest message's bill, LOA and number list count (within one
message, the readable bill with the latest date); a value the email left out is
taken from the documents.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from parsers.body import reference_digits
from parsers.model import Address, Document, NumberEntry, ParsedMessage
from parsers.phone import digits_of, parse_phone, to_e164

T = TypeVar("T")


@dataclass(frozen=True)
class Request:
    current_carrier: str | None
    account_number: str | None
    account_name: str | None
    service_address: Address | None
    billing_telephone_number: str | None  # E.164
    billing_telephone_number_raw: str | None
    ssn_last4: str | None
    no_pin_stated: bool
    # As listed, duplicates kept (the rules report them); PINs for all lines applied.
    numbers: tuple[NumberEntry, ...]
    bill: Document | None
    loa: Document | None
    number_list: Document | None
    documents: tuple[Document, ...]
    # Request fields that were filled from a document, with the document's name.
    filled_from: tuple[tuple[str, str], ...] = ()


def _latest(values: Iterable[T | None]) -> T | None:
    found: T | None = None
    for value in values:
        if value is not None:
            found = value
    return found


def _bill_rank(doc: Document) -> tuple[int, dt.date]:
    readable = doc.error is None and doc.bill is not None
    date = doc.bill.bill_date if doc.bill and doc.bill.bill_date else dt.date.min
    return (1 if readable else 0, date)


def _newest_document(messages: Sequence[ParsedMessage], kind: str) -> Document | None:
    for parsed in reversed(messages):
        # A PDF that holds both an LOA and a bill counts as both.
        docs = [
            d
            for d in parsed.documents
            if d.kind == kind or (kind == "bill" and d.bill) or (kind == "loa" and d.loa)
        ]
        if not docs:
            continue
        if kind == "bill":
            return max(docs, key=_bill_rank)
        readable = [d for d in docs if d.error is None]
        return (readable or docs)[-1]
    return None


def _merge_entry(base: NumberEntry, extra: NumberEntry) -> NumberEntry:
    """Fill what `base` lacks from `extra` (the same number, said elsewhere)."""
    return replace(
        base,
        pin=base.pin or extra.pin,
        assignee_name=base.assignee_name or extra.assignee_name,
        assignee_email=base.assignee_email or extra.assignee_email,
    )


def _key(entry: NumberEntry) -> str:
    return parse_phone(entry.raw).key


def _numbers_of_message(parsed: ParsedMessage) -> list[NumberEntry]:
    """A message's numbers: its number lists first, then those in its text."""
    out: list[NumberEntry] = []
    for doc in parsed.documents:
        if doc.kind == "number_list" and doc.number_list is not None:
            out.extend(doc.number_list.rows)
    listed = {_key(e): i for i, e in enumerate(out)}
    for entry in parsed.statements.numbers:
        key = _key(entry)
        if key in listed:
            out[listed[key]] = _merge_entry(out[listed[key]], entry)
        else:
            out.append(entry)
    return out


@dataclass(frozen=True)
class _Held:
    entry: NumberEntry
    pin_at: int  # the message that stated this number's own PIN; -1: none


def _update(held: _Held, said: NumberEntry, k: int) -> _Held:
    """What message k says of a number already listed: its values replace the old ones."""
    return _Held(
        _merge_entry(replace(said, raw=held.entry.raw), held.entry), k if said.pin else held.pin_at
    )


def _merge_numbers(messages: Sequence[ParsedMessage]) -> list[_Held]:
    """The numbers as the thread leaves them, each with where its own PIN was stated.

    A follow-up that names only numbers already listed ("the PIN for 512-555-0101
    is 3190", "the …0199 line goes to Dana Ortiz") updates those numbers; one that
    lists a number not yet listed replaces the list. A number named by its last four
    digits updates the one listed number that ends so, and is dropped when none or
    several do.
    """
    numbers: list[_Held] = []
    for k, parsed in enumerate(messages):
        said = _numbers_of_message(parsed)
        full = [e for e in said if reference_digits(e.raw) is None]
        if full:
            known = {_key(h.entry) for h in numbers}
            if numbers and all(_key(e) in known for e in full):
                updates = {_key(e): e for e in full}
                numbers = [
                    _update(h, updates[_key(h.entry)], k) if _key(h.entry) in updates else h
                    for h in numbers
                ]
            else:
                numbers = [_Held(e, k if e.pin else -1) for e in full]
        for ref in said:
            digits = reference_digits(ref.raw)
            if digits is None:
                continue
            hits = [i for i, h in enumerate(numbers) if digits_of(_key(h.entry)).endswith(digits)]
            if len({_key(numbers[i].entry) for i in hits}) == 1:
                for i in hits:
                    numbers[i] = _update(numbers[i], ref, k)
    return numbers


def build_request(messages: Sequence[ParsedMessage]) -> Request:
    statements = [p.statements for p in messages]
    documents = tuple(d for p in messages for d in p.documents)
    bill = _newest_document(messages, "bill")
    loa = _newest_document(messages, "loa")
    number_list = _newest_document(messages, "number_list")

    pin_for_all = _latest(s.pin_for_all for s in statements)
    all_at = max((k for k, s in enumerate(statements) if s.pin_for_all is not None), default=-1)
    no_pin_stated = False
    for s in statements:
        if s.no_pin_stated:
            no_pin_stated = True
        elif s.pin_for_all is not None:
            no_pin_stated = False

    # The newest word on a number's PIN wins: a PIN for all lines replaces the PINs
    # of single numbers stated in earlier messages (a correction of all of them),
    # and a number's own PIN stated with it or later wins over it.
    numbers = [
        replace(h.entry, pin=pin_for_all)
        if pin_for_all is not None and (h.entry.pin is None or h.pin_at < all_at)
        else h.entry
        for h in _merge_numbers(messages)
    ]

    btn_raw = _latest(s.billing_telephone_number for s in statements)
    filled: list[tuple[str, str]] = []
    bill_fields = bill.bill if bill is not None and bill.error is None else None
    loa_fields = loa.loa if loa is not None and loa.error is None else None

    def fill(name: str, stated: T | None, *sources: tuple[T | None, Document | None]) -> T | None:
        if stated is not None:
            return stated
        for value, doc in sources:
            if value is not None and doc is not None:
                filled.append((name, doc.filename))
                return value
        return None

    account_number = fill(
        "account_number",
        _latest(s.account_number for s in statements),
        (bill_fields.account_number if bill_fields else None, bill),
    )
    account_name = fill(
        "account_name",
        _latest(s.account_name for s in statements),
        (bill_fields.account_name if bill_fields else None, bill),
        (loa_fields.account_name if loa_fields else None, loa),
    )
    service_address = fill(
        "service_address",
        _latest(s.service_address for s in statements),
        (bill_fields.service_address if bill_fields else None, bill),
    )
    btn = fill(
        "billing_telephone_number",
        to_e164(btn_raw) if btn_raw else None,
        (bill_fields.billing_telephone_number if bill_fields else None, bill),
    )
    if not numbers and loa_fields is not None and loa is not None and loa_fields.numbers:
        numbers = [NumberEntry(raw=n, pin=pin_for_all) for n in loa_fields.numbers]
        filled.append(("numbers", loa.filename))

    return Request(
        current_carrier=_latest(s.current_carrier for s in statements),
        account_number=account_number,
        account_name=account_name,
        service_address=service_address,
        billing_telephone_number=btn,
        billing_telephone_number_raw=btn_raw,
        ssn_last4=_latest(s.ssn_last4 for s in statements),
        no_pin_stated=no_pin_stated,
        numbers=tuple(numbers),
        bill=bill,
        loa=loa,
        number_list=number_list,
        documents=documents,
        filled_from=tuple(filled),
    )
