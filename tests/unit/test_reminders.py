"""Reminders for requests still missing items, driven by explicit times (a test clock)."""

from __future__ import annotations

import datetime as dt

import pytest

from rules.reminders import (
    ClearStale,
    MarkStale,
    Remind,
    ReminderPolicy,
    Wait,
    reminder_action,
)

UTC = dt.UTC
ACTIVITY = dt.datetime(2026, 11, 20, 10, 42, tzinfo=UTC)
DAY = dt.timedelta(days=1)
POLICY = ReminderPolicy.from_days(remind_after_days=3, stale_after_days=4, max_reminders=1)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def advance(self, delta: dt.timedelta) -> dt.datetime:
        self.now += delta
        return self.now


def test_no_reminder_before_n_days_and_the_time_to_look_again_is_given() -> None:
    action = reminder_action(ACTIVITY, 0, ACTIVITY + 2 * DAY, policy=POLICY)
    assert action == Wait(ACTIVITY + 3 * DAY)


def test_one_reminder_after_n_days() -> None:
    assert reminder_action(ACTIVITY, 0, ACTIVITY + 3 * DAY, policy=POLICY) == Remind(1, 1)


def test_after_the_reminder_the_ticket_goes_stale_m_days_later() -> None:
    sent_at = ACTIVITY + 3 * DAY + dt.timedelta(hours=1)
    before = reminder_action(
        ACTIVITY, 1, sent_at + 3 * DAY, last_reminder_at=sent_at, policy=POLICY
    )
    assert before == Wait(sent_at + 4 * DAY)
    after = reminder_action(ACTIVITY, 1, sent_at + 4 * DAY, last_reminder_at=sent_at, policy=POLICY)
    assert after == MarkStale(1)


def test_the_whole_course_walked_with_a_clock_sends_one_reminder_then_marks_stale() -> None:
    clock = Clock(ACTIVITY)
    sent: list[dt.datetime] = []
    stale_since: dt.datetime | None = None
    log: list[str] = []
    for _ in range(24 * 10):  # ten days, checked hourly as the scheduler would
        now = clock.advance(dt.timedelta(hours=1))
        action = reminder_action(
            ACTIVITY,
            len(sent),
            now,
            last_reminder_at=sent[-1] if sent else None,
            stale_since=stale_since,
            policy=POLICY,
        )
        if isinstance(action, Remind):
            sent.append(now)
            log.append(f"remind {action.ordinal} at day {(now - ACTIVITY) / DAY:.0f}")
        elif isinstance(action, MarkStale):
            stale_since = now
            log.append(f"stale at day {(now - ACTIVITY) / DAY:.0f}")
    assert log == ["remind 1 at day 3", "stale at day 7"]


def test_at_most_k_reminders_n_days_apart_then_stale() -> None:
    policy = ReminderPolicy.from_days(remind_after_days=2, stale_after_days=3, max_reminders=3)
    clock = Clock(ACTIVITY)
    sent: list[dt.datetime] = []
    days: list[tuple[str, float]] = []
    stale_since = None
    while clock.now < ACTIVITY + 20 * DAY:
        now = clock.advance(dt.timedelta(hours=6))
        action = reminder_action(
            ACTIVITY,
            len(sent),
            now,
            stale_since=stale_since,
            last_reminder_at=sent[-1] if sent else None,
            policy=policy,
        )
        if isinstance(action, Remind):
            sent.append(now)
            days.append(("remind", (now - ACTIVITY) / DAY))
        elif isinstance(action, MarkStale):
            stale_since = now
            days.append(("stale", (now - ACTIVITY) / DAY))
    assert days == [("remind", 2), ("remind", 4), ("remind", 6), ("stale", 9)]


def test_a_customer_reply_after_a_reminder_starts_the_count_again() -> None:
    reminded = ACTIVITY + 3 * DAY
    replied = reminded + DAY
    action = reminder_action(replied, 1, replied + DAY, last_reminder_at=reminded, policy=POLICY)
    assert action == Wait(replied + 3 * DAY)
    assert reminder_action(
        replied, 1, replied + 3 * DAY, last_reminder_at=reminded, policy=POLICY
    ) == Remind(1, 1)


def test_stale_ticket_waits_for_the_customer() -> None:
    stale = ACTIVITY + 7 * DAY
    assert reminder_action(ACTIVITY, 1, stale + 30 * DAY, stale_since=stale, policy=POLICY) == Wait(
        None
    )


def test_customer_writing_after_stale_clears_the_tag() -> None:
    stale = ACTIVITY + 7 * DAY
    assert (
        reminder_action(stale + DAY, 1, stale + DAY, stale_since=stale, policy=POLICY)
        == ClearStale()
    )


def test_a_late_run_sends_one_reminder_at_a_time_never_a_burst() -> None:
    policy = ReminderPolicy.from_days(2, 3, 3)
    late = ACTIVITY + 30 * DAY  # the bot was down for a month
    first = reminder_action(ACTIVITY, 0, late, policy=policy)
    assert first == Remind(1, 3)
    second = reminder_action(ACTIVITY, 1, late, last_reminder_at=late, policy=policy)
    assert second == Wait(late + 2 * DAY)


def test_when_the_last_reminder_time_is_unknown_reminders_are_taken_as_sent_on_time() -> None:
    policy = ReminderPolicy.from_days(2, 3, 2)
    assert reminder_action(ACTIVITY, 1, ACTIVITY + 3 * DAY, policy=policy) == Wait(
        ACTIVITY + 4 * DAY
    )
    assert reminder_action(ACTIVITY, 2, ACTIVITY + 7 * DAY, policy=policy) == MarkStale(2)


def test_with_no_reminders_configured_the_ticket_goes_stale_after_m_days() -> None:
    policy = ReminderPolicy.from_days(3, 4, 0)
    assert reminder_action(ACTIVITY, 0, ACTIVITY + 3 * DAY, policy=policy) == Wait(
        ACTIVITY + 4 * DAY
    )
    assert reminder_action(ACTIVITY, 0, ACTIVITY + 4 * DAY, policy=policy) == MarkStale(0)


def test_time_zones_compare_as_instants() -> None:
    eastern = dt.timezone(dt.timedelta(hours=-5))
    now = (ACTIVITY + 3 * DAY).astimezone(eastern)
    assert reminder_action(ACTIVITY, 0, now, policy=POLICY) == Remind(1, 1)


def test_times_without_a_zone_are_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        reminder_action(ACTIVITY.replace(tzinfo=None), 0, ACTIVITY, policy=POLICY)


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"remind_after_days": 0}, "remind_after"),
        ({"stale_after_days": -1}, "stale_after"),
        ({"max_reminders": -1}, "max_reminders"),
    ],
)
def test_contradictory_policy_is_refused(kwargs: dict[str, float], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        ReminderPolicy.from_days(**kwargs)  # type: ignore[arg-type]


def test_defaults_are_three_days_then_four_more_one_reminder() -> None:
    policy = ReminderPolicy()
    assert (policy.remind_after, policy.stale_after, policy.max_reminders) == (3 * DAY, 4 * DAY, 1)
