"""Fixture bodies shared by the pipeline tests (a dovecot per module, an emulator per test)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from bot.standins.localmail import LocalMail, dovecot_binary, local_dovecot
from bot.standins.zendesk_emulator import Emulator, serve
from tests.integration.test_pipeline_zendesk import TOKEN


def dovecot() -> Iterator[LocalMail]:
    if dovecot_binary() is None:
        if os.environ.get("CI"):
            pytest.fail("dovecot is not installed: scripts/setup installs dovecot-imapd")
        pytest.skip("dovecot is not installed (Debian: apt-get install dovecot-imapd)")
    with local_dovecot() as running:
        yield running


def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    running = serve(token=TOKEN)
    # zenpy is pointed at the emulator through process-wide variables; registered here,
    # pytest restores them after the test
    monkeypatch.setenv("ZENPY_FORCE_SCHEME", "http")
    monkeypatch.setenv("ZENPY_FORCE_NETLOC", running.netloc)
    yield running
    running.stop()
