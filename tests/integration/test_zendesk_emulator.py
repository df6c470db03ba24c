"""The Zendesk emulator answers as Zendesk does, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from bot.standins.zendesk_emulator import Emulator, serve

AUTH = ("agent@example.com/token", "emulator-token")


@pytest.fixture()
def em() -> Iterator[Emulator]:
    server = serve()
    yield server
    server.stop()


def api(em: Emulator, method: str, path: str, **kw: Any) -> requests.Response:
    kw.setdefault("auth", AUTH)
    return requests.request(method, f"{em.url}/api/v2/{path}", timeout=10, **kw)


def new_ticket(em: Emulator, **extra: Any) -> dict[str, Any]:
    body = {"ticket": {"subject": "Port request", "comment": {"body": "hello"}, **extra}}
    r = api(em, "POST", "tickets.json", json=body)
    assert r.status_code == 201, r.text
    return r.json()["ticket"]  # type: ignore[no-any-return]


def test_ticket_create_answers_201_with_ticket_audit_and_location(em: Emulator) -> None:
    r = api(
        em,
        "POST",
        "tickets.json",
        json={
            "ticket": {
                "subject": "Port",
                "comment": {"body": "hi"},
                "requester": {"name": "Dana", "email": "dana@acme.example"},
            }
        },
    )
    assert r.status_code == 201
    body = r.json()
    assert set(body) == {"ticket", "audit"}
    assert r.headers["Location"] == f"{em.url}/api/v2/tickets/{body['ticket']['id']}.json"
    assert body["audit"]["events"][0]["type"] == "Comment"
    requester = api(em, "GET", f"users/{body['ticket']['requester_id']}.json").json()["user"]
    assert requester["email"] == "dana@acme.example"


def test_every_answer_carries_rate_limit_headers(em: Emulator) -> None:
    for r in (api(em, "GET", "tickets.json"), api(em, "GET", "tickets/999.json")):
        for name in (
            "x-rate-limit",
            "x-rate-limit-remaining",
            "ratelimit-limit",
            "ratelimit-remaining",
            "ratelimit-reset",
        ):
            assert name in r.headers


def test_unknown_ticket_is_record_not_found(em: Emulator) -> None:
    r = api(em, "GET", "tickets/424242.json")
    assert r.status_code == 404
    assert r.json() == {"error": "RecordNotFound", "description": "Not found"}


def test_bad_credentials_are_refused_with_401(em: Emulator) -> None:
    assert api(em, "GET", "tickets.json", auth=("a@b.example/token", "wrong")).status_code == 401
    assert api(em, "GET", "tickets.json", auth=None).status_code == 401
    bearer = {"Authorization": "Bearer emulator-token"}
    assert api(em, "GET", "tickets.json", auth=None, headers=bearer).status_code == 200


def test_a_closed_ticket_refuses_writes_with_422_on_status(em: Emulator) -> None:
    ticket = new_ticket(em)
    assert (
        api(
            em, "PUT", f"tickets/{ticket['id']}.json", json={"ticket": {"status": "closed"}}
        ).status_code
        == 200
    )
    r = api(em, "PUT", f"tickets/{ticket['id']}.json", json={"ticket": {"comment": {"body": "x"}}})
    assert r.status_code == 422
    assert r.json()["error"] == "RecordInvalid" and "status" in r.json()["details"]
    r = api(em, "PUT", f"tickets/{ticket['id']}/tags.json", json={"tags": ["x"]})
    assert r.status_code == 422


def test_a_follow_up_links_the_closed_ticket(em: Emulator) -> None:
    old = new_ticket(em, status="closed")
    new = new_ticket(em, via_followup_source_id=old["id"])
    assert new["via"]["source"]["rel"] == "follow_up"
    assert new["via"]["source"]["from"]["ticket_id"] == old["id"]
    assert api(em, "GET", f"tickets/{old['id']}.json").json()["ticket"]["followup_ids"] == [
        new["id"]
    ]
    open_one = new_ticket(em)
    r = api(
        em,
        "POST",
        "tickets.json",
        json={"ticket": {"comment": {"body": "x"}, "via_followup_source_id": open_one["id"]}},
    )
    assert r.status_code == 422


def test_idempotency_key_miss_then_hit_then_mismatch(em: Emulator) -> None:
    body = {"ticket": {"subject": "Once", "comment": {"body": "only once"}}}
    key = {"Idempotency-Key": "req-1"}
    first = api(em, "POST", "tickets.json", json=body, headers=key)
    again = api(em, "POST", "tickets.json", json=body, headers=key)
    assert first.headers["x-idempotency-lookup"] == "miss"
    assert again.headers["x-idempotency-lookup"] == "hit"
    assert again.json()["ticket"]["id"] == first.json()["ticket"]["id"]
    other = api(
        em, "POST", "tickets.json", json={"ticket": {"comment": {"body": "b"}}}, headers=key
    )
    assert other.status_code == 400 and other.json()["error"] == "IdempotentRequestError"
    assert len(api(em, "GET", "tickets.json").json()["tickets"]) == 1


def test_idempotency_keys_expire_after_two_hours(em: Emulator) -> None:
    body = {"ticket": {"comment": {"body": "x"}}}
    key = {"Idempotency-Key": "k"}
    api(em, "POST", "tickets.json", json=body, headers=key)
    requests.post(f"{em.url}/__emulator__/clock", json={"advance": 2 * 3600 + 1}, timeout=5)
    r = api(em, "POST", "tickets.json", json=body, headers=key)
    assert r.headers["x-idempotency-lookup"] == "miss"


def test_upload_tokens_attach_once_and_content_is_served(em: Emulator) -> None:
    r = api(
        em,
        "POST",
        "uploads.json",
        params={"filename": "bill.pdf"},
        data=b"%PDF-1.4 bill",
        headers={"Content-Type": "application/binary"},
    )
    assert r.status_code == 201
    upload = r.json()["upload"]
    assert set(upload) == {"token", "expires_at", "attachments", "attachment"}
    ticket = new_ticket(em, comment={"body": "bill", "public": False, "uploads": [upload["token"]]})
    comments = api(em, "GET", f"tickets/{ticket['id']}/comments.json").json()["comments"]
    att = comments[0]["attachments"][0]
    assert comments[0]["public"] is False and att["file_name"] == "bill.pdf"
    assert requests.get(att["content_url"], timeout=5).content == b"%PDF-1.4 bill"
    r = api(
        em,
        "POST",
        "tickets.json",
        json={"ticket": {"comment": {"body": "again", "uploads": [upload["token"]]}}},
    )
    assert r.status_code == 422


def test_tags_set_add_remove(em: Emulator) -> None:
    tid = new_ticket(em, tags=["porting"])["id"]
    assert api(em, "PUT", f"tickets/{tid}/tags.json", json={"tags": ["a"]}).json()["tags"] == [
        "porting",
        "a",
    ]
    assert api(em, "POST", f"tickets/{tid}/tags.json", json={"tags": ["b"]}).json()["tags"] == ["b"]
    assert api(em, "DELETE", f"tickets/{tid}/tags.json", json={"tags": ["b"]}).json()["tags"] == []


def test_a_dropdown_value_is_validated_and_becomes_a_tag(em: Emulator) -> None:
    field = api(
        em,
        "POST",
        "ticket_fields.json",
        json={
            "ticket_field": {
                "type": "tagger",
                "title": "Stage",
                "custom_field_options": [
                    {"name": "Received", "value": "stage_received"},
                    {"name": "Ready", "value": "stage_ready"},
                ],
            }
        },
    ).json()["ticket_field"]
    ticket = new_ticket(em, custom_fields=[{"id": field["id"], "value": "stage_received"}])
    assert "stage_received" in ticket["tags"]
    r = api(
        em,
        "PUT",
        f"tickets/{ticket['id']}.json",
        json={"ticket": {"custom_fields": [{"id": field["id"], "value": "stage_ready"}]}},
    )
    assert r.json()["ticket"]["tags"] == ["stage_ready"]
    r = api(
        em,
        "PUT",
        f"tickets/{ticket['id']}.json",
        json={"ticket": {"custom_fields": [{"id": field["id"], "value": "nonsense"}]}},
    )
    assert r.status_code == 422


def test_cursor_pagination_walks_every_ticket_with_absolute_links(em: Emulator) -> None:
    ids = [new_ticket(em)["id"] for _ in range(5)]
    seen: list[int] = []
    url: str | None = f"{em.url}/api/v2/tickets.json?page[size]=2"
    while url:
        page = requests.get(url, auth=AUTH, timeout=5).json()
        seen += [t["id"] for t in page["tickets"]]
        assert page["links"]["next"].startswith(em.url)
        url = page["links"]["next"] if page["meta"]["has_more"] else None
    assert seen == ids
    assert api(em, "GET", "tickets.json", params={"page[size]": 101}).status_code == 400


def test_search_filters_and_pages_by_offset(em: Emulator) -> None:
    for n in range(3):
        new_ticket(em, tags=["porting", f"n{n}"], requester={"email": f"c{n}@x.example"})
    new_ticket(em, tags=["other"])
    r = api(em, "GET", "search.json", params={"query": "type:ticket tags:porting", "per_page": 2})
    body = r.json()
    assert body["count"] == 3 and len(body["results"]) == 2
    assert all(x["result_type"] == "ticket" for x in body["results"])
    assert body["next_page"].startswith(em.url)
    rest = requests.get(body["next_page"], auth=AUTH, timeout=5).json()
    assert len(rest["results"]) == 1 and rest["next_page"] is None
    one = api(em, "GET", "search.json", params={"query": "requester:c1@x.example"}).json()
    assert one["count"] == 1
    assert (
        api(em, "GET", "search.json", params={"query": "status<solved -tags:porting"}).json()[
            "count"
        ]
        == 1
    )


def test_rate_budget_answers_429_with_retry_after(em: Emulator) -> None:
    requests.post(f"{em.url}/__emulator__/config", json={"rate_limit_per_minute": 2}, timeout=5)
    codes = [api(em, "GET", "tickets.json") for _ in range(3)]
    assert [r.status_code for r in codes] == [200, 200, 429]
    assert int(codes[2].headers["Retry-After"]) > 0
    assert codes[2].headers["x-rate-limit-remaining"] == "0"


def test_forced_faults_answer_the_next_requests(em: Emulator) -> None:
    requests.post(
        f"{em.url}/__emulator__/faults",
        json={"status": 503, "count": 2, "retry_after": 1},
        timeout=5,
    )
    codes = [api(em, "GET", "tickets.json").status_code for _ in range(3)]
    assert codes == [503, 503, 200]


def test_users_create_or_update_and_search_by_email(em: Emulator) -> None:
    r = api(
        em,
        "POST",
        "users/create_or_update.json",
        json={"user": {"name": "Dana", "email": "Dana@Acme.example"}},
    )
    assert r.status_code == 201
    r = api(
        em,
        "POST",
        "users/create_or_update.json",
        json={"user": {"name": "Dana Scully", "email": "dana@acme.example"}},
    )
    assert r.status_code == 200 and r.json()["user"]["name"] == "Dana Scully"
    found = api(em, "GET", "users/search.json", params={"query": "dana@acme.example"}).json()
    assert [u["name"] for u in found["users"]] == ["Dana Scully"]
    dup = api(em, "POST", "users.json", json={"user": {"name": "D", "email": "dana@acme.example"}})
    assert dup.status_code == 422 and "email" in dup.json()["details"]


def test_bulk_create_over_100_is_too_many_values(em: Emulator) -> None:
    r = api(
        em, "POST", "tickets/create_many.json", json={"tickets": [{"comment": {"body": "x"}}] * 101}
    )
    assert r.status_code == 400 and r.json()["error"] == "TooManyValues"


def test_the_web_page_lists_tickets_with_notes_marked_and_text_escaped(em: Emulator) -> None:
    new_ticket(
        em, subject="<script>alert(1)</script>", comment={"body": "PIN table <b>", "public": False}
    )
    html = requests.get(em.url + "/", timeout=5).text
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert '<a href="/tickets/1">' in html  # each ticket on a page of its own
    page = requests.get(em.url + "/tickets/1", timeout=5).text
    assert "<script>alert" not in page and "Internal note" in page
    assert "PIN table &lt;b&gt;" in page


def test_state_survives_a_restart_with_a_state_file(tmp_path: Any) -> None:
    state = tmp_path / "zendesk.json"
    first = serve(state_file=state)
    try:
        tid = new_ticket(first)["id"]
    finally:
        first.stop()
    second = serve(state_file=state)
    try:
        assert api(second, "GET", f"tickets/{tid}.json").status_code == 200
    finally:
        second.stop()
