"""Logging for `portbot run`: JSON lines or plain text, with secrets redacted on the way out.

The redaction lives in the handler's formatter, not at the call sites, so whatever a
call site passes (the message, its args, `extra` fields, an exception's text) goes
through it before a line is written:

- known secrets, registered at run time (`Redactor.add`: a request's PINs, SSN last 4
  and account numbers as the pipeline reads them; `Redactor.add_fixed`: the IMAP
  password, the Zendesk token) are replaced with `••••` wherever they stand, an
  account number also when written with other spaces or dashes;
- labelled values in free text ("PIN: 4821", "passcode 0427", "SSN last 4 6612",
  "account number 287-654-321", `"pin": "4821"`) and 9-digit SSNs (123-45-6789) are
  replaced whether registered or not, so a value seen before its request was read
  is caught too;
- an `extra` field whose key names a secret (`pin`, `ssn_last4`, `account_number`)
  is masked whole.

    redactor = setup_logging(level="INFO")        # JSON lines, or text on a terminal
    redactor.add_many(secrets_of(assessment))     # as each request is read
    log_outcome(log, request_id=..., message_id=..., outcome="assessed", timings={...})
"""

from __future__ import annotations

import copy
import datetime as dt
import json as jsonlib
import logging
import re
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import IO, Any

from parsers.body import read_statements
from parsers.model import Message
from rules.assessment import Assessment

MASK = "••••"

# The attributes every LogRecord has; anything else on a record came from `extra`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}

# -- patterns ------------------------------------------------------------------------

# A label's value: tokens holding a digit, joined by single spaces, dashes or dots
# ("8352 1001 2345 6789", "063-88217-55", "VB-2291847" from its digits on).
_TOKEN = r"[A-Za-z0-9]*\d[A-Za-z0-9]*"
_VALUE = rf"{_TOKEN}(?:[ \-./]{_TOKEN})*"
_LABELS = (
    r"pins?|nip|passcodes?|pass[ _-]?codes?|security[ _-]?codes?|passwords?"
    r"|ssn(?:[ _-]*(?:last[ _-]*(?:4|four)|l4))?|social(?:[ _-]*security)?(?:[ _-]*(?:number|no))?"
    r"|(?:account|acct|acc't|a/c)(?:[ _-]*(?:number|num|nbr|no\.?|#))?"
    r"|(?:billing[ _-]*)?account[ _-]*(?:number|no\.?|#)|ban"
    r"|(?:num[ée]ro|n[°o]\.?|no\.?)[ _-]*(?:de[ _-]*)?compte|compte"
)
# Labels of account numbers: their values may be longer than nine digits.
_ACCOUNT_LABELS = ("acc", "a/c", "billing", "ban", "num", "n°", "no", "compte")
# Between a label and its value: punctuation and a few filler words ("PIN for all
# lines: 4821", "last four of social is 6612"); never a digit (else "PIN for 512..."
# would eat the number), a comma, a line break or a mask (the next field is not this one's).
_FILLER = (
    r"is|are|was|for|all|the|of|my|our|its|on|same|every|each|lines?|numbers?|no|code"
    r"|bill|account|acct|will|be|last|four|digits|to|use|as|please"
)
_GAP = rf"(?:[^\w\n,;•+]|_|(?<![A-Za-z])(?:{_FILLER})(?![A-Za-z])){{0,12}}?"
_LABELLED = re.compile(
    rf"(?<![A-Za-z])(?P<label>{_LABELS})(?![A-Za-z])(?P<gap>{_GAP})(?P<value>{_VALUE})"
    r"(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_SSN9 = re.compile(r"(?<![\d-])\d{3}([- ])\d{2}\1\d{4}(?![\d-])")
_SECRET_KEY = re.compile(
    r"(?:^|_)(?:pins?|passcode|password|token|secret|ssn|ssn_last_?4|account_(?:number|no)|acct)"
    r"(?:$|_)",
    re.IGNORECASE,
)


def _labelled(m: re.Match[str]) -> str:
    digits = sum(c.isdigit() for c in m.group("value"))
    if digits < 3:
        return m.group(0)  # "account ready: 2 problems", "PIN 1 of 3": not a secret
    label = m.group("label").casefold()
    if digits > 9 and not label.startswith(_ACCOUNT_LABELS):
        return m.group(0)  # "PIN for 512-555-0101: ...": a phone number, not a PIN or SSN
    return f"{m.group('label')}{m.group('gap')}{MASK}"


def _alnum(value: str) -> str:
    return "".join(c for c in value if c.isalnum()).casefold()


# Runs of letters and digits joined by single separators: where a registered secret
# can stand, starting and ending on a token's edge ("8352 10 012 3456789").
_RUN = re.compile(r"[^\W_]+(?:[\s\-./][^\W_]+)*")
# Letters and digits apart, so a PIN is found also glued to a word ("PIN0427", "\\n0427").
_PART = re.compile(r"[^\W\d_]+|\d+")
_MAX_PARTS = 8


class Redactor:
    """Masks secrets in text. Thread-safe; bounded: the oldest request secrets go first.

    A registered value is found on the edges of digit and letter runs only (a PIN 2200
    is not masked inside +16144302200); one of five or more characters also when
    spaced or dashed another way. Values under 3 characters are not registered:
    masking every "12" helps nobody.
    """

    def __init__(self, max_secrets: int = 4096) -> None:
        if max_secrets < 1:
            raise ValueError("max_secrets must be at least 1")
        self.max_secrets = max_secrets
        self._lock = threading.Lock()
        self._recent: OrderedDict[str, None] = OrderedDict()  # normalised, oldest first
        self._fixed: set[str] = set()  # exact text: passwords, tokens
        self._known: frozenset[str] = frozenset()  # copy-on-write snapshot for readers
        self._longest = 0

    def __len__(self) -> int:
        return len(self._recent) + len(self._fixed)

    def add(self, value: str | None) -> None:
        """A request's secret; forgotten after `max_secrets` newer ones."""
        key = _alnum(value or "")
        if len(key) < 3:
            return
        with self._lock:
            if key in self._recent:
                self._recent.move_to_end(key)
                return
            self._recent[key] = None
            while len(self._recent) > self.max_secrets:
                self._recent.popitem(last=False)
            self._known = frozenset(self._recent)
            self._longest = max(map(len, self._known))

    def add_many(self, values: Iterable[str | None]) -> None:
        for value in values:
            self.add(value)

    def add_fixed(self, value: str | None) -> None:
        """A secret for the whole run (a password, a token): never forgotten, matched as is."""
        if value is None or len(value.strip()) < 3:
            return
        with self._lock:
            self._fixed = {*self._fixed, value.strip()}

    def _known_in(self, text: str) -> str:
        known, longest = self._known, self._longest
        if not known:
            return text
        out: list[str] = []
        done = 0
        for run in _RUN.finditer(text):
            parts = list(_PART.finditer(run.group()))
            base = run.start()
            i = 0
            while i < len(parts):
                joined, hit = "", -1
                # longest first: a whole account number wins over a PIN inside it
                spaced = False  # a short value is never read across a separator
                for j in range(i, min(len(parts), i + _MAX_PARTS)):
                    joined += parts[j].group().casefold()
                    spaced = spaced or (j > i and parts[j].start() != parts[j - 1].end())
                    if len(joined) > longest:
                        break
                    if joined in known and (not spaced or len(joined) >= 5):
                        hit = j
                if hit < 0:
                    i += 1
                    continue
                out.append(text[done : base + parts[i].start()])
                out.append(MASK)
                done = base + parts[hit].end()
                i = hit + 1
        out.append(text[done:])
        return "".join(out)

    def redact(self, text: str) -> str:
        for value in self._fixed:
            text = text.replace(value, MASK)
        text = self._known_in(text)
        text = _SSN9.sub(MASK, text)
        return _LABELLED.sub(_labelled, text)

    def redact_value(self, value: object, key: str = "") -> object:
        """A structured `extra` value, redacted leaf by leaf; secret-named keys masked whole."""
        if key and _SECRET_KEY.search(key) and value not in (None, True, False, "", MASK):
            return MASK
        if isinstance(value, str):
            return self.redact(value)
        if value is None or isinstance(value, bool | float):
            return value
        if isinstance(value, int):
            text = str(value)
            return value if self.redact(text) == text else MASK
        if isinstance(value, Mapping):
            return {str(k): self.redact_value(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self.redact_value(v) for v in value]
        if isinstance(value, bytes):
            return self.redact(value.decode("utf-8", "replace"))
        return self.redact(str(value))


def secrets_of(assessment: Assessment) -> list[str]:
    """What to register for one request: its PINs, SSN last 4, account numbers.

    The bill's account number counts too: it may differ from the stated one.
    """
    r = assessment.request
    found: list[str | None] = [r.account_number, r.ssn_last4]
    found.extend(n.pin for n in r.numbers)
    found.extend(n.pin for n in assessment.numbers)
    for doc in r.documents:
        if doc.bill is not None:
            found.append(doc.bill.account_number)
    return [v for v in dict.fromkeys(found) if v]


# -- formatting ----------------------------------------------------------------------


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ts, level, logger, msg, the `extra` fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        ts = dt.datetime.fromtimestamp(record.created, dt.UTC)
        out: dict[str, Any] = {
            "ts": ts.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in _extras(record).items():
            out.setdefault(key, value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exc"] = record.exc_text
        if record.stack_info:
            out["stack"] = record.stack_info
        return jsonlib.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """For a person at a terminal: time, level, logger, message, then key=value extras."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = _extras(record)
        if not extras:
            return line
        head, sep, tail = line.partition("\n")  # extras on the first line, before a traceback
        pairs = " ".join(
            f"{k}={_short(v)}" for k, v in extras.items() if v is not None and k != "event"
        )
        return f"{head} {pairs}{sep}{tail}"


def _short(value: object) -> str:
    if isinstance(value, Mapping):
        return ",".join(f"{k}:{_short(v)}" for k, v in value.items())
    if isinstance(value, float):
        return f"{value:.3g}"
    text = str(value)
    return jsonlib.dumps(text, ensure_ascii=False) if " " in text or not text else text


class RedactingFormatter(logging.Formatter):
    """Formats a redacted copy of each record with `inner`; the record itself is untouched.

    The message is rendered (msg % args) and redacted whole, so a secret in an arg is
    caught whatever its type; the exception's text is rendered here and redacted too.
    """

    def __init__(self, inner: logging.Formatter, redactor: Redactor) -> None:
        super().__init__()
        self.inner = inner
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        clean = copy.copy(record)
        try:
            message = record.getMessage()
        except Exception as exc:  # a bad format string must not lose the line
            message = f"{record.msg!r} (unformattable: {type(exc).__name__})"
        clean.msg, clean.args = self.redactor.redact(message), None
        if record.exc_info:
            clean.exc_text = self.redactor.redact(self.inner.formatException(record.exc_info))
        elif record.exc_text:
            clean.exc_text = self.redactor.redact(record.exc_text)
        clean.exc_info = None
        if record.stack_info:
            clean.stack_info = self.redactor.redact(record.stack_info)
        for key, value in _extras(record).items():
            setattr(clean, key, self.redactor.redact_value(value, key))
        return self.inner.format(clean)


class RedactingFilter(logging.Filter):
    """The same redaction for a handler someone else set up: rewrites the record in place."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            message = repr(record.msg)
        record.msg, record.args = self.redactor.redact(message), None
        if record.exc_info:
            record.exc_text = self.redactor.redact(
                logging.Formatter().formatException(record.exc_info)
            )
            record.exc_info = None
        if record.stack_info:
            record.stack_info = self.redactor.redact(record.stack_info)
        for key, value in _extras(record).items():
            setattr(record, key, self.redactor.redact_value(value, key))
        return True


class _TerminalHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Clears the line first, so a log line never lands on top of a progress bar."""

    def format(self, record: logging.LogRecord) -> str:
        return "\r\x1b[K" + super().format(record)


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def setup_logging(
    *,
    json: bool | None = None,
    level: str | int = "INFO",
    stream: IO[str] | None = None,
    secrets_source: Redactor | None = None,
    environ: Mapping[str, str] | None = None,
) -> Redactor:
    """Route every logger to one redacting handler on `stream` (default stderr).

    `json` None: JSON lines unless the stream is a terminal. `secrets_source`: the
    Redactor the pipeline feeds (a new one if None); it is returned. `environ`: its
    PORTBOT_*PASSWORD/TOKEN/SECRET values are registered for the whole run. Calling
    it again replaces the handler it installed before (not other handlers).
    """
    out = stream if stream is not None else sys.stderr
    redactor = secrets_source if secrets_source is not None else Redactor()
    for name, value in (environ or {}).items():
        if name.startswith("PORTBOT_") and name.endswith(("PASSWORD", "TOKEN", "SECRET")):
            redactor.add_fixed(value)
    as_json = not _isatty(out) if json is None else json
    handler: logging.StreamHandler[IO[str]]
    if as_json:
        handler = logging.StreamHandler(out)
        inner: logging.Formatter = JsonFormatter()
    else:
        handler = _TerminalHandler(out) if _isatty(out) else logging.StreamHandler(out)
        inner = TextFormatter()
    handler.setFormatter(RedactingFormatter(inner, redactor))
    handler.set_name("portbot")
    root = logging.getLogger()
    for old in list(root.handlers):
        if old.get_name() == "portbot":
            root.removeHandler(old)
            old.close()
    handler.addFilter(_quiet_libraries)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
    return redactor


# Libraries that log request and response bodies, whole tickets with their private
# notes, or IMAP wire traffic below WARNING: held at WARNING whatever [logging] level
# says, by their loggers' level and, should anything lower it again, by the handler.
QUIET_LIBRARIES = (
    "zenpy",
    "urllib3",
    "requests",
    "imapclient",
    "imaplib",
    "http.client",
    "smtplib",
    "aiosmtpd",
    "mail.log",
    "httpx",
    "httpcore",
)


def _quiet_libraries(record: logging.LogRecord) -> bool:
    if record.levelno >= logging.WARNING:
        return True
    return not any(record.name == n or record.name.startswith(n + ".") for n in QUIET_LIBRARIES)


def secrets_in_message(message: Message) -> list[str]:
    """A stored message's secrets, read again cheaply (no attachment is opened).

    What its body states (PINs, SSN last 4, account number) and what stands beside a
    label anywhere in its text; digit runs of six or more in attachment file names.
    Used to seed the redactor at start-up from the state store's open requests.
    """
    found: list[str | None] = []
    statements = read_statements(message.body)
    found += [statements.account_number, statements.ssn_last4, statements.pin_for_all]
    found += [n.pin for n in statements.numbers]
    for m in _LABELLED.finditer(message.body):
        if sum(c.isdigit() for c in m.group("value")) >= 3:
            found.append(m.group("value"))
    for attachment in message.attachments:
        found += re.findall(r"\d{6,}", attachment.filename or "")
    return [v for v in dict.fromkeys(found) if v]


_FILE_NAME = re.compile(
    r"[^\s\"'<>/\\]+\.(?:pdf|png|jpe?g|gif|tiff?|heic|heif|webp|bmp|xlsx?|csv|docx?|txt|zip)\b",
    re.IGNORECASE,
)


def mask_file_names(text: str, secrets: Iterable[str] = ()) -> str:
    """File names masked like values: digit runs of six or more, and known secrets."""
    known = [k for k in (_alnum(s) for s in secrets) if len(k) >= 3]

    def one(m: re.Match[str]) -> str:
        name = re.sub(r"\d{6,}", MASK, m.group())
        for value in known:
            name = re.sub(re.escape(value), MASK, name, flags=re.IGNORECASE)
        return name

    return _FILE_NAME.sub(one, text)


def is_json(stream: IO[str] | None = None, json: bool | None = None) -> bool:
    """Whether `setup_logging` with these arguments writes JSON (the progress bar asks)."""
    return not _isatty(stream if stream is not None else sys.stderr) if json is None else json


def log_outcome(
    logger: logging.Logger,
    *,
    request_id: str | None,
    message_id: str | None,
    outcome: str,
    ticket_id: int | None = None,
    reply: str | None = None,
    reason: str | None = None,
    timings: Mapping[str, float],
    level: int = logging.INFO,
) -> None:
    """The one event per message: what became of it, and how long each step took.

    `outcome`: assessed, quarantined, duplicate, deferred, ...; `reply`: sent,
    suppressed or None; `reason`: a short, secret-free category (why quarantined, why
    no reply); `timings`: seconds per step ("assess", "ticket", "reply", "total").
    """
    fields: dict[str, Any] = {
        "event": "message",
        "request_id": request_id,
        "message_id": message_id,
        "outcome": outcome,
        "ticket_id": ticket_id,
        "reply": reply,
        "reason": reason,
        "timings": {k: round(v, 4) for k, v in timings.items()},
    }
    text = f"message {message_id or '-'}: {outcome}"
    if request_id:
        text += f" (request {request_id})"
    logger.log(level, text, extra=fields)


__all__ = [
    "MASK",
    "QUIET_LIBRARIES",
    "JsonFormatter",
    "RedactingFilter",
    "RedactingFormatter",
    "Redactor",
    "TextFormatter",
    "is_json",
    "log_outcome",
    "mask_file_names",
    "secrets_in_message",
    "secrets_of",
    "setup_logging",
]
