"""The backlog progress bar: on a terminal only, never under systemd or in JSON logs."""

from __future__ import annotations

import io

import pytest

from bot.ops.progress import Bar, NoProgress, progress, wanted
from tests.clock import FakeClock


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_that_ends_at_the_total() -> None:
    out = Tty()
    with progress(50, stream=out, environ={}) as bar:
        for _ in range(50):
            bar.advance()
    text = out.getvalue()
    assert isinstance(bar, Bar)
    assert "50/50 messages" in text.rsplit("\r", 1)[-1]
    assert text.endswith("\n")


def test_a_pipe_or_file_gets_nothing() -> None:
    out = io.StringIO()
    with progress(500, stream=out, environ={}) as bar:
        bar.advance(500)
    assert out.getvalue() == ""
    assert isinstance(bar, NoProgress) and bar.done == 500


@pytest.mark.parametrize("var", ["INVOCATION_ID", "JOURNAL_STREAM"])
def test_nothing_is_drawn_under_systemd(var: str) -> None:
    out = Tty()
    with progress(500, stream=out, environ={var: "8:12345"}) as bar:
        bar.advance()
    assert out.getvalue() == ""


def test_nothing_is_drawn_when_logs_are_json() -> None:
    out = Tty()
    with progress(500, stream=out, environ={}, json_logs=True) as bar:
        bar.advance()
    assert out.getvalue() == ""
    assert not wanted(Tty(), {}, json_logs=True)


def test_a_small_batch_gets_no_bar() -> None:
    out = Tty()
    with progress(3, stream=out, environ={}) as bar:
        bar.advance(3)
    assert out.getvalue() == ""


def test_the_bar_shows_rate_and_time_left() -> None:
    clock = FakeClock(0.0)
    bar = Bar(120, Tty(), clock=clock, width=10)
    clock.now = 10.0
    bar.advance(30)
    assert bar.line(clock.now) == "[##........]  30/120 messages  3.0/s  0:30 left"


def test_redraws_are_limited_but_the_last_one_is_drawn() -> None:
    clock = FakeClock(0.0)
    out = Tty()
    bar = Bar(1000, out, clock=clock)
    for _ in range(999):
        bar.advance()  # the clock stands still: only the first advance draws
    assert out.getvalue().count("\r") == 1
    bar.advance()
    assert out.getvalue().count("\r") == 2 and "1000/1000" in out.getvalue()


def test_a_closed_or_odd_stream_is_not_a_terminal() -> None:
    closed = io.StringIO()
    closed.close()
    assert not wanted(closed, {})
