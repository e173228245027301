"""What the end-to-end tests drive: copies of the suite, PostgreSQL and Redis servers.

Every copy of the suite gets its own ``VAR_DIR`` and free ports, so tests run
beside a suite a developer already has up.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import requests
from manage_all import catalog
from manage_all.settings import Paths, load
from manage_all.supervision import Supervisor
from servicekit.testing import free_ports

ROOT = Path(__file__).resolve().parent.parent
MANAGE_ALL = ROOT / "manage-all.sh"
SERVICES = {service.name: service.port_variable for service in catalog.SERVICES}
# Background processes manage-all.sh runs beside the four HTTP services.
WORKERS = {process.name for process in catalog.processes_of_kind("relay", "worker", "monitor")}
DATABASE_VARIABLES = {
    service.name: service.database_variable
    for service in catalog.SERVICES
    if service.database_variable
}
# Variables from the developer's (or CI's) shell that must not leak into a copy.
SUITE_VARIABLES = [
    *SERVICES.values(),
    *DATABASE_VARIABLES.values(),
    *(service.url_variable for service in catalog.SERVICES if service.url_variable),
    "REDIS_URL",
    "SMTP_HOST",
    "SMTP_PORT",
    "VAR_DIR",
    "DATABASE_URL",
    "EMBEDDED_REDIS_PORT",
    "FLOWER_PORT",
]


@dataclass
class Suite:
    """One copy of the suite, driven through ``manage-all.sh`` like a person would."""

    var_dir: Path
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Distinct ports for the four services and Flower (held together while picked).
        *service_ports, self.flower_port = free_ports(len(SERVICES) + 1)
        self.ports = dict(zip(SERVICES, service_ports, strict=True))
        base = {k: v for k, v in os.environ.items() if k not in SUITE_VARIABLES}
        base.update({variable: str(self.ports[s]) for s, variable in SERVICES.items()})
        base["FLOWER_PORT"] = str(self.flower_port)
        base["VAR_DIR"] = str(self.var_dir)
        base["READY_TIMEOUT"] = "60"
        self.env = {**base, **self.env}

    def manage(
        self, *args: str, timeout: float = 120, **extra_env: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(MANAGE_ALL), *args],
            env={**self.env, **extra_env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def up(self, **extra_env: str) -> subprocess.CompletedProcess[str]:
        result = self.manage("up", "-d", **extra_env)
        assert result.returncode == 0, f"up -d failed:\n{result.stdout}\n{result.stderr}"
        return result

    def url(self, service: str, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}{path}"

    def get(self, service: str, path: str, **kwargs) -> requests.Response:  # type: ignore[no-untyped-def]
        return requests.get(self.url(service, path), timeout=5, **kwargs)

    def pids(self) -> dict[str, int]:
        """Each running process's pid (a process group leader), from the suite's supervisor."""
        return Supervisor(Paths(self.var_dir)).pids()

    def supervisor_pid(self) -> int | None:
        pid_file = self.var_dir / "run" / "supervisord.pid"
        return int(pid_file.read_text()) if pid_file.exists() else None

    def settings(self) -> dict[str, str]:
        """What ``up`` resolved: ports, URLs, databases (``var/run/suite.json``)."""
        resolved = load(Paths(self.var_dir))
        assert resolved is not None, f"no suite runs in {self.var_dir}"
        return resolved

    def log_lines(self, process: str) -> list[dict]:
        """The JSON lines of a process's log (other lines are skipped)."""
        lines = []
        for line in (self.var_dir / "log" / f"{process}.log").read_text().splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
        return lines

    def down(self) -> None:
        self.manage("down")


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for every practical purpose.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


@dataclass
class PostgresServer:
    """A private PostgreSQL cluster that a test may stop and start."""

    bindir: Path
    data_dir: Path
    port: int
    user: str | None
    # How many sets ``suite_databases`` made: the number in their names.
    copies: int = field(default=0, init=False)

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
        assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}{result.stderr}"
        return result

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        log = str(self.data_dir / "server.log")
        self.run("pg_ctl", "-D", str(self.data_dir), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")

    def create_database(self, name: str) -> str:
        self.run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def suite_databases(self, prefix: str) -> dict[str, str]:
        """Three new, empty databases for one copy of the suite, as its ``*_DATABASE_URL``s.

        The names (``<prefix>_<n>_todo`` ...) are new in this cluster on every call, so no
        two copies share a table, whatever prefix their tests choose.
        """
        self.copies += 1
        name = f"{re.sub(r'[^a-z0-9]+', '_', prefix.lower())}_{self.copies}"
        return {
            variable: self.create_database(f"{name}_{service.split('-')[0]}")
            for service, variable in DATABASE_VARIABLES.items()
        }
