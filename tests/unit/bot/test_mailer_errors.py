"""SMTP errors mapped once, at the adapter: transient or permanent (bot/adapters/smtp.py)."""

from __future__ import annotations

import smtplib
import ssl

import pytest

from bot.adapters.smtp import SmtpSettings, map_smtp_errors
from bot.errors import MailRejected, MailUnavailable


def _raised(exc: BaseException) -> BaseException:
    with pytest.raises((MailRejected, MailUnavailable)) as info, map_smtp_errors("mx"):
        raise exc
    return info.value


def test_a_4xx_reply_is_worth_retrying_and_a_5xx_is_not() -> None:
    assert isinstance(_raised(smtplib.SMTPDataError(451, b"later")), MailUnavailable)
    assert isinstance(_raised(smtplib.SMTPDataError(554, b"no")), MailRejected)
    assert isinstance(_raised(smtplib.SMTPSenderRefused(553, b"no", "a@b")), MailRejected)


def test_refused_recipients_are_transient_only_when_all_are_deferred() -> None:
    deferred = smtplib.SMTPRecipientsRefused({"a@b": (450, b"busy")})
    assert isinstance(_raised(deferred), MailUnavailable)
    mixed = smtplib.SMTPRecipientsRefused({"a@b": (450, b"busy"), "c@d": (550, b"no user")})
    assert isinstance(_raised(mixed), MailRejected)


def test_bad_credentials_and_unverifiable_certificates_need_a_person() -> None:
    assert isinstance(_raised(smtplib.SMTPAuthenticationError(535, b"bad")), MailRejected)
    assert isinstance(_raised(ssl.SSLCertVerificationError("bad cert")), MailRejected)
    assert isinstance(_raised(smtplib.SMTPNotSupportedError("no AUTH")), MailRejected)


def test_a_dropped_connection_or_timeout_is_transient() -> None:
    assert isinstance(_raised(smtplib.SMTPServerDisconnected("gone")), MailUnavailable)
    assert isinstance(_raised(TimeoutError("slow")), MailUnavailable)
    assert isinstance(_raised(ConnectionRefusedError("down")), MailUnavailable)


def test_settings_refuse_contradictions() -> None:
    with pytest.raises(ValueError, match="security"):
        SmtpSettings(host="h", security="plain")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="password"):
        SmtpSettings(host="h", username="u")
