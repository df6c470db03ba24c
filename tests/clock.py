"""The tests' one stand-in for time: moved only by the test, never by the machine.

A `FakeClock` is the bot's `bot.ports.Clock` (`seconds()`, `utc_now()`, `today()`), and
called it gives seconds where a part takes a bare callable (`time.monotonic` for the
health check). `day` fixes the date the requests are assessed on (a fixture thread's
"today"), whatever the seconds say.
"""

from __future__ import annotations

import datetime as dt


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0, day: str | dt.date | None = None) -> None:
        self.now = now
        self.day = dt.date.fromisoformat(day) if isinstance(day, str) else day

    def __call__(self) -> float:
        return self.now

    def seconds(self) -> float:
        return self.now

    def on(self, day: str) -> FakeClock:
        """This clock, assessing requests on `day`."""
        self.day = dt.date.fromisoformat(day)
        return self

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def today(self) -> dt.date:
        return self.day or self.utc_now().date()

    def utc_now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.now, dt.UTC)


def Today(day: str) -> FakeClock:
    """A clock whose requests are assessed on `day`."""
    return FakeClock(day=day)
