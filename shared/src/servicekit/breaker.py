"""A pybreaker circuit breaker that does not serialize the calls it guards.

pybreaker 1.4.1's ``CircuitBreaker.call()`` holds the breaker's ``RLock`` for
the whole wrapped call (pybreaker issue #55). In a threaded worker that makes
every call to one upstream wait for the previous one: a slow upstream turns a
four-thread worker into a one-thread worker. :class:`CircuitBreaker` keeps the
lock around the state changes only (deciding whether a call may start, and
recording its outcome) and runs the call itself outside it.

It also admits exactly one trial call while half-open ("one trial call
decides"); other calls meanwhile are refused as if the breaker were open.

Usage::

    breaker = CircuitBreaker(fail_max=5, reset_timeout=30, name="todo-service")
    try:
        result = breaker.call(fetch, url)
    except CircuitBreakerError:
        ...  # open: answer 503 with Retry-After: breaker.retry_after()

Failures are exceptions raised by the wrapped call. With the default
``throw_new_error_on_trip=False`` the call that trips the breaker re-raises its
own exception (a timeout stays a timeout); only later calls see
:class:`CircuitBreakerError`. What a caller counts as a failure is its own
choice, but a 503 with ``Retry-After`` never is (:func:`service_is_up`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pybreaker
from pybreaker import STATE_CLOSED, STATE_HALF_OPEN, STATE_OPEN, CircuitBreakerError

__all__ = [
    "STATE_CLOSED",
    "STATE_HALF_OPEN",
    "STATE_OPEN",
    "CircuitBreaker",
    "CircuitBreakerError",
    "service_is_up",
]

T = TypeVar("T")


def service_is_up(status: int, headers: Mapping[str, str]) -> bool:
    """Whether an error answer still shows a running service: a 503 with ``Retry-After``
    says "my database is briefly out of reach, come back then". Callers relay it but do
    not count it against the breaker: the call cost milliseconds, and opening would turn
    a one-second blip into the breaker's whole reset time of refusals."""
    return status == 503 and "Retry-After" in headers


class CircuitBreaker(pybreaker.CircuitBreaker):
    """pybreaker's breaker with the lock held only around state changes."""

    def __init__(
        self,
        fail_max: int = 5,
        reset_timeout: float = 30,
        *,
        name: str | None = None,
        throw_new_error_on_trip: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            fail_max=fail_max,
            reset_timeout=reset_timeout,
            name=name,
            throw_new_error_on_trip=throw_new_error_on_trip,
            **kwargs,
        )
        self._trial_in_flight = False
        self._report_state()

    # State changes also set the ``circuit_breaker_state`` gauge (not each call).
    def open(self) -> bool:
        opened = super().open()
        self._report_state()
        return opened

    def half_open(self) -> None:
        super().half_open()
        self._report_state()

    def close(self) -> None:
        super().close()
        self._report_state()

    def _report_state(self) -> None:
        if not self.name:
            return
        from servicekit.metrics.defs import CIRCUIT_BREAKER_STATE

        value = {STATE_CLOSED: 0, STATE_HALF_OPEN: 1, STATE_OPEN: 2}.get(self.current_state, 0)
        CIRCUIT_BREAKER_STATE.labels(self.name).set(value)

    def call(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``func`` if the breaker allows it, and record how it went."""
        is_trial = self._admit(func, *args, **kwargs)
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            with self._lock:
                if is_trial:
                    self._trial_in_flight = False
                # Raises: exc itself, or CircuitBreakerError when configured to on a trip.
                self.state._handle_error(exc)
            raise  # pragma: no cover - _handle_error always raises
        with self._lock:
            if is_trial:
                self._trial_in_flight = False
            self.state._handle_success()
        return result

    def retry_after(self) -> int:
        """Whole seconds until an open breaker lets a trial call through (at least 1)."""
        opened_at = self._state_storage.opened_at
        if opened_at is None:
            return 1
        deadline = opened_at + timedelta(seconds=self.reset_timeout)
        remaining = (deadline - datetime.now(UTC)).total_seconds()
        return max(1, math.ceil(remaining))

    def _admit(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
        """Decide under the lock whether a call may start; True for the half-open trial."""
        with self._lock:
            state = self.state
            if state.name == STATE_OPEN:
                opened_at = self._state_storage.opened_at
                if opened_at and datetime.now(UTC) < opened_at + timedelta(
                    seconds=self.reset_timeout
                ):
                    raise CircuitBreakerError("Circuit breaker is open")
                self.half_open()
                state = self.state
            is_trial = state.name == STATE_HALF_OPEN
            if is_trial:
                if self._trial_in_flight:
                    raise CircuitBreakerError("Circuit breaker is half-open; a trial call runs")
                self._trial_in_flight = True
            for listener in self.listeners:
                listener.before_call(self, func, *args, **kwargs)
            return is_trial
