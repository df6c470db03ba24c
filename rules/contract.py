"""The assessment's JSON form, `port-assessment/1` (../shared/contract/assessment.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

from parsers.model import Document
from parsers.phone import parse_phone
from rules.assessment import CONTRACT, MASK, Assessment


def _secret(value: str | None, show: bool) -> str | None:
    if value is None:
        return None
    return value if show else MASK


def document_fields(doc: Document) -> dict[str, Any]:
    if doc.error is not None:
        return {"error": doc.error}
    if doc.bill is not None and doc.loa is not None:
        # One PDF with both: the fields of its kind, the other kind's beside them.
        bill, loa = _bill_fields(doc), _loa_fields(doc)
        return {**bill, "loa": loa} if doc.kind == "bill" else {**loa, "bill": bill}
    if doc.bill is not None:
        return _bill_fields(doc)
    if doc.loa is not None:
        return _loa_fields(doc)
    if doc.number_list is not None:
        return {"rows": len(doc.number_list.rows)}
    return {}


def _bill_fields(doc: Document) -> dict[str, Any]:
    if doc.bill is not None:
        b = doc.bill
        fields: dict[str, Any] = {
            "bill_date": b.bill_date.isoformat() if b.bill_date else None,
            "account_name": b.account_name,
            "account_number": b.account_number,
            "service_address": b.service_address.as_json() if b.service_address else None,
            "billing_telephone_number": b.billing_telephone_number,
        }
        if b.uncertain:
            fields["uncertain"] = sorted(b.uncertain)
        return fields
    return {}


def _loa_fields(doc: Document) -> dict[str, Any]:
    if doc.loa is not None:
        loa = doc.loa
        fields = {
            "signed": loa.signed,
            "signed_date": loa.signed_date.isoformat() if loa.signed_date else None,
            "account_name": loa.account_name,
            "numbers": [parse_phone(n).key for n in loa.numbers],
        }
        if loa.uncertain:
            fields["uncertain"] = sorted(loa.uncertain)
        return fields
    return {}


def to_json(assessment: Assessment, *, show_secrets: bool = False) -> dict[str, Any]:
    """The contract object. PINs and SSN digits are masked unless `show_secrets`."""
    r = assessment.request
    return {
        "contract": CONTRACT,
        "request": {
            "current_carrier": r.current_carrier,
            "via_follow_up_boss": assessment.follow_up_boss,
            "account_number": r.account_number,
            "account_name": r.account_name,
            "service_address": r.service_address.as_json() if r.service_address else None,
            "billing_telephone_number": r.billing_telephone_number,
            "ssn_last4": _secret(r.ssn_last4, show_secrets),
            "no_pin_stated": r.no_pin_stated,
            "numbers": [
                {
                    "number": parse_phone(e.raw).key,
                    "pin": _secret(e.pin, show_secrets),
                    "assignee_name": e.assignee_name,
                    "assignee_email": e.assignee_email,
                }
                for e in assessment.numbers
            ],
        },
        "documents": [
            {"filename": d.filename, "kind": d.kind, "ocr": d.ocr, "fields": document_fields(d)}
            for d in r.documents
        ],
        "checklist": dict(assessment.checklist),
        "problems": [p.as_json() for p in assessment.problems],
        "ready": assessment.ready,
        "notes": list(assessment.notes),
    }


# -- the typed view: the contract form as records, for rendering ------------------------
# Built from an Assessment (`view_of`) or decoded from a stored snapshot (`view_from_json`,
# validated by pydantic), so a ticket or a reply renders the same from either. Values keep
# the contract's forms: E.164 numbers, ISO dates, masked secrets unless shown.


@dataclass(frozen=True)
class AddressView:
    street: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None

    def line(self) -> str | None:
        """One line: "street, city, ST zip" (None when nothing is known)."""
        tail = " ".join(p for p in (self.state, self.zip) if p)
        return ", ".join(p for p in (self.street, self.city, tail) if p) or None


@dataclass(frozen=True)
class NumberView:
    number: str
    pin: str | None = None
    assignee_name: str | None = None
    assignee_email: str | None = None


@dataclass(frozen=True)
class RequestView:
    current_carrier: str | None = None
    via_follow_up_boss: bool = False
    account_number: str | None = None
    account_name: str | None = None
    service_address: AddressView | None = None
    billing_telephone_number: str | None = None
    ssn_last4: str | None = None
    no_pin_stated: bool = False
    numbers: tuple[NumberView, ...] = ()


@dataclass(frozen=True)
class DocumentFieldsView:
    """What a document showed (`document_fields`): a bill's, an LOA's, a list's rows,
    or why it could not be read; a PDF holding both kinds has the other beside."""

    error: str | None = None
    bill_date: str | None = None
    account_name: str | None = None
    account_number: str | None = None
    service_address: AddressView | None = None
    billing_telephone_number: str | None = None
    signed: bool | None = None
    signed_date: str | None = None
    numbers: tuple[str, ...] | None = None
    rows: int | None = None
    uncertain: tuple[str, ...] = ()
    bill: DocumentFieldsView | None = None
    loa: DocumentFieldsView | None = None


@dataclass(frozen=True)
class DocumentView:
    filename: str
    kind: str
    ocr: bool = False
    fields: DocumentFieldsView = DocumentFieldsView()


@dataclass(frozen=True)
class ProblemView:
    code: str
    item: str
    number: str | None
    detail: str


@dataclass(frozen=True)
class AssessmentView:
    request: RequestView
    documents: tuple[DocumentView, ...]
    checklist: Mapping[str, str]
    problems: tuple[ProblemView, ...]
    ready: bool
    notes: tuple[str, ...] = ()

    def missing(self) -> tuple[str, ...]:
        """The checklist items missing, in the checklist's order."""
        return tuple(k for k, v in self.checklist.items() if v == "missing")

    def document(self, kind: str) -> DocumentView | None:
        """The document of that kind the rules judged: the newest readable one."""
        docs = [d for d in self.documents if d.kind == kind]
        readable = [d for d in docs if d.fields.error is None]
        pool = readable or docs
        return pool[-1] if pool else None


_VIEW: TypeAdapter[AssessmentView] = TypeAdapter(AssessmentView)


def view_from_json(data: Mapping[str, Any]) -> AssessmentView:
    """The typed view of an assessment's contract JSON (a stored snapshot)."""
    return _VIEW.validate_python(data)


def view_of(assessment: Assessment, *, show_secrets: bool = False) -> AssessmentView:
    """The typed view of an assessment; PINs and SSN digits masked unless `show_secrets`."""
    return view_from_json(to_json(assessment, show_secrets=show_secrets))
