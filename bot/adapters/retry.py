"""The adapters' one retry policy, on tenacity.

An HTTP call that meets a transient answer (429, a 5xx, a lost connection) raises
`TryAgain`; `retrying` repeats it with exponential backoff, waiting what the server's
`Retry-After` asks instead when it asks, and gives up after `attempts`, re-raising the
last `TryAgain` for the adapter to map into the bot's tree. A wait longer than
`max_retry_after` is not waited out inside a call: the adapter says the service is
unavailable and the pipeline tries the message again on a later cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep trying before a service is called unavailable."""

    attempts: int = 5  # HTTP attempts per call, the first included
    backoff: float = 1.0  # seconds before the first retry; doubles each time
    max_backoff: float = 30.0
    max_retry_after: float = 120.0  # a longer Retry-After is not waited out here

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.backoff < 0 or self.max_retry_after < 0:
            raise ValueError("retry attempts must be >= 1 and waits >= 0")


class TryAgain(Exception):
    """This attempt met a transient answer; `retry_after`: the seconds the server asked."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def retrying(
    policy: RetryPolicy,
    sleep: Callable[[float], None],
    on_retry: Callable[[float], None] = lambda seconds: None,
) -> Retrying:
    """`for attempt in retrying(...): with attempt: ...` repeats a block raising TryAgain."""
    backoff = wait_exponential(multiplier=policy.backoff, max=policy.max_backoff)

    def wait(state: RetryCallState) -> float:
        failed = state.outcome.exception() if state.outcome else None
        asked = failed.retry_after if isinstance(failed, TryAgain) else None
        return asked if asked is not None else float(backoff(state))

    def before_sleep(state: RetryCallState) -> None:
        on_retry(state.next_action.sleep if state.next_action else 0.0)

    return Retrying(
        stop=stop_after_attempt(policy.attempts),
        wait=wait,
        retry=retry_if_exception_type(TryAgain),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
