"""A saga test DSL in the spirit of FTGO's: given participant replies, expect these calls.

::

    (scenario.given("notification-service", "erase", 409)
        .when_the_account_is_deleted()
        .expect_calls("todo-service erase", "notification-service erase",
                      "notification-service restore", "todo-service restore")
        .expect_status("failed"))

The participants are real HTTP servers in the test (:class:`HttpPeer`) that
answer as scripted and record what reached them, in one shared order; the
saga runs in the real engine against the test database and Redis. Waiting is
skipped, not faked: a saga waiting for its next attempt is made due at once.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any, Self

from django.utils import timezone
from servicekit.testing import HttpPeer, free_port

from accounts import deletion
from accounts.models import User
from sagas import engine
from sagas.models import Saga

PARTICIPANTS = ("todo-service", "notification-service")
Reply = int | Callable[[], tuple[int, Any]]


class SagaScenario:
    def __init__(self, *, user: User, http_peers: Callable[..., HttpPeer], settings: Any) -> None:
        self.user = user
        self.calls: list[str] = []
        self._lock = threading.Lock()
        self._replies: dict[tuple[str, str], deque[Reply]] = defaultdict(deque)
        self.peers = {service: http_peers(self._replier(service)) for service in PARTICIPANTS}
        settings.TODO_SERVICE_URLS = [self.peers["todo-service"].url]
        settings.NOTIFICATION_SERVICE_URLS = [self.peers["notification-service"].url]
        deletion.participant.cache_clear()
        self.saga: Saga | None = None

    # --- given -----------------------------------------------------------------

    def given(self, service: str, action: str, *replies: Reply) -> Self:
        """The next calls of ``action`` on ``service`` get these replies (then 200)."""
        self._replies[(service, action)].extend(replies)
        return self

    def given_down(self, service: str) -> Self:
        """Nobody listens at the service's address: connections are refused."""
        url = f"http://127.0.0.1:{free_port()}"
        if service == "todo-service":
            self._settings_url("TODO_SERVICE_URLS", url)
        else:
            self._settings_url("NOTIFICATION_SERVICE_URLS", url)
        return self

    def _settings_url(self, name: str, url: str) -> None:
        from django.conf import settings

        setattr(settings, name, [url])
        deletion.participant.cache_clear()

    # --- when ------------------------------------------------------------------

    def when_the_account_is_deleted(self, *, runs: int = 20) -> Self:
        self.saga, _ = deletion.start_account_deletion(user=self.user)
        return self.when_the_worker_runs(runs=runs)

    def when_the_worker_runs(self, *, runs: int = 20) -> Self:
        """Let a worker run the saga until it finishes or waits for an operator."""
        for _ in range(runs):
            self.run_once()
            saga = self.current
            if not saga.is_active or saga.waits_for_operator:
                break
        return self

    def run_once(self) -> Self:
        """One worker run, as if the saga were due now."""
        Saga.objects.filter(pk=self.current.pk, next_attempt_at__isnull=False).update(
            next_attempt_at=timezone.now()
        )
        engine.advance(self.current.pk)
        return self

    # --- then ------------------------------------------------------------------

    @property
    def current(self) -> Saga:
        assert self.saga is not None, "start the saga first"
        return Saga.objects.get(pk=self.saga.pk)

    def expect_calls(self, *calls: str) -> Self:
        assert self.calls == list(calls)
        return self

    def expect_status(self, status: str) -> Self:
        assert self.current.status == status, self.current.reason
        return self

    def expect_steps(self, *steps: tuple[str, str]) -> Self:
        """(name, status) of every step record, in order."""
        actual = [(step.name, step.status) for step in self.current.steps.order_by("position")]
        assert actual == list(steps)
        return self

    def step(self, name: str) -> Any:
        return self.current.steps.get(name=name)

    # --- the participants ----------------------------------------------------------

    def _replier(self, service: str) -> Callable[[str, str, Any], tuple[int, Any]]:
        def reply(method: str, path: str, body: Any) -> tuple[int, Any]:
            action = path.rstrip("/").rsplit("/", 1)[-1]
            with self._lock:
                self.calls.append(f"{service} {action}")
                scripted = self._replies[(service, action)]
                answer = scripted.popleft() if scripted else 200
            if callable(answer):
                return answer()
            if answer >= 400:
                return answer, {"detail": f"{service} says {answer}", "code": "scripted"}
            return answer, {"saga_id": body["saga_id"], "status": action}

        return reply


def slow(seconds: float) -> Callable[[], tuple[int, Any]]:
    """A reply that comes too late (after the client's read timeout)."""

    def reply() -> tuple[int, Any]:
        time.sleep(seconds)
        return 200, {}

    return reply
