"""The auto-reply through a real SMTP server on loopback (aiosmtpd, started here):
STARTTLS with a self-signed certificate made for the test, AUTH, implicit TLS;
what is delivered, what never is, and no second copy after a crash."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import json
import re
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bot.adapters.smtp import SmtpMailer, SmtpSettings
from bot.cli.assess import assess_files
from bot.config import Config
from bot.errors import MailRejected, MailUnavailable
from bot.pipeline.reading import assess_messages
from bot.pipeline.reply_sink import MemoryLedger, Replier, ReplySettings
from bot.ports import ReplyRecord
from parsers.email import parse_message
from rules.assessment import Assessment
from tests.reply_cases import HUMAN_CASES, LOOP_CASES, OUR_DOMAIN, SUPPORT

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "emails"
USER, PASSWORD = "portbot", "s3cret-pass"
NOW = dt.datetime(2026, 11, 27, 9, 30, tzinfo=dt.UTC)


# --- the server ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "portbot test SMTP")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@dataclass
class Delivered:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Inbox:
    """The server's handler: keeps every delivered message; can defer the next ones."""

    delivered: list[Delivered] = field(default_factory=list)
    defer_next: int = 0  # answer this many DATA commands with 451

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.defer_next:
            self.defer_next -= 1
            return "451 4.3.0 try again later"
        self.delivered.append(
            Delivered(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                bytes(envelope.original_content or envelope.content),
            )
        )
        return "250 2.0.0 OK"

    def to(self, address: str) -> list[Delivered]:
        return [d for d in self.delivered if address in d.rcpt_tos]


def _authenticate(
    server: Any, session: Any, envelope: Any, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    inbox: Inbox
    port: int
    cert_file: Path


@pytest.fixture
def starttls_server(cert: tuple[Path, Path]) -> Iterator[Server]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*cert)
    inbox, port = Inbox(), _free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=_authenticate,
    )
    controller.start()
    try:
        yield Server(inbox, port, cert[0])
    finally:
        controller.stop()


@pytest.fixture
def tls_server(cert: tuple[Path, Path]) -> Iterator[Server]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*cert)
    inbox, port = Inbox(), _free_port()
    # The whole connection is TLS; aiosmtpd only tracks STARTTLS, so it is told not to wait.
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        ssl_context=context,
        auth_required=True,
        auth_require_tls=False,
        authenticator=_authenticate,
    )
    controller.start()
    try:
        yield Server(inbox, port, cert[0])
    finally:
        controller.stop()


def _mailer(server: Server, **over: Any) -> SmtpMailer:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": server.port,
        "security": "starttls",
        "ca_file": str(server.cert_file),
        "username": USER,
        "password": PASSWORD,
        "timeout_seconds": 10,
        **over,
    }
    return SmtpMailer(SmtpSettings(**values))


SETTINGS = ReplySettings(
    support_address=SUPPORT,
    support_name="Lofty Porting Team",
    domain=OUR_DOMAIN,
    internal_domains=frozenset({OUR_DOMAIN}),
    daily_cap=3,
)


def _replier(server: Server, ledger: MemoryLedger | None = None, **kw: Any) -> Replier:
    return Replier(
        ledger or MemoryLedger(),
        kw.pop("mailer", None) or _mailer(server),
        kw.pop("settings", SETTINGS),
        now=lambda: NOW,
        read_email=parse_message,
        **kw,
    )


# --- fixture threads --------------------------------------------------------------------


def _thread(name: str) -> tuple[list[bytes], Assessment, dict[str, Any]]:
    folder = next(FIXTURES.glob(f"{name}*"))
    expected = json.loads((folder / "expected.json").read_text())
    paths = sorted(folder.glob("*.eml"))
    assessment = assess_files(paths, Config(), dt.date.fromisoformat(expected["today"]))
    return [p.read_bytes() for p in paths], assessment, expected


def _text(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert isinstance(part, EmailMessage)
    return " ".join(str(part.get_content()).split())


CASES = {
    "27-": ("incomplete", "Numbers missing from the LOA"),
    "01-": ("ready", "Next, our porting team submits the port"),
    "29-": ("follow_up_boss", "Numbers from Follow Up Boss follow a different porting process"),
    "31-": ("ready", "these 25 numbers from Comcast Business"),
    "14-": ("incomplete", "+1 876-927-4410 (Jamaica)"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_fixture_replies_are_delivered_threaded_and_free_of_secrets(
    starttls_server: Server, name: str
) -> None:
    raws, assessment, expected = _thread(name)
    customer = parse_message(raws[-1])
    result = _replier(starttls_server).handle("req-1", customer.message_id or "k", raws, assessment)
    assert result.outcome == "sent"
    [got] = starttls_server.inbox.delivered
    msg = got.message
    kind, phrase = CASES[name]
    assert msg["X-Portbot-Reply"] == kind
    assert str(msg["In-Reply-To"]).strip() == customer.message_id  # folded or not
    assert str(msg["References"]).split()[-1] == customer.message_id
    assert msg["Subject"] == "Re: " + re.sub(r"^(re|RE|Re):\s*", "", customer.subject)
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["X-Auto-Response-Suppress"] == "All"
    assert msg["Message-ID"] == result.message_id
    assert re.fullmatch(r"<portbot\.[0-9a-f]{32}@lofty\.com>", str(msg["Message-ID"]))
    assert got.mail_from == SUPPORT
    want = customer.forwarded_from if name == "31-" else customer.sender
    assert want in got.rcpt_tos and want in str(msg["To"])
    assert phrase in _text(msg)
    # The delivered bytes hold no PIN, no SSN digits, no whole account number.
    body = _text(msg) + " ".join(f"{k}: {v}" for k, v in msg.items())
    body = re.sub(
        r"\(\d{3}\) \d{3}-\d{4}|\+1 \d{3}-\d{3}-\d{4}|\d{4}-\d{2}-\d{2}|<[^>]+>", " ", body
    )
    request = expected["assessment"]["request"]
    for secret in [n["pin"] for n in request["numbers"] if n["pin"]] + [request["ssn_last4"]]:
        if secret:
            assert not re.search(rf"(?<!\d){secret}(?!\d)", body), name
    account = re.sub(r"[\s-]", "", request["account_number"] or "")
    assert not account or account not in re.sub(r"[\s-]", "", body)


def test_a_follow_up_reply_says_what_it_settled(starttls_server: Server) -> None:
    raws, _, expected = _thread("07-")
    today = dt.date.fromisoformat(expected["today"])
    ledger, replier = MemoryLedger(), None
    replier = _replier(starttls_server, ledger)
    for n in range(1, 4):
        message = parse_message(raws[n - 1])
        assert message.message_id
        replier.handle(
            "req-7", message.message_id, raws[:n], assess_messages(raws[:n], Config(), today)
        )
    texts = [_text(d.message) for d in starttls_server.inbox.delivered]
    assert len(texts) == 3
    assert "STILL NEEDED" in texts[0]
    assert "Signed Letter of Authorization (LOA): received" in texts[1]
    assert "PINs: received" in texts[2] and "is complete" in texts[2]
    # Each reply answers the message it replies to.
    answered = [str(d.message["In-Reply-To"]).strip() for d in starttls_server.inbox.delivered]
    assert answered == [parse_message(r).message_id for r in raws]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_implicit_tls_delivers_too(tls_server: Server) -> None:
    raws, assessment, _ = _thread("01-")
    mailer = _mailer(tls_server, security="tls")
    key = parse_message(raws[-1]).message_id or "k"
    assert _replier(tls_server, mailer=mailer).handle("r", key, raws, assessment).outcome == "sent"
    assert len(tls_server.inbox.delivered) == 1


# --- nothing goes to automatic mail -------------------------------------------------------


@pytest.mark.parametrize(("name", "raw", "reason"), LOOP_CASES, ids=[c[0] for c in LOOP_CASES])
def test_automatic_mail_gets_nothing_delivered(
    starttls_server: Server, name: str, raw: bytes, reason: str
) -> None:
    assessment = assess_messages([raw], Config(), dt.date(2026, 11, 26))
    result = _replier(starttls_server).handle("req", f"key-{name}", [raw], assessment)
    assert (result.outcome, result.reason) == ("suppressed", reason)
    assert starttls_server.inbox.delivered == []


@pytest.mark.parametrize(("name", "raw"), HUMAN_CASES, ids=[c[0] for c in HUMAN_CASES])
def test_a_person_s_message_gets_its_reply_delivered(
    starttls_server: Server, name: str, raw: bytes
) -> None:
    assessment = assess_messages([raw], Config(), dt.date(2026, 11, 26))
    result = _replier(starttls_server).handle("req", f"key-{name}", [raw], assessment)
    assert result.outcome == "sent", result
    assert len(starttls_server.inbox.delivered) == 1


# --- exactly once -----------------------------------------------------------------------


class CrashAfterSend(MemoryLedger):
    """Dies like a killed process right after the send, before `sent` is recorded."""

    def put(self, record: ReplyRecord) -> None:
        if record.status == "sent":
            raise KeyboardInterrupt("crash")
        super().put(record)


def test_a_crash_between_sending_and_recording_does_not_send_twice(
    starttls_server: Server,
) -> None:
    raws, assessment, _ = _thread("27-")
    key = parse_message(raws[-1]).message_id or "k"
    crashing = CrashAfterSend()
    settings = ReplySettings(**{**SETTINGS.__dict__, "copy_to": SUPPORT})
    with pytest.raises(KeyboardInterrupt):
        _replier(starttls_server, crashing, settings=settings).handle("r", key, raws, assessment)
    assert crashing.records[key].status == "sending"
    inbox = starttls_server.inbox

    # After the restart: the copy in our own mailbox shows the reply went out.
    def copy_found(message_id: str) -> bool:  # stands in for an IMAP SEARCH HEADER Message-ID
        return any(d.message["Message-ID"] == message_id for d in inbox.to(SUPPORT))

    ledger = MemoryLedger()
    ledger.records = dict(crashing.records)
    result = _replier(starttls_server, ledger, settings=settings, copy_found=copy_found).handle(
        "r", key, raws, assessment
    )
    assert result.outcome == "recovered"
    assert ledger.records[key].status == "sent"
    assert len(inbox.to("sgraves@prairiewindins.com")) == 1
    # And once more (the intake retries a delivery): nothing new.
    again = _replier(starttls_server, ledger, settings=settings).handle("r", key, raws, assessment)
    assert again.outcome == "already_done" and len(inbox.delivered) == 1


def test_without_evidence_a_resend_carries_the_same_message_id(starttls_server: Server) -> None:
    raws, assessment, _ = _thread("27-")
    key = parse_message(raws[-1]).message_id or "k"
    crashing = CrashAfterSend()
    with pytest.raises(KeyboardInterrupt):
        _replier(starttls_server, crashing).handle("r", key, raws, assessment)
    ledger = MemoryLedger()
    ledger.records = dict(crashing.records)
    assert _replier(starttls_server, ledger).handle("r", key, raws, assessment).outcome == "resent"
    first, second = starttls_server.inbox.delivered
    assert first.content == second.content  # byte for byte: receivers dedupe on Message-ID


def test_a_deferred_reply_is_sent_on_retry_once(starttls_server: Server) -> None:
    raws, assessment, _ = _thread("27-")
    key = parse_message(raws[-1]).message_id or "k"
    ledger = MemoryLedger()
    starttls_server.inbox.defer_next = 1
    with pytest.raises(MailUnavailable):
        _replier(starttls_server, ledger).handle("r", key, raws, assessment)
    assert ledger.records[key].status == "sending" and starttls_server.inbox.delivered == []
    assert _replier(starttls_server, ledger).handle("r", key, raws, assessment).outcome == "resent"
    assert _replier(starttls_server, ledger).handle("r", key, raws, assessment).outcome == (
        "already_done"
    )
    assert len(starttls_server.inbox.delivered) == 1


def test_the_daily_cap_holds_per_sender(starttls_server: Server) -> None:
    ledger = MemoryLedger()
    replier = _replier(starttls_server, ledger)
    outcomes = []
    for n in range(5):
        raw = HUMAN_CASES[0][1].replace(b"<case-1@", f"<case-cap{n}@".encode())
        assessment = assess_messages([raw], Config(), dt.date(2026, 11, 26))
        outcomes.append(replier.handle(f"req{n}", f"<case-cap{n}@x>", [raw], assessment).outcome)
    assert outcomes == ["sent", "sent", "sent", "suppressed", "suppressed"]
    assert len(starttls_server.inbox.delivered) == 3


# --- errors mapped at the adapter ------------------------------------------------------------


def _one_reply() -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = SUPPORT, "dana@acmerealtytx.com", "Re: x"
    msg.set_content("hello")
    return msg


def test_a_wrong_password_is_a_permanent_error(starttls_server: Server) -> None:
    with pytest.raises(MailRejected) as info:
        _mailer(starttls_server, password="wrong").send(_one_reply())
    assert info.value.code == 535
    assert starttls_server.inbox.delivered == []


def test_a_certificate_we_cannot_verify_stops_the_send(starttls_server: Server) -> None:
    with pytest.raises(MailRejected, match="certificate"):
        _mailer(starttls_server, ca_file="").send(_one_reply())
    assert starttls_server.inbox.delivered == []


def test_a_server_that_is_down_is_a_transient_error() -> None:
    mailer = SmtpMailer(SmtpSettings(host="127.0.0.1", port=_free_port(), timeout_seconds=5))
    with pytest.raises(MailUnavailable):
        mailer.send(_one_reply())


def test_the_password_never_shows_in_the_settings_repr() -> None:
    assert PASSWORD not in repr(SmtpSettings(host="h", username=USER, password=PASSWORD))


def test_the_ticket_gets_one_note_per_reply_saying_what_was_sent(starttls_server: Server) -> None:
    raws, assessment, _ = _thread("27-")
    key = parse_message(raws[-1]).message_id or "k"
    notes: list[tuple[str, str]] = []
    ledger = MemoryLedger()
    for _ in range(2):  # the intake may hand the same message on twice
        _replier(starttls_server, ledger, note=lambda r, t, _key: notes.append((r, t))).handle(
            "req-27", key, raws, assessment
        )
    assert len(notes) == 1 and notes[0][0] == "req-27"
    assert notes[0][1].startswith("auto-reply sent: incomplete to Shelby Graves")
    assert "Numbers missing from the LOA" in notes[0][1]
    auto = LOOP_CASES[0][1]
    _replier(starttls_server, ledger, note=lambda r, t, _key: notes.append((r, t))).handle(
        "req-x", "auto-key", [auto], assess_messages([auto], Config(), dt.date(2026, 11, 26))
    )
    assert notes[-1] == (
        "req-x",
        "auto-reply not sent: auto_submitted (Auto-Submitted: auto-replied)",
    )
