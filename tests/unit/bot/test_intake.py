"""Deciding one message, on plain data: no server, no state file."""

from __future__ import annotations

from collections.abc import Sequence

from bot.pipeline.intake import Gathered, decide, message_key, thread_keys
from bot.ports import Envelope
from parsers.errors import NotAnEmail, ParseError

HEADER = (
    b"From: a@example.com\r\nMessage-ID: <new@x>\r\nIn-Reply-To: <b@x>\r\n"
    b"References: <a@x>\r\n <b@x>\r\nSubject: Re: port\r\n\r\n"
)


def gathered(
    raw: bytes | None = b"raw",
    *,
    size: int = 100,
    handled: bool = False,
    earlier: tuple[bytes, ...] = (),
) -> Gathered:
    keys = thread_keys(HEADER)
    return Gathered(
        "INBOX",
        1,
        Envelope(1, size, HEADER),
        raw,
        keys,
        message_key(keys, HEADER),
        handled,
        None,
        earlier,
    )


def test_a_reply_names_the_message_it_answers_first_then_its_older_references() -> None:
    keys = thread_keys(HEADER)
    assert keys.message_id == "<new@x>"
    assert keys.refs == ("<b@x>", "<a@x>")


def test_a_message_without_message_id_is_keyed_by_its_header() -> None:
    header = b"From: a@example.com\r\nSubject: hi\r\n\r\n"
    keys = thread_keys(header)
    assert keys.message_id is None and keys.refs == ()
    assert message_key(keys, header).startswith("sha256:")
    assert message_key(keys, header) == message_key(thread_keys(header), header)


def test_garbage_headers_give_no_ids_rather_than_an_error() -> None:
    assert thread_keys(b"\x00\xff\xfe not a header at all").message_id is None


def test_the_assessment_runs_on_the_whole_thread_oldest_first() -> None:
    seen: list[Sequence[bytes]] = []

    def assess(raws: Sequence[bytes]) -> str:
        seen.append(raws)
        return "assessment"

    decision = decide(gathered(earlier=(b"one", b"two")), assess, 1000)
    assert decision.outcome == "assessed" and decision.assessment == "assessment"
    assert list(seen[0]) == [b"one", b"two", b"raw"]


def test_a_copy_of_a_handled_message_is_a_duplicate_and_not_assessed() -> None:
    decision = decide(gathered(handled=True), lambda raws: 1 / 0, 1000)
    assert decision.outcome == "duplicate"


def test_mail_over_the_size_limit_is_quarantined_unread() -> None:
    decision = decide(gathered(None, size=5000), lambda raws: 1 / 0, 1000)
    assert decision.outcome == "quarantined" and "over the limit of 1000 bytes" in decision.reason
    assert decision.category == "too-large"


def test_something_that_is_not_an_email_is_quarantined_with_the_parser_reason() -> None:
    def assess(raws: Sequence[bytes]) -> None:
        raise NotAnEmail("an Outlook .msg file, not MIME")

    decision = decide(gathered(), assess, 1000)
    assert (decision.outcome, decision.category) == ("quarantined", "not-an-email")
    assert "Outlook .msg" in decision.reason


def test_an_unreadable_message_is_quarantined_as_unreadable() -> None:
    def assess(raws: Sequence[bytes]) -> None:
        raise ParseError("bad MIME boundary")

    decision = decide(gathered(), assess, 1000)
    assert decision.category == "unreadable" and "bad MIME boundary" in decision.reason


def test_a_crash_in_the_pipeline_stops_only_that_message() -> None:
    def assess(raws: Sequence[bytes]) -> None:
        raise IndexError("list index out of range")

    decision = decide(gathered(), assess, 1000)
    assert decision.outcome == "quarantined"
    assert decision.category == "crash:IndexError"  # what the log shows: no message content
    assert decision.reason.startswith("crash in the pipeline: IndexError: list index out of range")
