"""The bot's exception tree: the one place a failure says whether waiting helps.

Adapters map their library's errors into it once (bot/adapters/*); the pipeline acts
on the base class alone: a `Transient` failure waits for a later cycle and loses
nothing, a `Permanent` one is quarantined or reported with its reason.

    PortbotError
    ├── ConfigError              the configuration is wrong: say what and where
    ├── StateError               the state file cannot be used (bot/adapters/sqlite_state.py)
    ├── Transient                waiting helps: retry in a later cycle
    │   ├── MailboxError             IMAP (bot/adapters/imap.py)
    │   │   ├── MailboxAuthError         login refused, credentials missing
    │   │   └── MailboxGone              a folder or message that does not exist
    │   ├── DeskUnavailable          Zendesk down, slow or rate limiting (retry_after)
    │   ├── MailUnavailable          the SMTP server cannot take the mail now
    │   ├── SandboxUnavailable       no document reader could be started
    │   ├── PartnerUnavailable       the carrier partner's API is down, slow or rate limiting
    │   └── DeliveryDeferred         a hand-on waits (an outage, a rate budget)
    └── Permanent                waiting does not help: a person must look
        ├── DeskRejected             Zendesk refused the request (4xx but 429)
        │   └── TicketClosed             the ticket is closed: open a follow-up instead
        ├── MailRejected             the SMTP server refused the mail for good
        │   └── PartiallyRefused         some recipients got it: never resend
        ├── DeliveryRefused          a hand-on refused for good: quarantine
        └── PartnerRejected          the carrier partner refused the call (4xx but 429)

    parsers.errors.ParseError    input that cannot be read (the pure side's own tree)
    ├── NotAnEmail, MessageTooLarge
    └── DocumentError            an attachment: becomes a note, never a crash
        ├── EncryptedDocument
        └── LimitExceeded

The stand-ins have their own (bot.standins.localmail.LocalMailError).
"""

from __future__ import annotations

from parsers.errors import ParseError


class PortbotError(Exception):
    """Base of the bot's own errors."""


class ConfigError(PortbotError):
    """Configuration that cannot be used; the message names the key."""


class StateError(PortbotError):
    """The state file cannot be opened or is not portbot's."""


class Transient(PortbotError):
    """Waiting helps: the work is retried in a later cycle, nothing is lost."""


class Permanent(PortbotError):
    """Waiting does not help: quarantine or report, saying why."""


# -- transient ------------------------------------------------------------------------


class MailboxError(Transient):
    """The mailbox cannot be used now (network, server); retried next cycle."""


class MailboxAuthError(MailboxError):
    """Login refused or credentials missing: the next cycle tries again, a person must fix."""


class MailboxGone(MailboxError):
    """A folder or message that does not exist."""


class DeskUnavailable(Transient):
    """Zendesk is down, slow or rate limiting beyond our patience: retry the message later."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class MailUnavailable(Transient):
    """The mail server cannot take the message now (down, 4xx, timeout): retry later."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class SandboxUnavailable(Transient):
    """A worker process could not be started: nothing was read (retry the message later)."""


class DeliveryDeferred(Transient):
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


# -- permanent ------------------------------------------------------------------------


class DeskRejected(Permanent):
    """Zendesk refused the request (4xx other than 429): retrying will not help."""

    def __init__(self, message: str, status: int | None = None, error: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error


class TicketClosed(DeskRejected):
    """The ticket is closed and takes no more updates; a follow-up ticket is needed."""


class MailRejected(Permanent):
    """The mail server refused the message for good (5xx, bad credentials, TLS not
    verifiable): retrying will not help; a person must look."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class PartiallyRefused(MailRejected):
    """The message went to some recipients; `refused` names the others. Do not resend."""

    def __init__(self, message: str, refused: dict[str, tuple[int, bytes]]) -> None:
        super().__init__(message)
        self.refused = refused


class DeliveryRefused(Permanent):
    """A sink can never do its part for this message: quarantine it, saying why."""


class PartnerUnavailable(Transient):
    """The carrier partner's API cannot answer now (5xx, 429, no connection)."""


class PartnerRejected(Permanent):
    """The carrier partner refused the call for good; `status` and `code` are its own."""

    def __init__(self, message: str, status: int = 0, code: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


__all__ = [
    "ConfigError",
    "DeliveryDeferred",
    "DeliveryRefused",
    "DeskRejected",
    "DeskUnavailable",
    "MailRejected",
    "MailUnavailable",
    "MailboxAuthError",
    "MailboxError",
    "MailboxGone",
    "ParseError",
    "PartiallyRefused",
    "PartnerRejected",
    "PartnerUnavailable",
    "Permanent",
    "PortbotError",
    "SandboxUnavailable",
    "StateError",
    "TicketClosed",
    "Transient",
]
