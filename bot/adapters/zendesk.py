"""The ticket desk: a `TicketDesk` port and its Zendesk adapter on zenpy.

Calls per request, in the normal case: one upload per attachment the agent
needs, then one create (or one update). Retries live in one place,
`_DeskSession.request`, on the adapters' one policy (`bot.adapters.retry`): a 429
waits its Retry-After (or backs off without one), a 5xx or a lost connection backs
off, both bounded (a couple of tries: an outage defers the message to a later cycle
instead of holding the intake); what is left is mapped once, in
`_mapped`, to `DeskUnavailable` (transient: keep the message pending) or
`DeskRejected` (permanent; `TicketClosed` for a closed ticket).

Exactly once. Ticket creation sends an `Idempotency-Key` (zenpy does not) and
stores the same key as the ticket's `external_id`, so a retry after a crash finds
the ticket even when the re-uploaded attachments make the body differ. Zendesk
has no such key for updates, so every update that posts a private note carries a
marker in the audit's metadata (`metadata.custom.portbot_note`, written through
the ticket's write-only `metadata`: invisible to agents). When an answer is lost
(a timeout, a dropped connection, a 5xx after the write may have happened), the
ticket's audits are searched for the marker before the update is sent again;
a marker left in doubt when the tries run out is looked for first next time.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import urlsplit

import requests
from zenpy import Zenpy
from zenpy.lib.api_objects import (
    Comment,
    CustomField,
    CustomFieldOption,
    Ticket,
    TicketField,
    User,
    View,
)
from zenpy.lib.exception import APIException, ZenpyException

from bot.adapters.retry import RetryPolicy, TryAgain, retrying
from bot.errors import DeskRejected, DeskUnavailable, TicketClosed
from bot.ports import EmailRef, TicketState
from bot.render.notes import NOTE_MARKER, note_marker
from bot.render.ticket import FIELD_SPECS, FieldValue, TicketDraft, ZendeskNames
from bot.render.views import ViewSpec
from parsers.model import Attachment

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({500, 502, 503, 504})


class _AlreadyApplied(Exception):
    """The update whose answer was lost is on the ticket (its marker was found)."""


class CallCounter:
    """API calls by kind ("upload", "create", "update", ...) and HTTP attempts (retries too)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.attempts = 0
        self.retries = 0

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def __repr__(self) -> str:
        return f"CallCounter({dict(self.calls)}, attempts={self.attempts})"


@dataclass(frozen=True)
class ZendeskAccount:
    """Where and as whom: the token comes from the environment or a file, never the TOML."""

    subdomain: str
    email: str
    token: str
    domain: str = "zendesk.com"
    timeout: float = 30.0  # seconds to wait for an answer (read timeout)
    connect_timeout: float | None = None  # seconds to connect; None: `timeout`
    # Send the API calls here instead (the local emulator): "http://127.0.0.1:8765".
    # zenpy only knows process-wide variables for this, so they are set (see below).
    base_url: str | None = None

    def __repr__(self) -> str:
        return f"ZendeskAccount({self.subdomain!r}, {self.email!r}, token=…)"


def _kind(method: str, url: str) -> str:
    path = urlsplit(url).path
    if path.endswith("/uploads.json"):
        return "upload"
    if method == "POST" and path.endswith("/tickets.json"):
        return "create"
    if method == "PUT" and "/tickets/" in path:
        return "update"
    return f"{method.lower()} {path.rsplit('/api/v2/', 1)[-1]}"


CallObserver = Callable[[str, "int | str"], None]  # (kind, HTTP status or "error")


class _DeskSession(requests.Session):
    """A requests session that counts calls, adds per-call headers and retries.

    `call_options(guard=...)`: before repeating a call whose answer was lost (it may
    have been carried out), `guard()` is asked whether it was; if so, the call ends
    with `_AlreadyApplied` instead of being sent again.
    """

    def __init__(
        self,
        counter: CallCounter,
        policy: RetryPolicy,
        sleep: Callable[[float], None],
        observer: CallObserver | None = None,
    ) -> None:
        super().__init__()
        self.observer = observer or (lambda kind, status: None)
        self.counter = counter
        self.policy = policy
        self.sleep = sleep
        self.extra: dict[str, str] = {}
        self.guard: Callable[[], bool] | None = None
        self.in_doubt = False  # the last guarded call ended with its answer lost

    @contextmanager
    def call_options(
        self, headers: Mapping[str, str] | None = None, guard: Callable[[], bool] | None = None
    ) -> Iterator[None]:
        self.extra, self.guard, self.in_doubt = dict(headers or {}), guard, False
        try:
            yield
        finally:
            self.extra, self.guard = {}, None

    def headers_for_call(self, headers: Mapping[str, str]) -> Any:
        return self.call_options(headers)

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        method_s = method.decode() if isinstance(method, bytes) else str(method)
        url_s = url.decode() if isinstance(url, bytes) else str(url)
        extra, guard = self.extra, self.guard
        self.extra, self.guard = {}, None  # the guard's own calls are plain ones
        try:
            return self._request(method_s, url_s, extra, guard, *args, **kwargs)
        finally:
            self.extra, self.guard = extra, guard

    def _request(
        self,
        method_s: str,
        url_s: str,
        extra: Mapping[str, str],
        guard: Callable[[], bool] | None,
        *args: Any,
        **kwargs: Any,
    ) -> requests.Response:
        if extra:
            kwargs["headers"] = {**(kwargs.get("headers") or {}), **extra}
        kind = _kind(method_s.upper(), url_s)
        self.counter.calls[kind] += 1
        policy = self.policy
        body: Any = kwargs.get("data")
        start = body.tell() if hasattr(body, "seek") and hasattr(body, "tell") else None
        doubt = False  # an earlier attempt may have been carried out

        def retried(delay: float) -> None:
            self.counter.retries += 1
            log.info("Zendesk busy or failing; retrying in %.1f s", delay)

        try:
            for attempt in retrying(policy, self.sleep, retried):
                with attempt:
                    if doubt and guard is not None and guard():
                        raise _AlreadyApplied()
                    if start is not None:
                        body.seek(start)  # an upload's file object: send the whole file again
                    self.counter.attempts += 1
                    try:
                        response = super().request(method_s, url_s, *args, **kwargs)
                    except (requests.ConnectionError, requests.Timeout) as exc:
                        self.observer(kind, "error")
                        # only a refused or timed-out connect is sure not to have arrived
                        sure_not_sent = isinstance(exc, requests.ConnectTimeout) or _refused(exc)
                        doubt = doubt or not sure_not_sent
                        raise TryAgain(f"Zendesk unreachable: {type(exc).__name__}") from exc
                    status = response.status_code
                    self.observer(kind, status)
                    if status != 429 and status not in RETRY_STATUSES:
                        return response
                    doubt = doubt or status != 429  # a 5xx may come after the work was done
                    retry_after = _retry_after(response)
                    if retry_after is not None and retry_after > policy.max_retry_after:
                        self.in_doubt = doubt and guard is not None
                        raise DeskUnavailable(
                            f"Zendesk asks to wait {retry_after:.0f} s ({status})", retry_after
                        )
                    raise TryAgain(
                        f"Zendesk answered {status} {policy.attempts} times", retry_after
                    )
        except TryAgain as exc:  # the tries ran out
            self.in_doubt = doubt and guard is not None
            raise DeskUnavailable(exc.reason, exc.retry_after) from exc.__cause__
        raise AssertionError("unreachable")  # the loop returns or raises


def _refused(exc: Exception) -> bool:
    """A connection refused (nothing listening): the request never left."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return True
        if "Connection refused" in str(current) or "NewConnectionError" in repr(current):
            return True
        current = (
            current.__cause__
            or current.__context__
            or (
                current.args[0]
                if current.args and isinstance(current.args[0], BaseException)
                else None
            )
        )
    return False


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _error_of(exc: APIException) -> tuple[int | None, str | None, dict[str, Any]]:
    response = getattr(exc, "response", None)
    status = response.status_code if response is not None else None
    try:
        body = json.loads(str(exc))
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    error = body.get("error")
    details = body.get("details")
    return (
        int(status) if status is not None else None,
        error if isinstance(error, str) else None,
        details if isinstance(details, dict) else {},
    )


@contextmanager
def _mapped(action: str) -> Iterator[None]:
    """Zenpy's and requests' errors, mapped once into the bot's tree."""
    try:
        yield
    except (DeskUnavailable, DeskRejected):
        raise
    except APIException as exc:
        status, error, details = _error_of(exc)
        message = f"Zendesk refused to {action}: {status} {error or ''}".strip()
        if details:
            message += " (" + ", ".join(sorted(details)) + ")"
        if status == 422 and "status" in details:
            raise TicketClosed(message, status, error) from exc
        if status is not None and (status == 429 or status >= 500):
            raise DeskUnavailable(message) from exc
        raise DeskRejected(message, status, error) from exc
    except requests.HTTPError as exc:  # an error answer zenpy could not read as JSON
        status = exc.response.status_code if exc.response is not None else None
        if status is not None and 400 <= status < 500 and status != 429:
            raise DeskRejected(f"Zendesk refused to {action}: {status}", status) from exc
        raise DeskUnavailable(f"Zendesk failed to {action}: {status}") from exc
    except requests.RequestException as exc:
        raise DeskUnavailable(f"Zendesk unreachable while trying to {action}") from exc
    except ZenpyException as exc:
        raise DeskRejected(f"Zendesk client error while trying to {action}: {exc}") from exc


def _force_base_url(base_url: str) -> None:
    """Point zenpy at another server. Its only hook is these two process-wide variables
    (it checks every answer's URL against them), so one process talks to one desk."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) base URL: {base_url!r}")
    os.environ["ZENPY_FORCE_SCHEME"] = parts.scheme
    os.environ["ZENPY_FORCE_NETLOC"] = parts.netloc


SEARCH_DEPTH = 10  # of a sender's newest tickets, looked at for an email's Message-ID


def _message_id(comment: Any) -> str | None:
    """The Message-ID the email channel kept on a comment (`metadata.system.message_id`)."""
    metadata = getattr(comment, "metadata", None)
    if not isinstance(metadata, dict):
        metadata = getattr(metadata, "__dict__", {}) if metadata is not None else {}
    system = metadata.get("system")
    if not isinstance(system, dict):
        system = getattr(system, "__dict__", {}) if system is not None else {}
    value = system.get("message_id")
    return str(value) if value else None


_PREFIX = re.compile(r"^\s*((re|fw|fwd|tr|aw)\s*:\s*)+", re.IGNORECASE)


def _same_subject(a: str, b: str) -> bool:
    def norm(s: str) -> str:
        return " ".join(_PREFIX.sub("", s).lower().split())

    return norm(a) == norm(b)


def _made_after(created_at: str, date: dt.datetime | None) -> bool:
    """Made from the email: not before it was written (an hour's clock skew allowed)."""
    if date is None or not created_at:
        return True
    try:
        made = dt.datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    except ValueError:
        return True
    when = date if date.tzinfo else date.replace(tzinfo=dt.UTC)
    return made >= when - dt.timedelta(hours=1)


class ZenpyDesk:
    """`TicketDesk` on a Zendesk account, through zenpy."""

    def __init__(
        self,
        account: ZendeskAccount,
        names: ZendeskNames,
        counter: CallCounter,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        observer: CallObserver | None = None,
    ) -> None:
        """`observer(kind, status)`: each HTTP answer (or "error"), retries included."""
        self.names = names
        self.counter = counter
        if account.base_url:
            _force_base_url(account.base_url)
        self._session = _DeskSession(counter, retry or RetryPolicy(), sleep, observer)
        # requests takes (connect, read); zenpy hands its timeout to every call
        timeout: Any = (
            account.timeout
            if account.connect_timeout is None
            else (account.connect_timeout, account.timeout)
        )
        self._zenpy = Zenpy(
            subdomain=account.subdomain,
            domain=account.domain,
            email=account.email,
            token=account.token,
            session=self._session,
            timeout=timeout,
            disable_cache=True,
        )
        self._in_doubt: set[tuple[int, str]] = set()  # (ticket, marker): answer lost

    # --- the parts of a ticket ---------------------------------------------------

    def _upload(self, attachments: Sequence[Attachment]) -> list[str]:
        tokens = []
        for att in attachments:
            with _mapped(f"upload {att.filename}"):
                upload = self._zenpy.attachments.upload(
                    io.BytesIO(att.payload),
                    target_name=att.filename,
                    content_type=att.content_type or "application/octet-stream",
                )
            tokens.append(str(upload.token))
        return tokens

    def _custom_fields(self, draft: TicketDraft) -> list[CustomField]:
        out = []
        for name, value in draft.fields.items():
            fid = self.names.field_ids.get(name)
            if fid is None:
                continue  # not set up: the note still carries the value
            out.append(CustomField(id=fid, value="" if value is None else value))
        return out

    def _note(self, draft: TicketDraft, change: str | None, tokens: list[str]) -> Comment:
        html = draft.note_html
        if change:
            html = (
                "<p><strong>"
                + escape(change.splitlines()[0])
                + "</strong><br>"
                + "<br>".join(escape(line) for line in change.splitlines()[1:])
                + "</p><hr>"
                + html
            )
        return Comment(html_body=html, public=False, uploads=tokens)

    # --- TicketDesk ------------------------------------------------------------------

    def create_ticket(
        self, draft: TicketDraft, attachments: Sequence[Attachment], idempotency_key: str
    ) -> int:
        return self._create(draft, attachments, idempotency_key, None)

    def create_followup(
        self,
        closed_id: int,
        draft: TicketDraft,
        attachments: Sequence[Attachment],
        idempotency_key: str,
    ) -> int:
        return self._create(draft, attachments, idempotency_key, closed_id)

    def _create(
        self,
        draft: TicketDraft,
        attachments: Sequence[Attachment],
        key: str,
        followup_of: int | None,
    ) -> int:
        tokens = self._upload(attachments)
        ticket = Ticket(
            subject=draft.subject,
            comment=self._note(draft, None, tokens),
            tags=list(draft.tags),
            custom_fields=self._custom_fields(draft),
            external_id=key,
        )
        if draft.requester_email:
            ticket.requester = User(
                email=draft.requester_email, name=draft.requester_name or draft.requester_email
            )
        if followup_of is not None:
            ticket.via_followup_source_id = followup_of
        try:
            with (
                _mapped("create a ticket"),
                self._session.headers_for_call({"Idempotency-Key": key}),
            ):
                audit = self._zenpy.tickets.create(ticket)
        except DeskRejected as exc:
            if exc.error != "IdempotentRequestError":
                raise
            # Same key, other body: the first attempt made the ticket and this one
            # re-uploaded the attachments. The key is the ticket's external_id.
            found = self.find_ticket(key)
            if found is None:
                raise
            return found
        return int(audit.ticket.id)

    def find_ticket(self, external_id: str) -> int | None:
        """The ticket created with this key (kept as its external_id), if any.

        Zendesk forgets an Idempotency-Key after two hours; the external_id stays.
        """
        key = external_id
        with _mapped("find a ticket by external id"):
            for ticket in self._zenpy.tickets(external_id=key):
                return int(ticket.id)
        return None

    def update_ticket(
        self,
        ticket_id: int,
        draft: TicketDraft,
        note: str | None,
        attachments: Sequence[Attachment],
        note_key: str | None = None,
    ) -> None:
        """One update: a private note (what changed, then the whole picture), fields, tags.

        Tags are added and removed rather than replaced, so an agent's own tags stay.
        Raises `TicketClosed` when the ticket is closed: then open a follow-up.
        `note_key` marks the note (see the module's docstring): the update is made once.
        """
        marker = note_key or note_marker(draft.note_text + "\0" + (note or ""))
        if self._settled(ticket_id, marker):
            return
        tokens = self._upload(attachments)
        unwanted = [t for t in self.names.managed_tags() if t not in draft.tags]
        ticket = Ticket(
            id=ticket_id,
            comment=self._note(draft, note, tokens),
            custom_fields=self._custom_fields(draft),
        )
        if draft.subject:  # an empty one keeps the ticket's (the desk's, in annotate mode)
            ticket.subject = draft.subject
        ticket.additional_tags = list(draft.tags)
        ticket.remove_tags = unwanted
        self._update_once(ticket, ticket_id, marker)

    def has_note(self, ticket_id: int, key: str) -> bool:
        """Whether an update marked `key` is on the ticket (its audits, newest first)."""
        with _mapped(f"read the audits of ticket {ticket_id}"):
            audits = list(self._zenpy.tickets.audits(ticket=ticket_id))
        for audit in reversed(audits):
            metadata = getattr(audit, "metadata", None)
            custom = getattr(metadata, "custom", None) if metadata is not None else None
            if isinstance(custom, dict) and custom.get(NOTE_MARKER) == key:
                return True
        return False

    def _settled(self, ticket_id: int, marker: str) -> bool:
        """A marked update whose answer was lost earlier: is it on the ticket after all?"""
        if (ticket_id, marker) not in self._in_doubt:
            return False
        if self.has_note(ticket_id, marker):
            self._in_doubt.discard((ticket_id, marker))
            return True
        self._in_doubt.discard((ticket_id, marker))
        return False

    def _update_once(self, ticket: Ticket, ticket_id: int, marker: str) -> None:
        """PUT the update with its marker; a lost answer is checked, not blindly repeated."""
        ticket.metadata = {NOTE_MARKER: marker}
        try:
            with (
                _mapped(f"update ticket {ticket_id}"),
                self._session.call_options(guard=lambda: self.has_note(ticket_id, marker)),
            ):
                self._zenpy.tickets.update(ticket)
        except _AlreadyApplied:
            log.info(
                "ticket %d: the update whose answer was lost is there; not repeated", ticket_id
            )
        except DeskUnavailable:
            if self._session.in_doubt:
                self._in_doubt.add((ticket_id, marker))
            raise

    def ticket_status(self, ticket_id: int) -> str:
        with _mapped(f"read ticket {ticket_id}"):
            return str(self._zenpy.tickets(id=ticket_id).status)

    def amend(
        self,
        ticket_id: int,
        *,
        note: str | None = None,
        fields: Mapping[str, FieldValue] | None = None,
        add_tags: Sequence[str] = (),
        remove_tags: Sequence[str] = (),
        note_key: str | None = None,
        attachments: Sequence[Attachment] = (),
        status: str | None = None,
    ) -> None:
        """One update; with a note it is made once (marked `note_key`, else by its text).
        `attachments` are uploaded onto the note."""
        marker = (note_key or note_marker(note)) if note else None
        if marker is not None and self._settled(ticket_id, marker):
            return
        ticket = Ticket(id=ticket_id)
        if note:
            tokens = self._upload(attachments) if attachments else None
            ticket.comment = (
                Comment(body=note, public=False, uploads=tokens)
                if tokens
                else Comment(body=note, public=False)
            )
        if fields:
            ticket.custom_fields = [
                CustomField(id=self.names.field_ids[name], value="" if value is None else value)
                for name, value in fields.items()
                if name in self.names.field_ids
            ]
        if add_tags:
            ticket.additional_tags = list(add_tags)
        if remove_tags:
            ticket.remove_tags = [t for t in remove_tags if t not in add_tags]
        if status:
            ticket.status = status
        if marker is not None:
            self._update_once(ticket, ticket_id, marker)
            return
        with _mapped(f"update ticket {ticket_id}"):
            self._zenpy.tickets.update(ticket)

    # --- beside the desk's email channel ([zendesk] mode = "annotate") -----------------

    def find_email_ticket(self, email: EmailRef) -> int | None:
        """The ticket the desk's email channel made from `email` (or threaded it into).

        Zendesk keeps an email's Message-ID on the comment it made from it
        (`metadata.system.message_id`) and the sender as the ticket's requester; the
        search API indexes neither the Message-ID nor comment metadata, so: one search
        of the sender's newest tickets, then their comments, newest ticket first.
        Without a Message-ID match (an intake that drops it), a ticket from the same
        sender with the same subject, made from email at or after the email's date,
        is taken when it is the only one. Calls: 1 search + 1 per ticket looked at.
        """
        if not email.sender:
            return None
        with _mapped("search the requester's tickets"):
            found = self._zenpy.search(
                type="ticket",
                requester=email.sender,
                sort_by="created_at",
                sort_order="desc",
            )
            candidates = []
            for n, ticket in enumerate(found):
                if n >= SEARCH_DEPTH:
                    break
                candidates.append(ticket)
        by_subject = []
        for ticket in candidates:
            with _mapped(f"read the comments of ticket {ticket.id}"):
                ids = [_message_id(c) for c in self._zenpy.tickets.comments(ticket=ticket.id)]
            if email.message_id in ids:
                return int(ticket.id)
            if (
                not any(ids)
                and _same_subject(str(ticket.subject or ""), email.subject)
                and _made_after(str(ticket.created_at or ""), email.date)
            ):
                by_subject.append(int(ticket.id))
        return by_subject[0] if len(by_subject) == 1 else None

    def reply_public(
        self,
        ticket_id: int,
        text: str,
        html: str | None,
        attachments: Sequence[Attachment],
        key: str,
    ) -> None:
        """A public comment, made once (marked `key`): Zendesk emails it to the requester."""
        if self._settled(ticket_id, key):
            return
        tokens = self._upload(attachments)
        comment = (
            Comment(html_body=html, public=True, uploads=tokens)
            if html
            else Comment(body=text, public=True, uploads=tokens)
        )
        self._update_once(Ticket(id=ticket_id, comment=comment), ticket_id, key)

    def ticket_states(self, ticket_ids: Sequence[int]) -> dict[int, TicketState]:
        by_id = {fid: name for name, fid in self.names.field_ids.items()}
        out: dict[int, TicketState] = {}
        ids = list(dict.fromkeys(ticket_ids))
        for start in range(0, len(ids), 100):  # show_many takes 100 ids a call
            with _mapped("read tickets"):
                found = list(self._zenpy.tickets(ids=ids[start : start + 100]))
            for t in found:
                values = {
                    by_id[f["id"]]: f.get("value")
                    for f in t.custom_fields or []
                    if f.get("id") in by_id
                }
                out[int(t.id)] = TicketState(
                    int(t.id), str(t.status), values, tuple(t.tags or ()), str(t.updated_at or "")
                )
        return out

    def setup_fields(self, names: ZendeskNames) -> dict[str, int]:
        """Find the custom fields by title or create them; the stage dropdown gets its options."""
        with _mapped("list ticket fields"):
            existing = {f.title: f for f in self._zenpy.ticket_fields()}
        options = [{"name": label, "value": value} for label, value in names.stage_options()]
        ids: dict[str, int] = {}
        for name, (_, ftype) in FIELD_SPECS.items():
            title = names.title(name)
            found = existing.get(title)
            if found is not None and found.type != ftype:
                raise DeskRejected(
                    f"ticket field {title!r} exists with type {found.type}, "
                    f"not {ftype}; rename it or choose another title"
                )
            if found is None:
                spec = TicketField(
                    type=ftype, title=title, description=f"Filled by portbot ({name})"
                )
                if ftype == "tagger":
                    spec.custom_field_options = options
                with _mapped(f"create ticket field {title!r}"):
                    found = self._zenpy.ticket_fields.create(spec)
            elif ftype == "tagger":
                have = {o.value for o in found.custom_field_options or []}
                for option in options:
                    if option["value"] not in have:
                        with _mapped(f"add option {option['value']} to {title!r}"):
                            self._zenpy.ticket_fields.create_or_update(
                                found, CustomFieldOption(**option)
                            )
            ids[name] = int(found.id)
        return ids

    def setup_views(self, specs: Sequence[ViewSpec]) -> list[tuple[str, int, bool]]:
        """Find each view by title or create it: (title, id, created) per view, in order.

        A view found is left as an admin may have changed it (columns, order, who sees
        it); a second run creates nothing."""
        with _mapped("list views"):
            existing = {v.title: v for v in self._zenpy.views()}
        out: list[tuple[str, int, bool]] = []
        for spec in specs:
            found = existing.get(spec.title)
            created = found is None
            if found is None:
                with _mapped(f"create view {spec.title!r}"):
                    found = self._zenpy.views.create(View(**spec.as_json()))
                existing[spec.title] = found
            out.append((spec.title, int(found.id), created))
        return out
