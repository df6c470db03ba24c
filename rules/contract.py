"""The assessment's JSON form, `port-assessment/1` (../shared/contract/assessment.md)."""

from __future__ import annotations

from typing import Any

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
