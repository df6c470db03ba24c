"""The emulator's HTTP face: Twilio's routes, Basic auth, error bodies, pagination,
signed webhooks, and test hooks under `/__emulator__/`.

Routes (Numbers v1, ../shared/twilio/numbers_v1.json; the Documents upload is served
on the same port as Twilio's separate `numbers-upload` host):

    GET    /v1/Porting/Portability/PhoneNumber/{n}     200 porting_portability
    POST   /v1/Documents                              201 (multipart: document_type, friendly_name, File)
    POST   /v1/Porting/PortIn                         202 porting_port_in (JSON body)
    GET    /v1/Porting/PortIn/{KW..}                  200, 404 (code 20404)
    DELETE /v1/Porting/PortIn/{KW..}                  204
    GET    /v1/Porting/PortIn/PortInRequests          200 {port_in_requests, meta} (Token, Size)
    GET    /v1/Porting/PortIn/{KW..}/PhoneNumber/{PU..}
    GET|POST /v1/Porting/Configuration/Webhook

Errors are Twilio's body `{code, message, more_info, status}`; a request without
the account's credentials gets 401 code 20003. `meta` carries `key` and
`next_page_url` beside the spec's tokens, as the official package reads them.

Webhooks are JSON POSTs to the configured `port_in_target_url` with
`?bodySHA256=<hex>` and `X-Twilio-Signature` (HMAC-SHA1 of the URL with the auth
token, Twilio's scheme for JSON bodies). They are queued on each status change and
sent by `POST /__emulator__/deliver` (tests: deterministic), or at once with
`auto_deliver`.

Test hooks: POST portability {number, ...fields}; POST advance {sid, status, why?,
reason?, code?, date?}; POST fault {status, count, path?}; POST today {date};
POST deliver; GET state.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import threading
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from twilio.request_validator import RequestValidator

from bot.standins.twilio_emulator.store import ApiError, Json, PortingStore


@dataclass
class Fault:
    status: int
    remaining: int
    path: str | None = None
    method: str | None = None
    # "refuse": answer `status`, do nothing; "lost": do it, then drop the connection
    # unanswered (the client cannot tell whether it happened); "hold": keep the request
    # waiting, undone, until the "release" hook (a test kills the client meanwhile), then
    # drop it
    mode: str = "refuse"


@dataclass
class Sent:
    url: str
    status: int
    event: str


class TwilioEmulator(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], store: PortingStore, auth_token: str) -> None:
        super().__init__(address, _Handler)
        self.store = store
        self.auth_token = auth_token
        self.faults: list[Fault] = []
        self.held = 0  # requests a "hold" fault keeps waiting now
        self.release = threading.Event()
        self.sent: list[Sent] = []
        self.auto_deliver = False
        self._thread: threading.Thread | None = None
        self._deliver_lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def stop(self) -> None:
        self.release.set()  # no request is kept waiting past the emulator
        self.shutdown()
        self.server_close()

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    # -- webhooks ----------------------------------------------------------------------

    def sign(self, url: str) -> str:
        return str(RequestValidator(self.auth_token).compute_signature(url, {}))

    def deliver(self) -> list[Sent]:
        """Send every queued event, signed, oldest first; a failed one stays queued."""
        with self._deliver_lock:
            with self.store.lock:
                target, events = self.store.webhook_url, list(self.store.events)
            out: list[Sent] = []
            if not target:
                return out
            for event in events:
                body = json.dumps(event).encode()
                digest = hashlib.sha256(body).hexdigest()
                sep = "&" if "?" in target else "?"
                url = f"{target}{sep}bodySHA256={digest}"
                try:
                    r = requests.post(
                        url,
                        data=body,
                        headers={
                            "Content-Type": "application/json",
                            "X-Twilio-Signature": self.sign(url),
                            "I-Twilio-Idempotency-Token": hashlib.sha1(body).hexdigest(),
                        },
                        timeout=10,
                    )
                    status = r.status_code
                except requests.RequestException:
                    status = 0
                out.append(Sent(url, status, event["event"]))
                if not 200 <= status < 300:
                    break
                with self.store.lock:
                    self.store.events.remove(event)
            self.sent.extend(out)
            return out


class Request:
    def __init__(
        self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: bytes
    ) -> None:
        self.method, self.path, self.query, self.headers, self.body = (
            method,
            path,
            query,
            headers,
            body,
        )

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def json(self) -> Json:
        try:
            data = json.loads(self.body or b"{}")
        except ValueError:
            raise ApiError(400, 20001, "The request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise ApiError(400, 20001, "The request body must be a JSON object")
        return data


class _Handler(BaseHTTPRequestHandler):
    server: TwilioEmulator
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        req = Request(method, parts.path, parse_qs(parts.query), self.headers, body)
        em = self.server
        try:
            if req.path.startswith("/__emulator__/"):
                status, answer = _control(em, req)
            else:
                lost = False
                for fault in em.faults:
                    if (
                        fault.remaining > 0
                        and (fault.path is None or req.path.startswith(fault.path))
                        and (fault.method is None or fault.method == method)
                    ):
                        fault.remaining -= 1
                        if fault.mode == "lost":
                            lost = True
                            break
                        if fault.mode == "hold":
                            with em.store.lock:
                                em.held += 1
                            em.release.wait(120)
                            with em.store.lock:
                                em.held -= 1
                            self.close_connection = True
                            return
                        raise ApiError(
                            fault.status, 20500 if fault.status >= 500 else 20429, "Injected fault"
                        )
                _authenticate(em, req)
                with em.store.lock:
                    em.store.calls.append((method, req.path))
                    status, answer = _api(em, req)
                if lost:
                    self.close_connection = True
                    return
        except ApiError as err:
            status, answer = err.status, err.body()
        data = b"" if answer is None else json.dumps(answer).encode()
        self.send_response(status)
        if answer is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        if em.auto_deliver and em.store.events:
            threading.Thread(target=em.deliver, daemon=True).start()


def _authenticate(em: TwilioEmulator, req: Request) -> None:
    header = req.headers.get("Authorization") or ""
    if header.startswith("Basic "):
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            user = password = ""
        if user == em.store.account_sid and password == em.auth_token:
            return
    raise ApiError(401, 20003, "Authenticate")


def _api(em: TwilioEmulator, req: Request) -> tuple[int, Json | None]:
    store, path, method = em.store, req.path.rstrip("/"), req.method
    segs = path.split("/")[1:]
    if (
        segs[:4] == ["v1", "Porting", "Portability", "PhoneNumber"]
        and len(segs) == 5
        and method == "GET"
    ):
        return 200, store.portability(segs[4])
    if segs == ["v1", "Documents"] and method == "POST":
        return 201, _upload(store, req)
    if segs == ["v1", "Porting", "PortIn"] and method == "POST":
        port = store.create(req.json(), em.now())
        return 202, store.view(port)
    if segs == ["v1", "Porting", "PortIn", "PortInRequests"] and method == "GET":
        return 200, _listing(store, req)
    if segs[:3] == ["v1", "Porting", "PortIn"] and len(segs) == 4:
        port = store.get(segs[3])
        if method == "GET":
            return 200, store.view(port)
        if method == "DELETE":
            store.cancel(port, "Canceled by the customer's request", em.now())
            return 204, None
    if segs[:3] == ["v1", "Porting", "PortIn"] and len(segs) == 6 and segs[4] == "PhoneNumber":
        port = store.get(segs[3])
        for n in port.numbers:
            if n.sid == segs[5] and method == "GET":
                return 200, {
                    **store.number_result(n),
                    "port_in_request_sid": port.sid,
                    "phone_number_sid": n.sid,
                    "port_out_pin": None,
                }
        raise ApiError(404, 20404, f"The requested resource {path} was not found")
    if segs == ["v1", "Porting", "Configuration", "Webhook"]:
        if method == "POST":
            data = req.json()
            store.webhook_url = data.get("port_in_target_url") or None
            return 201, _webhook_view(store, data.get("notifications_of") or [])
        if method == "GET":
            return 200, _webhook_view(store, [])
    raise ApiError(404, 20404, f"The requested resource {path} was not found")


def _webhook_view(store: PortingStore, notifications: list[str]) -> Json:
    return {
        "port_in_target_url": store.webhook_url,
        "port_out_target_url": None,
        "notifications_of": notifications,
        "url": "https://numbers.twilio.com/v1/Porting/Configuration/Webhook",
    }


def _upload(store: PortingStore, req: Request) -> Json:
    ctype = req.headers.get("Content-Type") or ""
    if not ctype.startswith("multipart/form-data"):
        raise ApiError(400, 20001, "The upload must be multipart/form-data")
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {ctype}\r\n\r\n".encode() + req.body
    )
    fields: dict[str, str] = {}
    size, mime = 0, "application/octet-stream"
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        raw = part.get_payload(decode=True)
        payload = raw if isinstance(raw, bytes) else b""
        if name == "File":
            size, mime = len(payload), part.get_content_type()
        elif isinstance(name, str):
            fields[name] = payload.decode("utf-8", "replace")
    return store.add_document(
        fields.get("document_type", ""), fields.get("friendly_name", ""), size, mime
    )


def _listing(store: PortingStore, req: Request) -> Json:
    try:
        size = int(req.arg("Size") or 20)
    except ValueError:
        raise ApiError(400, 20001, "Invalid 'Size'") from None
    if not 1 <= size <= 100:
        raise ApiError(400, 20001, "'Size' must be between 1 and 100")
    items = store.listing(req.arg("PortInRequestStatus"), req.arg("CreatedAfter"))
    token = req.arg("Token")
    start = 0
    if token:
        sids = [i["port_in_request_sid"] for i in items]
        if token not in sids:
            raise ApiError(400, 20001, f"Invalid page token {token!r}")
        start = sids.index(token)
    page = items[start : start + size]
    nxt = items[start + size]["port_in_request_sid"] if start + size < len(items) else None
    prev = items[max(start - size, 0)]["port_in_request_sid"] if start > 0 else None
    base = {k: v[0] for k, v in req.query.items() if k != "Token"}
    return {
        "port_in_requests": page,
        "meta": {
            "key": "port_in_requests",
            "next_token": nxt,
            "previous_token": prev,
            "next_page_url": "https://numbers.twilio.com/v1/Porting/PortIn/PortInRequests?"
            + urlencode({**base, "Token": nxt})
            if nxt
            else None,
        },
    }


def _control(em: TwilioEmulator, req: Request) -> tuple[int, Json | None]:
    name = req.path.removeprefix("/__emulator__/")
    store = em.store
    if name == "state" and req.method == "GET":
        with store.lock:
            return 200, {
                "port_ins": [store.view(p) for p in store.port_ins.values()],
                "documents": list(store.documents.values()),
                "queued": list(store.events),
                "calls": [list(c) for c in store.calls],
                "sent": [s.__dict__ for s in em.sent],
                "held": em.held,
            }
    data = req.json()
    if name == "portability":
        with store.lock:
            store.portability_of[str(data.pop("number"))] = data
        return 200, {}
    if name == "advance":
        extra = {k: v for k, v in data.items() if k not in ("sid", "status")}
        with store.lock:
            store.advance(str(data["sid"]), str(data["status"]), em.now(), **extra)
        return 200, {}
    if name == "fault":
        em.faults.append(
            Fault(
                int(data.get("status", 0)),
                int(data.get("count", 1)),
                data.get("path"),
                data.get("method"),
                str(data.get("mode", "refuse")),
            )
        )
        return 200, {}
    if name == "release":
        em.release.set()
        return 200, {}
    if name == "today":
        with store.lock:
            store.today = dt.date.fromisoformat(str(data["date"]))
        return 200, {}
    if name == "deliver":
        return 200, {"sent": [s.__dict__ for s in em.deliver()]}
    raise ApiError(404, 20404, f"no emulator hook {name!r}")


def start(
    account_sid: str,
    auth_token: str,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    today: dt.date | None = None,
) -> TwilioEmulator:
    """Serve an emulated account on a background thread; `stop()` ends it."""
    store = PortingStore(account_sid, today=today or dt.date.today())
    em = TwilioEmulator((host, port), store, auth_token)
    em._thread = threading.Thread(target=em.serve_forever, name="twilio-emulator", daemon=True)
    em._thread.start()
    return em


__all__ = ["Fault", "Sent", "TwilioEmulator", "start"]
