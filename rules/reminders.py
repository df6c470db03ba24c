"""Reminders for requests still missing items, and the stale tag after them.

    last customer activity ──N──> reminder 1 ──N──> ... reminder K ──M──> stale

A pure function of the times it is given: no clock is read here, so the
caller's clock (real or a test's) decides. It is asked about requests that are
collecting information and still miss something; the caller records what it
did (reminder count and time, stale since) with the request.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

__all__ = ["ClearStale", "MarkStale", "Remind", "ReminderPolicy", "Wait", "reminder_action"]


@dataclass(frozen=True)
class ReminderPolicy:
    """N, M and K: first reminder after `remind_after` of silence, the next ones
    `remind_after` apart, at most `max_reminders`; `stale_after` the last one
    (or, with no reminders at all, after the customer's last activity) the
    ticket is tagged stale for an agent."""

    remind_after: dt.timedelta = dt.timedelta(days=3)
    stale_after: dt.timedelta = dt.timedelta(days=4)
    max_reminders: int = 1

    def __post_init__(self) -> None:
        if self.remind_after <= dt.timedelta(0):
            raise ValueError("reminders: remind_after must be positive")
        if self.stale_after <= dt.timedelta(0):
            raise ValueError("reminders: stale_after must be positive")
        if self.max_reminders < 0:
            raise ValueError("reminders: max_reminders cannot be negative")

    @classmethod
    def from_days(
        cls, remind_after_days: float = 3, stale_after_days: float = 4, max_reminders: int = 1
    ) -> ReminderPolicy:
        """From configuration, which counts in days."""
        return cls(
            dt.timedelta(days=remind_after_days), dt.timedelta(days=stale_after_days), max_reminders
        )


@dataclass(frozen=True)
class Remind:
    """Send reminder number `ordinal` (1-based) of at most `of`."""

    ordinal: int
    of: int


@dataclass(frozen=True)
class MarkStale:
    """Tag the ticket stale: reminders are used up and the customer is still silent."""

    reminders_sent: int


@dataclass(frozen=True)
class ClearStale:
    """The customer wrote after the ticket was tagged stale: remove the tag, start over."""


@dataclass(frozen=True)
class Wait:
    """Nothing to do now; look again at `until` (None: nothing more to do)."""

    until: dt.datetime | None


Action = Remind | MarkStale | ClearStale | Wait


def _aware(name: str, value: dt.datetime | None) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"reminders: {name} must carry a time zone (got {value.isoformat()})")


def reminder_action(
    last_activity: dt.datetime,
    reminders_sent: int,
    now: dt.datetime,
    *,
    last_reminder_at: dt.datetime | None = None,
    stale_since: dt.datetime | None = None,
    policy: ReminderPolicy | None = None,
) -> Action:
    """What to do now about a request waiting for the customer.

    `last_activity`: the customer's last message on the request.
    `reminders_sent`: reminders sent since then. `last_reminder_at`: when the
    last one went (when unknown, reminders are taken to have gone on time).
    `stale_since`: when the ticket was tagged stale, if it is.
    Times must be time-zone aware.
    """
    policy = policy or ReminderPolicy()
    times = {
        "last_activity": last_activity,
        "now": now,
        "last_reminder_at": last_reminder_at,
        "stale_since": stale_since,
    }
    for name, value in times.items():
        _aware(name, value)
    if reminders_sent < 0:
        raise ValueError("reminders: reminders_sent cannot be negative")

    if stale_since is not None:
        return ClearStale() if last_activity > stale_since else Wait(None)
    if last_reminder_at is not None and last_reminder_at < last_activity:
        # The customer wrote after the last reminder: the count starts again.
        reminders_sent, last_reminder_at = 0, None
    if reminders_sent == 0:
        last_nudge = last_activity
    else:
        last_nudge = last_reminder_at or last_activity + policy.remind_after * reminders_sent

    if reminders_sent < policy.max_reminders:
        due = last_nudge + policy.remind_after
        if now >= due:
            return Remind(reminders_sent + 1, policy.max_reminders)
        return Wait(due)
    stale_at = last_nudge + policy.stale_after
    if now >= stale_at:
        return MarkStale(reminders_sent)
    return Wait(stale_at)
