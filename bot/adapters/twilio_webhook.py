"""Twilio's porting webhooks, received (`portbot run` with `[carrier] webhook_listen`).

Each POST is checked against `X-Twilio-Signature` with the account's auth token
(the official package's `RequestValidator`, over the public URL Twilio posted to
and, for JSON bodies, the `bodySHA256` it carries). Unsigned or badly signed: 403,
nothing kept. Signed: the body is queued (`queue`, the partner ledger) and 204 is
answered at once; a cycle applies it (bot.pipeline.partner.apply_events), and
`wake` asks for that cycle now.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from twilio.request_validator import RequestValidator

log = logging.getLogger("portbot.webhook")

MAX_BODY = 256 * 1024


class WebhookReceiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        *,
        auth_token: str,
        public_url: str,
        queue: Callable[[str], None],
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(address, _Handler)
        self.validator = RequestValidator(auth_token)
        parts = urlsplit(public_url)
        self.public_base = f"{parts.scheme}://{parts.netloc}"
        self.path = parts.path or "/"
        self.queue, self.wake = queue, wake
        self.accepted = 0
        self.refused = 0
        self._thread: threading.Thread | None = None
        self.on_stop: Callable[[], None] = lambda: None  # what the queue holds open

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> WebhookReceiver:
        self._thread = threading.Thread(target=self.serve_forever, name="webhooks", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self.on_stop()


def _valid(validator: RequestValidator, url: str, body: str, signature: str) -> bool:
    """Twilio's scheme for a JSON body: the URL carries the body's SHA-256 and is signed."""
    if "bodySHA256" not in parse_qs(urlsplit(url).query):
        return False  # a JSON webhook without its body hash is not Twilio's
    try:
        return bool(validator.validate(url, body, signature))
    except (TypeError, ValueError, AttributeError):
        return False


class _Handler(BaseHTTPRequestHandler):
    server: WebhookReceiver
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        self._answer(405)

    def do_POST(self) -> None:
        rx = self.server
        length = int(self.headers.get("Content-Length") or 0)
        if urlsplit(self.path).path != rx.path or length > MAX_BODY:
            self._answer(404 if length <= MAX_BODY else 413)
            return
        body = self.rfile.read(length).decode("utf-8", "replace")
        signature = self.headers.get("X-Twilio-Signature") or ""
        url = rx.public_base + self.path
        if not signature or not _valid(rx.validator, url, body, signature):
            rx.refused += 1
            log.warning("webhook refused: %s signature", "no" if not signature else "a bad")
            self._answer(403)
            return
        try:
            rx.queue(body)
        except Exception:  # the state file: Twilio retries a webhook that failed
            log.exception("webhook could not be queued")
            self._answer(503)
            return
        rx.accepted += 1
        self._answer(204)
        rx.wake()
