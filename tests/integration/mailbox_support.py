"""Shared by the mailbox tests: a config for a folder of the test dovecot, mail to load."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from bot.config import Config, ImapConfig, QuarantineConfig, StateConfig
from bot.standins.localmail import LocalMail
from parsers.limits import Limits


@dataclass(frozen=True)
class FakeAssessment:
    """Stands in for the assessment where a test is about the mailbox, not the parsers."""

    thread_length: int


def fake_assess(raws: object) -> FakeAssessment:
    messages = list(raws)
    if b"BOOM" in messages[-1]:
        raise KeyError("the pipeline crashed")
    return FakeAssessment(len(messages))


def new_folder() -> str:
    return "t-" + uuid.uuid4().hex[:10]


def mail_config(
    server: LocalMail, folder: str, state: Path, *, max_message_bytes: int | None = None
) -> Config:
    return Config(
        imap=ImapConfig(
            host=server.host,
            port=server.tls_port,
            ca_file=str(server.ca_file),
            username=server.user,
            password_file=str(server.password_file),
            folders=(folder,),
            start="all",
        ),
        state=StateConfig(path=str(state)),
        quarantine=QuarantineConfig(folder=folder + "-quarantine"),
        limits=Limits(max_message_bytes=max_message_bytes) if max_message_bytes else Limits(),
    )


def toml_config(
    server: LocalMail, folder: str, state: Path, poll_seconds: float = 60.0, idle: bool = False
) -> str:
    return f"""
[imap]
host = "{server.host}"
port = {server.tls_port}
ca_file = "{server.ca_file}"
username = "{server.user}"
password_file = "{server.password_file}"
folders = ["{folder}"]
start = "all"

[state]
path = "{state}"

[schedule]
poll_seconds = {poll_seconds}
idle = {"true" if idle else "false"}

[quarantine]
folder = "{folder}-quarantine"
"""


def message(
    n: int, *, reply_to: int | None = None, body: str = "", message_id: bool = True
) -> bytes:
    headers = [
        f"From: customer{n}@example.com",
        "To: support@example.test",
        f"Subject: Port request {n}",
        "Date: Mon, 3 Jun 2024 10:00:00 +0000",
    ]
    if message_id:
        headers.append(f"Message-ID: <m{n}@example.com>")
    if reply_to is not None:
        headers += [
            f"In-Reply-To: <m{reply_to}@example.com>",
            f"References: <m{reply_to}@example.com>",
        ]
    text = "\r\n".join(headers) + "\r\n\r\n" + (body or f"Please port 512-555-{n:04d}.") + "\r\n"
    return text.encode()
