"""The suite's catalog: every service and every process, once.

``./manage-all.sh`` starts, checks and lists what is here; the end-to-end
tests, the benchmarks and the compose/Kubernetes consistency tests read it
too. Adding a service is one :class:`Service` entry (and a :class:`Process`
for each of its background processes) plus its Django project.

A command is an argv whose ``{NAME}`` parts are filled from the running
suite's settings (:mod:`manage_all.settings`) when the process starts;
``python``, ``gunicorn`` and ``celery`` are the ones in the suite's virtualenv.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Literal

Kind = Literal["http", "relay", "worker", "monitor", "support"]
# How `up` and `start` know a process is ready:
#   http     GET /health/ready on its port answers 200
#   celery   its log, since it was started, says "<hostname> ready."
#   tcp      its port accepts a connection
#   running  it has been started and has not exited
Readiness = Literal["http", "celery", "tcp", "running"]

READINESS_PATH = "/health/ready"
LIVENESS_PATH = "/health"


@dataclass(frozen=True)
class Service:
    """A Django project: its folder, its port, and the variables that point at it."""

    name: str
    alias: str
    folder: str
    port_variable: str
    default_port: int
    # The variable other services (and the gateway) find it by.
    url_variable: str | None
    # The database the suite gives it, or None when it keeps nothing but Redis state.
    database_variable: str | None
    database_file: str | None
    # What its admin holds, for the table `up` prints.
    admin_shows: str | None


@dataclass(frozen=True)
class Process:
    """One long-running process of a running suite, supervised by name."""

    name: str
    aliases: tuple[str, ...]
    kind: Kind
    # The service whose folder and environment it runs in (None: support processes).
    service: str | None
    command: tuple[str, ...]
    readiness: Readiness
    # Started again by the supervisor when it exits (Celery workers: kombu can
    # give up on a lost broker connection; docs/decisions/0006).
    restart: bool = False
    # A setting that must be true for the process to be run at all.
    only_if: str | None = None

    def queue(self) -> str | None:
        """The Celery queue a worker consumes (its ``-Q``)."""
        if "-Q" not in self.command:
            return None
        return self.command[self.command.index("-Q") + 1]


def argv(command: str) -> tuple[str, ...]:
    """A command line split as the shell would (``""`` is an empty argument)."""
    return tuple(shlex.split(command))


SERVICES: tuple[Service, ...] = (
    Service(
        name="api-gateway",
        alias="gateway",
        folder="gateway_project",
        port_variable="GATEWAY_PORT",
        default_port=8080,
        url_variable=None,
        database_variable=None,
        database_file=None,
        admin_shows=None,
    ),
    Service(
        name="todo-service",
        alias="todo",
        folder="todo_project",
        port_variable="TODO_PORT",
        default_port=8081,
        url_variable="TODO_SERVICE_URL",
        database_variable="TODO_DATABASE_URL",
        database_file="todo.sqlite3",
        admin_shows="todos, outbox",
    ),
    Service(
        name="user-service",
        alias="user",
        folder="user_project",
        port_variable="USER_PORT",
        default_port=8082,
        url_variable="USER_SERVICE_URL",
        database_variable="USER_DATABASE_URL",
        database_file="user.sqlite3",
        admin_shows="users, outbox, sagas",
    ),
    Service(
        name="notification-service",
        alias="notification",
        folder="notification_project",
        port_variable="NOTIFICATION_PORT",
        default_port=8083,
        url_variable="NOTIFICATION_SERVICE_URL",
        database_variable="NOTIFICATION_DATABASE_URL",
        database_file="notification.sqlite3",
        admin_shows="notifications, preferences",
    ),
)

GUNICORN = argv("gunicorn -c gunicorn.conf.py")

PROCESSES: tuple[Process, ...] = (
    # Support: only when the suite runs its own (REDIS_URL, SMTP_HOST unset).
    Process(
        name="redis",
        aliases=(),
        kind="support",
        service=None,
        command=argv(
            "{REDIS_SERVER} --bind 127.0.0.1 --port {EMBEDDED_REDIS_PORT} --dir {VAR_DIR}/redis"
            ' --save "" --appendonly yes --appendfsync everysec --daemonize no'
        ),
        readiness="tcp",
        only_if="EMBEDDED_REDIS",
    ),
    Process(
        name="smtp",
        aliases=(),
        kind="support",
        service=None,
        command=argv(
            "python -m aiosmtpd -n -l 127.0.0.1:{SMTP_PORT}"
            " -c aiosmtpd.handlers.Mailbox {VAR_DIR}/mail"
        ),
        readiness="tcp",
        only_if="SMTP_SINK",
    ),
    # The four HTTP services.
    *(
        Process(
            name=service.name,
            aliases=(service.alias,),
            kind="http",
            service=service.name,
            command=GUNICORN,
            readiness="http",
        )
        for service in SERVICES
    ),
    # Each service with an outbox runs its relay (servicekit.outbox).
    Process(
        name="todo-relay",
        aliases=("relay",),
        kind="relay",
        service="todo-service",
        command=argv("python manage.py relay_outbox"),
        readiness="running",
    ),
    Process(
        name="user-relay",
        aliases=(),
        kind="relay",
        service="user-service",
        command=argv("python manage.py relay_outbox"),
        readiness="running",
    ),
    Process(
        name="user-saga-worker",
        aliases=("saga-worker",),
        kind="worker",
        service="user-service",
        command=argv(
            "celery -A config worker -Q user.saga --concurrency {USER_SAGA_WORKER_CONCURRENCY}"
            " --loglevel INFO --hostname user-saga@%h-{INSTANCE}"
        ),
        readiness="celery",
        restart=True,
    ),
    Process(
        name="notification-worker",
        aliases=("worker",),
        kind="worker",
        service="notification-service",
        command=argv(
            "celery -A config worker -Q notification.events"
            " --concurrency {NOTIFICATION_WORKER_CONCURRENCY}"
            " --loglevel INFO --hostname notification@%h-{INSTANCE}"
        ),
        readiness="celery",
        restart=True,
    ),
    Process(
        name="flower",
        aliases=(),
        kind="monitor",
        service="notification-service",
        command=argv("celery -A config flower --address=127.0.0.1 --port={FLOWER_PORT}"),
        readiness="tcp",
    ),
)

# Ports of the processes that are not services (the `tcp` readiness checks).
PROCESS_PORT_SETTINGS = {
    "redis": "EMBEDDED_REDIS_PORT",
    "smtp": "SMTP_PORT",
    "flower": "FLOWER_PORT",
}
DEFAULT_FLOWER_PORT = 5555
# Worker sizes, overridable from the environment.
WORKER_DEFAULTS = {"USER_SAGA_WORKER_CONCURRENCY": "2", "NOTIFICATION_WORKER_CONCURRENCY": "2"}


def service(name: str) -> Service:
    for entry in SERVICES:
        if entry.name == name:
            return entry
    raise KeyError(name)


def process(name: str) -> Process:
    for entry in PROCESSES:
        if entry.name == name:
            return entry
    raise KeyError(name)


def canonical(name: str) -> str:
    """A process name from its name or an alias (``todo`` -> ``todo-service``)."""
    for entry in PROCESSES:
        if name == entry.name or name in entry.aliases:
            return entry.name
    raise KeyError(name)


def database_services() -> tuple[Service, ...]:
    return tuple(s for s in SERVICES if s.database_variable)


def processes_of_kind(*kinds: Kind) -> tuple[Process, ...]:
    return tuple(p for p in PROCESSES if p.kind in kinds)
