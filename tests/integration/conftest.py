"""What the integration tests share, in one place: a dovecot per module, the Zendesk
emulator per test, and a real SMTP server whose copies to support@ land in the dovecot
folder a test names (`folder[0]`), as they would in life. A module that needs them
otherwise defines its own fixture of the same name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.standins.localmail import LocalMail
from bot.standins.zendesk_emulator import Emulator
from tests.integration.pipeline_support import dovecot, emulator
from tests.integration.smtp_support import Handler, SmtpServer, smtp_server

SUPPORT = "support@lofty.com"


@pytest.fixture(scope="module")
def server() -> Iterator[LocalMail]:
    yield from dovecot()


@pytest.fixture()
def em(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    yield from emulator(monkeypatch)


@pytest.fixture()
def smtp(server: LocalMail, tmp_path: Path) -> Iterator[tuple[SmtpServer, list[str]]]:
    """The SMTP server; `folder[0]` is where copies to support@ are delivered."""
    folder: list[str] = [""]
    handler = Handler(local=SUPPORT, deliver_local=lambda raw: server.append(folder[0], [raw]))
    with smtp_server(tmp_path, handler) as running:
        yield running, folder
