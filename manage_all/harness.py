"""A private copy of the suite, for the end-to-end tests and the benchmarks.

A copy has its own ``VAR_DIR``, free ports for the four services and Flower,
and an environment without the caller's suite variables (the ports, URLs,
databases, Redis and SMTP of a suite the developer, or CI, may already run),
so it runs beside any other. It is driven through ``./manage-all.sh`` exactly
as a person would drive it (``up -d``, ``start NAME``, ``stop NAME``,
``down``), and what ``up`` resolved is read back from ``var/run/suite.json``
(:mod:`manage_all.settings`). The services, ports and variables come from the
catalog (:mod:`manage_all.catalog`).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import requests
from servicekit.testing.servers import free_ports

from manage_all import catalog
from manage_all.settings import ROOT, Paths, load, service_environment
from manage_all.supervision import Supervisor

MANAGE_ALL = ROOT / "manage-all.sh"
# Each service's port variable, by service name.
PORT_VARIABLES = {service.name: service.port_variable for service in catalog.SERVICES}
# Each service's database variable, by service name (the services that keep a database).
DATABASE_VARIABLES = {
    service.name: service.database_variable
    for service in catalog.SERVICES
    if service.database_variable
}
# Variables of the caller's environment that must not leak into a copy.
SUITE_VARIABLES = frozenset(
    {
        *PORT_VARIABLES.values(),
        *DATABASE_VARIABLES.values(),
        *(service.url_variable for service in catalog.SERVICES if service.url_variable),
        *catalog.PROCESS_PORT_SETTINGS.values(),
        "REDIS_URL",
        "SMTP_HOST",
        "VAR_DIR",
        "DATABASE_URL",
    }
)
# Seconds a manage-all.sh command may take before the copy counts as stuck.
COMMAND_TIMEOUT = 120.0


class SuiteError(RuntimeError):
    """A manage-all.sh command on a copy failed, or the copy does not run."""


class SuiteCopy:
    """A copy of the suite on free ports in its own ``VAR_DIR``.

    ``env`` is laid over the copy's environment: a test's or a benchmark's own
    settings (databases, rate limits, ``REDIS_URL`` ...). ``with`` starts the
    copy and stops it again.
    """

    def __init__(self, var_dir: Path, env: Mapping[str, str] | None = None) -> None:
        self.var_dir = var_dir
        self.paths = Paths(var_dir)
        # Distinct ports for the services and Flower (held together while picked).
        *service_ports, self.flower_port = free_ports(len(PORT_VARIABLES) + 1)
        self.ports = dict(zip(PORT_VARIABLES, service_ports, strict=True))
        base = {k: v for k, v in os.environ.items() if k not in SUITE_VARIABLES}
        base.update({variable: str(self.ports[s]) for s, variable in PORT_VARIABLES.items()})
        base.update(
            FLOWER_PORT=str(self.flower_port), VAR_DIR=str(self.var_dir), READY_TIMEOUT="60"
        )
        self.env = {**base, **(env or {})}

    def __enter__(self) -> Self:
        self.up()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.down()

    # -- manage-all.sh -----------------------------------------------------------

    def manage(
        self, *args: str, timeout: float = COMMAND_TIMEOUT, **extra_env: str
    ) -> subprocess.CompletedProcess[str]:
        """``./manage-all.sh ARGS`` for this copy; its output, whatever its exit status."""
        return self._manage(args, extra_env, timeout)

    def _manage(
        self, args: tuple[str, ...], extra_env: Mapping[str, str], timeout: float = COMMAND_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own script
            [str(MANAGE_ALL), *args],
            env={**self.env, **extra_env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def _manage_or_fail(self, *args: str, extra_env: Mapping[str, str]) -> None:
        result = self._manage(args, extra_env)
        if result.returncode != 0:
            raise SuiteError(
                f"manage-all.sh {' '.join(args)} failed in {self.var_dir}:\n"
                f"{result.stdout}{result.stderr}"
            )

    def up(self, **extra_env: str) -> float:
        """``up -d``: the seconds it took, until every process was ready.

        When it fails, whatever it started is stopped again.
        """
        started = time.monotonic()
        try:
            self._manage_or_fail("up", "-d", extra_env=extra_env)
        except SuiteError:
            self.down()
            raise
        return time.monotonic() - started

    def down(self) -> None:
        self.manage("down")

    def start(self, process: str, **extra_env: str) -> None:
        """``start PROCESS``, with ``extra_env`` on top of the copy's environment."""
        self._manage_or_fail("start", process, extra_env=extra_env)

    def stop(self, process: str) -> None:
        self._manage_or_fail("stop", process, extra_env={})

    # -- what runs ---------------------------------------------------------------

    def url(self, service: str = "api-gateway", path: str = "") -> str:
        return f"http://127.0.0.1:{self.ports[service]}{path}"

    def get(self, service: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(self.url(service, path), timeout=5, **kwargs)

    def settings(self) -> dict[str, str]:
        """What ``up`` resolved: ports, URLs, databases (``var/run/suite.json``)."""
        resolved = load(self.paths)
        if resolved is None:
            raise SuiteError(f"no suite runs in {self.var_dir}")
        return resolved

    def service_env(self, service: str) -> dict[str, str]:
        """The environment manage-all.sh gives the processes of ``service``."""
        return {**self.env, **service_environment(self.settings(), catalog.service(service))}

    def run_in_service(
        self, service: str, *command: str, **extra_env: str
    ) -> subprocess.CompletedProcess[str]:
        """A command in the service's project folder with the service's environment."""
        return subprocess.run(  # noqa: S603 - our own commands
            command,
            cwd=ROOT / catalog.service(service).folder,
            env={**self.service_env(service), **extra_env},
            capture_output=True,
            text=True,
            check=False,
        )

    def spawn_in_service(
        self, service: str, *command: str, log: str, root: Path = ROOT, **extra_env: str
    ) -> subprocess.Popen[bytes]:
        """A long-running command (one more gunicorn, say) in the service's project folder
        under ``root``, with the service's environment, in a process group of its own,
        writing to ``log/<log>.log``. The caller stops it (``os.killpg``)."""
        with (self.var_dir / "log" / f"{log}.log").open("ab") as output:
            return subprocess.Popen(  # noqa: S603 - our own commands
                command,
                cwd=root / catalog.service(service).folder,
                env={**self.service_env(service), **extra_env},
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def pids(self) -> dict[str, int]:
        """Each running process's pid (a process group leader), from the copy's supervisor."""
        return Supervisor(self.paths).pids()

    def supervisor_pid(self) -> int | None:
        pid_file = self.paths.run / "supervisord.pid"
        return int(pid_file.read_text()) if pid_file.exists() else None

    def log_lines(self, process: str) -> list[dict[str, Any]]:
        """The JSON lines of a process's log (other lines are skipped)."""
        text = self.paths.log_file(process).read_text()
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]

    def mail_dir(self) -> Path:
        """Where the copy's SMTP sink keeps the messages it accepted (a Maildir's ``new``)."""
        return self.var_dir / "mail" / "new"
