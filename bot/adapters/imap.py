"""The Mailbox port and its one real adapter, IMAP with imapclient.

Errors are mapped here, once, into the bot's tree:

    PortbotError
    └── MailboxError            the mailbox cannot be used now; the message says why
        ├── MailboxAuthError    login refused or no credentials: a person must act
        └── MailboxGone         a folder or message that is not there (permanent)

Everything else an IMAP library or socket raises becomes a plain MailboxError,
which the intake treats as transient: the cycle stops, nothing is marked done, the
next cycle starts again from the state store.
"""

from __future__ import annotations

import logging
import os
import ssl
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

from imapclient import IMAPClient
from imapclient.exceptions import CapabilityError, IMAPClientError, LoginError

from bot.config import ImapConfig, read_secret
from bot.errors import MailboxAuthError, MailboxError, MailboxGone
from bot.ports import Envelope, FolderStatus

log = logging.getLogger("portbot.mailbox")

T = TypeVar("T")


def imap_secret(config: ImapConfig, environ: Mapping[str, str]) -> str:
    """The password or OAuth2 access token, from where the configuration points."""
    if config.auth == "xoauth2":
        if config.oauth2_token_file:
            return read_secret(
                "imap", "oauth2_token_file", config.oauth2_token_file, "", "", {}, MailboxAuthError
            )
        try:
            done = subprocess.run(
                list(config.oauth2_token_command),
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise MailboxAuthError(f"[imap] oauth2_token_command could not run: {exc}") from exc
        token = done.stdout.strip().splitlines()[0].strip() if done.stdout.strip() else ""
        if done.returncode != 0 or not token:
            # stderr of a token helper may hold secrets: say only that it failed
            raise MailboxAuthError(
                f"[imap] oauth2_token_command exited with {done.returncode} and no token"
            )
        return token
    return read_secret(
        "imap",
        "password_file",
        config.password_file,
        config.password_env,
        "IMAP password",
        environ,
        MailboxAuthError,
    )


@contextmanager
def _mapped(what: str) -> Iterator[None]:
    """Library and socket errors become MailboxError, naming the operation."""
    try:
        yield
    except MailboxError:
        raise
    except LoginError as exc:
        raise MailboxAuthError(f"{what}: login refused: {_text(exc)}") from exc
    except ssl.SSLCertVerificationError as exc:
        raise MailboxAuthError(
            f"{what}: the server's certificate is not trusted ({exc.verify_message}); "
            "set [imap] ca_file to the CA or certificate (PEM) if it is a private CA"
        ) from exc
    except CapabilityError as exc:
        raise MailboxAuthError(
            f"{what}: the server does not offer STARTTLS ({_text(exc)}); "
            'set [imap] security = "tls" (usually port 993) if it speaks TLS from the '
            'first byte; "plain" (no TLS) is allowed only for a server on this machine'
        ) from exc
    except ssl.SSLError as exc:
        raise MailboxAuthError(
            f"{what}: the TLS handshake failed ({exc.reason or exc}): check [imap] port and "
            'security ("tls": TLS from the first byte, usually 993; "starttls": usually 143)'
        ) from exc
    except (IMAPClientError, OSError, EOFError) as exc:
        raise MailboxError(f"{what}: {type(exc).__name__}: {_text(exc)}") from exc


def _text(exc: BaseException) -> str:
    """The server's words: bytes decoded (b'[AUTHENTICATIONFAILED] ...' reads as text)."""
    parts = [
        a.decode("utf-8", "replace") if isinstance(a, bytes) else str(a)
        for a in exc.args
        if a not in (None, b"", "")
    ]
    text = " ".join(parts) if parts else str(exc)
    if text.startswith(("b'", 'b"')) and text[-1:] in "'\"":
        text = text[2:-1]
    return text[:300] if text else type(exc).__name__


def _how_to_log_in(config: ImapConfig) -> str:
    """The setting or variable a refused login asks a person to fix."""
    if config.auth == "xoauth2":
        source = (
            f"[imap] oauth2_token_file ({config.oauth2_token_file})"
            if config.oauth2_token_file
            else "[imap] oauth2_token_command"
        )
        return f"check [imap] username ({config.username!r}) and the token from {source}"
    source = (
        f"[imap] password_file ({config.password_file})"
        if config.password_file
        else f"the environment variable {config.password_env}"
    )
    return f"check [imap] username ({config.username!r}) and the password in {source}"


_BATCH_BYTES = 8 * 1024 * 1024
_BATCH_COUNT = 100


class ImapMailbox:
    """One logged-in IMAP connection. Bodies are fetched with BODY.PEEK: \\Seen is left alone.

    `readonly` (`--dry-run`): folders are opened with EXAMINE and nothing is moved, so
    the server's flags and folders stay exactly as they were.
    """

    def __init__(self, client: IMAPClient, readonly: bool = False) -> None:
        self._client = client
        self._selected: str | None = None
        self.readonly = readonly
        self.would_move: list[tuple[str | None, int, str]] = []  # readonly: (from, uid, to)

    @classmethod
    def connect(cls, config: ImapConfig, secret: str, readonly: bool = False) -> ImapMailbox:
        if not config.host:
            raise MailboxError("[imap] host is not set")
        # imapclient logs every line it exchanges at DEBUG (whole messages, PINs and all)
        # and its logins at INFO: never below INFO, and no quieter than the bot itself.
        wire = logging.getLogger("imapclient")
        wire.setLevel(max(logging.INFO, logging.getLogger().getEffectiveLevel()))
        if config.security == "plain":
            log.warning(
                'IMAP %s:%s without TLS ([imap] security = "plain"): loopback only',
                config.host,
                config.port,
            )
        context = ssl.create_default_context(cafile=config.ca_file or None)
        if config.ca_file:
            context.load_default_certs()
        where = f"IMAP {config.host}:{config.port}"
        with _mapped(where):
            client = IMAPClient(
                config.host,
                port=config.port,
                ssl=config.security == "tls",
                ssl_context=context,
                timeout=config.timeout_seconds,
            )
            try:
                if config.security == "starttls":
                    client.starttls(context)
                try:
                    if config.auth == "xoauth2":
                        client.oauth2_login(config.username, secret)
                    else:
                        client.login(config.username, secret)
                except LoginError as exc:
                    raise MailboxAuthError(
                        f"{where}: login refused: {_text(exc)}; {_how_to_log_in(config)}"
                    ) from exc
            except BaseException:
                _quietly(client.shutdown)
                raise
        log.debug(
            "connected to %s as %s%s", where, config.username, " (read-only)" if readonly else ""
        )
        return cls(client, readonly)

    def select(self, folder: str) -> FolderStatus:
        with _mapped(f"select {folder}"):
            if not self._client.folder_exists(folder):
                raise MailboxGone(f"folder {folder!r} does not exist")
            info = self._client.select_folder(folder, readonly=self.readonly)
        self._selected = folder
        return FolderStatus(
            int(info[b"UIDVALIDITY"]), int(info.get(b"UIDNEXT", 0)), int(info.get(b"EXISTS", 0))
        )

    def uids_from(self, first_uid: int) -> list[int]:
        with _mapped(f"search {self._selected}"):
            found = self._client.search(["UID", f"{max(first_uid, 1)}:*"])
        # "n:*" always matches the last message, even when its UID is below n
        return sorted(int(u) for u in found if int(u) >= first_uid)

    def envelopes(self, uids: Sequence[int]) -> list[Envelope]:
        out: list[Envelope] = []
        for start in range(0, len(uids), 500):
            chunk = list(uids[start : start + 500])
            with _mapped(f"fetch headers from {self._selected}"):
                data = self._client.fetch(chunk, ["RFC822.SIZE", "BODY.PEEK[HEADER]"])
            for uid in chunk:
                item = data.get(uid)
                if item is None:  # expunged meanwhile
                    continue
                out.append(Envelope(uid, int(item[b"RFC822.SIZE"]), bytes(item[b"BODY[HEADER]"])))
        return out

    def bodies(self, uids: Sequence[int]) -> dict[int, bytes]:
        with _mapped(f"fetch from {self._selected}"):
            data = self._client.fetch(list(uids), ["BODY.PEEK[]"])
        return {int(uid): bytes(item[b"BODY[]"]) for uid, item in data.items() if b"BODY[]" in item}

    def find(self, folder: str, message_id: str | None, size: int) -> list[int]:
        self.select(folder)
        criteria: list[Any] = (
            ["HEADER", "Message-ID", message_id]
            if message_id
            else ["LARGER", str(size - 1), "SMALLER", str(size + 1)]
        )
        with _mapped(f"search {folder}"):
            return sorted(int(u) for u in self._client.search(criteria))

    def move(self, uids: Sequence[int], folder: str) -> None:
        if not uids:
            return
        if self.readonly:
            self.would_move.extend((self._selected, uid, folder) for uid in uids)
            return
        with _mapped(f"move to {folder}"):
            if not self._client.folder_exists(folder):
                self._client.create_folder(folder)
            if self._client.has_capability("MOVE"):
                self._client.move(list(uids), folder)
            else:
                self._client.copy(list(uids), folder)
                self._client.delete_messages(list(uids))
                self._client.uid_expunge(list(uids)) if self._client.has_capability(
                    "UIDPLUS"
                ) else self._client.expunge()

    def delete(self, folder: str, uids: Sequence[int]) -> None:
        """Remove messages for good (doctor's own round-trip test message)."""
        if not uids or self.readonly:
            return
        self.select(folder)
        with _mapped(f"delete from {folder}"):
            self._client.delete_messages(list(uids))
            if self._client.has_capability("UIDPLUS"):
                self._client.uid_expunge(list(uids))
            else:
                self._client.expunge()

    def folders(self) -> list[str]:
        with _mapped("list folders"):
            return [str(name) for _flags, _sep, name in self._client.list_folders()]

    def can_idle(self) -> bool:
        with _mapped("capabilities"):
            return bool(self._client.has_capability("IDLE"))

    def wait_for_news(self, folder: str, seconds: float, stop: Callable[[], bool]) -> bool:
        self.select(folder)
        with _mapped(f"IDLE on {folder}"):
            self._client.idle()
            try:
                waited = 0.0
                while waited < seconds and not stop():
                    responses = self._client.idle_check(timeout=1)
                    waited += 1
                    if any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses):
                        return True
                return False
            finally:
                self._client.idle_done()

    def close(self) -> None:
        _quietly(self._client.logout)


def _quietly(action: Callable[[], object]) -> None:
    with suppress(IMAPClientError, OSError, EOFError):
        action()


def connect_from_config(
    config: ImapConfig, environ: Mapping[str, str] | None = None, *, readonly: bool = False
) -> ImapMailbox:
    """The composition root's way in: secret read at the edge, then connected."""
    secret = imap_secret(config, os.environ if environ is None else environ)
    return ImapMailbox.connect(config, secret, readonly)
