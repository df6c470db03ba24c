"""Reading one message of a thread: statements from its text and subject."""

from __future__ import annotations

from parsers.limits import Limits
from parsers.thread import read_message


def _raw(subject: str, body: str) -> bytes:
    return (
        "From: Dana Ortiz <dana@ortizlaw.example>\r\nTo: support@lofty.example\r\n"
        f"Subject: {subject}\r\nMessage-ID: <1@ortizlaw.example>\r\n"
        "Date: Thu, 26 Nov 2026 10:00:00 -0600\r\n\r\n" + body
    ).encode()


def test_a_carrier_named_only_in_the_subject_is_read() -> None:
    raw = _raw("Port request for our Verizon lines", "Please port 512-555-0101.\r\n")
    parsed = read_message(raw, Limits())
    assert parsed.statements.current_carrier == "Verizon"


def test_the_carrier_in_the_text_wins_over_the_subject() -> None:
    body = "Our current carrier is AT&T.\r\n"
    parsed = read_message(_raw("Moving off Verizon soon", body), Limits())
    assert parsed.statements.current_carrier == "AT&T"
