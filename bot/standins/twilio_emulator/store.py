"""The emulator's account: numbers' portability, documents, port-ins and their numbers.

Pure state behind one lock (the server holds it per request). Statuses follow
Twilio's per-number lifecycle:

    in_review -> waiting_for_signature -> port_submitted -> port_pending (date set)
              -> completed;  port_rejected (reason, code) or canceled from any open one

A test moves a port along with `advance`, `reject`, `set_date`, `complete`; each
change queues a webhook event (sent signed by the server).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
US_TOLL_FREE = re.compile(r"^\+18(00|33|44|55|66|77|88)\d{7}$")

OPEN = ("in_review", "waiting_for_signature", "port_submitted", "port_pending")
REQUEST_STATUS = {  # the port-in's own status, from its numbers'
    "in_review": "In review",
    "waiting_for_signature": "Waiting for Signature",
    "port_submitted": "In progress",
    "port_pending": "In progress",
    "completed": "Completed",
    "port_rejected": "Action Required",
    "canceled": "Canceled",
}
EVENT = {  # the webhook event each per-number status sends
    "waiting_for_signature": "PortInPhoneNumberWaitingForSignature",
    "port_submitted": "PortInPhoneNumberSubmitted",
    "port_pending": "PortInPhoneNumberPending",
    "completed": "PortInPhoneNumberCompleted",
    "port_rejected": "PortInPhoneNumberRejected",
    "canceled": "PortInCanceled",
}
REJECTIONS = {  # what a test may ask for, with Twilio-like codes
    "wrong_pin": ("The PIN provided does not match the losing carrier's records.", "6013"),
    "name_mismatch": ("The customer name does not match the losing carrier's records.", "6010"),
    "address_mismatch": ("The service address does not match the carrier's records.", "6011"),
    "account_mismatch": ("The account number does not match the carrier's records.", "6012"),
}


class ApiError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def body(self) -> Json:
        return {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }


def sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


@dataclass
class Number:
    sid: str
    number: str
    pin: str | None
    status: str = "in_review"
    rejection_reason: str | None = None
    rejection_code: str | None = None
    port_date: dt.date | None = None
    updated: str = ""


@dataclass
class PortIn:
    sid: str
    body: Json  # as created
    created: dt.datetime
    numbers: list[Number]
    documents: list[str]
    cancellation_reason: str | None = None


@dataclass
class PortingStore:
    account_sid: str
    today: dt.date = field(default_factory=dt.date.today)
    lock: threading.RLock = field(default_factory=threading.RLock)
    # number -> portability answer overrides (fields of porting_portability)
    portability_of: dict[str, Json] = field(default_factory=dict)
    documents: dict[str, Json] = field(default_factory=dict)
    port_ins: dict[str, PortIn] = field(default_factory=dict)
    events: list[Json] = field(default_factory=list)  # webhooks to send, oldest first
    webhook_url: str | None = None
    calls: list[tuple[str, str]] = field(default_factory=list)  # (method, path) served

    # -- portability -------------------------------------------------------------

    def portability(self, number: str) -> Json:
        if not E164.match(number):
            raise ApiError(400, 21211, f"Invalid 'PhoneNumber' {number!r}: use E.164")
        answer: Json = {
            "phone_number": number,
            "account_sid": None,
            "portable": True,
            "pin_and_account_number_required": False,
            "not_portable_reason": None,
            "not_portable_reason_code": None,
            "number_type": "TOLL-FREE" if US_TOLL_FREE.match(number) else "LOCAL",
            "country": "US" if number.startswith("+1") else None,
            "url": f"https://numbers.twilio.com/v1/Porting/Portability/PhoneNumber/{number}",
        }
        if self._in_progress(number):
            answer.update(
                portable=False,
                not_portable_reason="ALREADY_IN_PROGRESS",
                not_portable_reason_code=22137,
            )
        answer.update(self.portability_of.get(number, {}))
        return answer

    def _in_progress(self, number: str) -> bool:
        return any(
            n.number == number and n.status in OPEN
            for p in self.port_ins.values()
            for n in p.numbers
        )

    # -- documents ------------------------------------------------------------------

    def add_document(self, document_type: str, friendly_name: str, size: int, mime: str) -> Json:
        if document_type != "utility_bill":
            raise ApiError(400, 20001, "Invalid 'document_type': only utility_bill is accepted")
        if size == 0:
            raise ApiError(400, 20001, "Missing required parameter File")
        doc_sid = sid("RD")
        doc: Json = {
            "sid": doc_sid,
            "account_sid": self.account_sid,
            "friendly_name": friendly_name,
            "document_type": document_type,
            "status": "uploaded",
            "mime_type": mime,
            "size": size,
        }
        self.documents[doc_sid] = doc
        return doc

    # -- port-ins ----------------------------------------------------------------------

    def create(self, body: Json, now: dt.datetime) -> PortIn:
        lci = body.get("losing_carrier_information")
        if not isinstance(lci, dict):
            raise ApiError(400, 20001, "Missing required parameter losing_carrier_information")
        for key in (
            "customer_name",
            "authorized_representative",
            "authorized_representative_email",
        ):
            if not lci.get(key):
                raise ApiError(
                    400, 20001, f"Missing required parameter losing_carrier_information.{key}"
                )
        address = lci.get("address")
        if not lci.get("address_sid"):
            if not isinstance(address, dict):
                raise ApiError(
                    400, 20001, "Missing required parameter losing_carrier_information.address"
                )
            for key in ("street", "city", "state", "zip", "country"):
                if not address.get(key):
                    raise ApiError(400, 20001, f"Missing required parameter address.{key}")
        numbers = body.get("phone_numbers")
        if not isinstance(numbers, list) or not numbers or len(numbers) > 1000:
            raise ApiError(400, 20001, "phone_numbers must hold 1 to 1,000 numbers")
        docs = body.get("documents") or []
        if not any(
            self.documents.get(str(d), {}).get("document_type") == "utility_bill" for d in docs
        ):
            raise ApiError(400, 20001, "At least one document of type utility_bill is required")
        target = body.get("target_port_in_date")
        if target is not None:
            try:
                day = dt.date.fromisoformat(target)
            except (TypeError, ValueError):
                raise ApiError(400, 20001, f"Invalid target_port_in_date {target!r}") from None
            if (day - self.today).days < 7:
                raise ApiError(400, 20001, "target_port_in_date must be at least 7 days out")
        made: list[Number] = []
        for entry in numbers:
            number = entry.get("phone_number") if isinstance(entry, dict) else None
            if not isinstance(number, str) or not E164.match(number):
                raise ApiError(400, 21211, f"Invalid phone_number {number!r}: use E.164")
            answer = self.portability(number)
            if not answer["portable"]:
                raise ApiError(
                    400,
                    int(answer["not_portable_reason_code"] or 22130),
                    f"{number} is not portable: {answer['not_portable_reason']}",
                )
            made.append(Number(sid("PU"), number, entry.get("pin"), updated=now.isoformat()))
        port = PortIn(sid("KW"), body, now, made, list(docs))
        self.port_ins[port.sid] = port
        return port

    def get(self, port_sid: str) -> PortIn:
        port = self.port_ins.get(port_sid)
        if port is None:
            raise ApiError(
                404, 20404, f"The requested resource /Porting/PortIn/{port_sid} was not found"
            )
        return port

    def request_status(self, port: PortIn) -> str:
        statuses = {n.status for n in port.numbers}
        for status in (
            "port_rejected",
            "in_review",
            "waiting_for_signature",
            "port_submitted",
            "port_pending",
            "completed",
            "canceled",
        ):
            if status in statuses:
                return REQUEST_STATUS[status]
        return "In review"

    def view(self, port: PortIn) -> Json:
        body = port.body
        return {
            "port_in_request_sid": port.sid,
            "url": f"https://numbers.twilio.com/v1/Porting/PortIn/{port.sid}",
            "account_sid": self.account_sid,
            "notification_emails": body.get("notification_emails"),
            "target_port_in_date": body.get("target_port_in_date"),
            "target_port_in_time_range_start": body.get("target_port_in_time_range_start"),
            "target_port_in_time_range_end": body.get("target_port_in_time_range_end"),
            "port_in_request_status": self.request_status(port),
            "order_cancellation_reason": port.cancellation_reason,
            "losing_carrier_information": body.get("losing_carrier_information"),
            "phone_numbers": [self.number_result(n) for n in port.numbers],
            "bundle_sid": None,
            "portability_advance_carrier": None,
            "auto_cancel_approval_numbers": None,
            "documents": port.documents,
            "date_created": port.created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "support_ticket_id": None,
            "signature_request_url": f"https://sign.twilio.example/{port.sid}",
        }

    def number_result(self, n: Number) -> Json:
        return {
            "phone_number": n.number,
            "portable": True,
            "not_portability_reason": None,
            "not_portability_reason_code": None,
            "number_type": "LOCAL",
            "port_in_phone_number_sid": n.sid,
            "port_in_phone_number_status": n.status,
            "rejection_reason": n.rejection_reason,
            "rejection_reason_code": n.rejection_code,
            "port_date": f"{n.port_date.isoformat()}T00:00:00Z" if n.port_date else None,
            "status_last_time_updated_timestamp": n.updated,
            "external_porting_vendor_phone_number_id": None,
        }

    def cancel(self, port: PortIn, reason: str, now: dt.datetime) -> None:
        if not any(n.status in OPEN or n.status == "port_rejected" for n in port.numbers):
            raise ApiError(400, 20001, "The port in request can no longer be canceled")
        port.cancellation_reason = reason
        for n in port.numbers:
            self._set(port, n, "canceled", now)

    def listing(self, status: str | None, created_after: str | None) -> list[Json]:
        out = []
        for port in sorted(self.port_ins.values(), key=lambda p: (p.created, p.sid)):
            if status and self.request_status(port).lower() != status.lower():
                continue
            if created_after and port.created.date().isoformat() < created_after:
                continue
            out.append(
                {
                    "port_in_request_sid": port.sid,
                    "port_in_request_status": self.request_status(port),
                    "status_last_updated_timestamp": max(n.updated for n in port.numbers),
                    "phone_numbers_requested": len(port.numbers),
                    "phone_numbers_ported": sum(n.status == "completed" for n in port.numbers),
                    "suggested_action": None,
                }
            )
        return out

    # -- the lifecycle, driven by tests -----------------------------------------------

    def _set(self, port: PortIn, n: Number, status: str, now: dt.datetime) -> None:
        n.status, n.updated = status, now.isoformat()
        self.events.append(
            {
                "event": EVENT.get(status, "PortInInProgress"),
                "port_in_request_sid": port.sid,
                "port_in_phone_number_sid": n.sid,
                "phone_number": n.number,
                "status": status,
                "rejection_reason": n.rejection_reason,
                "rejection_reason_code": n.rejection_code,
                "port_date": n.port_date.isoformat() if n.port_date else None,
                "last_date_updated": n.updated,
            }
        )

    def advance(self, port_sid: str, status: str, now: dt.datetime, **extra: Any) -> None:
        """Every open (or rejected, when resubmitted) number of the port to `status`."""
        port = self.get(port_sid)
        if status not in EVENT and status != "in_review":
            raise ApiError(400, 20001, f"unknown status {status!r}")
        for n in port.numbers:
            if n.status in ("completed", "canceled"):
                continue
            if status == "port_rejected":
                reason, code = REJECTIONS.get(
                    extra.get("why", ""), (extra.get("reason"), extra.get("code"))
                )
                n.rejection_reason, n.rejection_code = (
                    reason or "Rejected by the losing carrier",
                    code,
                )
            elif status != "completed":
                n.rejection_reason = n.rejection_code = None
            if status == "port_pending":
                n.port_date = dt.date.fromisoformat(extra["date"])
            self._set(port, n, status, now)
