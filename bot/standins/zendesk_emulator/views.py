"""Views in the emulated account, as far as Zendesk's API and the bot use them.

Create (POST /api/v2/views, with Zendesk's rule that `all` must test status, type,
group_id, assignee_id or requester_id), list, show, update, delete, and the tickets
of a view (GET /api/v2/views/{id}/tickets, /execute, /count). Conditions understood:
`status` (is, is_not, less_than, greater_than, in the order new < open < pending <
hold < solved < closed), `current_tags` (includes: any of the space-separated tags;
not_includes: none of them), `custom_fields_<id>` (is, is_not, present, not_present).
Any other condition is refused with Zendesk's 422, so a view the emulator accepts is
one it can run.
"""

from __future__ import annotations

from typing import Any

from bot.standins.zendesk_emulator.store import STATUSES, ApiError, Json, Store, invalid, not_found

_GATES = ("status", "type", "group_id", "assignee_id", "requester_id")
_OPERATORS: dict[str, tuple[str, ...]] = {
    "status": ("is", "is_not", "less_than", "greater_than"),
    "current_tags": ("includes", "not_includes"),
    "custom_fields_": ("is", "is_not", "present", "not_present"),
}


def _kind(field_name: str) -> str:
    return "custom_fields_" if field_name.startswith("custom_fields_") else field_name


def _conditions(data: Json, which: str) -> list[Json]:
    found = data.get(which) or []
    if not isinstance(found, list):
        raise invalid(which, f"{which.capitalize()}: must be an array of conditions")
    out = []
    for c in found:
        if not isinstance(c, dict) or not c.get("field") or not c.get("operator"):
            raise invalid("conditions", "Conditions: each needs a field and an operator")
        kind = _kind(str(c["field"]))
        if c["operator"] not in _OPERATORS.get(kind, ()):
            raise invalid("conditions", f"Conditions: {c['field']} {c['operator']} is not valid")
        if kind == "status" and c.get("value") not in STATUSES:
            raise invalid("conditions", f"Conditions: status {c.get('value')!r} is not valid")
        out.append(
            {"field": str(c["field"]), "operator": str(c["operator"]), "value": c.get("value")}
        )
    return out


def _checked(data: Json, old: Json | None = None) -> Json:
    merged = {**(old or {}), **data}
    if not merged.get("title"):
        raise invalid("title", "Title: cannot be blank", "BlankValue")
    conditions = {"all": _conditions(merged, "all"), "any": _conditions(merged, "any")}
    if not any(c["field"] in _GATES for c in conditions["all"]):
        raise invalid(
            "conditions",
            "Conditions: the view must test status, type, group, assignee or requester "
            "in its all conditions",
        )
    return {**merged, **conditions}


def create_view(store: Store, data: Json) -> Json:
    with store.lock:
        checked = _checked(data)
        vid = store._id()
        now = store.clock.iso()
        record = {
            "id": vid,
            "title": checked["title"],
            "raw_title": checked["title"],
            "description": checked.get("description"),
            "active": bool(checked.get("active", True)),
            "position": int(checked.get("position") or 0),
            "restriction": checked.get("restriction"),
            "conditions": {"all": checked["all"], "any": checked["any"]},
            "execution": _execution(checked.get("output") or {}),
            "default": False,
            "created_at": now,
            "updated_at": now,
        }
        store.account.views[vid] = record
        return record


def _execution(output: Json) -> Json:
    columns = list(output.get("columns") or ["status", "description", "requester", "updated"])
    return {
        "group_by": output.get("group_by"),
        "group_order": output.get("group_order", "asc"),
        "sort_by": output.get("sort_by", "nice_id"),
        "sort_order": output.get("sort_order", "desc"),
        "columns": [{"id": c, "title": str(c)} for c in columns],
    }


def view(store: Store, vid: int) -> Json:
    found = store.account.views.get(vid)
    if found is None:
        raise not_found()
    return found


def update_view(store: Store, vid: int, data: Json) -> Json:
    with store.lock:
        record = view(store, vid)
        old = {"title": record["title"], **record["conditions"]}
        checked = _checked(data, old)
        record.update(
            title=checked["title"],
            raw_title=checked["title"],
            conditions={"all": checked["all"], "any": checked["any"]},
            updated_at=store.clock.iso(),
        )
        for key in ("description", "active", "position"):
            if key in data:
                record[key] = data[key]
        if "output" in data:
            record["execution"] = _execution(data["output"] or {})
        return record


def delete_view(store: Store, vid: int) -> None:
    with store.lock:
        view(store, vid)
        del store.account.views[vid]


def views(store: Store, active: bool | None = None) -> list[Json]:
    found = sorted(store.account.views.values(), key=lambda v: (v["position"], v["id"]))
    return [v for v in found if active is None or v["active"] == active]


def _holds(ticket: Json, c: Json) -> bool:
    field_name, op, value = c["field"], c["operator"], c.get("value")
    if field_name == "status":
        mine, theirs = STATUSES.index(ticket["status"]), STATUSES.index(value)
        return {
            "is": mine == theirs,
            "is_not": mine != theirs,
            "less_than": mine < theirs,
            "greater_than": mine > theirs,
        }[op]
    if field_name == "current_tags":
        wanted = set(str(value or "").split())
        has = bool(wanted & set(ticket.get("tags") or []))
        return has if op == "includes" else not has
    got: Any = (ticket.get("_fields") or {}).get(field_name.removeprefix("custom_fields_"))
    if op == "present":
        return got not in (None, "", False)
    if op == "not_present":
        return got in (None, "", False)
    same = str(got) == str(value) if got is not None else value in (None, "")
    return same if op == "is" else not same


def tickets_of(store: Store, vid: int) -> list[Json]:
    """The view's tickets, newest id first (Zendesk's default order for a view)."""
    record = view(store, vid)
    if not record["active"]:
        raise ApiError(404, {"error": "RecordNotFound", "description": "Not found"})
    conditions = record["conditions"]
    found = [
        t
        for t in store.live_tickets()
        if all(_holds(t, c) for c in conditions["all"])
        and (not conditions["any"] or any(_holds(t, c) for c in conditions["any"]))
    ]
    return sorted(found, key=lambda t: -int(t["id"]))


def render_view(base: str, record: Json) -> Json:
    return {"url": f"{base}/api/v2/views/{record['id']}.json", **record}
