"""Sample assessments (contract JSON, secrets shown) and messages for the Zendesk tests."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from parsers.model import Attachment, Message

PIN = "4821"
PIN2 = "9917"


def incomplete() -> dict[str, Any]:
    """A first request: the LOA is missing and the bill's name differs (read by OCR)."""
    return {
        "contract": "port-assessment/1",
        "request": {
            "current_carrier": "AT&T",
            "via_follow_up_boss": False,
            "account_number": "287654321",
            "account_name": "Acme Realty LLC",
            "service_address": {
                "street": "123 Main St Ste 200",
                "city": "Austin",
                "state": "TX",
                "zip": "78701",
            },
            "billing_telephone_number": "+15125550100",
            "ssn_last4": None,
            "no_pin_stated": False,
            "numbers": [
                {
                    "number": "+15125550101",
                    "pin": PIN,
                    "assignee_name": "Mickey Mouse",
                    "assignee_email": "mmouse@acme.example",
                },
                {
                    "number": "+15125550102",
                    "pin": PIN2,
                    "assignee_name": "Minnie Mouse",
                    "assignee_email": None,
                },
            ],
        },
        "documents": [
            {
                "filename": "bill.pdf",
                "kind": "bill",
                "ocr": True,
                "fields": {
                    "bill_date": "2026-11-02",
                    "account_name": "ACME REALTY INC",
                    "account_number": "287654321",
                    "service_address": None,
                    "billing_telephone_number": "+15125550100",
                },
            },
        ],
        "checklist": {
            "current_carrier": "ok",
            "account_number": "ok",
            "account_name": "ok",
            "service_address": "ok",
            "billing_telephone_number": "ok",
            "ssn_last4": "not_provided",
            "numbers": "ok",
            "pins": "ok",
            "bill": "problem",
            "loa": "missing",
        },
        "problems": [
            {
                "code": "bill_name_mismatch",
                "item": "bill",
                "number": None,
                "detail": 'The name on the bill reads "ACME REALTY INC" but the account name '
                'given is "Acme Realty LLC"; it must match the bill exactly.',
            },
        ],
        "ready": False,
        "notes": [],
    }


def complete() -> dict[str, Any]:
    """The same request after a follow-up brought a signed LOA and a matching bill."""
    data = copy.deepcopy(incomplete())
    data["documents"][0]["fields"]["account_name"] = "Acme Realty LLC"
    data["documents"].append(
        {
            "filename": "loa.pdf",
            "kind": "loa",
            "ocr": False,
            "fields": {
                "signed": True,
                "signed_date": "2026-11-20",
                "account_name": "Acme Realty LLC",
                "numbers": ["+15125550101", "+15125550102"],
            },
        }
    )
    data["checklist"]["bill"] = "ok"
    data["checklist"]["loa"] = "ok"
    data["problems"] = []
    data["ready"] = True
    return data


def message(
    body: str = "Please port our numbers. PIN for all lines: 4821",
    attachments: tuple[Attachment, ...] = (),
    *,
    forwarded_from: str | None = None,
) -> Message:
    return Message(
        message_id="<m1@acme.example>",
        in_reply_to=None,
        references=(),
        subject="Porting our numbers",
        sender="colleague@ourco.example" if forwarded_from else "dana@acme.example",
        sender_name="Pat Colleague" if forwarded_from else "Dana",
        date=dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC),
        body=body,
        attachments=attachments,
        forwarded_from=forwarded_from,
        forwarded_from_name="Dana Customer" if forwarded_from else None,
    )


BILL = Attachment("bill.pdf", "application/pdf", b"%PDF-1.4 bill bytes")
NUMBERS = Attachment("numbers.csv", "text/csv", b"number,pin\n5125550101,4821\n")
LOA = Attachment("loa.pdf", "application/pdf", b"%PDF-1.4 signed loa")
