"""The read-only web page at `/`: the tickets as an agent would see them.

Server-rendered, every value escaped; comments are shown as their plain text
(never the stored HTML), private ones marked as internal notes.
"""

from __future__ import annotations

from html import escape

from bot.standins.zendesk_emulator.store import Json, Store

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}
.ticket{border:1px solid #ccc;border-radius:6px;padding:1em;margin:1em 0}
.tag{display:inline-block;background:#eef;border-radius:3px;padding:0 .4em;margin:.1em}
.comment{border-left:4px solid #9ad;padding:.3em .8em;margin:.6em 0}
.note{border-left-color:#e8b700;background:#fff8dc}
pre{white-space:pre-wrap;font-family:inherit;margin:.3em 0}
table.fields td{padding:.1em .8em .1em 0;vertical-align:top}
.meta{color:#666;font-size:.9em}
"""


def _user(store: Store, uid: int | None) -> str:
    user = store.account.users.get(uid) if uid is not None else None
    if user is None:
        return "—"
    return f"{escape(user['name'])} &lt;{escape(user['email'] or '')}&gt;"


def _ticket(store: Store, base: str, ticket: Json) -> str:
    out = [
        f'<div class="ticket" id="ticket-{ticket["id"]}">',
        f"<h2>#{ticket['id']} {escape(ticket['subject'] or '')}</h2>",
        f'<p class="meta">Status <b>{escape(ticket["status"])}</b> · requester '
        f"{_user(store, ticket['requester_id'])} · created {escape(ticket['created_at'])}"
        f" · updated {escape(ticket['updated_at'])}",
    ]
    if ticket.get("via_followup_source_id"):
        out.append(
            f' · follow-up of <a href="#ticket-{ticket["via_followup_source_id"]}">'
            f"#{ticket['via_followup_source_id']}</a>"
        )
    if ticket["followup_ids"]:
        links = ", ".join(f'<a href="#ticket-{i}">#{i}</a>' for i in ticket["followup_ids"])
        out.append(f" · follow-ups {links}")
    out.append("</p>")
    rows = []
    for fid, value in ticket["_fields"].items():
        record = store.account.fields.get(int(fid))
        if record is None or value is None:
            continue
        shown = str(value)
        for option in record.get("custom_field_options") or []:
            if option["value"] == value:
                shown = option["name"]
        rows.append(f"<tr><td>{escape(record['title'])}</td><td>{escape(shown)}</td></tr>")
    if rows:
        out.append('<table class="fields">' + "".join(rows) + "</table>")
    if ticket["tags"]:
        out.append(
            "<p>"
            + "".join(f'<span class="tag">{escape(t)}</span>' for t in ticket["tags"])
            + "</p>"
        )
    for comment in store.comments(base, ticket["id"]):
        private = not comment["public"]
        label = "Internal note" if private else "Public reply"
        out.append(
            f'<div class="comment{" note" if private else ""}"><div class="meta">'
            f"{label} · {_user(store, comment['author_id'])} · "
            f"{escape(comment['created_at'])}</div><pre>{escape(comment['body'])}</pre>"
        )
        for att in comment["attachments"]:
            out.append(
                f'<div>📎 <a href="{escape(att["content_url"])}">'
                f"{escape(att['file_name'])}</a> ({att['size']} bytes)</div>"
            )
        out.append("</div>")
    out.append("</div>")
    return "".join(out)


def render(store: Store, base: str) -> str:
    tickets = sorted(store.live_tickets(), key=lambda t: t["id"], reverse=True)
    body = "".join(_ticket(store, base, t) for t in tickets) or "<p>No tickets yet.</p>"
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="15">'
        f"<title>Zendesk emulator — {len(tickets)} tickets</title><style>{_STYLE}</style>"
        f'</head><body><h1>Zendesk emulator</h1><p class="meta">{len(tickets)} tickets'
        f" · read-only view of what an agent sees</p>{body}</body></html>"
    )
