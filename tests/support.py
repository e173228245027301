"""What the end-to-end tests drive: copies of the suite and a PostgreSQL server.

A copy of the suite (``Suite``, :class:`manage_all.harness.SuiteCopy`, shared
with the benchmarks) gets its own ``VAR_DIR`` and free ports, so tests run
beside a suite a developer already has up.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from manage_all import catalog
from manage_all.harness import DATABASE_VARIABLES, MANAGE_ALL, PORT_VARIABLES
from manage_all.harness import SuiteCopy as Suite
from manage_all.settings import ROOT

__all__ = [
    "DATABASE_VARIABLES",
    "MANAGE_ALL",
    "ROOT",
    "SERVICES",
    "WORKERS",
    "PostgresServer",
    "Suite",
    "process_alive",
]

# Each service's port variable, by service name.
SERVICES = PORT_VARIABLES
# Background processes manage-all.sh runs beside the four HTTP services.
WORKERS = {process.name for process in catalog.processes_of_kind("relay", "worker", "monitor")}


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
