"""A private PostgreSQL cluster that a test or a benchmark may stop, start and crash.

The end-to-end tests and the chaos benchmark run the suite on a cluster of
their own (``initdb`` in a temporary folder, a free port), never on the
machine's shared server: they restart it and stop it while the suite runs.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from servicekit.testing.servers import free_port

from manage_all.harness import DATABASE_VARIABLES


@dataclass
class PostgresServer:
    """A PostgreSQL cluster of our own on ``port``, its files in ``data_dir``.

    ``durable_commits``: a commit is acknowledged only once its WAL is written,
    so an immediate shutdown (a crash of the server's processes) loses no
    acknowledged transaction. The tests leave it off (faster); the chaos
    benchmark, which crashes the server and then counts what is lost, turns it on.
    """

    bindir: Path
    data_dir: Path
    port: int
    user: str | None
    durable_commits: bool = False
    # How many sets ``suite_databases`` made: the number in their names.
    copies: int = field(default=0, init=False)

    @classmethod
    def create(cls, *, durable_commits: bool = False) -> PostgresServer:
        """``initdb`` a new cluster in a temporary folder and start it."""
        candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        found = candidates[-1] if candidates else shutil.which("initdb")
        if not found:
            raise RuntimeError("PostgreSQL's server programs (initdb, pg_ctl) are needed")
        # PostgreSQL refuses to run as root: as root, the cluster belongs to "postgres",
        # in a directory that user can reach.
        user = "postgres" if os.geteuid() == 0 else None
        base = Path(tempfile.mkdtemp(prefix="private-postgres-"))
        data_dir = base / "data"
        data_dir.mkdir()
        if user:
            base.chmod(0o755)
            shutil.chown(data_dir, user=user)
        server = cls(
            bindir=Path(found).parent,
            data_dir=data_dir,
            port=free_port(),
            user=user,
            durable_commits=durable_commits,
        )
        server.run("initdb", "-D", str(data_dir), "-U", "postgres", "-A", "trust", "--no-sync")
        server.start()
        return server

    def remove(self) -> None:
        """Stop the server (if it runs) and delete its files."""
        self.run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop", check=False)
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        result = subprocess.run(  # noqa: S603 - PostgreSQL's own programs
            command, capture_output=True, text=True, check=False, timeout=60
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed:\n{result.stdout}{result.stderr}")
        return result

    def start(self) -> None:
        # fsync off: a process crash loses nothing (the kernel keeps the files); only a
        # crash of the machine would, and no test or benchmark crashes the machine.
        commit = "on" if self.durable_commits else "off"
        options = (
            f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1 "
            f"-c fsync=off -c synchronous_commit={commit} -c full_page_writes=off"
        )
        log = str(self.data_dir / "server.log")
        self.run("pg_ctl", "-D", str(self.data_dir), "-o", options, "-l", log, "-w", "start")

    def stop(self, mode: Literal["smart", "fast", "immediate"] = "fast") -> None:
        """``fast`` ends sessions and shuts down cleanly; ``immediate`` is a crash (recovery
        runs at the next start)."""
        self.run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop")

    def create_database(self, name: str) -> str:
        self.run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def suite_databases(self, prefix: str) -> dict[str, str]:
        """Three new, empty databases for one copy of the suite, as its ``*_DATABASE_URL``s.

        The names (``<prefix>_<n>_todo`` ...) are new in this cluster on every call, so no
        two copies share a table, whatever prefix their callers choose.
        """
        self.copies += 1
        name = f"{re.sub(r'[^a-z0-9]+', '_', prefix.lower())}_{self.copies}"
        return {
            variable: self.create_database(f"{name}_{service.split('-')[0]}")
            for service, variable in DATABASE_VARIABLES.items()
        }
