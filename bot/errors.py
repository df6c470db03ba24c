"""The bot's exception tree (adapters map library errors into it).

Transient (retry later) versus permanent (quarantine, tell a person) is decided
once, at the adapter that raises; the intake acts on the class alone.

    PortbotError
    ├── ConfigError          the configuration is wrong: say what and where
    ├── StateError           the state file (bot/adapters/sqlite_state.py)
    ├── LocalMailError       the demo's local dovecot (bot/standins/localmail.py)
    ├── MailboxError         IMAP (bot/adapters/imap.py): transient
    │   ├── MailboxAuthError     login refused
    │   └── MailboxGone          a folder is missing
    ├── DeskUnavailable      the ticket desk cannot be reached now: retry later (transient)
    ├── DeskRejected         the ticket desk refused the request: a person must look (permanent)
    │   └── TicketClosed     the ticket is closed: open a follow-up instead
    ├── MailUnavailable      the SMTP server cannot take the mail now: retry later (transient)
    ├── MailRejected         the SMTP server refused the mail: a person must look (permanent)
    │   └── PartiallyRefused     some recipients got it: never resend (bot/adapters/smtp.py)
    ├── DeliveryDeferred     a hand-on waits for a later cycle (bot/pipeline/intake.py)
    └── DeliveryRefused      a hand-on refused for good: quarantine (bot/pipeline/intake.py)

    parsers.errors.ParseError    input that cannot be read (the pure side's own tree)
    ├── NotAnEmail, MessageTooLarge
    └── DocumentError            an attachment: becomes a note, never a crash
        ├── EncryptedDocument
        └── LimitExceeded
"""

from __future__ import annotations

from parsers.errors import ParseError


class PortbotError(Exception):
    """Base of the bot's own errors."""


class ConfigError(PortbotError):
    """Configuration that cannot be used; the message names the key."""


class DeskUnavailable(PortbotError):
    """Zendesk is down, slow or rate limiting beyond our patience: retry the message later."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DeskRejected(PortbotError):
    """Zendesk refused the request (4xx other than 429): retrying will not help."""

    def __init__(self, message: str, status: int | None = None, error: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error


class TicketClosed(DeskRejected):
    """The ticket is closed and takes no more updates; a follow-up ticket is needed."""


__all__ = [
    "ConfigError",
    "DeskRejected",
    "DeskUnavailable",
    "MailRejected",
    "MailUnavailable",
    "ParseError",
    "PortbotError",
    "TicketClosed",
]


class MailUnavailable(PortbotError):
    """The mail server cannot take the message now (down, 4xx, timeout): retry later."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class MailRejected(PortbotError):
    """The mail server refused the message for good (5xx, bad credentials, TLS not
    verifiable): retrying will not help; a person must look."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class SandboxUnavailable(PortbotError):
    """A worker process could not be started: nothing was read (retry the message later)."""


class DeliveryDeferred(PortbotError):
    """A sink cannot do its part now (an outage, a rate budget): try again next cycle.

    `everything`: nothing else can be handed on this cycle either (the desk is down),
    so the other pending hand-ons wait without being assessed again. `service`: the
    service that is out ("Zendesk", "the mail server"), when an outage is the reason
    (a rate budget is not one).
    """

    def __init__(self, message: str, *, everything: bool = False, service: str = "") -> None:
        super().__init__(message)
        self.everything = everything
        self.service = service


class DeliveryRefused(PortbotError):
    """A sink can never do its part for this message: quarantine it, saying why."""


class MailboxError(PortbotError):
    """The mailbox cannot be used now (network, server); retried next cycle."""


class MailboxAuthError(MailboxError):
    """Login refused or credentials missing: retrying will not help."""


class MailboxGone(MailboxError):
    """A folder or message that does not exist."""


class StateError(PortbotError):
    """The state file cannot be opened or is not portbot's."""


class PartiallyRefused(MailRejected):
    """The message went to some recipients; `refused` names the others. Do not resend."""

    def __init__(self, message: str, refused: dict[str, tuple[int, bytes]]) -> None:
        super().__init__(message)
        self.refused = refused
