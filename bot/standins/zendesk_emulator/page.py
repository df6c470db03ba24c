"""The read-only web pages: `/` lists the tickets, `/tickets/N` shows one as an agent
reads it in Zendesk.

The index has one row a ticket: requester, status, the port's stage, whether it is
ready, what is missing (the `*missing_*` tags), so a newcomer sees the state of every
request at a glance; it does not reload itself. A ticket's page has its fields, tags
and every comment: a comment made from HTML (the bot's private note, with its
checklist and numbers tables) is shown as that HTML, through an allow-list of plain
tags with every attribute dropped but a safe link; a plain comment keeps its lines.
Every value is escaped exactly once: nothing a customer wrote (subject, name, email,
file names) reaches the page as markup.
"""

from __future__ import annotations

import re
from html import escape
from html.parser import HTMLParser
from urllib.parse import urlsplit

from bot.standins.zendesk_emulator.store import Json, Store

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:72em;color:#222;
 padding:0 1em;line-height:1.4}
a{color:#1f73b7}
table.index{border-collapse:collapse;width:100%}
table.index th,table.index td{border-bottom:1px solid #ddd;padding:.35em .6em;
 text-align:left;vertical-align:top}
table.index th{background:#f3f5f7;font-weight:600}
.yes{color:#186146;font-weight:600}.no{color:#8c232c}
.tag{display:inline-block;background:#eef1f8;border-radius:3px;padding:0 .4em;
 margin:.1em;font-size:.85em}
.missing{background:#fdecea}
.comment{border:1px solid #d8dcde;border-radius:6px;padding:.6em 1em;margin:1em 0}
.note{background:#fff6e0;border-color:#f3d28c}
.comment table{border-collapse:collapse;margin:.5em 0}
.comment th,.comment td{border:1px solid #ccc;padding:.2em .6em;text-align:left}
.comment h3{font-size:1em;margin:1em 0 .3em}
.plain{white-space:pre-wrap;margin:.3em 0}
table.fields td{padding:.15em 1em .15em 0;vertical-align:top}
.meta{color:#68737d;font-size:.9em}
"""

_MISSING = "missing_"  # tags such as port_missing_bill: an item the request lacks


def _user(store: Store, uid: int | None) -> str:
    user = store.account.users.get(uid) if uid is not None else None
    if user is None:
        return "—"
    name, mail = user.get("name") or "", user.get("email") or ""
    return escape(f"{name} <{mail}>" if mail else name)


def _field_values(store: Store, ticket: Json) -> list[tuple[str, str]]:
    """(title, shown value) of each set custom field; a dropdown shows its option's name."""
    out = []
    for fid, value in (ticket.get("_fields") or {}).items():
        record = store.account.fields.get(int(fid))
        if record is None or value is None or value == "":
            continue
        shown = value
        for option in record.get("custom_field_options") or []:
            if option.get("value") == value:
                shown = option.get("name", value)
        if isinstance(shown, bool):
            shown = "yes" if shown else "no"
        out.append((str(record.get("title") or fid), str(shown)))
    return out


def _field(values: list[tuple[str, str]], word: str) -> str | None:
    for title, shown in values:
        if word in title.lower():
            return shown
    return None


def _missing(ticket: Json) -> list[str]:
    return [
        t.split(_MISSING, 1)[1].replace("_", " ") for t in ticket.get("tags") or [] if _MISSING in t
    ]


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>{body}</body></html>"
    )


def render(store: Store, base: str = "") -> str:
    """The index: one row a ticket, newest first."""
    tickets = sorted(store.live_tickets(), key=lambda t: t["id"], reverse=True)
    rows = []
    for t in tickets:
        values = _field_values(store, t)
        stage = _field(values, "stage") or "—"
        ready = _field(values, "ready")
        missing = _missing(t)
        rows.append(
            "<tr>"
            f'<td><a href="/tickets/{int(t["id"])}">#{int(t["id"])}</a></td>'
            f'<td><a href="/tickets/{int(t["id"])}">{escape(t.get("subject") or "(no subject)")}'
            "</a></td>"
            f"<td>{_user(store, t.get('requester_id'))}</td>"
            f"<td>{escape(str(t.get('status') or ''))}</td>"
            f"<td>{escape(stage)}</td>"
            + (
                f'<td class="{"yes" if ready == "yes" else "no"}">{escape(ready)}</td>'
                if ready is not None
                else "<td>—</td>"
            )
            + "<td>"
            + ("".join(f'<span class="tag missing">{escape(m)}</span>' for m in missing) or "—")
            + "</td>"
            f'<td class="meta">{escape(str(t.get("updated_at") or ""))}</td>'
            "</tr>"
        )
    table = (
        '<table class="index"><thead><tr><th>Ticket</th><th>Subject</th><th>Requester</th>'
        "<th>Status</th><th>Stage</th><th>Ready</th><th>Missing</th><th>Updated</th></tr>"
        "</thead><tbody>" + "".join(rows) + "</tbody></table>"
        if rows
        else "<p>No tickets yet.</p>"
    )
    return _page(
        f"Zendesk emulator — {len(tickets)} tickets",
        f'<h1>Tickets</h1><p class="meta">{len(tickets)} tickets · the local Zendesk '
        "emulator, read-only, as an agent sees them · reload the page for news</p>" + table,
    )


def ticket_page(store: Store, base: str, tid: int) -> str | None:
    """One ticket's page; None when there is no such ticket."""
    ticket = store.account.tickets.get(tid)
    if ticket is None or ticket.get("_deleted"):
        return None
    out = [
        '<p><a href="/">← all tickets</a></p>',
        f"<h1>#{tid} {escape(ticket.get('subject') or '(no subject)')}</h1>",
        f'<p class="meta">Status <b>{escape(str(ticket.get("status") or ""))}</b> · requester '
        f"{_user(store, ticket.get('requester_id'))} · created "
        f"{escape(str(ticket.get('created_at') or ''))} · updated "
        f"{escape(str(ticket.get('updated_at') or ''))}",
    ]
    source = ticket.get("via_followup_source_id")
    if source:
        out.append(f' · follow-up of <a href="/tickets/{int(source)}">#{int(source)}</a>')
    follow_ups = ticket.get("followup_ids") or []
    if follow_ups:
        links = ", ".join(f'<a href="/tickets/{int(i)}">#{int(i)}</a>' for i in follow_ups)
        out.append(f" · follow-ups {links}")
    out.append("</p>")
    values = _field_values(store, ticket)
    if values:
        out.append(
            '<table class="fields">'
            + "".join(
                f"<tr><td>{escape(k)}</td><td><b>{escape(v)}</b></td></tr>" for k, v in values
            )
            + "</table>"
        )
    if ticket.get("tags"):
        out.append(
            "<p>"
            + "".join(f'<span class="tag">{escape(t)}</span>' for t in ticket["tags"])
            + "</p>"
        )
    for comment in store.comments(base, tid):
        private = not comment.get("public", True)
        label = "Internal note" if private else "Public reply"
        out.append(
            f'<div class="comment{" note" if private else ""}"><div class="meta">'
            f"{label} · {_user(store, comment.get('author_id'))} · "
            f"{escape(str(comment.get('created_at') or ''))}</div>"
        )
        html = comment.get("html_body") or ""
        if html:  # as Zendesk shows it: the note's tables as tables, a plain text's lines
            out.append(clean_html(html))
        else:
            out.append(f'<div class="plain">{escape(comment.get("body") or "")}</div>')
        for att in comment.get("attachments") or []:
            out.append(
                f'<div>📎 <a href="{escape(_safe_url(att.get("content_url") or ""))}">'
                f"{escape(att.get('file_name') or '')}</a> ({int(att.get('size') or 0)} bytes)"
                "</div>"
            )
        out.append("</div>")
    return _page(f"#{tid} {ticket.get('subject') or ''}", "".join(out))


def not_found(what: str) -> str:
    return _page("Not found", f'<p><a href="/">← all tickets</a></p><h1>{escape(what)}</h1>')


# --- HTML of a comment, through an allow-list ---------------------------------------------

_KEEP = frozenset(
    [
        "p",
        "br",
        "hr",
        "strong",
        "b",
        "em",
        "i",
        "u",
        "small",
        "code",
        "pre",
        "q",
        "blockquote",
        "ul",
        "ol",
        "li",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "div",
        "span",
    ]
)
_VOID = frozenset({"br", "hr"})
_DROP_CONTENT = frozenset({"script", "style", "template", "iframe", "object", "noscript"})


def _safe_url(url: str) -> str:
    parts = urlsplit(url.strip())
    return url.strip() if parts.scheme in ("http", "https", "") else "#"


class _Cleaner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []
        self.dropping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROP_CONTENT:
            self.dropping += 1
        elif self.dropping:
            return
        elif tag == "a":
            href = dict(attrs).get("href") or ""
            self.out.append(f'<a href="{escape(_safe_url(href))}" rel="noopener noreferrer">')
            self.open.append("a")
        elif tag in _KEEP:
            self.out.append(f"<{tag}>")
            if tag not in _VOID:
                self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROP_CONTENT:
            self.dropping = max(0, self.dropping - 1)
        elif not self.dropping and tag in self.open:
            while self.open:  # close what was left open inside it, too
                last = self.open.pop()
                self.out.append(f"</{last}>")
                if last == tag:
                    break

    def handle_data(self, data: str) -> None:
        if not self.dropping:
            self.out.append(escape(data))


def clean_html(html: str) -> str:
    """`html` with only plain tags kept (no attribute but a safe link), text escaped."""
    cleaner = _Cleaner()
    cleaner.feed(html)
    cleaner.close()
    cleaner.out.extend(f"</{tag}>" for tag in reversed(cleaner.open))
    return "".join(cleaner.out)


_TICKET_PATH = re.compile(r"^/tickets/(\d{1,12})/?$")


def route(store: Store, base: str, path: str) -> tuple[int, str] | None:
    """(status, page) for a page path, or None when `path` is not one of the pages."""
    if path in ("/", "/index.html"):
        return 200, render(store, base)
    if path.startswith("/tickets"):
        m = _TICKET_PATH.match(path)
        page = ticket_page(store, base, int(m.group(1))) if m else None
        if page is None:
            return 404, not_found("No such ticket")
        return 200, page
    return None
