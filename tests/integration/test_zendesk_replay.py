"""Replay the recorded real Zendesk interactions against a fresh emulator.

For each Betamax cassette in ../shared/zendesk/recorded/: rebuild the account
state the recording started from (tickets, users and fields it refers to but did
not create; the tags it lists), then send its requests in order, rewriting the
recorded ids, upload tokens and cursors into the emulator's as answers come back,
and compare status codes and response shapes: the top-level keys, and for each
top-level object (or the first item of a list) that every recorded key is there
with a value of the same JSON type (null matches anything).

`python -m tests.integration.test_zendesk_replay` prints a per-cassette report.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests

from bot.standins.zendesk_emulator import Emulator, serve

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
CASSETTES = sorted((SHARED / "zendesk" / "recorded").glob("*.json"))
AUTH = ("replay@example.com/token", "emulator-token")
MAPPED_KEYS = ("token", "after_cursor", "before_cursor")
# Headers the bot or zenpy read: where the recording has one, the emulator must too.
HEADERS = frozenset(
    {
        "location",
        "x-rate-limit",
        "x-rate-limit-remaining",
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
        "retry-after",
        "zendesk-ratelimit-per-ticket-updates",
    }
)
NESTED = 3  # levels below the main object whose keys and types are compared too


@dataclass
class Interaction:
    method: str
    path: str  # /api/v2/...
    query: list[tuple[str, str]]
    body: bytes
    content_type: str | None
    status: int
    answer: Any  # parsed JSON, or None
    headers: frozenset[str] = frozenset()  # names of the recorded answer's headers, lower case


def _text(body: dict[str, Any]) -> bytes:
    if body.get("base64_string"):
        raw = base64.b64decode(body["base64_string"])
        try:
            return gzip.decompress(raw)
        except OSError:
            return raw
    return (body.get("string") or "").encode()


def load(path: Path) -> list[Interaction]:
    out = []
    for item in json.loads(path.read_text())["http_interactions"]:
        rq, rs = item["request"], item["response"]
        parts = urlsplit(rq["uri"])
        text = _text(rs["body"])
        try:
            answer = json.loads(text) if text.strip() else None
        except ValueError:
            answer = None
        ctype = (rq["headers"].get("Content-Type") or [None])[0]
        out.append(
            Interaction(
                rq["method"],
                parts.path,
                parse_qsl(parts.query),
                _text(rq["body"]),
                ctype,
                rs["status"]["code"],
                answer,
                frozenset(h.lower() for h in rs["headers"]),
            )
        )
    return out


def _segments(path: str) -> list[tuple[str, str]]:
    """(collection, id) pairs of a path: /api/v2/tickets/4/tags.json -> [("tickets", "4")]."""
    parts = [p.removesuffix(".json") for p in path.split("/")[3:]]
    return [(parts[i - 1], parts[i]) for i in range(1, len(parts)) if parts[i].isdigit()]


def _objects(answer: Any, kind: str) -> Iterator[dict[str, Any]]:
    if not isinstance(answer, dict):
        return
    single = answer.get(kind[:-1])
    if isinstance(single, dict):
        yield single
    for item in answer.get(kind) or []:
        if isinstance(item, dict):
            yield item


@dataclass
class Replay:
    em: Emulator
    ids: dict[str, str] = field(default_factory=dict)  # recorded -> emulator (as text)
    problems: list[str] = field(default_factory=list)

    def call(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]] | None = None,
        body: bytes = b"",
        ctype: str | None = None,
    ) -> requests.Response:
        url = f"{self.em.url}{path}" + (f"?{urlencode(query)}" if query else "")
        headers = {"Content-Type": ctype} if ctype else {}
        return requests.request(method, url, data=body, headers=headers, auth=AUTH, timeout=20)

    def post(self, path: str, payload: dict[str, Any]) -> Any:
        r = self.call("POST", path, body=json.dumps(payload).encode(), ctype="application/json")
        assert r.status_code in (200, 201), r.text
        return r.json()

    # --- the account the recording started from ---------------------------------------

    def seed(self, interactions: list[Interaction]) -> None:
        created: dict[str, set[str]] = {"tickets": set(), "users": set(), "ticket_fields": set()}
        jobs: dict[str, str] = {}
        seen: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in created}
        referenced: dict[str, set[str]] = {k: set() for k in created}
        roles: set[str] = set()
        tags: list[str] = []
        for it in interactions:
            ok = 200 <= it.status < 300
            kind = it.path.split("/")[3].removesuffix(".json")
            if it.method == "POST" and kind in created and ok and isinstance(it.answer, dict):
                single = it.answer.get(kind[:-1])
                if isinstance(single, dict):
                    created[kind].add(str(single["id"]))
                job = it.answer.get("job_status")
                if isinstance(job, dict):
                    jobs[job["id"]] = kind
            if kind == "job_statuses" and isinstance(it.answer, dict):
                job = it.answer["job_status"]
                for result in job.get("results") or []:
                    if job["id"] in jobs and "id" in result:
                        created[jobs[job["id"]]].add(str(result["id"]))
            for collection, rid in _segments(it.path):
                if collection in referenced and ok:
                    referenced[collection].add(rid)
                if collection == "custom_roles":
                    roles.add(rid)
            for kind_ in seen:
                for obj in _objects(it.answer, kind_):
                    seen[kind_].setdefault(str(obj["id"]), obj)
            for audit in _objects(it.answer, "audits"):
                referenced["tickets"].add(str(audit["ticket_id"]))
            if kind == "tags" and isinstance(it.answer, dict):
                tags += [t["name"] for t in it.answer.get("tags") or [] if t["name"] not in tags]
        for kind_ in created:
            before = (set(seen[kind_]) | referenced[kind_]) - created[kind_]
            for rid in sorted(before, key=int):
                self._seed_one(kind_, rid, seen[kind_].get(rid, {}), tags)
                tags = []
        if tags:
            self.post(
                "/api/v2/tickets.json", {"ticket": {"comment": {"body": "tags"}, "tags": tags}}
            )
        if roles:
            role = self.call("GET", "/api/v2/custom_roles.json").json()["custom_roles"][0]
            for rid in roles:
                self.ids[rid] = str(role["id"])

    def _seed_one(self, kind: str, rid: str, obj: dict[str, Any], tags: list[str]) -> None:
        if kind == "tickets":
            spec = {
                "subject": obj.get("subject") or "seed",
                "comment": {"body": obj.get("description") or "seed"},
                "tags": (obj.get("tags") or []) + tags,
                "status": obj.get("status") or "open",
            }
            made = self.post("/api/v2/tickets.json", {"ticket": spec})["ticket"]
        elif kind == "users":
            made = self.post("/api/v2/users.json", {"user": {"name": obj.get("name") or "seed"}})[
                "user"
            ]
        else:
            made = self.post(
                "/api/v2/ticket_fields.json",
                {"ticket_field": {"type": "text", "title": obj.get("title") or "seed"}},
            )["ticket_field"]
        self.ids[rid] = str(made["id"])

    # --- rewriting recorded values into the emulator's ---------------------------------

    def learn(self, recorded: Any, emulated: Any) -> None:
        if isinstance(recorded, dict) and isinstance(emulated, dict):
            for key, value in recorded.items():
                if key not in emulated:
                    continue
                other = emulated[key]
                scalar = isinstance(value, int | str) and not isinstance(value, bool)
                if (
                    scalar
                    and other is not None
                    and (key == "id" or key.endswith("_id") or key in MAPPED_KEYS)
                ):
                    self.ids.setdefault(str(value), str(other))
                else:
                    self.learn(value, other)
        elif isinstance(recorded, list) and isinstance(emulated, list):
            for a, b in zip(recorded, emulated, strict=False):
                self.learn(a, b)

    def _map(self, value: str) -> str:
        return self.ids.get(value, value)

    def path(self, path: str) -> str:
        out = []
        for part in path.split("/"):
            stem, dot, ext = part.partition(".")
            out.append(self._map(stem) + dot + ext)
        return "/".join(out)

    def query(self, query: list[tuple[str, str]]) -> list[tuple[str, str]]:
        out = []
        for key, value in query:
            if key == "ids":
                value = ",".join(self._map(v) for v in value.split(","))
            elif key in ("page[after]", "page[before]", "token"):
                value = self._map(value)
            out.append((key, value))
        return out

    def body(self, data: Any, key: str = "") -> Any:
        if isinstance(data, dict):
            return {k: self.body(v, k) for k, v in data.items()}
        if isinstance(data, list):
            return [self.body(v, key) for v in data]
        if (
            (key == "id" or key.endswith("_id") or key in ("uploads", "token"))
            and isinstance(data, int | str)
            and not isinstance(data, bool)
        ):
            mapped = self._map(str(data))
            return int(mapped) if isinstance(data, int) and mapped.isdigit() else mapped
        if key == "uploads" and isinstance(data, str):
            return self._map(data)
        return data

    # --- one interaction ---------------------------------------------------------------

    def run(self, n: int, it: Interaction) -> None:
        body = it.body
        if it.path.endswith("/uploads.json") and not body:
            body = b"# README\nrecorded upload, content not kept\n"
        elif body and (it.content_type or "").startswith("application/json"):
            body = json.dumps(self.body(json.loads(body))).encode()
        r = self.call(it.method, self.path(it.path), self.query(it.query), body, it.content_type)
        where = f"#{n} {it.method} {it.path}"
        if r.status_code != it.status:
            self.problems.append(f"{where}: status {r.status_code}, recorded {it.status}")
            return
        lacking = sorted((it.headers & HEADERS) - {h.lower() for h in r.headers})
        if lacking:
            self.problems.append(f"{where}: headers missing {lacking}")
        try:
            answer = r.json() if r.content else None
        except ValueError:
            answer = None
        self.compare(where, it.answer, answer)
        self.learn(it.answer, answer)

    def compare(self, where: str, recorded: Any, emulated: Any) -> None:
        if recorded is None:
            if emulated is not None:
                self.problems.append(f"{where}: answered a body where none was recorded")
            return
        if not isinstance(recorded, dict) or not isinstance(emulated, dict):
            self.problems.append(f"{where}: body is {_kind(emulated)}, recorded {_kind(recorded)}")
            return
        if set(recorded) != set(emulated):
            self.problems.append(
                f"{where}: top-level keys {sorted(emulated)}, recorded {sorted(recorded)}"
            )
        for key, value in recorded.items():
            other = emulated.get(key)
            if isinstance(value, list) and value and isinstance(value[0], dict):
                if not isinstance(other, list) or not other:
                    self.problems.append(f"{where}: {key} is empty or missing")
                    continue
                value, other = value[0], other[0]
            if isinstance(value, dict) and isinstance(other, dict):
                self._keys(f"{where} {key}", value, other)
            elif value is not None and other is not None and _kind(value) != _kind(other):
                self.problems.append(f"{where}: {key} is {_kind(other)}, recorded {_kind(value)}")

    def _keys(
        self, where: str, recorded: dict[str, Any], emulated: dict[str, Any], depth: int = 0
    ) -> None:
        missing = sorted(set(recorded) - set(emulated))
        if missing:
            self.problems.append(f"{where}: missing keys {missing}")
        for key in sorted(set(recorded) & set(emulated)):
            a, b = recorded[key], emulated[key]
            if a is not None and b is not None and _kind(a) != _kind(b):
                self.problems.append(f"{where}.{key} is {_kind(b)}, recorded {_kind(a)}")
            elif depth < NESTED and isinstance(a, list) and a and isinstance(b, list) and b:
                if isinstance(a[0], dict) and isinstance(b[0], dict):
                    self._keys(f"{where}.{key}[0]", a[0], b[0], depth + 1)
            elif depth < NESTED and isinstance(a, dict) and isinstance(b, dict):
                self._keys(f"{where}.{key}", a, b, depth + 1)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def replay(path: Path) -> list[str]:
    """The differences between the recording and the emulator's answers (empty: passes)."""
    em = serve()
    try:
        session = Replay(em)
        interactions = load(path)
        session.seed(interactions)
        for n, it in enumerate(interactions, 1):
            session.run(n, it)
        return session.problems
    finally:
        em.stop()


def test_the_recordings_are_there() -> None:
    assert len(CASSETTES) >= 30


@pytest.mark.parametrize("cassette", CASSETTES, ids=[c.stem for c in CASSETTES])
def test_the_emulator_answers_like_the_recording(cassette: Path) -> None:
    problems = replay(cassette)
    assert not problems, "\n".join(problems)


def test_the_comparison_notices_a_wrong_shape() -> None:
    session = Replay(em=None)  # type: ignore[arg-type]
    recorded = {"ticket": {"id": 1, "tags": [], "subject": "s"}, "audit": {"id": 2}}
    session.compare("x", recorded, {"ticket": {"id": "1", "tags": []}, "audit": {"id": 3}})
    assert session.problems == [
        "x ticket: missing keys ['subject']",
        "x ticket.id is string, recorded number",
    ]
    session.problems.clear()
    session.compare("x", recorded, {"ticket": recorded["ticket"]})
    assert session.problems and "top-level keys" in session.problems[0]


def main() -> int:
    failed = 0
    for cassette in CASSETTES:
        problems = replay(cassette)
        failed += bool(problems)
        print(("PASS " if not problems else "FAIL ") + cassette.stem)
        for problem in problems:
            print("     " + problem)
    print(f"{len(CASSETTES) - failed}/{len(CASSETTES)} cassettes pass")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
