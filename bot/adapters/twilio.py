"""The carrier partner on Twilio's Numbers v1 porting API, through the official `twilio`
package (`bot.ports.CarrierPartner`).

`api_url` replaces `https://numbers.twilio.com` (the emulator in tests and the demo);
the bill goes to the Documents API on its own host (`upload_url`), which the package
does not cover (it has no multipart upload), so that one call is made with `requests`
under the same credentials. Errors are mapped once, here: 429, 5xx and no connection
are `PartnerUnavailable`; any other refusal is `PartnerRejected` with Twilio's code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from twilio.rest.numbers.v1.porting_port_in import PortingPortInInstance, PortingPortInList

from bot.errors import PartnerRejected, PartnerUnavailable
from bot.ports import NumberStatus, Portability, PortInOrder, PortInStatus

API_URL = "https://numbers.twilio.com"
UPLOAD_URL = "https://numbers-upload.twilio.com"


@dataclass(frozen=True)
class TwilioAccount:
    account_sid: str
    auth_token: str
    api_url: str = API_URL
    upload_url: str = UPLOAD_URL
    timeout: float = 15.0


def _mapped(exc: Exception, what: str) -> Exception:
    if isinstance(exc, TwilioRestException):
        status = int(exc.status or 0)
        if status == 429 or status >= 500:
            return PartnerUnavailable(f"Twilio {what}: HTTP {status} {exc.msg}")
        code = exc.code if isinstance(exc.code, int) else None
        return PartnerRejected(
            f"Twilio {what}: HTTP {status} (code {code}) {exc.msg}", status, code
        )
    if isinstance(exc, requests.RequestException | TwilioException | OSError):
        return PartnerUnavailable(f"Twilio {what}: {exc}")
    return exc


@dataclass(frozen=True)
class _Body:
    """A JSON body as the package's generated `create(body)` methods take it."""

    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return self.data


def _date(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and value:
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


class TwilioPartner:
    """One Twilio account; every call is one HTTP request (retries live in the pipeline)."""

    name = "twilio"

    def __init__(self, account: TwilioAccount) -> None:
        self.account = account
        self.client = Client(
            account.account_sid,
            account.auth_token,
            http_client=TwilioHttpClient(timeout=account.timeout),
        )
        self.client.numbers.base_url = account.api_url.rstrip("/")

    def portability(self, number: str) -> Portability:
        try:
            got = self.client.numbers.v1.porting_portabilities(number).fetch()
        except Exception as exc:
            raise _mapped(exc, f"portability of {number}") from exc
        return Portability(
            number=got.phone_number or number,
            portable=bool(got.portable),
            number_type=str(got.number_type or "UNKNOWN"),
            pin_and_account_required=bool(got.pin_and_account_number_required),
            reason=got.not_portable_reason,
            reason_code=got.not_portable_reason_code,
        )

    def upload_bill(self, reference: str, filename: str, content_type: str, data: bytes) -> str:
        try:
            r = requests.post(
                f"{self.account.upload_url.rstrip('/')}/v1/Documents",
                auth=(self.account.account_sid, self.account.auth_token),
                data={"document_type": "utility_bill", "friendly_name": reference},
                files={"File": (filename, data, content_type)},
                timeout=self.account.timeout,
            )
        except requests.RequestException as exc:
            raise PartnerUnavailable(f"Twilio document upload: {exc}") from exc
        if r.status_code == 429 or r.status_code >= 500:
            raise PartnerUnavailable(f"Twilio document upload: HTTP {r.status_code}")
        body: dict[str, Any] = r.json() if r.content else {}
        if not 200 <= r.status_code < 300 or not body.get("sid"):
            raise PartnerRejected(
                f"Twilio document upload: HTTP {r.status_code} {body.get('message', '')}",
                r.status_code,
                body.get("code"),
            )
        return str(body["sid"])

    def create_port_in(self, order: PortInOrder, documents: Sequence[str]) -> PortInStatus:
        a = order.address
        payload = PortingPortInList.NumbersV1PortingPortInCreate(
            {
                "account_sid": self.account.account_sid,
                "documents": list(documents),
                "phone_numbers": [
                    {"phone_number": n, **({"pin": pin} if pin else {})} for n, pin in order.numbers
                ],
                "losing_carrier_information": {
                    "customer_type": order.customer_type,
                    "customer_name": order.customer_name,
                    "account_number": order.account_number,
                    "account_telephone_number": order.account_telephone_number,
                    "authorized_representative": order.authorized_representative,
                    "authorized_representative_email": order.authorized_representative_email,
                    "address": {
                        "street": a.street,
                        "street_2": a.street_2,
                        "city": a.city,
                        "state": a.state,
                        "zip": a.zip,
                        "country": a.country,
                    },
                },
                "notification_emails": list(order.notification_emails),
                "target_port_in_date": order.target_date.isoformat(),
            }
        )
        try:
            made = self.client.numbers.v1.porting_port_ins.create(payload)
        except Exception as exc:
            raise _mapped(exc, "port-in create") from exc
        return self._status(made)

    def find_port_in(self, document: str, created_on_or_after: dt.date) -> str | None:
        try:
            listing = self.client.numbers.v1.porting_all_port_ins.stream(
                created_after=created_on_or_after.isoformat(), size=100
            )
            for item in listing:
                sid = str(item.port_in_request_sid or "")
                if sid and document in self.port_in(sid).documents:
                    return sid
        except Exception as exc:
            raise _mapped(exc, "port-in lookup") from exc
        return None

    def port_in(self, sid: str) -> PortInStatus:
        try:
            got = self.client.numbers.v1.porting_port_ins(sid).fetch()
        except Exception as exc:
            raise _mapped(exc, f"port-in {sid}") from exc
        return self._status(got)

    # -- the account's configuration (`portbot carrier setup`, `doctor`) ----------------

    def webhook_target(self) -> str | None:
        """Where the account's port-in webhooks go (None: nowhere); also a credentials check."""
        try:
            got = self.client.numbers.v1.webhook.fetch()
        except Exception as exc:
            raise _mapped(exc, "webhook configuration") from exc
        return got.port_in_target_url or None

    def set_webhook_target(self, url: str) -> None:
        """Send the account's port-in webhooks to `url` (every event: no filter)."""
        try:
            self.client.numbers.v1.porting_webhook_configurations.create(
                _Body({"port_in_target_url": url, "notifications_of": []})
            )
        except Exception as exc:
            raise _mapped(exc, "webhook configuration") from exc

    @staticmethod
    def _status(got: PortingPortInInstance) -> PortInStatus:
        numbers = []
        for n in got.phone_numbers or []:
            d = n.to_dict() if hasattr(n, "to_dict") else dict(n)
            code = d.get("rejection_reason_code")
            numbers.append(
                NumberStatus(
                    number=str(d.get("phone_number")),
                    status=str(d.get("port_in_phone_number_status") or "")
                    .lower()
                    .replace(" ", "_"),
                    rejection_reason=d.get("rejection_reason"),
                    rejection_code=str(code) if code is not None else None,
                    port_date=_date(d.get("port_date")),
                )
            )
        return PortInStatus(
            sid=str(got.port_in_request_sid),
            status=str(got.port_in_request_status or ""),
            numbers=tuple(numbers),
            documents=tuple(got.documents or ()),
            signature_request_url=got.signature_request_url,
            cancellation_reason=got.order_cancellation_reason,
        )
