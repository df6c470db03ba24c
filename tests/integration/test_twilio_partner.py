"""The Twilio adapter (official `twilio` package) against the local emulator over HTTP."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from twilio.request_validator import RequestValidator

from bot.adapters.twilio import TwilioAccount, TwilioPartner
from bot.errors import PartnerRejected, PartnerUnavailable
from bot.ports import PortInAddress, PortInOrder
from bot.standins.twilio_emulator import TwilioEmulator, start

SID = "AC" + "1" * 32
TOKEN = "emulator-token"
TODAY = dt.date(2026, 12, 4)


@pytest.fixture
def emulator() -> Iterator[TwilioEmulator]:
    em = start(SID, TOKEN, today=TODAY)
    yield em
    em.stop()


def partner(em: TwilioEmulator, token: str = TOKEN) -> TwilioPartner:
    return TwilioPartner(TwilioAccount(SID, token, api_url=em.url, upload_url=em.url))


def order(numbers: tuple[tuple[str, str | None], ...], target: dt.date) -> PortInOrder:
    return PortInOrder(
        reference="portbot:test:1",
        customer_name="Jane Doe",
        customer_type="Individual",
        account_number="123456",
        account_telephone_number=numbers[0][0],
        address=PortInAddress("1 Main St", "Austin", "TX", "78701", "US"),
        authorized_representative="Jane Doe",
        authorized_representative_email="jane@example.com",
        numbers=numbers,
        notification_emails=("ops@example.com",),
        target_date=target,
    )


def test_portability_answers_follow_the_spec_and_the_numbers_in_progress(
    emulator: TwilioEmulator,
) -> None:
    p = partner(emulator)
    assert p.portability("+15125550100").portable
    assert p.portability("+18005550100").number_type == "TOLL-FREE"
    requests.post(
        f"{emulator.url}/__emulator__/portability",
        json={
            "number": "+15125550101",
            "portable": False,
            "not_portable_reason": "UNSUPPORTED",
            "not_portable_reason_code": 22130,
        },
        timeout=5,
    ).raise_for_status()
    refused = p.portability("+15125550101")
    assert (refused.portable, refused.reason, refused.reason_code) == (False, "UNSUPPORTED", 22130)
    doc = p.upload_bill("portbot:test:1", "bill.pdf", "application/pdf", b"%PDF-1.4 bill")
    p.create_port_in(order((("+15125550100", "1234"),), TODAY + dt.timedelta(days=10)), [doc])
    busy = p.portability("+15125550100")
    assert (busy.portable, busy.reason_code) == (False, 22137)


def test_a_port_in_is_created_from_an_uploaded_bill_and_found_again_by_it(
    emulator: TwilioEmulator,
) -> None:
    p = partner(emulator)
    doc = p.upload_bill("portbot:test:1", "bill.pdf", "application/pdf", b"%PDF-1.4 bill")
    made = p.create_port_in(
        order((("+15125550100", "1234"), ("+15125550102", None)), TODAY + dt.timedelta(days=7)),
        [doc],
    )
    assert made.sid.startswith("KW") and made.documents == (doc,)
    assert [n.status for n in made.numbers] == ["in_review", "in_review"]
    assert p.find_port_in(doc, TODAY) == made.sid
    assert p.find_port_in("RD" + "0" * 32, TODAY) is None
    state = requests.get(f"{emulator.url}/__emulator__/state", timeout=5).json()
    body = state["port_ins"][0]
    assert body["losing_carrier_information"]["address"]["zip"] == "78701"
    assert body["target_port_in_date"] == (TODAY + dt.timedelta(days=7)).isoformat()


def test_the_lookup_pages_through_many_port_ins(emulator: TwilioEmulator) -> None:
    p = partner(emulator)
    docs = []
    for i in range(23):
        doc = p.upload_bill(f"portbot:test:{i}", "bill.pdf", "application/pdf", b"%PDF")
        p.create_port_in(
            order(((f"+151255501{i:02d}", None),), TODAY + dt.timedelta(days=9)), [doc]
        )
        docs.append(doc)
    page = requests.get(
        f"{emulator.url}/v1/Porting/PortIn/PortInRequests?Size=10", auth=(SID, TOKEN), timeout=5
    ).json()
    assert len(page["port_in_requests"]) == 10 and page["meta"]["next_token"].startswith("KW")
    made = json.loads(requests.get(f"{emulator.url}/__emulator__/state", timeout=5).content)[
        "port_ins"
    ]
    assert p.find_port_in(docs[-1], TODAY) == made[-1]["port_in_request_sid"]


def test_refusals_and_outages_are_mapped_once(emulator: TwilioEmulator) -> None:
    with pytest.raises(PartnerRejected) as bad_login:
        partner(emulator, "wrong").portability("+15125550100")
    assert bad_login.value.code == 20003 and bad_login.value.status == 401
    p = partner(emulator)
    with pytest.raises(PartnerRejected) as too_soon:
        doc = p.upload_bill("portbot:test:1", "bill.pdf", "application/pdf", b"%PDF")
        p.create_port_in(order((("+15125550100", None),), TODAY + dt.timedelta(days=3)), [doc])
    assert "7 days" in str(too_soon.value)
    with pytest.raises(PartnerRejected):
        p.port_in("KW" + "0" * 32)
    requests.post(f"{emulator.url}/__emulator__/fault", json={"status": 503}, timeout=5)
    with pytest.raises(PartnerUnavailable):
        p.portability("+15125550100")
    assert p.portability("+15125550100").portable  # the fault was one request
    gone = TwilioPartner(
        TwilioAccount(SID, TOKEN, api_url="http://127.0.0.1:9", upload_url="http://127.0.0.1:9")
    )
    with pytest.raises(PartnerUnavailable):
        gone.portability("+15125550100")


def test_status_changes_are_sent_as_webhooks_signed_the_twilio_way(
    emulator: TwilioEmulator,
) -> None:
    got: list[tuple[str, bytes, str]] = []

    class Hook(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append((self.path, body, self.headers["X-Twilio-Signature"]))
            self.send_response(204)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        target = f"http://127.0.0.1:{server.server_address[1]}/twilio/port-in"
        requests.post(
            f"{emulator.url}/v1/Porting/Configuration/Webhook",
            json={"port_in_target_url": target, "notifications_of": []},
            auth=(SID, TOKEN),
            timeout=5,
        ).raise_for_status()
        p = partner(emulator)
        doc = p.upload_bill("portbot:test:1", "bill.pdf", "application/pdf", b"%PDF")
        made = p.create_port_in(
            order((("+15125550100", "1234"),), TODAY + dt.timedelta(days=8)), [doc]
        )
        requests.post(
            f"{emulator.url}/__emulator__/advance",
            json={"sid": made.sid, "status": "port_rejected", "why": "wrong_pin"},
            timeout=5,
        ).raise_for_status()
        sent = requests.post(f"{emulator.url}/__emulator__/deliver", json={}, timeout=10).json()
        assert [s["status"] for s in sent["sent"]] == [204]
    finally:
        server.shutdown()
        server.server_close()
    path, body, signature = got[0]
    url = f"http://127.0.0.1:{server.server_address[1]}{path}"
    assert RequestValidator(TOKEN).validate(url, body.decode(), signature)
    assert not RequestValidator("other").validate(url, body.decode(), signature)
    assert path.endswith("bodySHA256=" + hashlib.sha256(body).hexdigest())
    event = json.loads(body)
    assert (
        event["event"] == "PortInPhoneNumberRejected" and event["rejection_reason_code"] == "6013"
    )
    assert p.port_in(made.sid).numbers[0].rejection_reason.startswith("The PIN")  # type: ignore[union-attr]
