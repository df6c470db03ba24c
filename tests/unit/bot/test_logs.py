"""Logs: JSON lines or text, one event per message, and no secret in any line.

The redaction test feeds every fixture thread through the real assessment, logs what
a careless call site might (the assessment with secrets shown, the raw and decoded
messages, exceptions quoting values) and searches every line for every PIN, SSN
last 4 and account number of that fixture's expected.json.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import json
import logging
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.cli.assess import assess_files
from bot.config import Config
from bot.ops.logs import (
    MASK,
    JsonFormatter,
    RedactingFilter,
    RedactingFormatter,
    Redactor,
    is_json,
    log_outcome,
    secrets_of,
    setup_logging,
)
from parsers.email import parse_message
from rules.assessment import Assessment
from rules.contract import to_json
from tests.conftest import FIXTURES

THREADS = sorted(p for p in FIXTURES.iterdir() if (p / "expected.json").is_file())


@pytest.fixture
def root_logging() -> Iterator[None]:
    """setup_logging changes the root logger: put it back after each test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        if h not in handlers:
            root.removeHandler(h)
    root.setLevel(level)


@functools.cache
def _assessed(thread: Path) -> tuple[Assessment, dict[str, Any]]:
    expected = json.loads((thread / "expected.json").read_text())
    today = dt.date.fromisoformat(expected["today"])
    return assess_files(sorted(thread.glob("*.eml")), Config(), today), expected


def _expected_secrets(expected: dict[str, Any]) -> set[str]:
    """Every PIN, SSN last 4 and full account number the fixture's expected.json holds."""
    a = expected["assessment"]
    r = a["request"]
    found = {r.get("account_number"), r.get("ssn_last4")}
    found |= {n.get("pin") for n in r.get("numbers", [])}
    for doc in a.get("documents", []):
        fields = doc.get("fields") or {}
        found.add(fields.get("account_number"))
        found.add((fields.get("bill") or {}).get("account_number"))
    return {s for s in found if s and s != MASK}


def _edge(c: str, behind: bool) -> str:
    cls = r"\d" if c.isdigit() else "[^\\W\\d_]"
    return f"(?<!{cls})" if behind else f"(?!{cls})"


def _leak_pattern(secret: str) -> re.Pattern[str]:
    """The secret as written; one of 5+ characters also spaced or dashed any other way.

    A PIN counts where it stands apart from other digits: 2200 inside +16144302200 is
    the phone number, not the PIN.
    """
    core = [c for c in secret if c.isalnum()]
    body = r"[\s\-./]*".join(re.escape(c) for c in core) if len(core) >= 5 else re.escape(secret)
    return re.compile(_edge(core[0], True) + body + _edge(core[-1], False), re.IGNORECASE)


def _careless_call_sites(log: logging.Logger, thread: Path, assessment: Assessment) -> None:
    """What a call site should never log, and one day will."""
    shown = to_json(assessment, show_secrets=True)
    log.debug("assessment %s", json.dumps(shown, ensure_ascii=False))
    log.debug("assessment %r", shown)
    log.debug("the whole record: %s", assessment)
    log.info("assessed", extra={"assessment": shown, "request": repr(assessment.request)})
    for n in assessment.request.numbers:
        log.info(f"number {n.raw} pin {n.pin}")  # an f-string: args never see it
        log.debug("entry", extra={"pin": n.pin, "number": n.raw})
    r = assessment.request
    log.warning("account %s ssn %s", r.account_number, r.ssn_last4)
    log.warning("ids", extra={"account": r.account_number, "ints": [r.account_number]})
    for path in sorted(thread.glob("*.eml")):
        raw = path.read_bytes()
        log.debug("raw message %s:\n%s", path.name, raw.decode("utf-8", "replace"))
        log.debug("raw bytes %r", raw[:20000])
        message = parse_message(raw)
        log.debug("body of %s: %s", message.message_id, message.body)
        for att in message.attachments:
            if att.filename.lower().endswith((".csv", ".txt", ".tsv")):
                log.debug("attachment %s: %s", att.filename, att.payload.decode("utf-8", "replace"))
    try:
        pins = ", ".join(n.pin or "-" for n in r.numbers)
        raise ValueError(f"carrier refused PINs {pins} on account {r.account_number}")
    except ValueError:
        log.exception("delivery failed for %s", r.account_number)
    log_outcome(
        log,
        request_id="r-1",
        message_id="<m@x>",
        outcome="assessed",
        ticket_id=7,
        reply="suppressed",
        reason=f"pin {r.numbers[0].pin if r.numbers else None}",
        timings={"assess": 0.01},
    )


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "text"])
@pytest.mark.parametrize("thread", THREADS, ids=[p.name for p in THREADS])
def test_no_secret_of_any_fixture_reaches_a_log_line(
    thread: Path, as_json: bool, root_logging: None
) -> None:
    if thread.name.startswith("ocr-") and shutil.which("tesseract") is None:
        pytest.skip("tesseract is not installed")
    assessment, expected = _assessed(thread)
    out = io.StringIO()
    redactor = setup_logging(json=as_json, level="DEBUG", stream=out)
    redactor.add_many(secrets_of(assessment))  # what the pipeline does as it reads a request
    careless = logging.getLogger("portbot.careless")
    plain = io.StringIO()  # the same lines unredacted: proof the search can find a leak
    unredacted = logging.StreamHandler(plain)
    careless.addHandler(unredacted)
    try:
        _careless_call_sites(careless, thread, assessment)
    finally:
        careless.removeHandler(unredacted)
    lines = out.getvalue().splitlines()
    assert len(lines) > 10
    secrets = _expected_secrets(expected)
    if secrets:
        assert any(_leak_pattern(s).search(plain.getvalue()) for s in secrets)
    leaks = [
        (secret, line[:200])
        for secret in sorted(secrets)
        for line in lines
        if _leak_pattern(secret).search(line)
    ]
    assert not leaks
    if as_json:  # every line is JSON, and what is not secret is still there
        records = [json.loads(line) for line in lines if line.startswith("{")]
        assert records and all("msg" in rec for rec in records)
        name = assessment.request.account_name
        if name:
            assert any(name in line for line in lines)


def test_a_pin_inside_a_phone_number_is_left_alone() -> None:
    r = Redactor()
    r.add("2200")
    assert r.redact("BTN +16144302200, PIN 2200") == "BTN +16144302200, PIN ••••"


def test_an_account_number_is_masked_however_it_is_spaced() -> None:
    r = Redactor()
    r.add("8352 1001 2345 6789")
    for text in ("8352100123456789", "8352-1001-2345-6789", "8352 10 012 3456789"):
        assert r.redact(f"bill for {text} due") == "bill for •••• due"


def test_labelled_values_are_masked_without_being_registered() -> None:
    r = Redactor()
    assert r.redact("PIN for all lines: 4821") == "PIN for all lines: ••••"
    shown = '{"pin": "0427", "ssn_last4": "6612"}'
    assert r.redact(shown) == '{"pin": "••••", "ssn_last4": "••••"}'
    assert r.redact("Account #: 287-654-321") == "Account #: ••••"
    assert r.redact("last four of my social is 6612") == "last four of my social is ••••"
    assert r.redact("SSN 123-45-6789") == "SSN ••••"
    assert r.redact("NIP : 5531") == "NIP : ••••"


def test_ordinary_text_near_a_label_is_kept() -> None:
    r = Redactor()
    for text in (
        "account ready: 2 problems",
        "no_pin_stated: false, numbers: 5125550101",
        "spinning 1234 opinions",
        "PIN for 512-555-0101 missing, ask again",
    ):
        assert r.redact(text).startswith(text[:12])
    assert "5125550101" in r.redact("no_pin_stated: false, numbers: 5125550101")


def test_old_request_secrets_are_forgotten_first() -> None:
    r = Redactor(max_secrets=2)
    r.add_many(["111111", "222222", "333333"])
    assert len(r) == 2
    assert r.redact("111111 222222 333333") == "111111 •••• ••••"


def test_fixed_secrets_are_never_forgotten() -> None:
    r = Redactor(max_secrets=1)
    r.add_fixed("hunter2-imap")
    r.add_many(["111111", "222222"])
    assert r.redact("login hunter2-imap") == "login ••••"


def test_passwords_from_the_environment_are_registered(root_logging: None) -> None:
    out = io.StringIO()
    setup_logging(
        json=True, stream=out, environ={"PORTBOT_IMAP_PASSWORD": "s3cret-pw", "HOME": "/root"}
    )
    logging.getLogger("portbot.t").warning("login failed with s3cret-pw at /root")
    line = json.loads(out.getvalue())
    assert line["msg"] == "login failed with •••• at /root"


def test_an_outcome_is_one_json_event_with_its_fields(root_logging: None) -> None:
    out = io.StringIO()
    setup_logging(json=True, stream=out)
    log_outcome(
        logging.getLogger("portbot.intake"),
        request_id="req-3",
        message_id="<a@b>",
        outcome="assessed",
        ticket_id=42,
        reply="sent",
        reason="ready",
        timings={"assess": 0.123456, "ticket": 0.5},
    )
    [line] = out.getvalue().splitlines()
    event = json.loads(line)
    assert event["event"] == "message"
    assert event["level"] == "INFO" and event["logger"] == "portbot.intake"
    assert (event["request_id"], event["message_id"], event["outcome"]) == (
        "req-3",
        "<a@b>",
        "assessed",
    )
    assert (event["ticket_id"], event["reply"], event["reason"]) == (42, "sent", "ready")
    assert event["timings"] == {"assess": 0.1235, "ticket": 0.5}
    assert event["ts"].endswith("Z")


def test_text_lines_show_the_outcome_fields(root_logging: None) -> None:
    out = io.StringIO()
    setup_logging(json=False, stream=out)
    log_outcome(
        logging.getLogger("portbot.intake"),
        request_id="req-3",
        message_id="<a@b>",
        outcome="quarantined",
        reason="unreadable",
        timings={"total": 1.5},
    )
    text = out.getvalue()
    assert "quarantined" in text and "reason=unreadable" in text and "total:1.5" in text
    assert not text.startswith("{")


def test_exception_text_is_redacted(root_logging: None) -> None:
    out = io.StringIO()
    redactor = setup_logging(json=True, stream=out)
    redactor.add("778899")
    try:
        raise RuntimeError("port rejected: PIN 778899 wrong")
    except RuntimeError:
        logging.getLogger("portbot.t").exception("failed")
    event = json.loads(out.getvalue())
    assert "RuntimeError" in event["exc"] and "778899" not in event["exc"]


def test_json_is_the_default_off_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert is_json(io.StringIO()) is True
    assert is_json(Tty()) is False
    assert is_json(Tty(), json=True) is True


def test_setting_up_twice_keeps_one_handler(root_logging: None) -> None:
    before = len(logging.getLogger().handlers)
    setup_logging(stream=io.StringIO())
    setup_logging(stream=io.StringIO())
    assert len(logging.getLogger().handlers) == before + 1


def test_the_filter_redacts_for_a_handler_set_up_elsewhere() -> None:
    redactor = Redactor()
    redactor.add("4455667")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "acct %s", ("4455667",), None)
    assert RedactingFilter(redactor).filter(record)
    assert record.getMessage() == "acct ••••"


def test_a_bad_format_string_still_logs_a_line() -> None:
    formatter = RedactingFormatter(JsonFormatter(), Redactor())
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "pin %s %s", ("4821",), None)
    event = json.loads(formatter.format(record))
    assert "unformattable" in event["msg"]
