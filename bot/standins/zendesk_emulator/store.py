"""The emulator's account: tickets, users, fields, uploads, audits, jobs, idempotency keys.

Plain in-memory state behind one lock, with the domain rules of the real service
(what a create answers, which writes a closed ticket refuses, how a dropdown's
value becomes a tag). Every operation returns JSON-ready dicts or raises `ApiError`
with the status and body Zendesk would send; the HTTP layer only routes.
Objects are rendered against the base URL of the request, so `url` and
`content_url` always point back at the emulator.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import json
import mimetypes
import re
import secrets
import string
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from html import unescape as html_unescape
from pathlib import Path
from typing import Any
from urllib.parse import quote

Json = dict[str, Any]

STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
FIELD_TYPES = (
    "text",
    "textarea",
    "checkbox",
    "date",
    "integer",
    "decimal",
    "regexp",
    "partialcreditcard",
    "multiselect",
    "tagger",
    "lookup",
)
IDEMPOTENCY_TTL = 2 * 3600  # seconds a key is remembered, as Zendesk documents
UPLOAD_TTL = 3 * 24 * 3600  # upload tokens expire after three days
MAX_BULK = 100
# What Zendesk's built-in Admin role may do (the keys a role's configuration carries).
ADMIN_CONFIGURATION: dict[str, bool | str] = {
    "chat_access": True,
    "end_user_list_access": "full",
    "forum_access_restricted_content": False,
    "light_agent": False,
    "manage_business_rules": True,
    "manage_dynamic_content": True,
    "manage_extensions_and_channels": True,
    "manage_facebook": True,
    "moderate_forums": False,
    "side_conversation_create": True,
    "ticket_access": "all",
    "ticket_comment_access": "public",
    "ticket_deletion": True,
    "ticket_tag_editing": True,
    "twitter_search_access": False,
    "view_deleted_tickets": True,
    "voice_access": True,
    "group_access": True,
    "organization_editing": True,
    "organization_notes_editing": True,
    "assign_tickets_to_any_group": True,
    "end_user_profile_access": "full",
    "explore_access": "full",
    "forum_access": "full",
    "macro_access": "full",
    "report_access": "full",
    "ticket_editing": True,
    "ticket_merge": True,
    "user_view_access": "full",
    "view_access": "full",
    "voice_dashboard_access": True,
    "manage_automations": True,
    "manage_contextual_workspaces": True,
    "manage_organization_fields": True,
    "manage_skills": True,
    "manage_slas": True,
    "manage_ticket_fields": True,
    "manage_ticket_forms": True,
    "manage_user_fields": True,
    "ticket_redaction": True,
    "manage_roles": "all",
    "manage_groups": True,
    "manage_group_memberships": True,
    "manage_organizations": True,
    "manage_suspended_tickets": True,
    "manage_triggers": True,
}
PER_TICKET_UPDATES = 30  # per ticket and 10 minutes, as the real service answers
PER_TICKET_WINDOW = 600


class ApiError(Exception):
    """An answer other than success: status, JSON (or text) body, extra headers."""

    def __init__(
        self, status: int, body: Json | str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {body}")
        self.status = status
        self.body = body
        self.headers = headers or {}


def not_found() -> ApiError:
    return ApiError(404, {"error": "RecordNotFound", "description": "Not found"})


def invalid(field_name: str, description: str, error: str = "InvalidValue") -> ApiError:
    return ApiError(
        422,
        {
            "error": "RecordInvalid",
            "description": "Record validation errors",
            "details": {field_name: [{"description": description, "error": error}]},
        },
    )


def too_many_values() -> ApiError:
    # Recorded verbatim (the parameter name really is empty in Zendesk's answer).
    return ApiError(
        400,
        {
            "error": "TooManyValues",
            "description": "Parameter  cannot specify more than 100 values",
            "max_count": MAX_BULK,
        },
    )


def _token(n: int = 25) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(n))


@dataclass
class Clock:
    """Wall time plus an offset the tests can advance (token and key expiry)."""

    offset: float = 0.0
    now: Callable[[], float] = time.time

    def time(self) -> float:
        return self.now() + self.offset

    def iso(self, at: float | None = None) -> str:
        moment = dt.datetime.fromtimestamp(self.time() if at is None else at, dt.UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Account:
    """Everything the emulated Zendesk account holds. Ids are ints."""

    next_ticket_id: int = 1
    next_id: int = 10_000_000_000_001
    tickets: dict[int, Json] = field(default_factory=dict)
    audits: dict[int, list[Json]] = field(default_factory=dict)  # by ticket id
    users: dict[int, Json] = field(default_factory=dict)
    fields: dict[int, Json] = field(default_factory=dict)
    uploads: dict[str, Json] = field(default_factory=dict)  # by token
    attachments: dict[int, Json] = field(default_factory=dict)  # with "content_b64"
    jobs: dict[str, Json] = field(default_factory=dict)
    idempotency: dict[str, Json] = field(default_factory=dict)
    roles: dict[int, Json] = field(default_factory=dict)
    ticket_updates: dict[int, list[float]] = field(default_factory=dict)
    # the emails the desk sent requesters (bot.standins.zendesk_emulator.email_channel)
    outbox: list[Json] = field(default_factory=list)
    views: dict[int, Json] = field(default_factory=dict)  # bot.standins.zendesk_emulator.views

    def to_json(self) -> Json:
        def keyed(d: dict[Any, Any]) -> dict[str, Any]:
            return {str(k): v for k, v in d.items()}

        return {
            "next_ticket_id": self.next_ticket_id,
            "next_id": self.next_id,
            "tickets": keyed(self.tickets),
            "audits": keyed(self.audits),
            "users": keyed(self.users),
            "fields": keyed(self.fields),
            "uploads": self.uploads,
            "attachments": keyed(self.attachments),
            "jobs": self.jobs,
            "idempotency": self.idempotency,
            "roles": keyed(self.roles),
            "outbox": self.outbox,
            "views": keyed(self.views),
        }

    @classmethod
    def from_json(cls, data: Json) -> Account:
        def ints(d: dict[str, Any]) -> dict[int, Any]:
            return {int(k): v for k, v in d.items()}

        return cls(
            next_ticket_id=data["next_ticket_id"],
            next_id=data["next_id"],
            tickets=ints(data["tickets"]),
            audits=ints(data["audits"]),
            users=ints(data["users"]),
            fields=ints(data["fields"]),
            uploads=data["uploads"],
            attachments=ints(data["attachments"]),
            jobs=data["jobs"],
            idempotency=data["idempotency"],
            roles=ints(data["roles"]),
            outbox=list(data.get("outbox") or []),
            views=ints(data.get("views") or {}),
        )


def _html(text: str) -> str:
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    body = "".join(
        '<p dir="auto">' + _escape(p).replace("\n", "\n<br>") + "</p>" for p in paragraphs
    )
    return f'<div class="zd-comment" dir="auto">{body}</div>'


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def html_to_text(html: str) -> str:
    """Zendesk's `body` for an `html_body` comment: the text, rows on lines, cells split."""
    text = re.sub(r"(?i)<br\s*/?>", "\n", html)
    text = re.sub(r"(?i)</(p|div|tr|h[1-6]|li|table|ul|ol)>", "\n", text)
    text = re.sub(r"(?i)</t[dh]>\s*", " | ", text)
    text = re.sub(r"(?i)<li[^>]*>", "- ", text)
    text = re.sub(r"<[^>]+>", "", text)
    # every character reference, as Zendesk does (`&#x27;` from html.escape included)
    text = html_unescape(text).replace("\xa0", " ")
    lines = [line.rstrip(" |").rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


class Store:
    """The account and its operations. Call everything while holding `lock`."""

    def __init__(self, clock: Clock | None = None, state_file: Path | None = None) -> None:
        self.lock = threading.RLock()
        self.clock = clock or Clock()
        self.state_file = state_file
        self.account = Account()
        if state_file is not None and state_file.exists():
            self.account = Account.from_json(json.loads(state_file.read_text("utf-8")))
        if not self.account.roles:
            self._seed()

    # --- persistence ---------------------------------------------------------

    def save(self) -> None:
        if self.state_file is None:
            return
        tmp = self.state_file.with_name(self.state_file.name + ".tmp")
        tmp.write_text(json.dumps(self.account.to_json()), "utf-8")
        tmp.replace(self.state_file)

    def reset(self) -> None:
        self.account = Account()
        self._seed()
        self.save()

    def _seed(self) -> None:
        role_id = self._id()
        now = self.clock.iso()
        self.account.roles[role_id] = {
            "id": role_id,
            "name": "Admin",
            "description": "Can manage all settings, except billing",
            "role_type": 4,
            "created_at": now,
            "updated_at": now,
            "configuration": dict(ADMIN_CONFIGURATION),
            "team_member_count": 1,
        }

    def _id(self) -> int:
        self.account.next_id += 1 + secrets.randbelow(127)  # sparse, like Zendesk's ids
        return self.account.next_id

    # --- users ---------------------------------------------------------------

    def agent_for(self, email: str | None) -> Json:
        """The agent a request authenticates as (created on first use)."""
        email = (email or "admin@emulator.invalid").lower()
        found = self._user_by_email(email)
        if found is not None:
            return found
        role_id = next(iter(self.account.roles))
        name = email.split("@")[0].replace(".", " ").title()
        return self._new_user(
            {"name": name, "email": email, "role": "admin"}, custom_role_id=role_id
        )

    def _user_by_email(self, email: str) -> Json | None:
        for user in self.account.users.values():
            if user["email"] and user["email"].lower() == email.lower() and user["active"]:
                return user
        return None

    def _new_user(self, data: Json, custom_role_id: int | None = None) -> Json:
        name = data.get("name")
        email = data.get("email")
        if not name and not email:
            raise invalid("name", "Name: cannot be blank", "BlankValue")
        if email is not None and (not isinstance(email, str) or "@" not in email):
            raise invalid("email", f"Email: {email} is not properly formatted", "InvalidFormat")
        if email and self._user_by_email(email) is not None:
            raise invalid(
                "email", f"Email: {email} is already being used by another user", "DuplicateValue"
            )
        role = data.get("role") or "end-user"
        if role not in ("end-user", "agent", "admin"):
            raise invalid("role", f"Role: {role} is not valid")
        now = self.clock.iso()
        uid = self._id()
        user: Json = {
            "id": uid,
            "name": name or str(email).split("@")[0],
            "email": email.lower() if isinstance(email, str) else None,
            "created_at": now,
            "updated_at": now,
            "time_zone": "America/New_York",
            "iana_time_zone": "America/New_York",
            "phone": data.get("phone"),
            "shared_phone_number": None,
            "photo": None,
            "locale_id": 1,
            "locale": "en-US",
            "organization_id": data.get("organization_id"),
            "role": role,
            "verified": bool(data.get("verified", False)),
            "external_id": data.get("external_id"),
            "tags": list(data.get("tags") or []),
            "alias": None,
            "active": True,
            "shared": False,
            "shared_agent": False,
            "last_login_at": None,
            "two_factor_auth_enabled": False,
            "signature": None,
            "details": data.get("details"),
            "notes": data.get("notes"),
            "role_type": 4 if custom_role_id else None,
            "custom_role_id": custom_role_id,
            "moderator": role != "end-user",
            "ticket_restriction": None if role != "end-user" else "requested",
            "only_private_comments": False,
            "restricted_agent": role == "end-user",
            "suspended": False,
            "default_group_id": None,
            "report_csv": False,
            "user_fields": dict(data.get("user_fields") or {}),
        }
        self.account.users[uid] = user
        return user

    def user(self, uid: int) -> Json:
        user = self.account.users.get(uid)
        if user is None or not user["active"]:
            raise not_found()
        return user

    def create_user(self, data: Json) -> Json:
        return self._new_user(data)

    def update_user(self, uid: int, data: Json) -> Json:
        user = self.user(uid)
        for key in ("name", "phone", "notes", "details", "external_id", "verified", "role"):
            if key in data:
                user[key] = data[key]
        if data.get("email"):
            other = self._user_by_email(data["email"])
            if other is not None and other["id"] != uid:
                raise invalid(
                    "email",
                    f"Email: {data['email']} is already being used by another user",
                    "DuplicateValue",
                )
            user["email"] = data["email"].lower()
        user["updated_at"] = self.clock.iso()
        return user

    def create_or_update_user(self, data: Json) -> tuple[Json, bool]:
        email = data.get("email")
        existing = self._user_by_email(email) if isinstance(email, str) else None
        if existing is None:
            return self._new_user(data), True
        return self.update_user(existing["id"], data), False

    def delete_user(self, uid: int) -> Json:
        user = self.user(uid)
        user["active"] = False
        return user

    def search_users(self, query: str) -> list[Json]:
        q = query.strip().lower()
        if q.startswith("email:"):
            q = q[6:]
        return [
            u
            for u in self.account.users.values()
            if u["active"]
            and (
                not q
                or (u["email"] or "").lower() == q
                or q in u["name"].lower()
                or str(u["id"]) == q
            )
        ]

    # --- ticket fields -------------------------------------------------------

    def field(self, fid: int) -> Json:
        found = self.account.fields.get(fid)
        if found is None:
            raise not_found()
        return found

    def _options(self, raw: Any) -> list[Json]:
        if not isinstance(raw, list):
            raise invalid("custom_field_options", "Field options: must be a list")
        out = []
        for option in raw:
            name, value = option.get("name"), option.get("value")
            if not name or not value:
                raise invalid(
                    "custom_field_options", "Field options: each option needs a name and a value"
                )
            if re.search(r"\s", str(value)):
                raise invalid(
                    "custom_field_options", f"Field options: tag {value!r} may not contain spaces"
                )
            out.append(
                {
                    "id": option.get("id") or self._id(),
                    "name": name,
                    "raw_name": name,
                    "value": str(value).lower(),
                    "default": bool(option.get("default", False)),
                }
            )
        values = [o["value"] for o in out]
        if len(set(values)) != len(values):
            raise invalid("custom_field_options", "Field options: tags must be unique")
        return out

    def create_field(self, data: Json) -> Json:
        title = data.get("title")
        ftype = data.get("type")
        if not title:
            raise invalid("title", "Title: cannot be blank", "BlankValue")
        if ftype not in FIELD_TYPES:
            raise invalid("type", f"Type: {ftype} is not a valid field type")
        fid = self._id()
        now = self.clock.iso()
        record: Json = {
            "id": fid,
            "type": ftype,
            "title": title,
            "raw_title": title,
            "description": data.get("description") or title,
            "raw_description": data.get("description") or title,
            "position": 9999,
            "active": data.get("active", True),
            "required": bool(data.get("required", False)),
            "collapsed_for_agents": False,
            "regexp_for_validation": data.get("regexp_for_validation"),
            "title_in_portal": title,
            "raw_title_in_portal": title,
            "visible_in_portal": False,
            "editable_in_portal": False,
            "required_in_portal": False,
            "tag": data.get("tag"),
            "created_at": now,
            "updated_at": now,
            "removable": True,
            "key": data.get("key"),
            "agent_description": data.get("agent_description"),
        }
        if ftype in ("tagger", "multiselect"):
            if not data.get("custom_field_options"):
                raise invalid(
                    "custom_field_options", "Field options: a drop-down needs at least one option"
                )
            record["custom_field_options"] = self._options(data["custom_field_options"])
        self.account.fields[fid] = record
        return record

    def update_field(self, fid: int, data: Json) -> Json:
        record = self.field(fid)
        # The type of a field cannot change once created; Zendesk ignores it.
        for key in (
            "title",
            "description",
            "active",
            "required",
            "tag",
            "position",
            "agent_description",
            "regexp_for_validation",
        ):
            if key in data:
                record[key] = data[key]
        if "title" in data:
            record["raw_title"] = record["title_in_portal"] = data["title"]
            record["raw_title_in_portal"] = data["title"]
        if "custom_field_options" in data and record["type"] in ("tagger", "multiselect"):
            record["custom_field_options"] = self._options(data["custom_field_options"])
        record["updated_at"] = self.clock.iso()
        return record

    def delete_field(self, fid: int) -> None:
        self.field(fid)
        del self.account.fields[fid]

    def upsert_option(self, fid: int, data: Json) -> tuple[Json, bool]:
        record = self.field(fid)
        if record["type"] not in ("tagger", "multiselect"):
            raise invalid("custom_field_options", "Field options: not a drop-down field")
        options: list[Json] = record["custom_field_options"]
        for option in options:
            if data.get("id") == option["id"] or data.get("value") == option["value"]:
                option.update(self._options([{**option, **data}])[0])
                return option, False
        option = self._options([data])[0]
        options.append(option)
        return option, True

    # --- uploads and attachments ---------------------------------------------

    def upload(
        self, filename: str, payload: bytes, content_type: str | None, token: str | None
    ) -> Json:
        if not filename:
            raise ApiError(
                400, {"error": "InvalidParameter", "description": "filename parameter is required"}
            )
        if token is not None:
            upload = self._live_upload(token)
        else:
            token = _token()
            upload = {
                "token": token,
                "expires": self.clock.time() + UPLOAD_TTL,
                "attachment_ids": [],
                "used": False,
            }
            self.account.uploads[token] = upload
        aid = self._id()
        guessed = mimetypes.guess_type(filename)[0]
        ctype = (
            content_type if content_type and content_type != "application/octet-stream" else guessed
        ) or "application/octet-stream"
        self.account.attachments[aid] = {
            "id": aid,
            "file_name": filename,
            "content_type": ctype,
            "size": len(payload),
            "content_token": _token(),
            "content_b64": base64.b64encode(payload).decode(),
            "deleted": False,
        }
        upload["attachment_ids"].append(aid)
        return upload

    def _live_upload(self, token: str) -> Json:
        upload = self.account.uploads.get(token)
        if upload is None or upload["used"] or upload["expires"] < self.clock.time():
            raise not_found()
        return upload

    def delete_upload(self, token: str) -> None:
        upload = self._live_upload(token)
        for aid in upload["attachment_ids"]:
            self.account.attachments[aid]["deleted"] = True
        del self.account.uploads[token]

    def attachment(self, aid: int) -> Json:
        found = self.account.attachments.get(aid)
        if found is None or found["deleted"]:
            raise not_found()
        return found

    def content(self, content_token: str) -> tuple[Json, bytes]:
        for att in self.account.attachments.values():
            if att["content_token"] == content_token and not att["deleted"]:
                return att, base64.b64decode(att["content_b64"])
        raise not_found()

    def render_upload(self, base: str, upload: Json) -> Json:
        atts = [
            self.render_attachment(base, self.account.attachments[a])
            for a in upload["attachment_ids"]
        ]
        return {
            "token": upload["token"],
            "expires_at": self.clock.iso(upload["expires"]),
            "attachments": atts,
            "attachment": atts[-1],
        }

    def render_attachment(self, base: str, att: Json) -> Json:
        content_url = (
            f"{base}/attachments/token/{att['content_token']}/?name={quote(att['file_name'])}"
        )
        return {
            "url": f"{base}/api/v2/attachments/{att['id']}.json",
            "id": att["id"],
            "file_name": att["file_name"],
            "content_url": content_url,
            "mapped_content_url": content_url,
            "content_type": att["content_type"],
            "size": att["size"],
            "width": None,
            "height": None,
            "inline": False,
            "deleted": att["deleted"],
            "malware_access_override": False,
            "malware_scan_result": "not_scanned",
            "thumbnails": [],
        }

    def redact(self, tid: int, cid: int, aid: int) -> Json:
        self.ticket(tid)
        if self._comment(tid, cid) is None:
            raise not_found()
        att = self.attachment(aid)
        att["content_b64"] = base64.b64encode(b"").decode()
        att["size"] = 0
        return att

    # --- tickets -------------------------------------------------------------

    def ticket(self, tid: int) -> Json:
        found = self.account.tickets.get(tid)
        if found is None or found.get("_deleted"):
            raise not_found()
        return found

    def live_tickets(self) -> list[Json]:
        return [t for t in self.account.tickets.values() if not t.get("_deleted")]

    def _requester(self, data: Json, agent: Json) -> int:
        if isinstance(data.get("requester"), dict):
            spec = data["requester"]
            email = spec.get("email")
            if not email:
                raise invalid("requester", "Requester: email is required", "BlankValue")
            found = self._user_by_email(email)
            if found is None:
                found = self._new_user(
                    {"name": spec.get("name") or email.split("@")[0], "email": email}
                )
            return int(found["id"])
        if data.get("requester_id") is not None:
            rid = data["requester_id"]
            if not isinstance(rid, int) or rid not in self.account.users:
                raise invalid("requester", "Requester: is invalid", "InvalidValue")
            return rid
        return int(agent["id"])

    def _field_values(self, ticket: Json, data: Json) -> list[tuple[int, Any, Any]]:
        """Apply custom_fields/fields; return (id, old, new) for each change."""
        raw = data.get("custom_fields", data.get("fields"))
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise invalid("custom_fields", "Custom fields: must be a list")
        changes = []
        for entry in raw:
            fid, value = entry.get("id"), entry.get("value")
            record = self.account.fields.get(fid) if isinstance(fid, int) else None
            if record is None:
                continue  # Zendesk ignores values for fields it does not have
            options = [o["value"] for o in record.get("custom_field_options") or []]
            if record["type"] == "tagger" and value not in (None, "") and value not in options:
                raise invalid(
                    f"field_{fid}", f"{record['title']}: {value!r} is not one of the options"
                )
            if record["type"] == "checkbox":
                value = bool(value)
            number = re.fullmatch(r"-?\d+", str(value))
            if record["type"] == "integer" and value not in (None, "") and not number:
                raise invalid(f"field_{fid}", f"{record['title']}: is not a number")
            old = ticket["_fields"].get(str(fid))
            new = None if value == "" else value
            if old != new:
                ticket["_fields"][str(fid)] = new
                changes.append((fid, old, new))
        return changes

    def _field_tags(self, ticket: Json, changes: Iterable[tuple[int, Any, Any]]) -> None:
        """A dropdown's option value and a checkbox's tag are ticket tags, as in Zendesk."""
        tags: list[str] = ticket["tags"]
        for fid, old, new in changes:
            record = self.account.fields[fid]
            if record["type"] == "tagger":
                if old in tags:
                    tags.remove(old)
                if new and new not in tags:
                    tags.append(new)
            elif record["type"] == "checkbox" and record.get("tag"):
                if new and record["tag"] not in tags:
                    tags.append(record["tag"])
                if not new and record["tag"] in tags:
                    tags.remove(record["tag"])

    def _comment_event(self, spec: Any, author_id: int, audit_id: int) -> Json:
        if not isinstance(spec, dict):
            spec = {"body": str(spec)}
        body, html_body = spec.get("body"), spec.get("html_body")
        if not body and not html_body:
            raise invalid("comment", "Comment: cannot be blank", "BlankValue")
        if html_body:
            text = html_to_text(html_body)
            html = f'<div class="zd-comment" dir="auto">{html_body}</div>'
        else:
            text, html = str(body), _html(str(body))
        tokens = spec.get("uploads") or []
        if isinstance(tokens, str):
            tokens = [tokens]
        att_ids: list[int] = []
        for token in tokens:
            upload = self.account.uploads.get(token)
            if upload is None or upload["used"] or upload["expires"] < self.clock.time():
                # Zendesk drops such tokens silently; refusing catches a caller's reuse.
                raise invalid("uploads", f"Uploads: token {token} is invalid, used or expired")
            att_ids.extend(upload["attachment_ids"])
        for token in tokens:
            self.account.uploads[token]["used"] = True
        return {
            "id": self._id(),
            "type": "Comment",
            "author_id": spec.get("author_id") or author_id,
            "body": text,
            "html_body": html,
            "plain_body": text,
            "public": spec.get("public", True),
            "attachment_ids": att_ids,
            "audit_id": audit_id,
        }

    def create_ticket(self, data: Json, agent: Json, client: str) -> tuple[Json, Json]:
        if not isinstance(data, dict):
            raise invalid("base", "Ticket: is missing")
        comment = data.get("comment")
        if comment is None and data.get("description"):
            comment = {"body": data["description"]}
        if comment is None:
            raise invalid("description", "Description: cannot be blank", "BlankValue")
        status = data.get("status") or ("open" if data.get("assignee_id") else "new")
        if status not in STATUSES:
            raise invalid("status", f"Status: {status} is not valid")
        source = None
        if data.get("via_followup_source_id") is not None:
            source = self.account.tickets.get(data["via_followup_source_id"])
            if source is None or source["status"] != "closed":
                raise invalid("via_followup_source_id", "Follow-up source: must be a closed ticket")
        requester_id = self._requester(data, agent)
        tid = self.account.next_ticket_id
        audit_id = self._id()
        event = self._comment_event(comment, int(agent["id"]), audit_id)
        now = self.clock.iso()
        subject = data.get("subject") or event["body"].splitlines()[0][:80]
        via: Json = {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}}
        if source is not None:
            via = {
                "channel": "api",
                "source": {
                    "from": {
                        "ticket_id": source["id"],
                        "subject": source["subject"],
                        "channel": "api",
                    },
                    "to": {},
                    "rel": "follow_up",
                },
            }
        ticket: Json = {
            "id": tid,
            "external_id": data.get("external_id"),
            "via": via,
            "created_at": now,
            "updated_at": now,
            "generated_timestamp": int(self.clock.time()),
            "type": data.get("type"),
            "subject": subject,
            "raw_subject": subject,
            "description": event["body"],
            "priority": data.get("priority"),
            "status": status,
            "recipient": data.get("recipient"),
            "requester_id": requester_id,
            "submitter_id": data.get("submitter_id") or agent["id"],
            "assignee_id": data.get("assignee_id"),
            "organization_id": None,
            "group_id": data.get("group_id"),
            "collaborator_ids": [],
            "follower_ids": [],
            "email_cc_ids": [],
            "forum_topic_id": None,
            "problem_id": None,
            "has_incidents": False,
            "is_public": bool(event["public"]),
            "due_at": None,
            "tags": _tags(data.get("tags") or []),
            "_fields": {},
            "satisfaction_rating": None,
            "sharing_agreement_ids": [],
            "followup_ids": [],
            "ticket_form_id": None,
            "brand_id": None,
            "allow_channelback": False,
            "allow_attachments": True,
            "from_messaging_channel": False,
        }
        if source is not None:
            ticket["via_followup_source_id"] = source["id"]
        self._field_tags(ticket, self._field_values(ticket, data))
        self.account.next_ticket_id += 1
        self.account.tickets[tid] = ticket
        events = (
            [event]
            + [
                {"id": self._id(), "type": "Create", "value": v, "field_name": k}
                for k, v in (
                    ("subject", subject),
                    ("requester_id", str(requester_id)),
                    ("status", status),
                    ("tags", list(ticket["tags"])),
                    ("priority", ticket["priority"]),
                    ("type", ticket["type"]),
                )
            ]
            + [
                {"id": self._id(), "type": "Create", "value": v, "field_name": k}
                for k, v in ticket["_fields"].items()
            ]
        )
        audit = self._audit(ticket, audit_id, agent, client, events, data.get("metadata"))
        if source is not None:
            source["followup_ids"].append(tid)
        return ticket, audit

    def _audit(
        self,
        ticket: Json,
        audit_id: int,
        agent: Json,
        client: str,
        events: list[Json],
        custom: Any = None,
    ) -> Json:
        """`custom`: the request's write-only `metadata`, kept as the audit's
        `metadata.custom` (Zendesk's "Setting Metadata"); comments show it too."""
        audit = {
            "id": audit_id,
            "ticket_id": ticket["id"],
            "created_at": self.clock.iso(),
            "author_id": agent["id"],
            "metadata": {
                "system": {
                    "client": client,
                    "ip_address": "127.0.0.1",
                    "location": "Emulator",
                    "latitude": 0.0,
                    "longitude": 0.0,
                },
                "custom": copy.deepcopy(custom) if isinstance(custom, dict) else {},
            },
            "events": events,
            "via": copy.deepcopy(ticket["via"]),
        }
        if any(e["type"] == "Comment" for e in events):
            # A comment's audit names the agent it came through, as Zendesk's do.
            audit["via"]["source"]["to"] = {"name": agent["name"], "address": agent["email"]}
        self.account.audits.setdefault(ticket["id"], []).append(audit)
        return audit

    def check_ticket_budget(self, tid: int) -> dict[str, str]:
        """Zendesk's per-ticket update limit: the header, or a 429 once exceeded."""
        now = self.clock.time()
        recent = self.account.ticket_updates.get(tid, [])
        stamps = [s for s in recent if s > now - PER_TICKET_WINDOW]
        reset = int(stamps[0] + PER_TICKET_WINDOW - now) + 1 if stamps else PER_TICKET_WINDOW
        if len(stamps) >= PER_TICKET_UPDATES:
            raise ApiError(
                429,
                "Rate limit for ticket updates exceeded, please wait before "
                "updating this ticket again",
                {
                    "Retry-After": str(reset),
                    "zendesk-ratelimit-per-ticket-updates": f"total={PER_TICKET_UPDATES}; remaining=0; resets={reset}",
                },
            )
        stamps.append(now)
        self.account.ticket_updates[tid] = stamps
        left = PER_TICKET_UPDATES - len(stamps)
        return {
            "zendesk-ratelimit-per-ticket-updates": f"total={PER_TICKET_UPDATES}; remaining={left}; resets={reset}"
        }

    def update_ticket(self, tid: int, data: Json, agent: Json, client: str) -> tuple[Json, Json]:
        ticket = self.ticket(tid)
        if not isinstance(data, dict):
            raise invalid("base", "Ticket: is missing")
        if ticket["status"] == "closed":
            raise invalid("status", "Status: closed prevents ticket update", "ClosedTicket")
        audit_id = self._id()
        events: list[Json] = []
        if data.get("comment") is not None:
            events.append(self._comment_event(data["comment"], int(agent["id"]), audit_id))
        if "status" in data and data["status"] not in STATUSES:
            raise invalid("status", f"Status: {data['status']} is not valid")
        simple = (
            "subject",
            "status",
            "priority",
            "type",
            "assignee_id",
            "group_id",
            "external_id",
            "due_at",
        )
        if "requester" in data or "requester_id" in data:
            rid = self._requester(data, agent)
            if rid != ticket["requester_id"]:
                events.append(self._change("requester_id", str(rid), str(ticket["requester_id"])))
                ticket["requester_id"] = rid
        for key in simple:
            if key in data and data[key] != ticket[key]:
                events.append(self._change(key, data[key], ticket[key]))
                ticket[key] = data[key]
                if key == "subject":
                    ticket["raw_subject"] = data[key]
        old_tags = list(ticket["tags"])
        if "tags" in data:
            ticket["tags"] = _tags(data["tags"] or [])
        for tag in _tags(data.get("additional_tags") or []):
            if tag not in ticket["tags"]:
                ticket["tags"].append(tag)
        for tag in _tags(data.get("remove_tags") or []):
            if tag in ticket["tags"]:
                ticket["tags"].remove(tag)
        changes = self._field_values(ticket, data)
        self._field_tags(ticket, changes)
        events.extend(self._change(str(fid), new, old) for fid, old, new in changes)
        if ticket["tags"] != old_tags:
            events.append(self._change("tags", list(ticket["tags"]), old_tags))
        ticket["updated_at"] = self.clock.iso()
        audit = self._audit(ticket, audit_id, agent, client, events, data.get("metadata"))
        if audit["via"]["channel"] == "email":  # an update through the API is via the API
            audit["via"] = {
                "channel": "api",
                "source": {"from": {}, "to": audit["via"]["source"]["to"], "rel": None},
            }
        return ticket, audit

    def _change(self, name: str, value: Any, previous: Any) -> Json:
        return {
            "id": self._id(),
            "type": "Change",
            "value": value,
            "field_name": name,
            "previous_value": previous,
        }

    def delete_ticket(self, tid: int) -> None:
        self.ticket(tid)["_deleted"] = True

    def set_tags(self, tid: int, tags: list[str], mode: str, agent: Json, client: str) -> Json:
        ticket = self.ticket(tid)
        if ticket["status"] == "closed":
            raise invalid("status", "Status: closed prevents ticket update", "ClosedTicket")
        old = list(ticket["tags"])
        new = _tags(tags)
        if mode == "set":
            ticket["tags"] = new
        elif mode == "add":
            ticket["tags"] = old + [t for t in new if t not in old]
        else:
            ticket["tags"] = [t for t in old if t not in new]
        if ticket["tags"] != old:
            self._audit(
                ticket, self._id(), agent, client, [self._change("tags", list(ticket["tags"]), old)]
            )
            ticket["updated_at"] = self.clock.iso()
        return ticket

    def render_ticket(self, base: str, ticket: Json) -> Json:
        out = {k: copy.deepcopy(v) for k, v in ticket.items() if not k.startswith("_")}
        custom = [
            {"id": fid, "value": ticket["_fields"].get(str(fid))}
            for fid in sorted(self.account.fields)
        ]
        out = {"url": f"{base}/api/v2/tickets/{ticket['id']}.json", **out}
        # Zendesk orders these after the sharing keys; custom_fields and fields match.
        out["custom_fields"] = custom
        out["fields"] = copy.deepcopy(custom)
        out["custom_status_id"] = STATUSES.index(ticket["status"]) + 1
        return out

    def render_audit(self, base: str, audit: Json) -> Json:
        out = copy.deepcopy(audit)
        out["events"] = [self._render_event(base, e) for e in audit["events"]]
        return out

    def _render_event(self, base: str, event: Json) -> Json:
        if event["type"] != "Comment":
            return copy.deepcopy(event)
        out = {k: v for k, v in event.items() if k != "attachment_ids"}
        out["attachments"] = [
            self.render_attachment(base, self.account.attachments[a])
            for a in event["attachment_ids"]
        ]
        return {
            **{
                k: out[k]
                for k in (
                    "id",
                    "type",
                    "author_id",
                    "body",
                    "html_body",
                    "plain_body",
                    "public",
                    "attachments",
                )
            },
            "audit_id": event["audit_id"],
        }

    def comments(self, base: str, tid: int) -> list[Json]:
        self.ticket(tid)
        out = []
        for audit in self.account.audits.get(tid, []):
            for event in audit["events"]:
                if event["type"] == "Comment":
                    comment = self._render_event(base, event)
                    comment["via"] = copy.deepcopy(audit["via"])
                    comment["created_at"] = audit["created_at"]
                    comment["metadata"] = copy.deepcopy(audit["metadata"])
                    out.append(comment)
        return out

    def _comment(self, tid: int, cid: int) -> Json | None:
        for audit in self.account.audits.get(tid, []):
            for event in audit["events"]:
                if event["type"] == "Comment" and event["id"] == cid:
                    return dict(event)
        return None

    def all_audits(self) -> list[Json]:
        live = {t["id"] for t in self.live_tickets()}
        return sorted(
            (a for tid, audits in self.account.audits.items() if tid in live for a in audits),
            key=lambda a: a["id"],
        )

    def tag_counts(self) -> list[Json]:
        counts: dict[str, int] = {}
        for ticket in self.live_tickets():
            for tag in ticket["tags"]:
                counts[tag] = counts.get(tag, 0) + 1
        return [{"name": n, "count": c} for n, c in sorted(counts.items())]

    # --- idempotency ---------------------------------------------------------

    def idempotent(self, key: str, body: bytes) -> Json | None:
        """The stored answer for `key`, None for a new key; 400 for another body."""
        now = self.clock.time()
        for k in [k for k, v in self.account.idempotency.items() if v["expires"] < now]:
            del self.account.idempotency[k]
        entry = self.account.idempotency.get(key)
        if entry is None:
            return None
        if entry["digest"] != hashlib.sha256(_canonical(body)).hexdigest():
            raise ApiError(
                400,
                {
                    "error": "IdempotentRequestError",
                    "description": "Request parameters do not match the "
                    "original request with the same idempotency key",
                },
                {"x-idempotency-lookup": "hit"},
            )
        return entry

    def remember(
        self, key: str, body: bytes, status: int, answer: Json, headers: dict[str, str]
    ) -> None:
        self.account.idempotency[key] = {
            "digest": hashlib.sha256(_canonical(body)).hexdigest(),
            "expires": self.clock.time() + IDEMPOTENCY_TTL,
            "status": status,
            "answer": answer,
            "headers": headers,
        }

    # --- jobs ----------------------------------------------------------------

    def job(self, job_type: str, results: list[Json]) -> Json:
        jid = "V3-" + secrets.token_hex(16)
        self.account.jobs[jid] = {
            "id": jid,
            "job_type": job_type,
            "total": len(results),
            "results": results,
            "message": "Completed at " + self.clock.iso(),
        }
        return self.account.jobs[jid]


def _tags(raw: Any) -> list[str]:
    if isinstance(raw, str):
        raw = raw.split()
    out: list[str] = []
    for tag in raw:
        for part in str(tag).lower().split():
            if part not in out:
                out.append(part)
    return out


def _canonical(body: bytes) -> bytes:
    try:
        return json.dumps(json.loads(body or b"null"), sort_keys=True).encode()
    except ValueError:
        return body
