"""Metrics and health: counts as the pipeline reports them, over HTTP; health with a clock."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from bot.ops.metrics import Health, Metrics, MetricsServer, MetricsSettings, build_metrics, serve
from tests.clock import FakeClock


def _get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1000.0)


@pytest.fixture
def metrics(clock: FakeClock) -> Metrics:
    health = Health(clock, stall_after=600, unreachable_after=120)
    return Metrics(health=health, wall_clock=lambda: 1_790_000_000.0)


@pytest.fixture
def server(metrics: Metrics) -> Iterator[MetricsServer]:
    with serve(metrics, "127.0.0.1", 0) as running:
        yield running


def test_the_endpoint_reports_the_counts_of_a_run(metrics: Metrics, server: MetricsServer) -> None:
    for outcome in ["assessed"] * 5 + ["quarantined"] * 2 + ["duplicate"]:
        metrics.message_done(outcome, seconds=0.5)
    metrics.requests_by_stage({("request_received", True): 3, ("request_received", False): 2})
    metrics.ocr_page(1.25)
    metrics.ocr_pages(2, 2.0)
    metrics.zendesk_call("create", 201)
    metrics.zendesk_call("get tickets/123.json", 200)
    metrics.zendesk_call("get tickets/456.json", 429)
    metrics.reply("sent", "incomplete")
    metrics.reply("suppressed", "auto-submitted")
    metrics.reply("suppressed", "auto-submitted")
    metrics.quarantine_size(2)
    metrics.poll_succeeded()

    status, ctype, body = _get(f"{server.url}/metrics")
    assert status == 200 and ctype.startswith("text/plain")
    got = _samples(body)
    assert got[("portbot_messages_total", (("outcome", "assessed"),))] == 5
    assert got[("portbot_messages_total", (("outcome", "quarantined"),))] == 2
    assert got[("portbot_messages_total", (("outcome", "duplicate"),))] == 1
    assert got[("portbot_message_seconds_total", (("outcome", "assessed"),))] == 2.5
    assert got[("portbot_requests", (("ready", "true"), ("stage", "request_received")))] == 3
    assert got[("portbot_requests", (("ready", "false"), ("stage", "request_received")))] == 2
    assert got[("portbot_ocr_pages_total", ())] == 3
    assert got[("portbot_ocr_seconds_total", ())] == 3.25
    assert got[("portbot_zendesk_calls_total", (("kind", "create"), ("status", "201")))] == 1
    # ticket ids do not become labels: one series per kind of call
    assert (
        got[("portbot_zendesk_calls_total", (("kind", "get tickets/:id.json"), ("status", "200")))]
        == 1
    )
    assert got[("portbot_zendesk_rate_limited_total", ())] == 1
    assert got[("portbot_replies_total", (("reason", "incomplete"), ("result", "sent")))] == 1
    assert (
        got[("portbot_replies_total", (("reason", "auto-submitted"), ("result", "suppressed")))]
        == 2
    )
    assert got[("portbot_quarantine_size", ())] == 2
    assert got[("portbot_last_successful_poll_timestamp_seconds", ())] == 1_790_000_000.0
    assert got[("portbot_healthy", ())] == 1


def test_each_app_counts_in_its_own_registry() -> None:
    one, two = Metrics(), Metrics()
    one.message_done("assessed")
    assert one.value("portbot_messages_total", {"outcome": "assessed"}) == 1
    assert two.value("portbot_messages_total", {"outcome": "assessed"}) is None
    assert REGISTRY.get_sample_value("portbot_messages_total", {"outcome": "assessed"}) is None


def test_a_stage_no_longer_reported_drops_to_zero() -> None:
    m = Metrics()
    m.requests_by_stage({("submitted", False): 4})
    m.requests_by_stage({("approved", False): 1})
    assert m.value("portbot_requests", {"stage": "submitted", "ready": "false"}) == 0
    assert m.value("portbot_requests", {"stage": "approved", "ready": "false"}) == 1


def test_healthz_is_ok_while_polls_go_through(
    metrics: Metrics, server: MetricsServer, clock: FakeClock
) -> None:
    metrics.poll_succeeded()
    clock.advance(300)
    status, ctype, body = _get(f"{server.url}/healthz")
    assert (status, ctype) == (200, "application/json")
    report = json.loads(body)
    assert report["status"] == "ok" and report["reasons"] == []
    assert report["last_poll_age_seconds"] == 300


def test_healthz_turns_503_when_polling_stalls_and_recovers(
    metrics: Metrics, server: MetricsServer, clock: FakeClock
) -> None:
    metrics.poll_succeeded()
    clock.advance(601)
    status, _, body = _get(f"{server.url}/healthz")
    assert status == 503
    assert json.loads(body)["reasons"] == [
        "polling stalled: last successful poll for 601 s (limit 600 s)"
    ]
    assert _samples(_get(f"{server.url}/metrics")[2])[("portbot_healthy", ())] == 0
    metrics.poll_succeeded()
    assert _get(f"{server.url}/healthz")[0] == 200


def test_a_bot_that_never_polled_is_unhealthy_after_the_stall_limit(clock: FakeClock) -> None:
    health = Health(clock, stall_after=600, unreachable_after=120)
    assert health.status() == (True, [])
    clock.advance(700)
    ok, reasons = health.status()
    assert not ok and reasons == ["polling stalled: no successful poll for 700 s (limit 600 s)"]


def test_the_mailbox_down_longer_than_the_limit_is_unhealthy(clock: FakeClock) -> None:
    health = Health(clock, stall_after=600, unreachable_after=120)
    health.poll_succeeded()
    health.mailbox_failed()
    clock.advance(60)
    health.mailbox_failed()  # failing again does not restart the count
    assert health.status()[0]
    clock.advance(61)
    ok, reasons = health.status()
    assert not ok and reasons == ["mailbox unreachable for 121 s (limit 120 s)"]
    health.mailbox_ok()
    assert health.status() == (True, [])


def test_a_successful_poll_means_the_mailbox_is_back(clock: FakeClock) -> None:
    health = Health(clock, stall_after=600, unreachable_after=120)
    health.mailbox_failed()
    clock.advance(200)
    assert not health.status()[0]
    health.poll_succeeded()
    assert health.status() == (True, [])


def test_zendesk_down_is_reported_beside_a_stall(clock: FakeClock) -> None:
    health = Health(clock, stall_after=600, unreachable_after=120)
    health.poll_succeeded()
    health.desk_failed()
    clock.advance(700)
    ok, reasons = health.status()
    assert not ok
    assert reasons == [
        "polling stalled: last successful poll for 700 s (limit 600 s)",
        "zendesk unreachable for 700 s (limit 120 s)",
    ]
    health.desk_ok()
    health.poll_succeeded()
    assert health.report()["status"] == "ok"


def test_metrics_calls_drive_health(metrics: Metrics, clock: FakeClock) -> None:
    metrics.poll_succeeded()
    metrics.desk_failed()
    clock.advance(121)
    assert metrics.health is not None and not metrics.health.status()[0]
    assert metrics.value("portbot_dependency_up", {"dependency": "zendesk"}) == 0
    metrics.desk_ok()
    assert metrics.health.status()[0]
    assert metrics.value("portbot_dependency_up", {"dependency": "zendesk"}) == 1


def test_unknown_paths_are_404(server: MetricsServer) -> None:
    assert _get(f"{server.url}/")[0] == 404


def test_the_server_frees_its_port_when_closed(metrics: Metrics) -> None:
    first = serve(metrics, "127.0.0.1", 0)
    port = first.port
    first.close()
    second = serve(metrics, "127.0.0.1", port)
    second.close()


def test_a_taken_port_is_an_oserror(metrics: Metrics, server: MetricsServer) -> None:
    with pytest.raises(OSError):
        serve(metrics, "127.0.0.1", server.port)


def test_settings_refuse_contradictions() -> None:
    with pytest.raises(ValueError, match="port"):
        MetricsSettings(port=70000)
    with pytest.raises(ValueError, match="above 0"):
        MetricsSettings(stall_after_seconds=0)
    with pytest.raises(ValueError, match="poll_seconds"):
        MetricsSettings(stall_after_seconds=60).check_against_poll(60)


def test_built_metrics_carry_the_settings_health(clock: FakeClock) -> None:
    m = build_metrics(MetricsSettings(stall_after_seconds=30), clock=clock)
    clock.advance(31)
    assert m.health is not None and not m.health.status()[0]
