"""The chaos run's users: open-loop traffic through the gateway, every exchange recorded.

Each simulated user does one thing at a time, the way a person or a client
application would: register, log in, refresh, create, update, complete and
delete todos (half the creations with an ``Idempotency-Key``), read todos and
notifications, and now and then delete the account. A client retries what is
safe to repeat (a keyed ``POST``, a completion, a ``DELETE``, any read) after a
5xx or no answer, with a short back-off, as a real client would; ``PATCH``
and unkeyed ``POST`` are not repeated.

What a user believes about each of its todos is kept as the set of states the
todo may be in (:class:`TodoBelief`): an acknowledged answer narrows it to one,
a write whose outcome is unknown (no answer, a 5xx) widens it. The checks
(``checks.py``) compare the databases against these beliefs.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import requests

# Weights of what a user does next.
MIX = {
    "list_todos": 20,
    "create": 20,
    "update": 11,
    "complete": 12,
    "get_todo": 8,
    "list_notifications": 8,
    "delete_todo": 6,
    "get_notification": 2,
    "refresh": 4,
    "login": 3,
    "register": 5,
    "delete_account": 1,
}
# What a user does is one of these routes (for availability by route).
ROUTES = {
    "register": "POST /auth/register",
    "login": "POST /auth/login",
    "refresh": "POST /auth/refresh",
    "create": "POST /todos",
    "list_todos": "GET /todos",
    "get_todo": "GET /todos/{id}",
    "update": "PATCH /todos/{id}",
    "complete": "POST /todos/{id}/complete",
    "delete_todo": "DELETE /todos/{id}",
    "list_notifications": "GET /notifications",
    "get_notification": "GET /notifications/{id}",
    "delete_account": "DELETE /users/me",
    "me": "GET /users/me",
}
CLIENT_TIMEOUT = 10.0  # seconds; the gateway gives up on a service after 5
RETRY_DELAYS = (0.5, 1.0, 2.0)  # a client's back-off between attempts
PASSWORD = "chaos-Pa55word!"  # noqa: S105 - the simulated users' password
DELETED = "deleted"  # the state of a todo that is gone


@dataclass
class Exchange:
    """One HTTP request of the run and what came back (``status`` None: no answer)."""

    started: float  # seconds since the run began
    seconds: float
    user: str
    action: str
    method: str
    path: str
    status: int | None
    code: str = ""  # the error body's "code", or the exception's name when no answer
    attempt: int = 1
    replayed: bool = False  # Idempotent-Replayed: true
    detail: str = ""

    @property
    def route(self) -> str:
        return ROUTES[self.action]

    @property
    def answered(self) -> bool:
        return self.status is not None

    @property
    def unknown_outcome(self) -> bool:
        """A write may or may not have happened: no answer, or a 5xx."""
        return self.status is None or self.status >= 500


def todo_state(body: dict[str, Any]) -> tuple[str, str, str, bool]:
    return (body["title"], body["description"], body["priority"], bool(body["completed"]))


@dataclass
class TodoBelief:
    """What a user may find of one todo: every state it can be in now."""

    todo_id: int
    states: set[tuple[str, str, str, bool] | str]
    completions: int = 0  # acknowledged completions (false -> true), at most one by design

    def observe(self, body: dict[str, Any]) -> None:
        self.states = {todo_state(body)}

    def maybe(self, change: Callable[[tuple[str, str, str, bool]], Any]) -> None:
        self.states |= {change(s) for s in self.states if isinstance(s, tuple)}

    @property
    def certainly_open(self) -> bool:
        return all(s != DELETED and not s[3] for s in self.states)

    @property
    def possibly_there(self) -> bool:
        return any(s != DELETED for s in self.states)


@dataclass
class User:
    username: str
    email: str
    user_id: int | None = None
    access: str = ""
    refresh: str = ""
    todos: dict[int, TodoBelief] = field(default_factory=dict)
    # Creations whose answer never came, without a key to find out: may exist or not.
    unknown_creations: int = 0
    notification_ids: list[int] = field(default_factory=list)
    registered: bool = False  # acknowledged (201), or the name found taken after no answer
    deletion: str | None = None  # the saga id once DELETE /users/me was accepted
    deletion_unknown: bool = False  # DELETE /users/me sent, no answer
    busy: threading.Lock = field(default_factory=threading.Lock)


class Record:
    """Every exchange of the run, thread-safe, in the order they ended."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()

    def add(self, exchange: Exchange) -> None:
        with self._lock:
            self.exchanges.append(exchange)

    def __iter__(self) -> Iterator[Exchange]:
        with self._lock:
            return iter(list(self.exchanges))


class Traffic:
    """The simulated users and what they do; ``step()`` is one scheduled request slot."""

    def __init__(self, gateway: str, random_seed: int, record: Record) -> None:
        self.gateway = gateway
        self.record = record
        self.users: list[User] = []
        self.random = random.Random(random_seed)  # noqa: S311 - a load mix, not a secret
        self._choose = threading.Lock()
        self._local = threading.local()
        self.skipped_slots = 0  # every user was busy

    # -- scheduling ------------------------------------------------------------

    def step(self) -> None:
        """Pick an idle user and an action, and carry it out (in the caller's thread)."""
        with self._choose:
            action = self.random.choices(list(MIX), list(MIX.values()))[0]
            if action == "register" or not self.users:
                user = User(username=f"chaos-{uuid.uuid4().hex[:10]}", email="")
                user.email = f"{user.username}@example.com"
                user.busy.acquire()
                self.users.append(user)
                action = "register"
            else:
                idle = [u for u in self.users if u.deletion is None and not u.busy.locked()]
                idle = [u for u in idle if not u.deletion_unknown and u.registered]
                if not idle:
                    self.skipped_slots += 1
                    return
                user = self.random.choice(idle)
                user.busy.acquire()
            choice = self.random.random()
        try:
            getattr(self, f"do_{action}")(user, choice)
        finally:
            user.busy.release()

    # -- HTTP ------------------------------------------------------------------

    def session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session  # type: ignore[no-any-return]

    def send(
        self,
        user: User,
        action: str,
        method: str,
        path: str,
        *,
        body: Any = None,
        token: bool = True,
        key: str | None = None,
        retry: bool = False,
    ) -> tuple[requests.Response | None, list[Exchange]]:
        """The request (and a client's retries if ``retry``); the last response, if any."""
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {user.access}"
        if key:
            headers["Idempotency-Key"] = key
        attempts = 1 + (len(RETRY_DELAYS) if retry else 0)
        exchanges: list[Exchange] = []
        response: requests.Response | None = None
        for attempt in range(1, attempts + 1):
            started = time.monotonic()
            try:
                response = self.session().request(
                    method, self.gateway + path, json=body, headers=headers, timeout=CLIENT_TIMEOUT
                )
                status, code = response.status_code, error_code(response)
            except requests.RequestException as exc:
                response, status, code = None, None, type(exc).__name__
            exchange = Exchange(
                started=started - self.record.started,
                seconds=time.monotonic() - started,
                user=user.username,
                action=action,
                method=method,
                path=path,
                status=status,
                code=code,
                attempt=attempt,
                replayed=bool(response is not None and response.headers.get("Idempotent-Replayed")),
                detail=response.text[:300] if response is not None and status == 500 else "",
            )
            self.record.add(exchange)
            exchanges.append(exchange)
            if not exchange.unknown_outcome or attempt == attempts:
                break
            time.sleep(RETRY_DELAYS[attempt - 1])
        return response, exchanges

    def authorized(
        self, user: User, action: str, method: str, path: str, **kwargs: Any
    ) -> tuple[requests.Response | None, list[Exchange]]:
        """``send``, and once more after logging in again if the token was refused."""
        response, exchanges = self.send(user, action, method, path, **kwargs)
        if response is not None and response.status_code == 401 and self.log_in(user):
            more_response, more = self.send(user, action, method, path, **kwargs)
            return more_response, exchanges + more
        return response, exchanges

    # -- actions -----------------------------------------------------------------

    def do_register(self, user: User, choice: float) -> None:
        body = {"username": user.username, "email": user.email, "password": PASSWORD}
        response, _ = self.send(
            user, "register", "POST", "/auth/register", body=body, token=False, retry=True
        )
        if response is not None and response.status_code == 201:
            user.user_id = int(response.json()["id"])
            user.registered = True
        elif response is not None and response.status_code == 400 and "username" in response.text:
            user.registered = True  # an earlier attempt went through after all
        if user.registered:
            self.log_in(user)

    def log_in(self, user: User) -> bool:
        body = {"username": user.username, "password": PASSWORD}
        response, _ = self.send(
            user, "login", "POST", "/auth/login", body=body, token=False, retry=True
        )
        if response is None or response.status_code != 200:
            return False
        tokens = response.json()
        user.access, user.refresh = tokens["access"], tokens["refresh"]
        if user.user_id is None:
            me, _ = self.send(user, "me", "GET", "/users/me", retry=True)
            if me is not None and me.status_code == 200:
                user.user_id = int(me.json()["id"])
        return True

    def do_login(self, user: User, choice: float) -> None:
        self.log_in(user)

    def do_refresh(self, user: User, choice: float) -> None:
        body = {"refresh": user.refresh}
        # Not repeated: a refresh token is used up by the first request that reaches it.
        response, _ = self.send(user, "refresh", "POST", "/auth/refresh", body=body, token=False)
        if response is not None and response.status_code == 200:
            tokens = response.json()
            user.access, user.refresh = tokens["access"], tokens["refresh"]
        elif response is not None and response.status_code == 401:
            self.log_in(user)

    def do_create(self, user: User, choice: float) -> None:
        number = len(user.todos) + user.unknown_creations + 1
        body = {
            "title": f"{user.username} todo {number}",
            "priority": ("low", "normal", "high")[number % 3],
            "completed": choice < 0.05,
        }
        key = str(uuid.uuid4()) if choice < 0.5 else None
        response, exchanges = self.authorized(
            user, "create", "POST", "/todos", body=body, key=key, retry=key is not None
        )
        if response is not None and response.status_code == 201:
            created = response.json()
            belief = TodoBelief(int(created["id"]), {todo_state(created)})
            user.todos[belief.todo_id] = belief
        elif exchanges[-1].unknown_outcome:
            user.unknown_creations += 1

    def pick_todo(self, user: User, choice: float, *, open_only: bool = False) -> TodoBelief | None:
        candidates = [
            b
            for b in user.todos.values()
            if b.possibly_there and (b.certainly_open if open_only else True)
        ]
        if not candidates:
            return None
        return candidates[int(choice * len(candidates)) % len(candidates)]

    def do_update(self, user: User, choice: float) -> None:
        belief = self.pick_todo(user, choice)
        if belief is None:
            return self.do_create(user, choice)
        field_name = ("title", "description", "priority")[int(choice * 300) % 3]
        value = {
            "title": f"{user.username} todo {belief.todo_id} v{int(choice * 1000)}",
            "description": f"changed {int(choice * 1000)}",
            "priority": ("low", "normal", "high")[int(choice * 1000) % 3],
        }[field_name]
        index = ("title", "description", "priority").index(field_name)
        response, _ = self.authorized(
            user, "update", "PATCH", f"/todos/{belief.todo_id}", body={field_name: value}
        )
        self.settle_write(belief, response, lambda s: (*s[:index], value, *s[index + 1 :]))
        return None

    def do_complete(self, user: User, choice: float) -> None:
        belief = self.pick_todo(user, choice, open_only=True)
        if belief is None:
            return self.do_create(user, choice)
        response, _ = self.authorized(
            user, "complete", "POST", f"/todos/{belief.todo_id}/complete", retry=True
        )
        if response is not None and response.status_code == 200:
            belief.completions += 1
        self.settle_write(belief, response, lambda s: (*s[:3], True))
        return None

    def do_delete_todo(self, user: User, choice: float) -> None:
        belief = self.pick_todo(user, choice)
        if belief is None:
            return None
        response, exchanges = self.authorized(
            user, "delete_todo", "DELETE", f"/todos/{belief.todo_id}", retry=True
        )
        earlier_unknown = any(e.unknown_outcome for e in exchanges[:-1])
        if response is not None and (
            response.status_code == 204 or (response.status_code == 404 and earlier_unknown)
        ):
            belief.states = {DELETED}
        elif response is None or response.status_code >= 500:
            belief.states.add(DELETED)
        return None

    def settle_write(
        self,
        belief: TodoBelief,
        response: requests.Response | None,
        change: Callable[[tuple[str, str, str, bool]], Any],
    ) -> None:
        if response is not None and response.status_code == 200:
            belief.observe(response.json())
        elif response is None or response.status_code >= 500:
            belief.maybe(change)

    def do_get_todo(self, user: User, choice: float) -> None:
        belief = self.pick_todo(user, choice)
        if belief is None:
            return self.do_list_todos(user, choice)
        response, _ = self.authorized(
            user, "get_todo", "GET", f"/todos/{belief.todo_id}", retry=True
        )
        if response is not None and response.status_code == 200:
            belief.observe(response.json())
        elif response is not None and response.status_code == 404 and DELETED in belief.states:
            belief.states = {DELETED}
        return None

    def do_list_todos(self, user: User, choice: float) -> None:
        self.authorized(user, "list_todos", "GET", "/todos", retry=True)

    def do_list_notifications(self, user: User, choice: float) -> None:
        response, _ = self.authorized(
            user, "list_notifications", "GET", "/notifications", retry=True
        )
        if response is not None and response.status_code == 200:
            user.notification_ids = [int(n["id"]) for n in response.json()["results"]]

    def do_get_notification(self, user: User, choice: float) -> None:
        if not user.notification_ids:
            return self.do_list_notifications(user, choice)
        pick = user.notification_ids[int(choice * len(user.notification_ids))]
        self.authorized(user, "get_notification", "GET", f"/notifications/{pick}", retry=True)
        return None

    def do_delete_account(self, user: User, choice: float) -> None:
        response, exchanges = self.authorized(
            user,
            "delete_account",
            "DELETE",
            "/users/me",
            body={"password": PASSWORD},
            retry=True,  # a second request while the saga runs gets the same saga
        )
        if response is not None and response.status_code == 202:
            user.deletion = str(response.json()["saga_id"])
        elif any(e.unknown_outcome for e in exchanges):
            # It may have started: then the account is locked and a retry is refused (401).
            user.deletion_unknown = True


def error_code(response: requests.Response) -> str:
    if response.status_code < 400:
        return ""
    try:
        body = response.json()
    except ValueError:
        return "not-json"
    return str(body.get("code", "")) if isinstance(body, dict) else ""
