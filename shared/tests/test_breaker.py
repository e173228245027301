"""The circuit breaker: opening, the trial call, and calls that run in parallel."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pybreaker
import pytest

from servicekit.breaker import (
    STATE_CLOSED,
    STATE_HALF_OPEN,
    STATE_OPEN,
    CircuitBreaker,
    CircuitBreakerError,
)


class Refused(Exception):
    pass


def failing() -> None:
    raise Refused("connection refused")


def ok() -> str:
    return "ok"


def trip(breaker: CircuitBreaker) -> None:
    for _ in range(breaker.fail_max):
        with pytest.raises(Refused):
            breaker.call(failing)


def test_the_breaker_opens_after_fail_max_consecutive_failures() -> None:
    breaker = CircuitBreaker(fail_max=3, reset_timeout=30)
    calls: list[str] = []

    # when three calls fail; the third, which trips it, still raises its own error
    trip(breaker)

    # then the next call is refused without running
    assert breaker.current_state == STATE_OPEN
    with pytest.raises(CircuitBreakerError):
        breaker.call(lambda: calls.append("ran"))
    assert calls == []
    assert 29 <= breaker.retry_after() <= 30


def test_a_success_resets_the_count_of_consecutive_failures() -> None:
    breaker = CircuitBreaker(fail_max=3, reset_timeout=30)

    for _ in range(2):
        with pytest.raises(Refused):
            breaker.call(failing)
    assert breaker.call(ok) == "ok"
    for _ in range(2):
        with pytest.raises(Refused):
            breaker.call(failing)

    assert breaker.current_state == STATE_CLOSED


def test_after_the_reset_timeout_one_successful_trial_closes_it() -> None:
    breaker = CircuitBreaker(fail_max=2, reset_timeout=0.2)
    trip(breaker)

    time.sleep(0.25)

    assert breaker.call(ok) == "ok"
    assert breaker.current_state == STATE_CLOSED
    assert breaker.fail_counter == 0


def test_a_failed_trial_opens_it_again() -> None:
    breaker = CircuitBreaker(fail_max=2, reset_timeout=0.2)
    trip(breaker)
    time.sleep(0.25)

    with pytest.raises(Refused):
        breaker.call(failing)

    assert breaker.current_state == STATE_OPEN
    with pytest.raises(CircuitBreakerError):
        breaker.call(ok)


def test_half_open_lets_exactly_one_trial_through_at_a_time() -> None:
    breaker = CircuitBreaker(fail_max=1, reset_timeout=0.1)
    trip(breaker)
    time.sleep(0.15)
    trial_started, release = threading.Event(), threading.Event()

    def slow_trial() -> str:
        trial_started.set()
        release.wait(5)
        return "trial"

    with ThreadPoolExecutor(1) as pool:
        trial = pool.submit(breaker.call, slow_trial)
        assert trial_started.wait(5)

        # while the trial runs, other calls are refused
        assert breaker.current_state == STATE_HALF_OPEN
        with pytest.raises(CircuitBreakerError):
            breaker.call(ok)

        release.set()
        assert trial.result(5) == "trial"
    assert breaker.current_state == STATE_CLOSED


def both_calls_meet(call: Callable[[Callable[[], None]], None]) -> bool:
    """Whether two calls made through ``call`` from two threads are inside it at once."""
    barrier = threading.Barrier(2, timeout=1)
    met = []

    def slow_upstream() -> None:
        try:
            barrier.wait()  # returns only when the other call is in flight too
            met.append(True)
        except threading.BrokenBarrierError:
            met.append(False)

    with ThreadPoolExecutor(2) as pool:
        for future in [pool.submit(call, slow_upstream) for _ in range(2)]:
            future.result(10)
    return all(met)


def test_two_slow_calls_through_one_breaker_run_in_parallel() -> None:
    breaker = CircuitBreaker(fail_max=5, reset_timeout=30)

    assert both_calls_meet(breaker.call)


def test_plain_pybreaker_serializes_them_which_is_why_this_module_exists() -> None:
    # pybreaker 1.4.1 holds its lock while the call runs: docs/spec/targets.md, "Known traps".
    breaker = pybreaker.CircuitBreaker(fail_max=5, reset_timeout=30)

    assert not both_calls_meet(breaker.call)


def test_excluded_exceptions_do_not_count_as_failures() -> None:
    breaker = CircuitBreaker(fail_max=1, reset_timeout=30, exclude=[KeyError])

    empty: dict[str, int] = {}

    with pytest.raises(KeyError):
        breaker.call(lambda: empty["missing"])

    assert breaker.current_state == STATE_CLOSED


def test_it_can_throw_a_breaker_error_on_the_tripping_call_when_asked() -> None:
    breaker = CircuitBreaker(fail_max=1, reset_timeout=30, throw_new_error_on_trip=True)

    with pytest.raises(CircuitBreakerError):
        breaker.call(failing)
