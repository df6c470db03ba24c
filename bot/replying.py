"""The auto-reply's parts built from the configuration ([smtp], [reply]), secrets
read at the edge: the SMTP password from password_file, else the variable
password_env. Nothing here connects; `copy_finder` connects when asked."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from bot.config import ReplyConfig, SmtpConfig
from bot.errors import ConfigError, MailUnavailable
from bot.mailbox import Mailbox, MailboxError
from bot.mailer import SmtpSettings
from bot.replier import ReplySettings
from rules.reply import Ours


def smtp_password(config: SmtpConfig, environ: Mapping[str, str] | None = None) -> str:
    """The first line of password_file, else the variable password_env ('' without a login)."""
    if not config.username:
        return ""
    if config.password_file:
        try:
            lines = Path(config.password_file).read_text(encoding="utf-8").strip().splitlines()
        except OSError as exc:
            raise ConfigError(
                f"[smtp] password_file {config.password_file}: {exc.strerror}"
            ) from exc
        if not lines or not lines[0].strip():
            raise ConfigError(f"[smtp] password_file {config.password_file} is empty")
        return lines[0].strip()
    password = (os.environ if environ is None else environ).get(config.password_env, "")
    if not password:
        raise ConfigError(
            f"no SMTP password: set the environment variable "
            f"{config.password_env} or [smtp] password_file"
        )
    return password


def smtp_settings(config: SmtpConfig, environ: Mapping[str, str] | None = None) -> SmtpSettings:
    try:
        return SmtpSettings(
            host=config.host,
            port=config.port,
            security="tls" if config.security == "tls" else "starttls",
            ca_file=config.ca_file,
            username=config.username,
            password=smtp_password(config, environ),
            timeout_seconds=config.timeout_seconds,
            envelope_from=config.envelope_from,
        )
    except ValueError as exc:
        raise ConfigError(f"[smtp] {exc}") from exc


def reply_settings(config: ReplyConfig) -> ReplySettings:
    try:
        return ReplySettings(
            support_address=config.support_address,
            support_name=config.support_name,
            domain=config.message_domain,
            own_addresses=frozenset(a.lower() for a in config.own_addresses),
            internal_domains=frozenset(d.lower() for d in config.internal_domains),
            daily_cap=config.daily_cap,
            copy_to=config.copy_to,
        )
    except ValueError as exc:
        raise ConfigError(f"[reply] {exc}") from exc


def ours_of(settings: ReplySettings) -> Ours:
    """What `rules.reply` recognises as our own mail."""
    return Ours.of([settings.domain], settings.ours)


def copy_finder(connect: Callable[[], Mailbox], folder: str) -> Callable[[str], bool]:
    """Is our copy of the reply with this Message-ID in `folder`? (evidence it went out)

    When the mailbox cannot be asked, the answer is not "no" (that would resend):
    the delivery waits (MailUnavailable) for the next cycle.
    """

    def found(message_id: str) -> bool:
        try:
            mailbox = connect()
            try:
                return bool(mailbox.find(folder, message_id, 0))
            finally:
                mailbox.close()
        except MailboxError as exc:
            raise MailUnavailable(
                f"cannot look for our copy of {message_id} in {folder}: {exc}"
            ) from exc

    return found


__all__ = ["copy_finder", "ours_of", "reply_settings", "smtp_password", "smtp_settings"]
