"""The wrappers that report the intake's work to the logs and metrics."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pytest

from bot.config import Config
from bot.errors import DeskUnavailable
from bot.ops.logs import Redactor
from bot.ops.metrics import Health, Metrics
from bot.pipeline.intake import Delivery
from bot.pipeline.observe import watch_assessor, watch_sink
from bot.pipeline.reading import assess_messages
from parsers.email import parse_message
from rules.assessment import Assessment
from tests.clock import FakeClock
from tests.conftest import FIXTURES

THREAD = FIXTURES / "04-ready-spectrum-ssn-xlsx"


def _assess(raws: Sequence[bytes]) -> Assessment:
    return assess_messages(raws, Config(), dt.date(2026, 11, 24))


def _raws() -> list[bytes]:
    return [p.read_bytes() for p in sorted(THREAD.glob("*.eml"))]


def test_a_requests_secrets_are_registered_as_it_is_assessed() -> None:
    redactor = Redactor()
    assessment = watch_assessor(_assess, redactor=redactor)(_raws())
    assert assessment.request.ssn_last4 == "6612"
    text = "acct 8352 1001 2345 6789 ssn 6612 pin 0427"
    assert redactor.redact(text) == "acct •••• ssn •••• pin ••••"


def test_zendesk_health_follows_the_ticket_sink() -> None:
    clock = FakeClock(0.0)
    metrics = Metrics(health=Health(clock, stall_after=600, unreachable_after=60))
    metrics.poll_succeeded()
    delivery = Delivery(
        "r-1",
        "<k@x>",
        tuple(_raws()),
        _assess(_raws()),
        messages=tuple(parse_message(r) for r in _raws()),
    )
    down = True

    def sink(delivery: Delivery) -> None:
        if down:
            raise DeskUnavailable("Zendesk unreachable: ConnectionError")

    watched = watch_sink(sink, metrics)
    with pytest.raises(DeskUnavailable):
        watched(delivery)
    clock.now = 61
    metrics.poll_succeeded()
    assert metrics.health is not None
    assert metrics.health.status() == (False, ["zendesk unreachable for 61 s (limit 60 s)"])
    down = False
    watched(delivery)
    assert metrics.health.status() == (True, [])
