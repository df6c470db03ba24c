"""Zendesk's search query language, the part the bot and agents use.

`type:ticket status<solved tags:port_ready requester:a@b.example "free text"`:
terms are ANDed; `-term` negates; a bare word matches subject, description and
comments. Field terms: type, status (with < > <= >=), tags/tag, requester,
assignee, subject, description, external_id, fieldvalue, custom_field_<id>,
via_followup_source_id; for users: email, name, role.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.standins.zendesk_emulator.store import STATUSES, Json, Store

_TERM = re.compile(r'(-?)(?:([a-z_0-9]+)(<=|>=|:|<|>))?("[^"]*"|\S+)')


@dataclass(frozen=True)
class Term:
    negate: bool
    key: str | None
    op: str
    value: str


def parse_query(query: str) -> list[Term]:
    terms = []
    for m in _TERM.finditer(query):
        negate, key, op, value = m.group(1) == "-", m.group(2), m.group(3) or ":", m.group(4)
        terms.append(Term(negate, key.lower() if key else None, op, value.strip('"').lower()))
    return terms


def _like(pattern: str, text: str | None) -> bool:
    if text is None:
        return False
    if "*" in pattern:
        rx = ".*".join(re.escape(p) for p in pattern.split("*"))
        return re.search(rx, text.lower()) is not None
    return pattern in text.lower()


def _user_matches(store: Store, uid: Any, value: str) -> bool:
    if value in ("me", "none") or uid is None:
        return value == "none" and uid is None
    user = store.account.users.get(uid)
    return str(uid) == value or (
        user is not None and ((user["email"] or "").lower() == value or _like(value, user["name"]))
    )


def _ticket_term(store: Store, ticket: Json, term: Term) -> bool:
    key, value = term.key, term.value
    if key is None:
        texts = [ticket["subject"], ticket["description"]]
        texts += [
            e["body"]
            for a in store.account.audits.get(ticket["id"], [])
            for e in a["events"]
            if e["type"] == "Comment"
        ]
        return any(_like(value, t) for t in texts) or value in ticket["tags"]
    if key == "type":
        return value in ("ticket", str(ticket["type"]).lower())
    if key == "status":
        if value not in STATUSES:
            return False
        have, want = STATUSES.index(ticket["status"]), STATUSES.index(value)
        compare: dict[str, Callable[[int, int], bool]] = {
            ":": lambda a, b: a == b,
            "<": lambda a, b: a < b,
            ">": lambda a, b: a > b,
            "<=": lambda a, b: a <= b,
            ">=": lambda a, b: a >= b,
        }
        return compare[term.op](have, want)
    if key in ("tags", "tag"):
        return value in ticket["tags"] or (value == "none" and not ticket["tags"])
    if key in ("requester", "assignee", "submitter"):
        return _user_matches(store, ticket[f"{key}_id"], value)
    if key in ("subject", "description"):
        return _like(value, ticket[key])
    if key == "external_id":
        return str(ticket["external_id"] or "").lower() == value
    if key == "via_followup_source_id":
        return str(ticket.get("via_followup_source_id")) == value
    if key == "fieldvalue":
        return any(str(v).lower() == value for v in ticket["_fields"].values() if v is not None)
    if key.startswith("custom_field_"):
        return str(ticket["_fields"].get(key[len("custom_field_") :]) or "").lower() == value
    return False


def _user_term(user: Json, term: Term) -> bool:
    key, value = term.key, term.value
    if key is None:
        return _like(value, user["name"]) or _like(value, user["email"])
    if key == "type":
        return value == "user"
    if key in ("email", "name", "role"):
        return _like(value, user[key]) if key == "name" else str(user[key]).lower() == value
    return False


def search(store: Store, query: str) -> list[tuple[str, Json]]:
    """(result_type, raw record) for everything the query matches, oldest first."""
    terms = parse_query(query)
    types = {t.value for t in terms if t.key == "type" and not t.negate}
    want_users = "user" in types
    want_tickets = not types or "ticket" in types or not want_users
    out: list[tuple[str, Json]] = []
    if want_tickets:
        for ticket in store.live_tickets():
            if all(
                _ticket_term(store, ticket, t) != t.negate
                for t in terms
                if not (t.key == "type" and t.value == "ticket")
            ):
                out.append(("ticket", ticket))
    if want_users:
        for user in store.account.users.values():
            if user["active"] and all(_user_term(user, t) != t.negate for t in terms):
                out.append(("user", user))
    return out
