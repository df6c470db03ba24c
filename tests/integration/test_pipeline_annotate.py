"""Beside a desk that already ingests support@ (`[zendesk] mode = "annotate"`) and
replying through it (`[reply] via = "zendesk"`), end to end: a real dovecot with a
mixed mailbox, the real bot, real zenpy over HTTP against the emulator, whose email
channel ingests the same mail as Zendesk's would. Exactly one ticket per email thread
(the desk's), the porting ones pre-filled once, replies as public comments once, also
when the bot is killed with SIGKILL at random moments."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import requests

from bot.config import ReplyConfig
from bot.standins.localmail import LocalMail
from bot.standins.zendesk_emulator import Emulator
from bot.standins.zendesk_emulator.email_channel import deliver
from tests.conftest import ROOT
from tests.integration import pipeline_support
from tests.integration.mailbox_support import mail_config, new_folder, toml_config
from tests.integration.test_pipeline_zendesk import (
    ACME,
    ENV,
    TELUS,
    app,
    comments,
    eml,
    field_values,
    get,
    tickets,
    zendesk_config,
)

NOTICE = ROOT / "fixtures" / "carrier_notices" / "bandwidth-01-submitted.eml"
SUPPORT = "support@ourco.example"
AGENT = "agent@ourco.example"


@pytest.fixture(scope="module")
def server() -> Iterator[LocalMail]:
    yield from pipeline_support.dovecot()


@pytest.fixture()
def em(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    yield from pipeline_support.emulator(monkeypatch)


def _mail(n: int, subject: str, sender: str, body: str, **headers: str) -> bytes:
    m = EmailMessage()
    m["From"] = sender
    m["To"] = SUPPORT
    m["Subject"] = subject
    m["Date"] = f"Mon, 23 Nov 2026 1{n % 10}:00:00 +0000"
    m["Message-ID"] = f"<other-{n}@mixed.example>"
    for name, value in headers.items():
        m[name.replace("_", "-")] = value
    m.set_content(body)
    return bytes(m)


def _bounce() -> bytes:
    return (
        b"From: Mail Delivery System <MAILER-DAEMON@mx.client.example>\r\n"
        b"To: support@ourco.example\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\n"
        b"Date: Mon, 23 Nov 2026 12:30:00 +0000\r\n"
        b"Message-ID: <bounce-1@mx.client.example>\r\n"
        b"Auto-Submitted: auto-replied\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n'
        b"\r\n--b1\r\nContent-Type: text/plain\r\n\r\n"
        b"This is the mail system at host mx.client.example. I'm sorry ...\r\n"
        b"--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; mx.client.example\r\n\r\n"
        b"Final-Recipient: rfc822; x@nowhere.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        b"--b1--\r\n"
    )


def mixed_mailbox() -> tuple[list[bytes], list[bytes]]:
    """(porting request mail, the rest): requests with follow-ups; an unrelated question,
    an out-of-office, a bounce, a list digest, an automatic notification, a carrier notice."""
    porting = [eml(ACME, 1), *(eml(TELUS, n) for n in (1, 2, 3))]
    other = [
        _mail(1, "Invoice question", "Dana Ruiz <dana@client.example>", "Why was I billed twice?"),
        _mail(
            2,
            "Out of office: your ticket",
            "Sam Lee <sam@client.example>",
            "I am away until Monday.",
            Auto_Submitted="auto-replied",
        ),
        _bounce(),
        _mail(
            4,
            "[telecom-news] Weekly digest",
            "telecom-news@lists.example",
            "This week: number portability news.",
            List_Id="<telecom-news.lists.example>",
            Precedence="list",
        ),
        _mail(
            5,
            "Your monthly usage report",
            "no-reply@portal.example",
            "Your usage report is ready.",
            Auto_Submitted="auto-generated",
        ),
        NOTICE.read_bytes(),
    ]
    return porting, other


def config_for(server: LocalMail, em: Emulator, folder: str, state: Path) -> Any:
    return replace(
        mail_config(server, folder, state),
        zendesk=zendesk_config(em, mode="annotate"),
        reply=ReplyConfig(support_address=SUPPORT, via="zendesk"),
    )


def outbox(em: Emulator) -> list[dict[str, Any]]:
    r = requests.get(f"{em.url}/__emulator__/outbox", timeout=10)
    r.raise_for_status()
    return r.json()["outbox"]  # type: ignore[no-any-return]


def agent_id(em: Emulator) -> int:
    [user] = get(em, f"users/search.json?query={AGENT}")["users"]
    return int(user["id"])


def check_one_desk_ticket_per_thread(em: Emulator, names: Any, threads: int) -> dict[str, Any]:
    """Every ticket the desk's channel made, none the bot did; porting ones pre-filled
    once per message; replies as public comments, each emailed once."""
    made = tickets(em)
    assert len(made) == threads
    assert all(t["via"]["channel"] == "email" for t in made)
    me = agent_id(em)
    by_subject = {t["subject"]: t for t in made}
    acme = next(t for s, t in by_subject.items() if "ATT" in s.upper() or "AT&T" in s.upper())
    telus = next(t for s, t in by_subject.items() if "TELUS" in s.upper())
    out: dict[str, Any] = {}
    for label, ticket, messages in (("acme", acme, 1), ("telus", telus, 3)):
        said = comments(em, ticket["id"])
        notes = [c for c in said if not c["public"]]
        replies = [c for c in said if c["public"] and c["author_id"] == me]
        from_customer = [c for c in said if c["author_id"] != me]
        assert all(c["via"]["channel"] == "email" for c in from_customer)
        assert len(from_customer) == messages  # the desk threaded the follow-ups itself
        bodies = [n["body"] for n in notes]
        assert sum(b.startswith("Porting request read by portbot") for b in bodies) == 1
        marks = [c["metadata"]["custom"].get("portbot_note") for c in [*notes, *replies]]
        assert None not in marks and len(set(marks)) == len(marks), bodies  # each made once
        assert 1 <= len(replies) <= messages
        assert field_values(ticket, names)["current_carrier"]
        assert "porting" in ticket["tags"]
        assert not ticket["subject"].startswith("Port request")  # the desk's subject kept
        out[label] = (ticket["id"], len(replies))
    sent = outbox(em)
    assert sorted(s["comment_id"] for s in sent) == sorted(
        c["id"]
        for t in (acme, telus)
        for c in comments(em, t["id"])
        if c["public"] and c["author_id"] == me
    )
    for ticket in made:
        if ticket["id"] in (acme["id"], telus["id"]):
            continue
        said = comments(em, ticket["id"])
        assert not [c for c in said if c["public"] and c["author_id"] == me]  # no reply
        notes = [c for c in said if not c["public"]]
        if "port_unmatched_notice" in ticket["tags"]:
            assert len(notes) == 1  # the notice's own ticket: what an agent must do
        else:
            assert notes == [] and "porting" not in ticket["tags"], ticket["subject"]
    return out


def test_annotate_pre_fills_the_desks_tickets_waits_for_them_and_replies_through_zendesk(
    server: LocalMail, em: Emulator, tmp_path: Path
) -> None:
    folder = new_folder()
    porting, other = mixed_mailbox()
    server.append(folder, [*porting, *other])
    for raw in [*porting[1:], *other]:  # the desk has not ingested the first request yet
        deliver(em.url, raw)
    config = config_for(server, em, folder, tmp_path / "state.db")
    with app(config, "2026-11-27") as intake:
        first = intake.poll()
        assert first.deferred >= 1  # ACME waits for the desk's ticket
        assert len(tickets(em)) == 7  # none made by the bot
        deliver(em.url, porting[0])
        second = intake.poll()
        assert second.deferred == 0
        third = intake.poll()  # nothing new: no call that changes anything
        assert third.delivered == 0 and third.handled == []
    check_one_desk_ticket_per_thread(em, config.zendesk.names, threads=8)


def test_create_mode_is_unchanged_by_default(
    server: LocalMail, em: Emulator, tmp_path: Path
) -> None:
    folder = new_folder()
    server.append(folder, [eml(ACME, 1)])
    config = replace(mail_config(server, folder, tmp_path / "state.db"), zendesk=zendesk_config(em))
    assert config.zendesk is not None and config.zendesk.mode == "create"
    with app(config, "2026-11-27") as intake:
        intake.poll()
    [ticket] = tickets(em)
    assert ticket["via"]["channel"] == "api"


KILLER = """
import os, random, signal, sys
from pathlib import Path
from bot.app import build_app, desk_from_config
from bot.config import load_config

config = load_config(Path(sys.argv[1]))
real = desk_from_config(config.zendesk)
at, after = int(sys.argv[2]), sys.argv[3] == "after"
calls = 0
WATCHED = {"find_email_ticket", "update_ticket", "amend", "reply_public", "has_note"}


class Killing:
    def __getattr__(self, name):
        attr = getattr(real, name)
        if name not in WATCHED:
            return attr

        def call(*args, **kwargs):
            global calls
            calls += 1
            if calls == at and not after:
                os.kill(os.getpid(), signal.SIGKILL)
            result = attr(*args, **kwargs)
            if calls == at and after:
                os.kill(os.getpid(), signal.SIGKILL)
            return result

        return call


with build_app(config, desk=Killing()) as intake:
    intake.poll()
    intake.poll()
"""


def test_kill_9_at_random_moments_leaves_one_desk_ticket_per_thread_prefilled_once(
    server: LocalMail, em: Emulator, tmp_path: Path
) -> None:
    folder = new_folder()
    porting, other = mixed_mailbox()
    server.append(folder, [*porting, *other])
    for raw in [*porting, *other]:
        deliver(em.url, raw)
    zendesk = zendesk_config(em, mode="annotate")
    path = tmp_path / "config.toml"
    path.write_text(
        toml_config(server, folder, tmp_path / "state.db")
        + textwrap.dedent(f"""
        [reply]
        support_address = "{SUPPORT}"
        via = "zendesk"

        [zendesk]
        subdomain = "acme"
        email = "{AGENT}"
        url = "{em.url}"
        mode = "annotate"
        retry_backoff_seconds = 0.01
        [zendesk.fields]
        """)
        + "".join(f"{k} = {v}\n" for k, v in zendesk.names.field_ids.items())
    )
    rng = random.Random(int(os.environ.get("PORTBOT_KILL_SEED", "14")))
    kills = 0
    for _ in range(8):  # killed at a random desk call, before or after it; then once more
        at, when = rng.randint(1, 6), rng.choice(["before", "after"])
        done = subprocess.run(
            [sys.executable, "-c", KILLER, str(path), str(at), when],
            cwd=ROOT,
            env={**os.environ, **ENV},
            capture_output=True,
            timeout=300,
        )
        if done.returncode == -signal.SIGKILL:
            kills += 1
            continue
        assert done.returncode == 0, done.stderr.decode()[-2000:]
    done = subprocess.run(
        [sys.executable, "-c", KILLER, str(path), "0", "never"],
        cwd=ROOT,
        env={**os.environ, **ENV},
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert kills >= 3
    check_one_desk_ticket_per_thread(em, zendesk.names, threads=8)
