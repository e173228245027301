"""What the end-to-end tests drive: copies of the suite and a PostgreSQL server.

A copy of the suite (``Suite``, :class:`manage_all.harness.SuiteCopy`, shared
with the benchmarks) gets its own ``VAR_DIR`` and free ports, so tests run
beside a suite a developer already has up.
"""

from __future__ import annotations

import os

from manage_all import catalog
from manage_all.harness import DATABASE_VARIABLES, MANAGE_ALL, PORT_VARIABLES
from manage_all.harness import SuiteCopy as Suite
from manage_all.postgres import PostgresServer
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
