"""Mailbox -> assessment -> ticket, end to end: a real dovecot, the real bot built by
`bot.app.build_app`, real zenpy over HTTP against the Zendesk emulator."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests

from bot.adapters.sqlite_state import SqliteStateStore
from bot.app import build_app, desk_from_config
from bot.config import Config, QuarantineConfig, ZendeskConfig
from bot.pipeline.intake import Intake
from bot.render.ticket import ZendeskNames
from bot.standins.localmail import LocalMail, dovecot_binary, local_dovecot
from bot.standins.zendesk_emulator import Emulator, serve
from tests.clock import FakeClock as Clock
from tests.clock import Today
from tests.conftest import FIXTURES, ROOT
from tests.integration.mailbox_support import mail_config, new_folder, toml_config

TOKEN = "emulator-token"
ENV = {"PORTBOT_ZENDESK_TOKEN": TOKEN}
AUTH = ("agent@ourco.example/token", TOKEN)
ACME = FIXTURES / "01-ready-att-acme-csv"  # one message, bill + LOA + numbers CSV
TELUS = FIXTURES / "07-ready-telus-followups-supply-loa-and-pin"  # bill; then LOA; then PIN
TELUS_PIN, ACME_PIN = "7310", "7731"


@pytest.fixture(scope="module")
def server() -> Iterator[LocalMail]:
    if dovecot_binary() is None:
        if os.environ.get("CI"):
            pytest.fail("dovecot is not installed: scripts/setup installs dovecot-imapd")
        pytest.skip("dovecot is not installed (Debian: apt-get install dovecot-imapd)")
    with local_dovecot() as running:
        yield running


@pytest.fixture()
def em(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    emulator = serve(token=TOKEN)
    # the adapter points zenpy at the emulator through process-wide variables;
    # registering them here makes pytest restore them after the test
    monkeypatch.setenv("ZENPY_FORCE_SCHEME", "http")
    monkeypatch.setenv("ZENPY_FORCE_NETLOC", emulator.netloc)
    yield emulator
    emulator.stop()


def zendesk_config(em: Emulator, **changes: Any) -> ZendeskConfig:
    base = ZendeskConfig(
        subdomain="acme",
        email="agent@ourco.example",
        url=em.url,
        retry_backoff_seconds=0.01,
        retry_max_backoff_seconds=0.02,
    )
    ids = desk_from_config(base, ENV).setup_fields(base.names)
    return replace(base, names=replace(ZendeskNames(), field_ids=ids), **changes)


def config_for(server: LocalMail, em: Emulator, folder: str, state: Path, **changes: Any) -> Config:
    return replace(mail_config(server, folder, state), zendesk=zendesk_config(em, **changes))


def app(config: Config, day: str, clock: Clock | None = None) -> Intake:
    return build_app(config, clock=(clock or Clock()).on(day), environ=ENV)


def eml(thread: Path, n: int) -> bytes:
    return sorted(thread.glob("*.eml"))[n - 1].read_bytes()


def get(em: Emulator, path: str) -> Any:
    r = requests.get(f"{em.url}/api/v2/{path}", auth=AUTH, timeout=10)
    r.raise_for_status()
    return r.json()


def tickets(em: Emulator) -> list[dict[str, Any]]:
    return get(em, "tickets.json")["tickets"]  # type: ignore[no-any-return]


def comments(em: Emulator, tid: int) -> list[dict[str, Any]]:
    return get(em, f"tickets/{tid}/comments.json")["comments"]  # type: ignore[no-any-return]


def fault(em: Emulator, **spec: Any) -> None:
    requests.post(f"{em.url}/__emulator__/faults", json=spec, timeout=5).raise_for_status()


def field_values(ticket: dict[str, Any], names: ZendeskNames) -> dict[str, Any]:
    by_id = {v: k for k, v in names.field_ids.items()}
    return {by_id[f["id"]]: f["value"] for f in ticket["custom_fields"] if f["id"] in by_id}


def test_a_new_request_email_makes_exactly_one_ticket_with_fields_note_attachments_and_tags(
    server: LocalMail, em: Emulator, tmp_path: Path
) -> None:
    folder = new_folder()
    server.append(folder, [eml(ACME, 1)])
    config = config_for(server, em, folder, tmp_path / "state.db")
    assert config.zendesk is not None
    with app(config, "2026-11-20") as intake:
        report = intake.poll()
        assert (report.count("assessed"), report.delivered) == (1, 1)
        assert intake.poll().handled == []
    [ticket] = tickets(em)
    assert ticket["subject"].startswith("Port request: Acme Realty LLC")
    requester = get(em, f"users/{ticket['requester_id']}.json")["user"]
    assert requester["email"] == "dana@acmerealtytx.com"
    fields = field_values(ticket, config.zendesk.names)
    assert fields["current_carrier"] == "AT&T" and fields["account_name"] == "Acme Realty LLC"
    assert fields["number_count"] == 3 and fields["ready"] is True
    assert fields["stage"] == "port_stage_request_received"
    assert {"porting", "port_stage_request_received", "port_ready"} <= set(ticket["tags"])
    [note] = comments(em, ticket["id"])
    assert note["public"] is False and ACME_PIN in note["body"]
    assert sorted(a["file_name"] for a in note["attachments"]) == [
        "ATT_Bill_Nov2026.pdf",
        "Acme numbers.csv",
        "Acme_LOA_signed.pdf",
    ]


def test_follow_ups_update_the_same_ticket_with_what_changed_and_their_attachment(
    server: LocalMail, em: Emulator, tmp_path: Path
) -> None:
    folder = new_folder()
    config = config_for(server, em, folder, tmp_path / "state.db")
    with app(config, "2026-11-26") as intake:
        server.append(folder, [eml(TELUS, 1)])
        intake.poll()
        [first] = tickets(em)
        assert "port_missing_loa" in first["tags"]
        server.append(folder, [eml(TELUS, 2)])
        intake.poll()
        server.append(folder, [eml(TELUS, 3)])
        intake.poll()
    [ticket] = tickets(em)
    assert ticket["id"] == first["id"]
    notes = comments(em, ticket["id"])
    assert len(notes) == 3
    assert "Now received: Signed LOA" in notes[1]["body"]
    assert [a["file_name"] for a in notes[1]["attachments"]] == ["Harbourview LOA.pdf"]
    assert notes[2]["attachments"] == [] and "Now READY to submit." in notes[2]["body"]
    assert {"port_ready", "port_stage_request_received"} <= set(ticket["tags"])
    assert "port_missing_loa" not in ticket["tags"]
    # PINs: in private notes only; never in a public comment, the subject, tags or fields
    public = " ".join(
        [
            ticket["subject"],
            ticket.get("description") or "",
            *ticket["tags"],
            *(str(f["value"]) for f in ticket["custom_fields"]),
        ]
    )
    assert TELUS_PIN not in public
    assert all(not c["public"] for c in notes)
    assert TELUS_PIN in notes[2]["body"]


def test_a_follow_up_to_a_closed_ticket_opens_a_new_ticket_linked_to_it(
    server: LocalMail, em: Emulator, tmp_path: Path
) -> None:
    folder = new_folder()
    config = config_for(server, em, folder, tmp_path / "state.db")
    with app(config, "2026-11-26") as intake:
        server.append(folder, [eml(TELUS, 1)])
        intake.poll()
        [old] = tickets(em)
        requests.put(
            f"{em.url}/api/v2/tickets/{old['id']}.json",
            auth=AUTH,
            timeout=5,
            json={"ticket": {"status": "closed"}},
        ).raise_for_status()
        server.append(folder, [eml(TELUS, 2)])
        report = intake.poll()
        assert report.delivered == 1 and report.count("quarantined") == 0
        new_id = intake.state.tickets()["PR-000001"]
        server.append(folder, [eml(TELUS, 3)])
        intake.poll()
    assert new_id != old["id"] and len(tickets(em)) == 2
    new = get(em, f"tickets/{new_id}.json")["ticket"]
    assert new["via"]["source"]["from"]["ticket_id"] == old["id"]
    notes = comments(em, new_id)
    assert f"Follow-up to closed ticket #{old['id']}" in notes[0]["body"]
    assert [a["file_name"] for a in notes[0]["attachments"]] == ["Harbourview LOA.pdf"]
    assert len(notes) == 2  # the third message updated the new ticket
    assert len(comments(em, old["id"])) == 1


def toml_with_zendesk(
    server: LocalMail, em: Emulator, folder: str, state: Path, zendesk: ZendeskConfig
) -> str:
    return (
        toml_config(server, folder, state)
        + textwrap.dedent(f"""
        [zendesk]
        subdomain = "acme"
        email = "agent@ourco.example"
        url = "{em.url}"
        [zendesk.fields]
    """)
        + "".join(f"{k} = {v}\n" for k, v in zendesk.names.field_ids.items())
    )


def test_portbot_poll_files_the_ticket_and_says_which(
    server: LocalMail, em: Emulator, tmp_path: Path
) -> None:
    folder = new_folder()
    server.append(folder, [eml(ACME, 1)])
    path = tmp_path / "config.toml"
    path.write_text(
        toml_with_zendesk(server, em, folder, tmp_path / "state.db", zendesk_config(em))
    )
    poll = [sys.executable, "-m", "bot.cli", "poll", "--config", str(path)]
    done = subprocess.run(
        poll, cwd=ROOT, env={**os.environ, **ENV}, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    [ticket] = tickets(em)
    assert f"assessed PR-000001 ticket #{ticket['id']}" in done.stdout
    assert "1 assessed, 0 quarantined, 0 duplicates, 1 handed on" in done.stdout
    without_token = {k: v for k, v in os.environ.items() if k != "PORTBOT_ZENDESK_TOKEN"}
    done = subprocess.run(
        poll, cwd=ROOT, env=without_token, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    assert "no Zendesk API token: set the environment variable PORTBOT_ZENDESK_TOKEN" in (
        done.stderr
    )


def test_a_bot_killed_right_after_the_create_call_still_files_one_ticket(
    server: LocalMail, em: Emulator, tmp_path: Path
) -> None:
    folder = new_folder()
    state = tmp_path / "state.db"
    server.append(folder, [eml(ACME, 1)])
    zendesk = zendesk_config(em)
    path = tmp_path / "config.toml"
    path.write_text(toml_with_zendesk(server, em, folder, state, zendesk))
    script = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from bot.app import build_app
        from bot.config import load_config
        from bot.app import desk_from_config

        config = load_config(Path({str(path)!r}))
        real = desk_from_config(config.zendesk)

        class KilledAfterCreate:
            def __getattr__(self, name):
                return getattr(real, name)

            def create_ticket(self, draft, attachments, key):
                real.create_ticket(draft, attachments, key)
                os.kill(os.getpid(), signal.SIGKILL)  # before the id reaches the state

        with build_app(config, desk=KilledAfterCreate()) as intake:
            intake.poll()
    """)
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        timeout=120,
        env={**os.environ, **ENV},
        capture_output=True,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    [made] = tickets(em)
    store = SqliteStateStore(state)
    record = store.ticket("PR-000001")
    store.close()
    assert record is not None and record.ticket_id is None and record.pending is not None

    config = replace(mail_config(server, folder, state), zendesk=zendesk)
    with app(config, "2026-11-20") as intake:
        report = intake.poll()
        assert report.delivered == 1 and report.handled == []
        assert intake.state.tickets() == {"PR-000001": made["id"]}
    assert [t["id"] for t in tickets(em)] == [made["id"]]
    assert len(comments(em, made["id"])) == 1


def test_zendesk_down_or_rate_limiting_delays_tickets_and_quarantines_nothing(
    server: LocalMail, em: Emulator, tmp_path: Path
) -> None:
    folder = new_folder()
    base = mail_config(server, folder, tmp_path / "state.db")
    # were the outage counted as failed attempts, two cycles would quarantine the mail
    config = replace(
        base,
        quarantine=QuarantineConfig(folder=base.quarantine.folder, max_delivery_attempts=2),
        zendesk=zendesk_config(em, retry_attempts=2, retry_max_wait_seconds=0.5),
    )
    server.append(folder, [eml(ACME, 1), eml(TELUS, 1)])
    clock = Clock()
    fault(em, status=503, count=10_000)
    with app(config, "2026-11-20", clock) as intake:
        for _ in range(3):
            report = intake.poll()
            assert report.delivered == 0 and report.deferred >= 1
            clock.now += 60
        requests.delete(f"{em.url}/__emulator__/faults", timeout=5).raise_for_status()
        fault(em, status=429, count=10_000, retry_after=30)  # longer than we wait in a call
        for _ in range(2):
            assert intake.poll().deferred >= 1
            clock.now += 60
        assert intake.state.tickets() == {}
        requests.delete(f"{em.url}/__emulator__/faults", timeout=5).raise_for_status()
        assert tickets(em) == []
        report = intake.poll()
        assert report.delivered == 2 and report.deferred == 0
        counts = intake.state.counts()
    assert counts["quarantined"] == 0 and counts["undelivered"] == 0
    assert len(tickets(em)) == 2


def test_a_ticket_zendesk_refuses_for_good_is_quarantined_with_the_reason(
    server: LocalMail, em: Emulator, tmp_path: Path
) -> None:
    folder = new_folder()
    config = config_for(server, em, folder, tmp_path / "state.db")
    server.append(folder, [eml(ACME, 1)])
    fault(em, status=422, count=1, path="/api/v2/tickets.json")
    with app(config, "2026-11-20") as intake:
        report = intake.poll()
        assert report.delivery_failures == 1
        [entry] = intake.state.quarantined()
        assert "422" in entry.reason
        intake.poll()  # moves it to the quarantine folder
        assert intake.state.quarantined()[0].moved
        intake.replay(None)
        assert intake.state.counts()["undelivered"] == 0
    assert len(tickets(em)) == 1


def test_without_a_zendesk_section_the_bot_only_assesses(server: LocalMail, tmp_path: Path) -> None:
    folder = new_folder()
    server.append(folder, [eml(ACME, 1)])
    with build_app(
        mail_config(server, folder, tmp_path / "state.db"), clock=Today("2026-11-20"), environ={}
    ) as intake:
        report = intake.poll()
    assert (report.count("assessed"), report.delivered) == (1, 1)


def test_zendesk_setup_prints_the_field_ids_to_paste_and_doctor_checks_them(
    em: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import tomllib

    from bot.cli import main

    monkeypatch.setenv("PORTBOT_ZENDESK_TOKEN", TOKEN)
    monkeypatch.chdir(tmp_path)  # doctor opens the default state file in the cwd
    path = tmp_path / "config.toml"
    settings = f'[zendesk]\nsubdomain = "acme"\nemail = "agent@ourco.example"\nurl = "{em.url}"\n'
    path.write_text(settings)
    assert main(["zendesk", "setup", "--config", str(path)]) == 0
    printed = capsys.readouterr().out
    ids = tomllib.loads(printed)["zendesk"]["fields"]
    assert set(ids) == {
        "current_carrier",
        "account_name",
        "account_number",
        "service_address",
        "btn",
        "number_count",
        "stage",
        "ready",
        "porting_date",
        "rejection_reason",
    }
    assert main(["zendesk", "setup", "--config", str(path)]) == 0
    assert tomllib.loads(capsys.readouterr().out)["zendesk"]["fields"] == ids  # found, not made

    path.write_text(settings + printed.split("\n", 1)[1])
    main(["doctor", "--config", str(path)])  # no [imap] host: that part is a problem
    out = capsys.readouterr().out
    assert "ok      logged in to Zendesk" in out and "ok      every [zendesk.fields] id" in out
    monkeypatch.setenv("PORTBOT_ZENDESK_TOKEN", "wrong")
    main(["doctor", "--config", str(path)])
    assert "PROBLEM Zendesk at" in capsys.readouterr().out


def test_the_emulator_command_serves_the_api_and_the_ticket_page(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot.cli",
            "zendesk-emulator",
            "--port",
            "0",
            "--state",
            str(tmp_path / "account.json"),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = line.split(" on ", 1)[1].split("/ ", 1)[0]
        page = requests.get(url + "/", timeout=10)
        assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
        me = requests.get(f"{url}/api/v2/users/me.json", auth=AUTH, timeout=10)
        assert me.json()["user"]["email"] == "agent@ourco.example"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def faults_left(em: Emulator) -> int:
    r = requests.get(f"{em.url}/__emulator__/faults", timeout=5)
    r.raise_for_status()
    return sum(int(f["remaining"]) for f in r.json()["faults"])


def test_an_outage_defers_the_message_the_cycle_moves_on_and_the_next_cycle_files_it(
    server: LocalMail, em: Emulator, tmp_path: Path
) -> None:
    folder = new_folder()
    server.append(
        folder, [eml(ACME, 1), eml(TELUS, 1), eml(FIXTURES / "05-ready-rogers-toronto", 1)]
    )
    config = config_for(server, em, folder, tmp_path / "state.db")
    clock = Clock()
    fault(em, status=503, count=1000)
    with app(config, "2026-11-20", clock) as intake:
        report = intake.poll()
        # every message read, assessed and recorded; none waits on another
        assert report.count("assessed") == 3 and report.delivered == 0
        assert report.deferred == 3 and report.outages == {"Zendesk": 3}
        # two tries for the first message, then the desk is left alone this cycle
        assert 1000 - faults_left(em) == 2
        requests.delete(f"{em.url}/__emulator__/faults", timeout=5).raise_for_status()
        clock.now += 60
        report = intake.poll()
        assert report.delivered == 3 and report.deferred == 0 and report.outages == {}
        assert intake.poll().delivered == 0
    assert len(tickets(em)) == 3
    assert all(len(comments(em, t["id"])) == 1 for t in tickets(em))


def test_poll_exits_75_naming_zendesk_when_it_is_down_and_0_once_it_is_back(
    server: LocalMail, em: Emulator, tmp_path: Path
) -> None:
    folder = new_folder()
    server.append(folder, [eml(ACME, 1)])
    zendesk = zendesk_config(em)
    path = tmp_path / "config.toml"
    path.write_text(toml_with_zendesk(server, em, folder, tmp_path / "state.db", zendesk))
    poll = [sys.executable, "-m", "bot.cli", "poll", "--config", str(path)]
    fault(em, status=503, count=1000)
    done = subprocess.run(
        poll, cwd=ROOT, env={**os.environ, **ENV}, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 75, done.stderr
    assert "Zendesk is unavailable: 1 hand-on(s) wait for a later cycle" in done.stderr
    assert "1 waiting for a later cycle" in done.stdout
    requests.delete(f"{em.url}/__emulator__/faults", timeout=5).raise_for_status()
    done = subprocess.run(
        poll, cwd=ROOT, env={**os.environ, **ENV}, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    [ticket] = tickets(em)
    assert len(comments(em, ticket["id"])) == 1
