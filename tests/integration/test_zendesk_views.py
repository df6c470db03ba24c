"""`portbot zendesk setup` makes the porting views (one per stage, stale, rejected and
waiting on the customer) in the Zendesk emulator through zenpy, once; each view lists
the tickets the bot's tags put in it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from bot.standins.zendesk_emulator import Emulator
from tests.integration.test_pipeline_zendesk import AUTH, TOKEN


def _setup(path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    from bot.cli import main

    assert main(["zendesk", "setup", "--json", "--config", str(path)]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def _ticket(em: Emulator, *tags: str, status: str = "open") -> int:
    body: dict[str, Any] = {
        "ticket": {"subject": "port", "comment": {"body": "x"}, "tags": list(tags)}
    }
    made = requests.post(f"{em.url}/api/v2/tickets.json", auth=AUTH, json=body, timeout=10)
    made.raise_for_status()
    tid = int(made.json()["ticket"]["id"])
    if status != "open":
        requests.put(
            f"{em.url}/api/v2/tickets/{tid}.json",
            auth=AUTH,
            json={"ticket": {"status": status}},
            timeout=10,
        ).raise_for_status()
    return tid


def _in_view(em: Emulator, view_id: int) -> set[int]:
    got = requests.get(f"{em.url}/api/v2/views/{view_id}/tickets.json", auth=AUTH, timeout=10)
    got.raise_for_status()
    return {t["id"] for t in got.json()["tickets"]}


def test_zendesk_setup_makes_the_views_once_and_each_lists_its_tickets(
    em: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PORTBOT_ZENDESK_TOKEN", TOKEN)
    path = tmp_path / "portbot.toml"
    path.write_text(
        f'[zendesk]\nsubdomain = "acme"\nemail = "agent@ourco.example"\nurl = "{em.url}"\n'
    )
    first = _setup(path, capsys)
    titles = [v["title"] for v in first["views"]]
    assert titles == [
        "Porting: Request received (collecting information)",
        "Porting: Submitted to carrier",
        "Porting: Approved by carrier",
        "Porting: Rejected by carrier",
        "Porting: Porting date scheduled",
        "Porting: Completed",
        "Porting: Cancelled",
        "Porting: Stale (no answer after the reminders)",
        "Porting: Rejected, waiting on customer",
    ]
    assert all(v["created"] for v in first["views"])
    second = _setup(path, capsys)  # idempotent: found by title, nothing new
    assert not any(v["created"] for v in second["views"])
    assert [v["id"] for v in second["views"]] == [v["id"] for v in first["views"]]
    listed = requests.get(f"{em.url}/api/v2/views.json", auth=AUTH, timeout=10).json()
    assert len(listed["views"]) == 9

    view = {v["title"].removeprefix("Porting: "): v["id"] for v in first["views"]}
    submitted = _ticket(em, "porting", "port_stage_submitted")
    waiting = _ticket(em, "porting", "port_stage_request_received", "port_rejected_wrong_pin")
    stale = _ticket(em, "porting", "port_stage_request_received", "port_stale")
    done = _ticket(em, "porting", "port_stage_completed", status="solved")
    solved_early = _ticket(em, "porting", "port_stage_submitted", status="solved")
    assert _in_view(em, view["Submitted to carrier"]) == {submitted}  # solved ones left out
    assert _in_view(em, view["Request received (collecting information)"]) == {waiting, stale}
    assert _in_view(em, view["Rejected, waiting on customer"]) == {waiting}
    assert _in_view(em, view["Stale (no answer after the reminders)"]) == {stale}
    assert _in_view(em, view["Completed"]) == {done}  # a final stage shows solved tickets
    assert solved_early not in set().union(*(_in_view(em, v) for v in view.values()))


def test_the_emulator_refuses_a_view_zendesk_would_refuse(em: Emulator) -> None:
    no_gate: dict[str, Any] = {
        "view": {
            "title": "x",
            "all": [{"field": "current_tags", "operator": "includes", "value": "a"}],
        }
    }
    answer = requests.post(f"{em.url}/api/v2/views.json", auth=AUTH, json=no_gate, timeout=10)
    assert answer.status_code == 422 and answer.json()["error"] == "RecordInvalid"
