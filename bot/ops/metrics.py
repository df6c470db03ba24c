"""Metrics (Prometheus text format) and health for `portbot run`, on a small HTTP server.

    metrics = Metrics(health=Health(time.monotonic, stall_after=900, unreachable_after=300))
    with serve(metrics, "127.0.0.1", 9478):   # GET /metrics, GET /healthz
        ...                                    # the pipeline calls metrics.message_done(...)

The call sites only call `Metrics` methods; prometheus_client stays in this module,
with a registry of its own per app (never the process-wide default one, so two apps
in one test process do not share counts).

`Health` is a pure object driven by an injected clock: unhealthy when no poll has
succeeded for `stall_after` seconds, or when the mailbox or Zendesk has been failing
without a break for `unreachable_after` seconds.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

log = logging.getLogger("portbot.metrics")

Clock = Callable[[], float]


@dataclass(frozen=True)
class MetricsSettings:
    """The `[metrics]` table: where to listen and when to call the bot unhealthy."""

    enabled: bool = True
    host: str = "127.0.0.1"  # loopback: put a proxy or the scraper's network in front
    port: int = 9478  # 0: any free port
    stall_after_seconds: float = 900.0
    unreachable_after_seconds: float = 300.0

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"[metrics] port {self.port} is not a TCP port (0-65535)")
        if self.stall_after_seconds <= 0 or self.unreachable_after_seconds <= 0:
            raise ValueError(
                "[metrics] stall_after_seconds and unreachable_after_seconds must be above 0"
            )

    def check_against_poll(self, poll_seconds: float) -> None:
        """A stall limit under the poll interval would call every quiet wait a stall."""
        if self.stall_after_seconds <= poll_seconds:
            raise ValueError(
                f"[metrics] stall_after_seconds ({self.stall_after_seconds:g}) must be more "
                f"than [schedule] poll_seconds ({poll_seconds:g})"
            )


# -- health ----------------------------------------------------------------------------


class Health:
    """Whether the bot is doing its job, from what the pipeline reports. Thread-safe."""

    def __init__(self, clock: Clock, stall_after: float, unreachable_after: float) -> None:
        self.clock = clock
        self.stall_after = stall_after
        self.unreachable_after = unreachable_after
        self._lock = threading.Lock()
        self._started = clock()
        self._last_poll: float | None = None
        self._down_since: dict[str, float] = {}  # "mailbox"/"zendesk": first failure in a row

    def poll_succeeded(self) -> None:
        with self._lock:
            self._last_poll = self.clock()
            # a poll that got through read the mailbox
            self._down_since.pop("mailbox", None)

    def mailbox_failed(self) -> None:
        self._failed("mailbox")

    def mailbox_ok(self) -> None:
        self._ok("mailbox")

    def desk_failed(self) -> None:
        self._failed("zendesk")

    def desk_ok(self) -> None:
        self._ok("zendesk")

    def _failed(self, what: str) -> None:
        with self._lock:
            self._down_since.setdefault(what, self.clock())

    def _ok(self, what: str) -> None:
        with self._lock:
            self._down_since.pop(what, None)

    def status(self) -> tuple[bool, list[str]]:
        """(healthy, the reasons it is not) as of now."""
        with self._lock:
            now = self.clock()
            reasons = []
            since = self._last_poll if self._last_poll is not None else self._started
            if now - since > self.stall_after:
                what = "no successful poll" if self._last_poll is None else "last successful poll"
                reasons.append(
                    f"polling stalled: {what} for {now - since:.0f} s "
                    f"(limit {self.stall_after:g} s)"
                )
            for what, down in sorted(self._down_since.items()):
                if now - down > self.unreachable_after:
                    reasons.append(
                        f"{what} unreachable for {now - down:.0f} s "
                        f"(limit {self.unreachable_after:g} s)"
                    )
            return not reasons, reasons

    def report(self) -> dict[str, Any]:
        """The /healthz body."""
        ok, reasons = self.status()
        with self._lock:
            now = self.clock()
            age = None if self._last_poll is None else round(now - self._last_poll, 1)
            failing = sorted(self._down_since)
        return {
            "status": "ok" if ok else "unhealthy",
            "reasons": reasons,
            "last_poll_age_seconds": age,
            "failing": failing,
        }


# -- metrics ---------------------------------------------------------------------------

_ID = re.compile(r"\d+")


def _kind_label(kind: str) -> str:
    # "get tickets/123.json" and "get tickets/124.json" are one kind of call
    return _ID.sub(":id", kind)[:60]


class _HealthCollector(Collector):
    def __init__(self, health: Health) -> None:
        self.health = health

    def collect(self) -> Iterator[Metric]:
        ok, _ = self.health.status()
        yield GaugeMetricFamily(
            "portbot_healthy", "1 when /healthz answers 200, else 0", value=1.0 if ok else 0.0
        )


class Metrics:
    """What the pipeline reports, as Prometheus metrics in a registry of its own.

    Label values must come from small fixed sets (outcomes, reason categories, stage
    names): never a message id, an address or anything a customer wrote.
    """

    def __init__(
        self,
        *,
        health: Health | None = None,
        wall_clock: Clock = time.time,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.health = health
        self.wall_clock = wall_clock
        r = self.registry
        self._messages = Counter(
            "portbot_messages", "Messages read, by outcome", ["outcome"], registry=r
        )
        self._message_seconds = Counter(
            "portbot_message_seconds",
            "Seconds spent on messages, by outcome",
            ["outcome"],
            registry=r,
        )
        self._requests = Gauge(
            "portbot_requests",
            "Open requests, by stage and readiness",
            ["stage", "ready"],
            registry=r,
        )
        self._ocr_pages = Counter("portbot_ocr_pages", "Pages read by OCR", registry=r)
        self._ocr_seconds = Counter("portbot_ocr_seconds", "Seconds spent in OCR", registry=r)
        self._zendesk_calls = Counter(
            "portbot_zendesk_calls",
            "Zendesk API calls, by kind and HTTP status",
            ["kind", "status"],
            registry=r,
        )
        self._zendesk_429 = Counter(
            "portbot_zendesk_rate_limited", "Zendesk answers 429 Too Many Requests", registry=r
        )
        self._replies = Counter(
            "portbot_replies",
            "Auto-replies, sent or suppressed, by reason",
            ["result", "reason"],
            registry=r,
        )
        self._quarantine = Gauge("portbot_quarantine_size", "Open quarantine entries", registry=r)
        self._last_poll = Gauge(
            "portbot_last_successful_poll_timestamp_seconds",
            "Unix time of the last poll that went through",
            registry=r,
        )
        self._polls = Counter("portbot_polls", "Poll cycles, by result", ["result"], registry=r)
        self._up = Gauge(
            "portbot_dependency_up",
            "1 when the last call to it went through",
            ["dependency"],
            registry=r,
        )
        self._stage_keys: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        if health is not None:
            r.register(_HealthCollector(health))

    # messages and requests

    def message_done(self, outcome: str, seconds: float | None = None) -> None:
        """One message handled: assessed, quarantined, duplicate, ..."""
        self._messages.labels(outcome).inc()
        if seconds is not None:
            self._message_seconds.labels(outcome).inc(max(0.0, seconds))

    def requests_by_stage(self, counts: Mapping[tuple[str, bool], int]) -> None:
        """The whole picture, (stage, ready) -> open requests; stages absent drop to 0."""
        with self._lock:
            keys = {(stage, "true" if ready else "false") for stage, ready in counts}
            for stage, flag in self._stage_keys - keys:
                self._requests.labels(stage, flag).set(0)
            for (stage, ready), n in counts.items():
                self._requests.labels(stage, "true" if ready else "false").set(n)
            self._stage_keys |= keys

    def quarantine_size(self, n: int) -> None:
        self._quarantine.set(n)

    # documents, Zendesk, replies

    def ocr_page(self, seconds: float) -> None:
        self.ocr_pages(1, seconds)

    def ocr_pages(self, pages: int, seconds: float) -> None:
        self._ocr_pages.inc(pages)
        self._ocr_seconds.inc(max(0.0, seconds))

    def zendesk_call(self, kind: str, status: int | str) -> None:
        """One HTTP answer (or "error" for no answer): each retry counts as a call."""
        self._zendesk_calls.labels(_kind_label(kind), str(status)).inc()
        if str(status) == "429":
            self._zendesk_429.inc()

    def reply(self, result: Literal["sent", "suppressed"], reason: str) -> None:
        self._replies.labels(result, reason).inc()

    # polls and dependencies (health follows)

    def poll_succeeded(self) -> None:
        self._polls.labels("ok").inc()
        self._last_poll.set(self.wall_clock())
        self._up.labels("mailbox").set(1)
        if self.health is not None:
            self.health.poll_succeeded()

    def poll_failed(self) -> None:
        self._polls.labels("failed").inc()

    def mailbox_failed(self) -> None:
        self._up.labels("mailbox").set(0)
        if self.health is not None:
            self.health.mailbox_failed()

    def mailbox_ok(self) -> None:
        self._up.labels("mailbox").set(1)
        if self.health is not None:
            self.health.mailbox_ok()

    def desk_failed(self) -> None:
        self._up.labels("zendesk").set(0)
        if self.health is not None:
            self.health.desk_failed()

    def desk_ok(self) -> None:
        self._up.labels("zendesk").set(1)
        if self.health is not None:
            self.health.desk_ok()

    def exposition(self) -> bytes:
        """The registry in Prometheus text format, as /metrics serves it."""
        return generate_latest(self.registry)

    def value(self, name: str, labels: Mapping[str, str] | None = None) -> float | None:
        """One sample's value (for tests and `doctor`); None when it has none yet."""
        return self.registry.get_sample_value(name, dict(labels or {}))


# -- HTTP --------------------------------------------------------------------------------


def _handler(metrics: Metrics) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "portbot"

        def do_GET(self) -> None:  # http.server's name
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, metrics.exposition())
            elif path == "/healthz":
                report = (
                    metrics.health.report() if metrics.health else {"status": "ok", "reasons": []}
                )
                code = 200 if report["status"] == "ok" else 503
                self._send(code, "application/json", json.dumps(report).encode() + b"\n")
            else:
                self._send(
                    404, "text/plain; charset=utf-8", b"not found: try /metrics or /healthz\n"
                )

        def _send(self, code: int, content_type: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("http: " + format, *args)  # scrapes every few seconds: not INFO

    return Handler


class MetricsServer:
    """The HTTP server in a daemon thread; `close` stops it and frees the port."""

    def __init__(self, metrics: Metrics, host: str, port: int) -> None:
        self.httpd = ThreadingHTTPServer((host, port), _handler(metrics))
        self.httpd.daemon_threads = True
        self.host = host
        self.port: int = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever,
            name="metrics-http",
            kwargs={"poll_interval": 0.2},
            daemon=True,
        )
        self.thread.start()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve(metrics: Metrics, host: str = "127.0.0.1", port: int = 0) -> MetricsServer:
    """Serve /metrics and /healthz; port 0 picks a free one (see `.port`).

    Raises OSError when the port is taken: the caller says which setting to change.
    """
    server = MetricsServer(metrics, host, port)
    log.info("metrics on %s/metrics, health on %s/healthz", server.url, server.url)
    return server


def build_metrics(
    settings: MetricsSettings, clock: Clock = time.monotonic, wall_clock: Clock = time.time
) -> Metrics:
    """Metrics with the health the settings describe."""
    health = Health(clock, settings.stall_after_seconds, settings.unreachable_after_seconds)
    return Metrics(health=health, wall_clock=wall_clock)


__all__ = ["Health", "Metrics", "MetricsServer", "MetricsSettings", "build_metrics", "serve"]
