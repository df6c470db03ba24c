"""The Mailer port and its SMTP adapter (smtplib).

`SmtpMailer.send` opens one connection per message (replies are few; a pooled
connection would only add failure modes), always over TLS with verified
certificates: implicit TLS (port 465) or STARTTLS (587), never plain text, and
logs in when a username is given. The password is a value: the configuration
reads it from the environment or a file at the edge and passes it in.

Library errors are mapped once, here, into the bot's tree:
`MailUnavailable` (transient: connection, timeout, 4xx; retry later) and
`MailRejected` (permanent: 5xx, bad credentials, a certificate that does not
verify, a server without STARTTLS; a person must look).

A send that fails *after* the server may have accepted the message (the
connection drops while waiting for the reply to DATA) is reported as
`MailUnavailable`; the retry then carries the same Message-ID, which is how the
receiving side and our own mailbox copy recognise the duplicate.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Literal

from bot.config import check_endpoint
from bot.errors import MailRejected, MailUnavailable, PartiallyRefused


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 587
    # "tls": TLS from the first byte (465); "starttls": plain, then STARTTLS (587);
    # "plain": no TLS, allowed only for a server on loopback (check_endpoint).
    security: Literal["tls", "starttls", "plain"] = "starttls"
    ca_file: str = ""  # an extra CA to trust (a self-signed server); system CAs otherwise
    username: str = ""
    password: str = field(default="", repr=False)
    timeout_seconds: float = 60.0
    local_hostname: str | None = None  # the EHLO name; the machine's FQDN when None
    envelope_from: str = ""  # MAIL FROM; the message's From address when empty

    def __post_init__(self) -> None:
        check_endpoint(self.host, self.security, self.port, self.timeout_seconds)
        if self.username and not self.password:
            raise ValueError("a username needs a password")


def _code_error(what: str, code: int, text: bytes | str) -> MailUnavailable | MailRejected:
    reply = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    message = f"{what}: {code} {reply}".strip()
    if 400 <= code < 500:
        return MailUnavailable(message, code)
    return MailRejected(message, code)


def _refused_error(refused: Mapping[str, tuple[int, bytes]]) -> MailUnavailable | MailRejected:
    codes = [code for code, _ in refused.values()]
    listing = ", ".join(f"{addr} ({code})" for addr, (code, _) in refused.items())
    if codes and all(400 <= c < 500 for c in codes):
        return MailUnavailable(f"recipients deferred: {listing}", codes[0])
    return MailRejected(
        f"recipients refused: {listing}", next((c for c in codes if c >= 500), None)
    )


@contextmanager
def map_smtp_errors(host: str) -> Iterator[None]:
    """smtplib/ssl/socket errors -> MailUnavailable / MailRejected."""
    try:
        yield
    except (MailUnavailable, MailRejected):
        raise
    except smtplib.SMTPRecipientsRefused as exc:
        raise _refused_error(exc.recipients) from exc
    except smtplib.SMTPAuthenticationError as exc:
        raise _code_error(
            f"{host}: login refused (check [smtp] username and the password in its "
            "password_env variable or password_file)",
            exc.smtp_code,
            exc.smtp_error,
        ) from exc
    except smtplib.SMTPSenderRefused as exc:
        raise _code_error(
            f"{host}: sender {exc.sender} refused", exc.smtp_code, exc.smtp_error
        ) from exc
    except smtplib.SMTPResponseException as exc:  # SMTPDataError, SMTPHeloError, ...
        raise _code_error(f"{host}: {type(exc).__name__}", exc.smtp_code, exc.smtp_error) from exc
    except smtplib.SMTPNotSupportedError as exc:
        raise MailRejected(f"{host}: {exc}") from exc
    except ssl.SSLCertVerificationError as exc:
        why = getattr(exc, "verify_message", None) or exc
        raise MailRejected(
            f"{host}: the server's certificate does not verify: {why}; set [smtp] ca_file "
            "to the CA or certificate (PEM) if it is a private CA"
        ) from exc
    except ssl.SSLError as exc:
        raise MailRejected(
            f"{host}: the TLS handshake failed ({exc.reason or exc}): check [smtp] port and "
            'security ("tls": TLS from the first byte, usually 465; "starttls": usually 587)'
        ) from exc
    except smtplib.SMTPServerDisconnected as exc:
        raise MailUnavailable(f"{host}: the server closed the connection: {exc}") from exc
    except smtplib.SMTPException as exc:
        raise MailUnavailable(f"{host}: {type(exc).__name__}: {exc}") from exc
    except OSError as exc:  # ssl.SSLError, timeouts, refused connections
        raise MailUnavailable(f"{host}: {type(exc).__name__}: {exc}") from exc


class SmtpMailer:
    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def _context(self) -> ssl.SSLContext:
        # create_default_context: certificate and host name verified, modern protocols only.
        return ssl.create_default_context(cafile=self.settings.ca_file or None)

    @contextmanager
    def _connect(self) -> Iterator[smtplib.SMTP]:
        s = self.settings
        context = self._context()
        smtp: smtplib.SMTP
        if s.security == "tls":
            smtp = smtplib.SMTP_SSL(
                s.host,
                s.port,
                local_hostname=s.local_hostname,
                timeout=s.timeout_seconds,
                context=context,
            )
        else:
            smtp = smtplib.SMTP(
                s.host, s.port, local_hostname=s.local_hostname, timeout=s.timeout_seconds
            )
        try:
            smtp.ehlo()
            if s.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise MailRejected(
                        f"{s.host}: the server does not offer STARTTLS; portbot does not "
                        'send mail unencrypted: set [smtp] security = "tls" (usually port '
                        '465) if it speaks TLS from the first byte ("plain" only on loopback)'
                    )
                smtp.starttls(context=context)
                smtp.ehlo()
            if s.username:
                smtp.login(s.username, s.password)
            yield smtp
        finally:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()

    def probe(self) -> str:
        """Connect, EHLO, STARTTLS or TLS, log in, quit: what was done, in words."""
        s = self.settings
        with map_smtp_errors(s.host), self._connect() as smtp:
            steps = ["connected", "EHLO"]
            if s.security == "starttls":
                steps.append("STARTTLS")
            elif s.security == "tls":
                steps.insert(1, "TLS")
            if s.username:
                steps.append(f"logged in as {s.username}")
            size = smtp.esmtp_features.get("size", "")
            return ", ".join(steps) + (f" (size limit {size})" if size else "")

    def send(
        self,
        message: EmailMessage | bytes,
        recipients: Sequence[str] | None = None,
        sender: str | None = None,
    ) -> None:
        s = self.settings
        from_addr = s.envelope_from or sender or None
        if isinstance(message, bytes) and (not recipients or not from_addr):
            raise ValueError("raw bytes need their recipients and a sender")
        with map_smtp_errors(s.host), self._connect() as smtp:
            if isinstance(message, bytes):
                assert from_addr is not None and recipients
                refused = smtp.sendmail(from_addr, list(recipients), message)
            else:
                refused = smtp.send_message(
                    message,
                    from_addr=from_addr,
                    to_addrs=list(recipients) if recipients is not None else None,
                )
            if refused:
                # Some recipients took it: the reply is out. Those refused are reported,
                # and a retry would send the others a second copy.
                raise PartiallyRefused(_refused_error(refused).args[0], dict(refused))


__all__ = ["SmtpMailer", "SmtpSettings", "map_smtp_errors"]
