"""Metrics and /healthz on a real mailbox: the fixture run's counts, an IMAP outage.

A real dovecot holds the fixture threads; the intake polls it through
`observed_poll`, and the test reads /metrics and /healthz over HTTP. Then dovecot is
stopped (health turns 503 once the mailbox has been unreachable for longer than the
limit) and started again (health recovers at the next poll).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.adapters.imap import connect_from_config
from bot.app import build_intake
from bot.errors import MailboxError
from bot.ops.logs import Redactor
from bot.ops.metrics import Health, Metrics, serve
from bot.pipeline.observe import observed_poll, watch_assessor
from bot.pipeline.reading import assess_messages
from bot.ports import Mailbox
from bot.standins.localmail import LocalMail, dovecot_binary, local_dovecot
from rules.assessment import Assessment
from tests.clock import FakeClock
from tests.conftest import FIXTURES
from tests.integration.mailbox_support import mail_config, new_folder


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _counts(url: str) -> dict[str, float]:
    _, body = _get(f"{url}/metrics")
    return {
        s.labels["outcome"]: s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
        if s.name == "portbot_messages_total"
    }


@pytest.fixture
def mail_root() -> Iterator[Path]:
    if dovecot_binary() is None:
        if os.environ.get("CI"):
            pytest.fail("dovecot is not installed: scripts/setup installs dovecot-imapd")
        pytest.skip("dovecot is not installed (Debian: apt-get install dovecot-imapd)")
    # not pytest's tmp_path: dovecot's processes run as other users and must reach it
    root = Path(tempfile.mkdtemp(prefix="portbot-health-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_metrics_count_a_fixture_run_and_health_follows_an_imap_outage(
    mail_root: Path, tmp_path: Path
) -> None:
    threads = sorted(
        p
        for p in FIXTURES.iterdir()
        if (p / "expected.json").is_file() and not p.name.startswith("ocr-")
    )
    emls = [eml for thread in threads for eml in sorted(thread.glob("*.eml"))]
    folder = new_folder()
    clock = FakeClock(5000.0)
    metrics = Metrics(health=Health(clock, stall_after=600, unreachable_after=120))
    redactor = Redactor()
    running: dict[str, LocalMail] = {}

    with serve(metrics, "127.0.0.1", 0) as http:
        with local_dovecot(mail_root) as server:
            running["server"] = server
            server.append(folder, [eml.read_bytes() for eml in emls])
            config = mail_config(server, folder, tmp_path / "state.sqlite3")

            def connect() -> Mailbox:
                # a restarted dovecot listens on a new port
                imap = dataclasses.replace(config.imap, port=running["server"].tls_port)
                return connect_from_config(imap, {})

            def assess(raws: Sequence[bytes]) -> Assessment:
                return assess_messages(raws, config, dt.date(2026, 11, 20))

            intake = build_intake(
                config,
                connect=connect,
                assess=watch_assessor(assess, redactor=redactor, metrics=metrics),
            )

            # a fixture run: the endpoint reports what the cycle did
            report = observed_poll(intake, metrics)
            assert len(report.handled) == len(emls)
            counts = _counts(http.url)
            assert sum(counts.values()) == len(emls)
            for outcome in ("assessed", "quarantined", "duplicate"):
                assert counts.get(outcome, 0) == report.count(outcome)
            assert counts["assessed"] > 30
            assert _get(f"{http.url}/healthz")[0] == 200
            assert len(redactor) > 0  # each request's secrets registered as it was read

        # dovecot stopped: one failed poll is not yet an outage
        with pytest.raises(MailboxError):
            observed_poll(intake, metrics)
        assert _get(f"{http.url}/healthz")[0] == 200
        clock.now += 121
        with pytest.raises(MailboxError):
            observed_poll(intake, metrics)
        status, body = _get(f"{http.url}/healthz")
        assert status == 503
        assert json.loads(body)["reasons"] == ["mailbox unreachable for 121 s (limit 120 s)"]

        # dovecot back (same mail, new port): the next poll makes it healthy again
        with local_dovecot(mail_root) as again:
            running["server"] = again
            report = observed_poll(intake, metrics)
            assert report.handled == []  # nothing new: each message is read once
            status, body = _get(f"{http.url}/healthz")
            assert status == 200 and json.loads(body)["status"] == "ok"
        intake.close()
    assert sum(_counts_after(metrics).values()) == len(emls)


def _counts_after(metrics: Metrics) -> dict[str, float]:
    return {
        o: metrics.value("portbot_messages_total", {"outcome": o}) or 0.0
        for o in ("assessed", "quarantined", "duplicate")
    }
