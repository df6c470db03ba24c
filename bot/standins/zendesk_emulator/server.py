"""The emulator's HTTP face: routing, auth, rate limits, faults, pagination.

A stdlib ThreadingHTTPServer; each request takes the store's lock, so the
account behaves as one consistent database. Test hooks live under
`/__emulator__/` (faults, rate budget, clock, reset, state) and are plain HTTP,
so tests drive the real server the same way they drive the API.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from bot.standins.zendesk_emulator import email_channel, page, views
from bot.standins.zendesk_emulator.search import search
from bot.standins.zendesk_emulator.store import (
    MAX_BULK,
    ApiError,
    Clock,
    Json,
    Store,
    invalid,
    not_found,
    too_many_values,
)


@dataclass
class Fault:
    """An injected failure. `mode` "refuse": the answer is `status` and nothing is done
    (a 429, a 503 from the edge). "lost": the request is carried out, then the
    connection is dropped before any answer (a proxy or network fault after the write:
    the client cannot tell whether it happened)."""

    status: int
    remaining: int
    retry_after: int | None
    path: str | None  # only requests whose path starts with this
    method: str | None = None  # only requests with this method
    mode: str = "refuse"

    def matches(self, req: Request) -> bool:
        return (
            self.remaining > 0
            and (self.path is None or req.path.startswith(self.path))
            and (self.method is None or req.method == self.method)
        )


@dataclass
class Settings:
    token: str | None = "emulator-token"  # None: any credentials are accepted
    rate_limit_per_minute: int = 700
    faults: list[Fault] = field(default_factory=list)
    window_start: float = 0.0
    window_count: int = 0


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: bytes
    headers: dict[str, str]  # lower-case names
    base: str
    params: tuple[str, ...] = ()
    agent: Json = field(default_factory=dict)

    def json(self) -> Any:
        if not self.body:
            return {}
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise ApiError(
                400, {"error": "InvalidJSON", "description": f"The request body is not JSON: {exc}"}
            ) from exc

    def section(self, name: str) -> Json:
        data = self.json()
        if not isinstance(data, dict) or not isinstance(data.get(name), dict):
            raise ApiError(
                400, {"error": "InvalidParameter", "description": f"{name} parameter is required"}
            )
        return data[name]  # type: ignore[no-any-return]

    @property
    def client(self) -> str:
        return self.headers.get("user-agent", "unknown")


@dataclass
class Response:
    status: int
    body: Json | str | bytes | None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=utf-8"


Handler = Callable[["Emulator", Request], Response]
ROUTES: list[tuple[str, re.Pattern[str], Handler]] = []


def route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    body = (
        pattern.replace("{id}", r"(\d+)")
        .replace("{tok}", r"([A-Za-z0-9]+)")
        .replace("{job}", r"([A-Za-z0-9-]+)")
    )
    rx = re.compile("^/api/v2" + body + r"(?:\.json)?$")

    def register(fn: Handler) -> Handler:
        ROUTES.append((method, rx, fn))
        return fn

    return register


def _int(text: str) -> int:
    return int(text)


# --- pagination ----------------------------------------------------------------


def _cursor(value: Any) -> str:
    raw = json.dumps({"o": "id", "v": value}, separators=(",", ":")).encode()
    return base64.b64encode(raw).decode()


def _uncursor(text: str) -> Any:
    try:
        return json.loads(base64.b64decode(text))["v"]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise ApiError(
            400,
            {
                "errors": [
                    {
                        "code": "InvalidPaginationParameter",
                        "title": "Invalid pagination parameter",
                        "detail": "page[after] is not valid",
                    }
                ]
            },
        ) from exc


def _link(req: Request, **changes: str | None) -> str:
    query = {k: v for k, v in req.query.items()}
    for key, value in changes.items():
        name = key.replace("page_", "page[") + "]" if key.startswith("page_") else key
        if value is None:
            query.pop(name, None)
        else:
            query[name] = value
    return f"{req.base}{req.path}?{urlencode(sorted(query.items()))}"


def paginate(req: Request, name: str, items: list[Json], key: Callable[[Json], Any]) -> Json:
    """Cursor pages when page[size]/page[after] is asked for, else offset pages."""
    if any(k.startswith("page[") for k in req.query):
        try:
            size = int(req.query.get("page[size]", "100"))
        except ValueError:
            size = 0
        if not 1 <= size <= 100:
            raise ApiError(
                400,
                {
                    "errors": [
                        {
                            "code": "InvalidPaginationParameter",
                            "title": "Invalid pagination parameter",
                            "detail": "page[size] must be between 1 and 100",
                        }
                    ]
                },
            )
        ordered = sorted(items, key=key)
        if "page[after]" in req.query:
            after = _uncursor(req.query["page[after]"])
            ordered = [i for i in ordered if key(i) > after]
            chunk = ordered[:size]
        elif "page[before]" in req.query:
            before = _uncursor(req.query["page[before]"])
            ordered = [i for i in ordered if key(i) < before]
            chunk = ordered[-size:]
        else:
            chunk = ordered[:size]
        has_more = len(ordered) > size
        first = _cursor(key(chunk[0])) if chunk else None
        last = _cursor(key(chunk[-1])) if chunk else None
        return {
            name: chunk,
            "meta": {"has_more": has_more, "after_cursor": last, "before_cursor": first},
            "links": {
                "prev": _link(req, page_before=first, page_after=None) if first else None,
                "next": _link(req, page_after=last, page_before=None) if last else None,
            },
        }
    try:
        page_no = max(1, int(req.query.get("page", "1")))
        per_page = min(100, max(1, int(req.query.get("per_page", "100"))))
    except ValueError as exc:
        raise ApiError(
            400,
            {
                "error": "InvalidPaginationParameter",
                "description": "page and per_page must be numbers",
            },
        ) from exc
    ordered = sorted(items, key=key)
    start = (page_no - 1) * per_page
    chunk = ordered[start : start + per_page]
    more = start + per_page < len(ordered)
    return {
        name: chunk,
        "next_page": _link(req, page=str(page_no + 1)) if more else None,
        "previous_page": _link(req, page=str(page_no - 1)) if page_no > 1 else None,
        "count": len(ordered),
    }


# --- the server ------------------------------------------------------------------


class Emulator(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], store: Store, settings: Settings) -> None:
        super().__init__(address, _Handler)
        self.store = store
        self.settings = settings
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def netloc(self) -> str:
        host, port = self.server_address[:2]
        return f"{host!s}:{port}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (a closed browser tab) is no error; anything else is
        one line on stderr, never a traceback."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            return
        print(
            f"zendesk-emulator: request from {client_address[0]} failed: {exc!r}", file=sys.stderr
        )

    def rate_headers(self) -> dict[str, str]:
        """The rate headers as they stand (for answers refused before counting)."""
        s = self.settings
        now = self.store.clock.time()
        fresh = now - now % 60 != s.window_start
        left = str(max(0, s.rate_limit_per_minute - (0 if fresh else s.window_count)))
        return {
            "x-rate-limit": str(s.rate_limit_per_minute),
            "ratelimit-limit": str(s.rate_limit_per_minute),
            "x-rate-limit-remaining": left,
            "ratelimit-remaining": left,
            "ratelimit-reset": str(int(60 - now % 60) or 1),
        }

    # Admission: faults, auth, rate budget. Returns headers for every answer.
    def admit(self, req: Request) -> dict[str, str]:
        s = self.settings
        for fault in s.faults:
            if fault.mode == "refuse" and fault.matches(req):
                fault.remaining -= 1
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
                text = "Too Many Requests" if fault.status == 429 else "Service Unavailable"
                raise ApiError(fault.status, text, headers)
        s.faults = [f for f in s.faults if f.remaining > 0]
        req.agent = self._authenticate(req)
        now = self.store.clock.time()
        window = now - now % 60
        if window != s.window_start:
            s.window_start, s.window_count = window, 0
        reset = int(window + 60 - now) or 1
        limit = s.rate_limit_per_minute
        headers = {
            "x-rate-limit": str(limit),
            "ratelimit-limit": str(limit),
            "ratelimit-reset": str(reset),
        }
        if s.window_count >= limit:
            headers.update(
                {
                    "x-rate-limit-remaining": "0",
                    "ratelimit-remaining": "0",
                    "Retry-After": str(reset),
                }
            )
            raise ApiError(429, f"Too many requests. Retry after {reset} seconds.", headers)
        s.window_count += 1
        left = str(limit - s.window_count)
        headers.update({"x-rate-limit-remaining": left, "ratelimit-remaining": left})
        return headers

    def lose_answer(self, req: Request) -> bool:
        """Whether a "lost" fault takes this request's answer (the work is done)."""
        for fault in self.settings.faults:
            if fault.mode == "lost" and fault.matches(req):
                fault.remaining -= 1
                self.settings.faults = [f for f in self.settings.faults if f.remaining > 0]
                return True
        return False

    def _authenticate(self, req: Request) -> Json:
        unauthorized = ApiError(
            401,
            {"error": "Couldn't authenticate you"},
            {"WWW-Authenticate": 'Basic realm="Web Password"'},
        )
        auth = req.headers.get("authorization", "")
        token = self.settings.token
        if auth.startswith("Bearer "):
            if token is not None and auth[7:].strip() != token:
                raise unauthorized
            return self.store.agent_for(None)
        if auth.startswith("Basic "):
            try:
                user, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            except (ValueError, binascii.Error) as exc:
                raise unauthorized from exc
            email = user.removesuffix("/token")
            if (
                not email
                or not secret
                or (token is not None and (not user.endswith("/token") or secret != token))
            ):
                raise unauthorized
            return self.store.agent_for(email)
        raise unauthorized


class _Handler(BaseHTTPRequestHandler):
    server: Emulator
    protocol_version = "HTTP/1.1"
    # Answers go out at once: with Nagle's algorithm each small answer waited ~40 ms
    # for the client's delayed ACK on keep-alive connections.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests and the demo print what matters themselves

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def _handle(self, method: str) -> None:
        parts = urlsplit(self.path)
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            body = self._read_chunked()
        else:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
        req = Request(
            method=method,
            path=parts.path,
            query={k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()},
            body=body,
            headers={k.lower(): v for k, v in self.headers.items()},
            base=f"http://{self.headers.get('Host') or self.server.netloc}",
        )
        emulator = self.server
        with emulator.store.lock:
            response = self._dispatch(emulator, req)
            lost = req.path.startswith("/api/") and emulator.lose_answer(req)
        if lost:  # done, but the client never hears of it
            self.close_connection = True
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._send(response)

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    def _dispatch(self, emulator: Emulator, req: Request) -> Response:
        if req.path.startswith("/__emulator__/"):
            return admin(emulator, req)
        if not req.path.startswith("/api/"):
            return site(emulator, req)
        headers: dict[str, str] = {}
        try:
            headers = emulator.admit(req)
            response = api(emulator, req)
            if req.method != "GET" and response.status < 400:
                emulator.store.save()
        except ApiError as err:
            response = error_response(err)
        response.headers = {**(headers or emulator.rate_headers()), **response.headers}
        return response

    def _send(self, response: Response) -> None:
        if isinstance(response.body, bytes):
            payload = response.body
        elif isinstance(response.body, str):
            payload = response.body.encode()
        elif response.body is None:
            payload = b""
        else:
            payload = json.dumps(response.body).encode()
        self.send_response(response.status)
        if response.body is not None:
            self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)


def error_response(err: ApiError) -> Response:
    ctype = (
        "application/json; charset=utf-8"
        if isinstance(err.body, dict)
        else "text/plain; charset=utf-8"
    )
    return Response(err.status, err.body, dict(err.headers), ctype)


def api(emulator: Emulator, req: Request) -> Response:
    allowed = False
    for method, rx, handler in ROUTES:
        m = rx.match(req.path)
        if m is None:
            continue
        allowed = True
        if method == req.method:
            req.params = m.groups()
            return handler(emulator, req)
    if allowed:
        raise ApiError(
            405, {"error": "MethodNotAllowed", "description": f"{req.method} is not allowed here"}
        )
    raise ApiError(404, {"error": "InvalidEndpoint", "description": "Not found"})


def ok(body: Json | None, status: int = 200, **headers: str) -> Response:
    return Response(status, body, {k.replace("_", "-"): v for k, v in headers.items()})


# --- tickets ---------------------------------------------------------------------


@route("POST", "/tickets")
def create_ticket(em: Emulator, req: Request) -> Response:
    store = em.store
    key = req.headers.get("idempotency-key")
    if key:
        stored = store.idempotent(key, req.body)
        if stored is not None:
            return Response(
                stored["status"],
                stored["answer"],
                {**stored["headers"], "x-idempotency-lookup": "hit"},
            )
    ticket, audit = store.create_ticket(req.section("ticket"), req.agent, req.client)
    body = {
        "ticket": store.render_ticket(req.base, ticket),
        "audit": store.render_audit(req.base, audit),
    }
    headers = {"Location": f"{req.base}/api/v2/tickets/{ticket['id']}.json"}
    if key:
        store.remember(key, req.body, 201, body, headers)
        headers["x-idempotency-lookup"] = "miss"
    return Response(201, body, headers)


@route("GET", "/tickets")
def list_tickets(em: Emulator, req: Request) -> Response:
    store = em.store
    tickets = store.live_tickets()
    if "external_id" in req.query:
        tickets = [t for t in tickets if t["external_id"] == req.query["external_id"]]
    out = paginate(req, "tickets", tickets, lambda t: t["id"])
    out["tickets"] = [store.render_ticket(req.base, t) for t in out["tickets"]]
    return ok(out)


def _ids(req: Request) -> list[int]:
    try:
        ids = [int(i) for i in req.query.get("ids", "").split(",") if i.strip()]
    except ValueError as exc:
        raise ApiError(400, {"error": "InvalidParameter", "description": "ids"}) from exc
    if len(ids) > MAX_BULK:
        raise too_many_values()
    return ids


@route("GET", "/tickets/show_many")
def show_many_tickets(em: Emulator, req: Request) -> Response:
    found = [t for t in em.store.live_tickets() if t["id"] in _ids(req)]
    return ok(
        {
            "tickets": [em.store.render_ticket(req.base, t) for t in found],
            "next_page": None,
            "previous_page": None,
            "count": len(found),
        }
    )


def _queued(req: Request, job: Json) -> Response:
    return ok(
        {
            "job_status": {
                "id": job["id"],
                "job_type": job["job_type"],
                "url": f"{req.base}/api/v2/job_statuses/{job['id']}.json",
                "total": job["total"],
                "progress": None,
                "status": "queued",
                "message": None,
                "results": None,
            }
        }
    )


@route("POST", "/tickets/create_many")
def create_many_tickets(em: Emulator, req: Request) -> Response:
    items = req.json().get("tickets") or []
    if len(items) > MAX_BULK:
        raise too_many_values()
    results = []
    for index, data in enumerate(items):
        try:
            ticket, _ = em.store.create_ticket(data, req.agent, req.client)
            results.append({"index": index, "id": ticket["id"], "account_id": 1})
        except ApiError as err:
            results.append({"index": index, "error": "RecordInvalid", "details": str(err.body)})
    return _queued(req, em.store.job("Bulk Create Ticket", results))


@route("PUT", "/tickets/update_many")
def update_many_tickets(em: Emulator, req: Request) -> Response:
    data = req.json()
    if "ids" in req.query:
        items = [{**(data.get("ticket") or {}), "id": i} for i in _ids(req)]
    else:
        items = data.get("tickets") or []
    if len(items) > MAX_BULK:
        raise too_many_values()
    results = []
    for index, item in enumerate(items):
        try:
            em.store.update_ticket(int(item["id"]), item, req.agent, req.client)
            results.append(
                {
                    "index": index,
                    "id": item.get("id"),
                    "action": "update",
                    "success": True,
                    "status": "Updated",
                }
            )
        except (ApiError, KeyError, TypeError, ValueError) as err:
            results.append(
                {
                    "index": index,
                    "id": item.get("id"),
                    "action": "update",
                    "success": False,
                    "status": "Failed",
                    "error": str(err),
                }
            )
    return _queued(req, em.store.job("Bulk Update Ticket", results))


@route("DELETE", "/tickets/destroy_many")
def destroy_many_tickets(em: Emulator, req: Request) -> Response:
    results = []
    for index, tid in enumerate(_ids(req)):
        try:
            em.store.delete_ticket(tid)
            results.append(
                {
                    "index": index,
                    "id": tid,
                    "action": "delete",
                    "success": True,
                    "status": "Deleted",
                }
            )
        except ApiError:
            results.append(
                {
                    "index": index,
                    "id": tid,
                    "action": "delete",
                    "success": False,
                    "status": "Failed",
                }
            )
    return _queued(req, em.store.job("Bulk Delete Tickets", results))


@route("GET", "/job_statuses/{job}")
def show_job(em: Emulator, req: Request) -> Response:
    job = em.store.account.jobs.get(req.params[0])
    if job is None:
        raise not_found()
    return ok(
        {
            "job_status": {
                "id": job["id"],
                "job_type": job["job_type"],
                "url": f"{req.base}/api/v2/job_statuses/{job['id']}.json",
                "total": job["total"],
                "progress": job["total"],
                "status": "completed",
                "message": job["message"],
                "results": job["results"],
            }
        }
    )


@route("GET", "/tickets/{id}")
def show_ticket(em: Emulator, req: Request) -> Response:
    return ok({"ticket": em.store.render_ticket(req.base, em.store.ticket(_int(req.params[0])))})


@route("PUT", "/tickets/{id}")
def update_ticket(em: Emulator, req: Request) -> Response:
    tid = _int(req.params[0])
    em.store.ticket(tid)
    budget = em.store.check_ticket_budget(tid)
    ticket, audit = em.store.update_ticket(tid, req.section("ticket"), req.agent, req.client)
    email_channel.notify(em.store, ticket, audit)  # a public reply is emailed, as Zendesk does
    return Response(
        200,
        {
            "ticket": em.store.render_ticket(req.base, ticket),
            "audit": em.store.render_audit(req.base, audit),
        },
        budget,
    )


@route("DELETE", "/tickets/{id}")
def delete_ticket(em: Emulator, req: Request) -> Response:
    em.store.delete_ticket(_int(req.params[0]))
    return Response(204, None)


@route("GET", "/tickets/{id}/comments")
def list_comments(em: Emulator, req: Request) -> Response:
    comments = em.store.comments(req.base, _int(req.params[0]))
    return ok(paginate(req, "comments", comments, lambda c: c["id"]))


@route("GET", "/tickets/{id}/audits")
def list_ticket_audits(em: Emulator, req: Request) -> Response:
    tid = _int(req.params[0])
    em.store.ticket(tid)
    audits = [em.store.render_audit(req.base, a) for a in em.store.account.audits.get(tid, [])]
    return ok(paginate(req, "audits", audits, lambda a: a["id"]))


@route("GET", "/ticket_audits")
def list_audits(em: Emulator, req: Request) -> Response:
    if "page[size]" not in req.query and "page[after]" not in req.query:
        req.query["page[size]"] = "100"  # this endpoint pages by cursor only
    audits = [em.store.render_audit(req.base, a) for a in em.store.all_audits()]
    return ok(paginate(req, "audits", audits, lambda a: a["id"]))


@route("PUT", "/tickets/{id}/comments/{id}/attachments/{id}/redact")
def redact_attachment(em: Emulator, req: Request) -> Response:
    tid, cid, aid = (_int(p) for p in req.params)
    em.store.ticket(tid)
    budget = em.store.check_ticket_budget(tid)
    att = em.store.redact(tid, cid, aid)
    return Response(200, {"attachment": em.store.render_attachment(req.base, att)}, budget)


# --- tags ------------------------------------------------------------------------


@route("GET", "/tickets/{id}/tags")
def ticket_tags(em: Emulator, req: Request) -> Response:
    return ok({"tags": list(em.store.ticket(_int(req.params[0]))["tags"])})


def _tag_write(mode: str) -> Handler:
    def handler(em: Emulator, req: Request) -> Response:
        tags = req.json().get("tags")
        if not isinstance(tags, list | str):
            raise invalid("tags", "Tags: must be a list")
        ticket = em.store.set_tags(
            _int(req.params[0]),
            tags if isinstance(tags, list) else [tags],
            mode,
            req.agent,
            req.client,
        )
        return ok({"tags": list(ticket["tags"])}, 201 if mode == "set" else 200)

    return handler


route("POST", "/tickets/{id}/tags")(_tag_write("set"))
route("PUT", "/tickets/{id}/tags")(_tag_write("add"))
route("DELETE", "/tickets/{id}/tags")(_tag_write("remove"))


@route("GET", "/tags")
def list_tags(em: Emulator, req: Request) -> Response:
    counts = em.store.tag_counts()
    if any(k.startswith("page[") for k in req.query):
        return ok(paginate(req, "tags", counts, lambda t: t["name"]))
    # The offset form lists the most used first, as Zendesk does.
    out = paginate(req, "tags", counts, lambda t: (-t["count"], t["name"]))
    return ok(out)


# --- ticket fields ---------------------------------------------------------------


@route("GET", "/ticket_fields")
def list_fields(em: Emulator, req: Request) -> Response:
    fields = [
        em.store.field(f) | {"url": f"{req.base}/api/v2/ticket_fields/{f}.json"}
        for f in em.store.account.fields
    ]
    return ok(paginate(req, "ticket_fields", fields, lambda f: f["id"]))


def _field(req: Request, record: Json) -> Json:
    return {"url": f"{req.base}/api/v2/ticket_fields/{record['id']}.json", **record}


@route("POST", "/ticket_fields")
def create_field(em: Emulator, req: Request) -> Response:
    record = em.store.create_field(req.section("ticket_field"))
    return ok(
        {"ticket_field": _field(req, record)},
        201,
        Location=f"{req.base}/api/v2/ticket_fields/{record['id']}.json",
    )


@route("GET", "/ticket_fields/{id}")
def show_field(em: Emulator, req: Request) -> Response:
    return ok({"ticket_field": _field(req, em.store.field(_int(req.params[0])))})


@route("PUT", "/ticket_fields/{id}")
def update_field(em: Emulator, req: Request) -> Response:
    record = em.store.update_field(_int(req.params[0]), req.section("ticket_field"))
    return ok({"ticket_field": _field(req, record)})


@route("DELETE", "/ticket_fields/{id}")
def delete_field(em: Emulator, req: Request) -> Response:
    em.store.delete_field(_int(req.params[0]))
    return Response(204, None)


@route("GET", "/ticket_fields/{id}/options")
def list_options(em: Emulator, req: Request) -> Response:
    record = em.store.field(_int(req.params[0]))
    options = record.get("custom_field_options") or []
    return ok(paginate(req, "custom_field_options", options, lambda o: o["id"]))


@route("POST", "/ticket_fields/{id}/options")
def upsert_option(em: Emulator, req: Request) -> Response:
    option, created = em.store.upsert_option(
        _int(req.params[0]), req.section("custom_field_option")
    )
    return ok({"custom_field_option": option}, 201 if created else 200)


# --- views (bot.standins.zendesk_emulator.views) ----------------------------------


def _active(req: Request) -> bool | None:
    value = req.query.get("active")
    return None if value is None else value.lower() == "true"


@route("GET", "/views")
def list_views(em: Emulator, req: Request) -> Response:
    found = [views.render_view(req.base, v) for v in views.views(em.store, _active(req))]
    return ok(paginate(req, "views", found, lambda v: v["id"]))


@route("GET", "/views/active")
def list_active_views(em: Emulator, req: Request) -> Response:
    found = [views.render_view(req.base, v) for v in views.views(em.store, True)]
    return ok(paginate(req, "views", found, lambda v: v["id"]))


@route("POST", "/views")
def create_view(em: Emulator, req: Request) -> Response:
    record = views.create_view(em.store, req.section("view"))
    return ok({"view": views.render_view(req.base, record)})


@route("GET", "/views/{id}")
def show_view(em: Emulator, req: Request) -> Response:
    return ok({"view": views.render_view(req.base, views.view(em.store, _int(req.params[0])))})


@route("PUT", "/views/{id}")
def update_view(em: Emulator, req: Request) -> Response:
    record = views.update_view(em.store, _int(req.params[0]), req.section("view"))
    return ok({"view": views.render_view(req.base, record)})


@route("DELETE", "/views/{id}")
def delete_view(em: Emulator, req: Request) -> Response:
    views.delete_view(em.store, _int(req.params[0]))
    return Response(204, None)


@route("GET", "/views/{id}/tickets")
def view_tickets(em: Emulator, req: Request) -> Response:
    found = views.tickets_of(em.store, _int(req.params[0]))
    out = paginate(req, "tickets", found, lambda t: -int(t["id"]))
    out["tickets"] = [em.store.render_ticket(req.base, t) for t in out["tickets"]]
    return ok(out)


@route("GET", "/views/{id}/count")
def view_count(em: Emulator, req: Request) -> Response:
    vid = _int(req.params[0])
    n = len(views.tickets_of(em.store, vid))
    return ok(
        {
            "view_count": {
                "view_id": vid,
                "url": f"{req.base}/api/v2/views/{vid}/count.json",
                "value": n,
                "pretty": str(n),
                "fresh": True,
            }
        }
    )


@route("GET", "/views/{id}/execute")
def execute_view(em: Emulator, req: Request) -> Response:
    vid = _int(req.params[0])
    record = views.view(em.store, vid)
    found = views.tickets_of(em.store, vid)
    rows = [
        {
            "ticket_id": t["id"],
            "status": t["status"],
            "subject": t.get("subject"),
            "requester_id": t.get("requester_id"),
            "updated": t.get("updated_at"),
            "ticket": em.store.render_ticket(req.base, t),
        }
        for t in found
    ]
    return ok(
        {
            "view": views.render_view(req.base, record),
            "columns": record["execution"]["columns"],
            "rows": rows,
            "groups": [],
            "count": len(rows),
            "next_page": None,
            "previous_page": None,
        }
    )


# --- users -----------------------------------------------------------------------


def _user(req: Request, user: Json) -> Json:
    out = dict(user)
    out = {"id": user["id"], "url": f"{req.base}/api/v2/users/{user['id']}.json", **out}
    return out


@route("POST", "/users")
def create_user(em: Emulator, req: Request) -> Response:
    user = em.store.create_user(req.section("user"))
    return ok(
        {"user": _user(req, user)}, 201, Location=f"{req.base}/api/v2/users/{user['id']}.json"
    )


@route("GET", "/users")
def list_users(em: Emulator, req: Request) -> Response:
    users = [u for u in em.store.account.users.values() if u["active"]]
    out = paginate(req, "users", users, lambda u: u["id"])
    out["users"] = [_user(req, u) for u in out["users"]]
    return ok(out)


@route("POST", "/users/create_or_update")
def create_or_update_user(em: Emulator, req: Request) -> Response:
    user, created = em.store.create_or_update_user(req.section("user"))
    return ok({"user": _user(req, user)}, 201 if created else 200)


@route("POST", "/users/create_many")
def create_many_users(em: Emulator, req: Request) -> Response:
    items = req.json().get("users") or []
    if len(items) > MAX_BULK:
        raise too_many_values()
    results = []
    for index, data in enumerate(items):
        try:
            user = em.store.create_user(data)
            results.append({"index": index, "id": user["id"], "status": "Created"})
        except ApiError as err:
            results.append({"index": index, "error": "RecordInvalid", "details": str(err.body)})
    return _queued(req, em.store.job("Bulk Create Users", results))


@route("GET", "/users/show_many")
def show_many_users(em: Emulator, req: Request) -> Response:
    ids = _ids(req)
    found = [u for u in em.store.account.users.values() if u["id"] in ids and u["active"]]
    return ok(
        {
            "users": [_user(req, u) for u in found],
            "next_page": None,
            "previous_page": None,
            "count": len(found),
        }
    )


@route("GET", "/users/search")
def search_users(em: Emulator, req: Request) -> Response:
    query = req.query.get("query") or req.query.get("email") or ""
    out = paginate(req, "users", em.store.search_users(query), lambda u: u["id"])
    out["users"] = [_user(req, u) for u in out["users"]]
    return ok(out)


@route("GET", "/users/me")
def me(em: Emulator, req: Request) -> Response:
    return ok({"user": _user(req, req.agent)})


@route("GET", "/users/{id}")
def show_user(em: Emulator, req: Request) -> Response:
    return ok({"user": _user(req, em.store.user(_int(req.params[0])))})


@route("PUT", "/users/{id}")
def update_user(em: Emulator, req: Request) -> Response:
    return ok({"user": _user(req, em.store.update_user(_int(req.params[0]), req.section("user")))})


@route("DELETE", "/users/{id}")
def delete_user(em: Emulator, req: Request) -> Response:
    return ok({"user": _user(req, em.store.delete_user(_int(req.params[0])))})


@route("GET", "/custom_roles")
def list_roles(em: Emulator, req: Request) -> Response:
    return ok(
        {
            "custom_roles": list(em.store.account.roles.values()),
            "next_page": None,
            "previous_page": None,
            "count": len(em.store.account.roles),
        }
    )


@route("GET", "/custom_roles/{id}")
def show_role(em: Emulator, req: Request) -> Response:
    role = em.store.account.roles.get(_int(req.params[0]))
    if role is None:
        raise not_found()
    return ok({"custom_role": role})


# --- search ----------------------------------------------------------------------


@route("GET", "/search")
def search_all(em: Emulator, req: Request) -> Response:
    query = req.query.get("query", "")
    if not query.strip():
        raise ApiError(
            400, {"error": "InvalidParameter", "description": "query parameter is required"}
        )
    page_no = int(req.query.get("page", "1") or 1)
    per_page = min(100, int(req.query.get("per_page", "100") or 100))
    if page_no * per_page > 1000:
        raise ApiError(
            422,
            {
                "error": "invalid",
                "description": "Search results are limited "
                "to 1000; use the export endpoint for more",
            },
        )
    found = search(em.store, query)
    sign = -1 if req.query.get("sort_order") == "desc" else 1
    indexed: list[Json] = [
        {"_n": sign * n, "_type": t, "_rec": r} for n, (t, r) in enumerate(found)
    ]
    req.query.pop("page[size]", None)
    out = paginate(req, "results", indexed, lambda i: i["_n"])
    rendered = []
    for item in out["results"]:
        if item["_type"] == "ticket":
            rec = em.store.render_ticket(req.base, item["_rec"])
        else:
            rec = _user(req, item["_rec"])
        rendered.append({**rec, "result_type": item["_type"]})
    out["results"] = rendered
    out["facets"] = None
    return ok({k: out[k] for k in ("results", "facets", "next_page", "previous_page", "count")})


# --- uploads ---------------------------------------------------------------------


@route("POST", "/uploads")
def upload(em: Emulator, req: Request) -> Response:
    filename = req.query.get("filename", "")
    up = em.store.upload(
        filename, req.body, req.headers.get("content-type"), req.query.get("token")
    )
    att_id = up["attachment_ids"][-1]
    # Zendesk answers uploads as text/plain, JSON inside, as the recordings show.
    return Response(
        201,
        {"upload": em.store.render_upload(req.base, up)},
        {"Location": f"{req.base}/api/v2/attachments/{att_id}.json"},
        "text/plain; charset=utf-8",
    )


@route("DELETE", "/uploads/{tok}")
def delete_upload(em: Emulator, req: Request) -> Response:
    em.store.delete_upload(req.params[0])
    return Response(204, None)


@route("GET", "/attachments/{id}")
def show_attachment(em: Emulator, req: Request) -> Response:
    att = em.store.attachment(_int(req.params[0]))
    return ok({"attachment": em.store.render_attachment(req.base, att)})


# --- outside the API: content, the web page, test hooks ----------------------------


def site(em: Emulator, req: Request) -> Response:
    m = re.match(r"^/attachments/token/([A-Za-z0-9]+)/?$", req.path)
    if m and req.method == "GET":
        try:
            att, payload = em.store.content(m.group(1))
        except ApiError as err:
            return error_response(err)
        return Response(
            200,
            payload,
            {"Content-Disposition": f'inline; filename="{att["file_name"]}"'},
            att["content_type"],
        )
    if req.method in ("GET", "HEAD"):
        try:
            found = page.route(em.store, req.base, req.path)
        except Exception as exc:  # a page must never take the emulator down, nor show a traceback
            print(f"zendesk-emulator: page {req.path!r} failed: {exc!r}", file=sys.stderr)
            return Response(500, "The page could not be shown.", {}, "text/plain; charset=utf-8")
        if found is not None:
            return Response(found[0], found[1], {}, "text/html; charset=utf-8")
    return Response(404, "Not found", {}, "text/plain; charset=utf-8")


def admin(em: Emulator, req: Request) -> Response:
    name = req.path[len("/__emulator__/") :].strip("/")
    s = em.settings
    if name == "email" and req.method == "POST":  # mail to the support address
        try:
            ticket, created = email_channel.ingest(em.store, req.body)
        except ValueError as exc:
            return Response(400, {"error": str(exc)})
        em.store.save()
        return ok({"ticket_id": ticket["id"], "created": created}, 201 if created else 200)
    if name == "outbox" and req.method == "GET":  # what the desk emailed requesters
        return ok({"outbox": em.store.account.outbox})
    try:
        data = req.json() if req.method == "POST" else {}
        if name == "faults" and req.method == "POST":
            mode = str(data.get("mode", "refuse"))
            if mode not in ("refuse", "lost"):
                raise ValueError(f"unknown fault mode {mode!r}")
            fault = Fault(
                int(data.get("status", 503)),
                int(data.get("count", 1)),
                data.get("retry_after"),
                data.get("path"),
                data.get("method"),
                mode,
            )
            s.faults.append(fault)
            return ok({"faults": len(s.faults)})
        if name == "faults" and req.method == "GET":  # what is left of each
            return ok(
                {
                    "faults": [
                        {
                            "status": f.status,
                            "remaining": f.remaining,
                            "path": f.path,
                            "method": f.method,
                            "mode": f.mode,
                        }
                        for f in s.faults
                    ]
                }
            )
        if name == "faults" and req.method == "DELETE":
            s.faults.clear()
            return ok({"faults": 0})
        if name == "config" and req.method == "POST":
            if "rate_limit_per_minute" in data:
                s.rate_limit_per_minute = int(data["rate_limit_per_minute"])
                s.window_count = 0
            return ok({"rate_limit_per_minute": s.rate_limit_per_minute})
        if name == "clock" and req.method == "POST":
            em.store.clock.offset += float(data.get("advance", 0))
            return ok({"offset": em.store.clock.offset})
        if name == "reset" and req.method == "POST":
            em.store.reset()
            s.faults.clear()
            s.window_count = 0
            return ok({"reset": True})
        if name == "state" and req.method == "GET":
            return ok(em.store.account.to_json())
    except (ApiError, TypeError, ValueError) as exc:
        return Response(400, {"error": str(exc)})
    return Response(404, {"error": "unknown emulator hook"})


def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    state_file: Path | None = None,
    token: str | None = "emulator-token",
    rate_limit_per_minute: int = 700,
    clock: Clock | None = None,
) -> Emulator:
    """Start the emulator in a daemon thread; `port=0` picks a free port. Call `.stop()`."""
    store = Store(clock=clock, state_file=state_file)
    emulator = Emulator(
        (host, port), store, Settings(token=token, rate_limit_per_minute=rate_limit_per_minute)
    )
    thread = threading.Thread(target=emulator.serve_forever, name="zendesk-emulator", daemon=True)
    thread.start()
    emulator.thread = thread
    return emulator


def wait_forever(emulator: Emulator) -> None:
    try:
        while emulator.thread is not None and emulator.thread.is_alive():
            time.sleep(0.5)
    except KeyboardInterrupt:
        emulator.stop()
