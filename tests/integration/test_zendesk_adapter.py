"""The Zendesk adapter through the real zenpy client against the emulator over HTTP."""

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

from bot.adapters.retry import RetryPolicy
from bot.adapters.zendesk import CallCounter, ZendeskAccount, ZenpyDesk
from bot.errors import DeskUnavailable, TicketClosed
from bot.render.ticket import ZendeskNames, diff_note, draft_from_json
from bot.standins.zendesk_emulator import Emulator, serve
from rules.contract import view_from_json
from tests.zendesk_samples import BILL, LOA, NUMBERS, PIN, PIN2, complete, incomplete, message

ROOT = Path(__file__).resolve().parents[2]
AUTH = ("agent@ourco.example/token", "emulator-token")


@pytest.fixture()
def em(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    server = serve()
    # The adapter points zenpy at the emulator through zenpy's process-wide variables;
    # registering them here makes pytest restore them after the test.
    monkeypatch.setenv("ZENPY_FORCE_SCHEME", "http")
    monkeypatch.setenv("ZENPY_FORCE_NETLOC", server.netloc)
    yield server
    server.stop()


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def account(em: Emulator) -> ZendeskAccount:
    return ZendeskAccount(
        subdomain="acme", email="agent@ourco.example", token="emulator-token", base_url=em.url
    )


@pytest.fixture()
def names(em: Emulator) -> ZendeskNames:
    setup = ZenpyDesk(account(em), ZendeskNames(), CallCounter(), sleep=Sleeps())
    return replace(ZendeskNames(), field_ids=setup.setup_fields(ZendeskNames()))


def desk(
    em: Emulator,
    names: ZendeskNames,
    counter: CallCounter | None = None,
    sleeps: Sleeps | None = None,
    attempts: int = 5,
) -> ZenpyDesk:
    return ZenpyDesk(
        account(em),
        names,
        counter or CallCounter(),
        RetryPolicy(attempts=attempts),
        sleep=sleeps if sleeps is not None else Sleeps(),
    )


def get(em: Emulator, path: str, **params: Any) -> Any:
    r = requests.get(f"{em.url}/api/v2/{path}", params=params, auth=AUTH, timeout=10)
    r.raise_for_status()
    return r.json()


def tickets(em: Emulator) -> list[dict[str, Any]]:
    return get(em, "tickets.json")["tickets"]  # type: ignore[no-any-return]


def comments(em: Emulator, tid: int) -> list[dict[str, Any]]:
    return get(em, f"tickets/{tid}/comments.json")["comments"]  # type: ignore[no-any-return]


def fault(em: Emulator, **spec: Any) -> None:
    requests.post(f"{em.url}/__emulator__/faults", json=spec, timeout=5).raise_for_status()


def field_values(em: Emulator, ticket: dict[str, Any], names: ZendeskNames) -> dict[str, Any]:
    by_id = {v: k for k, v in names.field_ids.items()}
    return {by_id[f["id"]]: f["value"] for f in ticket["custom_fields"] if f["id"] in by_id}


def test_a_new_request_makes_one_ticket_with_fields_note_attachments_and_tags(
    em: Emulator, names: ZendeskNames
) -> None:
    counter = CallCounter()
    msg = message(attachments=(BILL, NUMBERS))
    draft = draft_from_json(incomplete(), [msg], names)
    tid = desk(em, names, counter).create_ticket(draft, msg.attachments, "req-<m1@acme.example>")

    [ticket] = tickets(em)
    assert ticket["id"] == tid
    assert ticket["subject"] == "Port request: Acme Realty LLC — 2 numbers from AT&T"
    requester = get(em, f"users/{ticket['requester_id']}.json")["user"]
    assert requester["email"] == "dana@acme.example"
    values = field_values(em, ticket, names)
    # the stage changes' fields are not the intake's to fill
    assert values.pop("porting_date") is None and values.pop("rejection_reason") is None
    assert values == {
        "current_carrier": "AT&T",
        "account_name": "Acme Realty LLC",
        "account_number": "287654321",
        "service_address": "123 Main St Ste 200, Austin, TX 78701",
        "btn": "+15125550100",
        "number_count": 2,
        "stage": "port_stage_request_received",
        "ready": False,
    }
    assert set(ticket["tags"]) == {
        "porting",
        "port_stage_request_received",
        "port_missing_loa",
        "port_problem_bill_name_mismatch",
    }
    [note] = comments(em, tid)
    assert note["public"] is False
    assert PIN in note["body"] and "ACME REALTY INC" in note["body"] and "OCR" in note["body"]
    assert sorted(a["file_name"] for a in note["attachments"]) == ["bill.pdf", "numbers.csv"]
    bill = next(a for a in note["attachments"] if a["file_name"] == "bill.pdf")
    assert requests.get(bill["content_url"], timeout=5).content == BILL.payload
    assert counter.calls == {"upload": 2, "create": 1}


def test_a_follow_up_updates_the_same_ticket_in_one_call(em: Emulator, names: ZendeskNames) -> None:
    first = draft_from_json(incomplete(), [message()], names)
    adapter = desk(em, names)
    tid = adapter.create_ticket(first, (), "req-1")
    agent_tag = requests.put(
        f"{em.url}/api/v2/tickets/{tid}/tags.json", json={"tags": ["vip"]}, auth=AUTH, timeout=5
    )
    assert agent_tag.ok

    counter = CallCounter()
    second = draft_from_json(
        complete(), [message(), message("Here is the LOA", (LOA,))], names, follow_up=True
    )
    desk(em, names, counter).update_ticket(
        tid, second, diff_note(view_from_json(incomplete()), view_from_json(complete())), (LOA,)
    )
    assert counter.calls == {"upload": 1, "update": 1}

    [ticket] = tickets(em)
    assert set(ticket["tags"]) == {"porting", "port_stage_request_received", "port_ready", "vip"}
    assert field_values(em, ticket, names)["ready"] is True
    assert field_values(em, ticket, names)["stage"] == "port_stage_request_received"
    notes = comments(em, tid)
    assert len(notes) == 2 and not notes[1]["public"]
    assert "Now received: Signed LOA" in notes[1]["body"]
    assert "Resolved: bill_name_mismatch" in notes[1]["body"]
    assert [a["file_name"] for a in notes[1]["attachments"]] == ["loa.pdf"]


def test_a_closed_ticket_leads_to_a_linked_new_one(em: Emulator, names: ZendeskNames) -> None:
    adapter = desk(em, names)
    draft = draft_from_json(incomplete(), [message()], names)
    old = adapter.create_ticket(draft, (), "req-1")
    requests.put(
        f"{em.url}/api/v2/tickets/{old}.json",
        json={"ticket": {"status": "closed"}},
        auth=AUTH,
        timeout=5,
    ).raise_for_status()
    assert adapter.ticket_status(old) == "closed"

    later = draft_from_json(complete(), [message()], names, follow_up=True)
    with pytest.raises(TicketClosed):
        adapter.update_ticket(old, later, "LOA received", (LOA,))
    new = adapter.create_followup(old, later, (LOA,), "req-1-followup-1")

    assert new != old
    ticket = get(em, f"tickets/{new}.json")["ticket"]
    assert ticket["via"]["source"]["from"]["ticket_id"] == old
    assert get(em, f"tickets/{old}.json")["ticket"]["followup_ids"] == [new]
    assert [a["file_name"] for a in comments(em, new)[0]["attachments"]] == ["loa.pdf"]


def test_the_same_idempotency_key_twice_makes_one_ticket(em: Emulator, names: ZendeskNames) -> None:
    adapter = desk(em, names)
    draft = draft_from_json(incomplete(), [message()], names)
    first = adapter.create_ticket(draft, (), "req-same")
    again = adapter.create_ticket(draft, (), "req-same")
    # A retry that re-uploads the attachments sends other tokens, hence another body.
    third = adapter.create_ticket(draft, (BILL,), "req-same")
    assert first == again == third
    assert len(tickets(em)) == 1


def test_a_crash_right_after_create_does_not_duplicate(em: Emulator, names: ZendeskNames) -> None:
    script = textwrap.dedent(f"""
        import os, signal
        from dataclasses import replace
        from bot.render.ticket import ZendeskNames, draft_from_json
        from bot.adapters.zendesk import CallCounter, ZendeskAccount, ZenpyDesk
        from tests.zendesk_samples import BILL, incomplete, message
        names = replace(ZendeskNames(), field_ids={dict(names.field_ids)!r})
        acct = ZendeskAccount("acme", "agent@ourco.example", "emulator-token",
                              base_url={em.url!r})
        desk = ZenpyDesk(acct, names, CallCounter())
        draft = draft_from_json(incomplete(), [message()], names)
        desk.create_ticket(draft, (BILL,), "req-crash")
        os.kill(os.getpid(), signal.SIGKILL)  # before the id reaches the state store
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert len(tickets(em)) == 1

    draft = draft_from_json(incomplete(), [message()], names)
    tid = desk(em, names).create_ticket(draft, (BILL,), "req-crash")
    assert [t["id"] for t in tickets(em)] == [tid]


def test_429_is_survived_honouring_retry_after(em: Emulator, names: ZendeskNames) -> None:
    sleeps, counter = Sleeps(), CallCounter()
    fault(em, status=429, count=2, retry_after=7)
    draft = draft_from_json(incomplete(), [message()], names)
    desk(em, names, counter, sleeps).create_ticket(draft, (), "req-429")
    assert sleeps == [7, 7]
    assert len(tickets(em)) == 1
    assert counter.calls == {"create": 1} and counter.attempts == 3


def test_503_is_survived_with_backoff(em: Emulator, names: ZendeskNames) -> None:
    sleeps = Sleeps()
    fault(em, status=503, count=3)
    draft = draft_from_json(incomplete(), [message()], names)
    desk(em, names, sleeps=sleeps).create_ticket(draft, (BILL,), "req-503")
    assert sleeps == [1.0, 2.0, 4.0]
    assert len(tickets(em)) == 1


def test_the_rate_budget_429_is_waited_out(em: Emulator, names: ZendeskNames) -> None:
    requests.post(
        f"{em.url}/__emulator__/config", json={"rate_limit_per_minute": 1}, timeout=5
    ).raise_for_status()
    sleeps = Sleeps()
    adapter = desk(em, names, sleeps=sleeps, attempts=2)
    draft = draft_from_json(incomplete(), [message()], names)
    with pytest.raises(DeskUnavailable):
        adapter.create_ticket(draft, (BILL,), "req-budget")  # the create is over budget
    assert len(sleeps) == 1 and 0 < sleeps[0] <= 60
    assert tickets_after_a_minute(em) == []


def tickets_after_a_minute(em: Emulator) -> list[dict[str, Any]]:
    requests.post(f"{em.url}/__emulator__/clock", json={"advance": 60}, timeout=5)
    return tickets(em)


def test_an_outage_is_reported_as_unavailable_not_lost(em: Emulator, names: ZendeskNames) -> None:
    fault(em, status=503, count=50)
    draft = draft_from_json(incomplete(), [message()], names)
    with pytest.raises(DeskUnavailable):
        desk(em, names, attempts=3).create_ticket(draft, (), "req-down")
    requests.delete(f"{em.url}/__emulator__/faults", timeout=5)
    tid = desk(em, names).create_ticket(draft, (), "req-down")
    assert [t["id"] for t in tickets(em)] == [tid]


def test_pins_appear_only_in_private_notes(em: Emulator, names: ZendeskNames) -> None:
    adapter = desk(em, names)
    tid = adapter.create_ticket(draft_from_json(incomplete(), [message()], names), (BILL,), "r")
    adapter.update_ticket(
        tid,
        draft_from_json(complete(), [message()], names, follow_up=True),
        diff_note(view_from_json(incomplete()), view_from_json(complete())),
        (),
    )
    ticket = get(em, f"tickets/{tid}.json")["ticket"]
    public_text = " ".join(
        [
            ticket["subject"],
            " ".join(ticket["tags"]),
            " ".join(str(f["value"]) for f in ticket["custom_fields"]),
        ]
    )
    for pin in (PIN, PIN2):
        assert pin not in public_text
        for comment in comments(em, tid):
            assert comment["public"] is False or pin not in comment["body"]
    assert any(PIN in c["body"] for c in comments(em, tid) if not c["public"])


def test_a_forwarded_request_has_the_original_customer_as_requester(
    em: Emulator, names: ZendeskNames
) -> None:
    msg = message(forwarded_from="dana@acme.example")
    tid = desk(em, names).create_ticket(draft_from_json(incomplete(), [msg], names), (), "r")
    ticket = get(em, f"tickets/{tid}.json")["ticket"]
    user = get(em, f"users/{ticket['requester_id']}.json")["user"]
    assert (user["email"], user["name"]) == ("dana@acme.example", "Dana Customer")


def test_setup_fields_finds_what_it_created(em: Emulator, names: ZendeskNames) -> None:
    counter = CallCounter()
    again = desk(em, names, counter).setup_fields(ZendeskNames())
    assert again == dict(names.field_ids)
    assert counter.calls == {"get ticket_fields.json": 1}
    stage = get(em, f"ticket_fields/{names.field_ids['stage']}.json")["ticket_field"]
    assert stage["type"] == "tagger"
    assert {o["value"] for o in stage["custom_field_options"]} == {
        "port_stage_request_received",
        "port_stage_submitted",
        "port_stage_approved",
        "port_stage_rejected",
        "port_stage_scheduled",
        "port_stage_completed",
        "port_stage_cancelled",
    }  # the intake's stages, then the port's lifecycle


def test_zenpy_reaches_the_emulator_through_its_force_variables(
    em: Emulator, names: ZendeskNames, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZENPY_FORCE_SCHEME", "http")
    monkeypatch.setenv("ZENPY_FORCE_NETLOC", em.netloc)
    plain = ZenpyDesk(replace(account(em), base_url=None), names, CallCounter())
    tid = plain.create_ticket(draft_from_json(incomplete(), [message()], names), (), "env")
    assert plain.ticket_status(tid) == "new"
    assert os.environ["ZENPY_FORCE_NETLOC"] == em.netloc


def _note_count(em: Emulator, tid: int, text: str) -> int:
    return sum(1 for c in comments(em, tid) if text in c["body"])


def test_a_note_whose_answer_is_lost_is_found_not_posted_again(
    em: Emulator, names: ZendeskNames
) -> None:
    msg = message(attachments=(BILL,))
    counter = CallCounter()
    the_desk = desk(em, names, counter, attempts=2)
    tid = the_desk.create_ticket(draft_from_json(incomplete(), [msg], names), (), "req-lost")
    # the update is made, then the connection drops before the answer: the retry looks first
    fault(em, mode="lost", method="PUT", path=f"/api/v2/tickets/{tid}", count=1)
    the_desk.amend(tid, note="auto-reply sent: <r1@ourco.example>")
    assert _note_count(em, tid, "auto-reply sent: <r1@ourco.example>") == 1
    assert counter.calls["update"] == 1 and counter.attempts == 3  # create, PUT, audits read
    [audit] = [
        a for a in get(em, f"tickets/{tid}/audits.json")["audits"] if a["metadata"]["custom"]
    ]
    assert audit["metadata"]["custom"]["portbot_note"].startswith("note-")


def test_a_note_in_doubt_when_the_tries_run_out_is_looked_for_next_time(
    em: Emulator, names: ZendeskNames
) -> None:
    msg = message(attachments=(BILL,))
    the_desk = desk(em, names, attempts=1)
    tid = the_desk.create_ticket(draft_from_json(incomplete(), [msg], names), (), "req-doubt")
    fault(em, mode="lost", method="PUT", path=f"/api/v2/tickets/{tid}", count=1)
    with pytest.raises(DeskUnavailable):
        the_desk.amend(tid, note="Stage: submitted", add_tags=["port_stage_submitted"])
    the_desk.amend(tid, note="Stage: submitted", add_tags=["port_stage_submitted"])  # next cycle
    assert _note_count(em, tid, "Stage: submitted") == 1


def test_a_failed_update_that_made_nothing_is_sent_again(em: Emulator, names: ZendeskNames) -> None:
    msg = message(attachments=(BILL,))
    the_desk = desk(em, names, attempts=2)
    tid = the_desk.create_ticket(draft_from_json(incomplete(), [msg], names), (), "req-503")
    fault(em, status=500, method="PUT", count=1)  # refused before any work: not there
    follow = message(attachments=(LOA,))
    draft = draft_from_json(complete(), [msg, follow], names, follow_up=True)
    the_desk.update_ticket(
        tid,
        draft,
        diff_note(view_from_json(incomplete()), view_from_json(complete())),
        follow.attachments,
        note_key="update-1",
    )
    assert the_desk.has_note(tid, "update-1")
    assert len(comments(em, tid)) == 2


def test_a_ticket_update_under_repeated_lost_answers_posts_one_note(
    em: Emulator, names: ZendeskNames
) -> None:
    msg = message(attachments=(BILL,))
    the_desk = desk(em, names, attempts=1)
    tid = the_desk.create_ticket(draft_from_json(incomplete(), [msg], names), (), "req-lost2")
    follow = message(attachments=(LOA,))
    draft = draft_from_json(complete(), [msg, follow], names, follow_up=True)
    fault(em, mode="lost", method="PUT", count=5)
    cycles = 0
    while True:  # each cycle tries once; the answer is lost until the marker is found
        cycles += 1
        try:
            the_desk.update_ticket(
                tid, draft, "Now received: LOA", follow.attachments, note_key="update-2"
            )
            break
        except DeskUnavailable:
            assert cycles < 5
    assert cycles == 2
    assert len(comments(em, tid)) == 2  # the create's note and one update note
