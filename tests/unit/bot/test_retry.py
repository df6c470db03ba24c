"""The adapters' one retry policy: waits, the server's Retry-After, giving up."""

from __future__ import annotations

import pytest

from bot.adapters.retry import RetryPolicy, TryAgain, retrying


def run(policy: RetryPolicy, answers: list[TryAgain | str]) -> tuple[str, list[float], int]:
    slept: list[float] = []
    calls = 0
    for attempt in retrying(policy, slept.append):
        with attempt:
            calls += 1
            answer = answers.pop(0)
            if isinstance(answer, TryAgain):
                raise answer
            return answer, slept, calls
    raise AssertionError("unreachable")


def test_backoff_doubles_up_to_its_cap_and_the_call_then_succeeds() -> None:
    policy = RetryPolicy(attempts=5, backoff=1.0, max_backoff=3.0)
    answers: list[TryAgain | str] = [TryAgain("503")] * 4 + ["ok"]
    assert run(policy, answers) == ("ok", [1.0, 2.0, 3.0, 3.0], 5)


def test_the_servers_retry_after_is_waited_instead_of_the_backoff() -> None:
    answers: list[TryAgain | str] = [TryAgain("429", retry_after=7.0), TryAgain("503"), "ok"]
    assert run(RetryPolicy(backoff=1.0), answers) == ("ok", [7.0, 2.0], 3)


def test_when_the_tries_run_out_the_last_answer_is_raised_with_its_retry_after() -> None:
    with pytest.raises(TryAgain) as raised:
        run(RetryPolicy(attempts=2, backoff=0.0), [TryAgain("503"), TryAgain("429", 9.0)])
    assert (raised.value.reason, raised.value.retry_after) == ("429", 9.0)


def test_any_other_error_is_not_retried() -> None:
    slept: list[float] = []
    calls = 0
    with pytest.raises(KeyError):
        for attempt in retrying(RetryPolicy(), slept.append):
            with attempt:
                calls += 1
                raise KeyError("a bug")
    assert (calls, slept) == (1, [])


def test_a_policy_that_cannot_try_is_refused() -> None:
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)
