"""Prometheus metrics: what every process records, and ``/metrics`` that shows them.

Processes of one service (gunicorn's workers, a Celery worker's pool, the
relay) write their samples into one directory, prometheus_client's
*multiprocess mode*, and ``/metrics`` adds them up. On one machine
(``manage-all.sh``) a service's web, worker and relay processes share
``SERVICEKIT["METRICS_DIR"]``, so the service's ``/metrics`` shows them all.
In containers each one has its own directory, and a worker or relay serves
its own on ``SERVICEKIT["WORKER_METRICS_PORT"]`` (see :mod:`.exposition`).

:func:`prepare_process` must run before ``prometheus_client`` is imported
(it picks single- or multiprocess mode at import time): the entry points call
it (:func:`servicekit.entrypoints.load_settings_or_exit`). This module itself
imports nothing of prometheus_client; the shared metrics are in :mod:`.defs`.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path

MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# prometheus_client names its files <type>_<pid>.db (gauges: gauge_<mode>_<pid>.db).
_FILE_PID = re.compile(r"_(\d+)\.db$")


def prepare_process(directory: str | None = None) -> str:
    """Choose this process's metrics directory, create it, drop dead processes' files.

    ``directory`` is ``SERVICEKIT["METRICS_DIR"]``; without it, a directory set by
    a parent process (``PROMETHEUS_MULTIPROC_DIR``) or else a new temporary one.
    """
    current = os.environ.get(MULTIPROC_VARIABLE)
    path = directory or current or tempfile.mkdtemp(prefix="servicekit-metrics-")
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
    except OSError:
        # A read-only file system (a container without PROMETHEUS_MULTIPROC_DIR
        # set to a writable place): metrics still work, from a temporary directory.
        path = tempfile.mkdtemp(prefix="servicekit-metrics-")
    os.environ[MULTIPROC_VARIABLE] = path
    sweep(path)
    if "prometheus_client" in sys.modules:
        # Imported already, in single-process mode (the celery command loads Flower's
        # plugin, which imports it): metrics created from now on go to the directory.
        from prometheus_client import values

        values.ValueClass = values.get_value_class()
    return path


def sweep(directory: str) -> list[str]:
    """Delete the files of processes that are gone; returns the names deleted.

    Safe only because every writer of a directory runs on this machine (same pid
    namespace): a directory is never shared between containers.
    """
    removed = []
    for entry in Path(directory).glob("*.db"):
        match = _FILE_PID.search(entry.name)
        if match and not _alive(int(match.group(1))):
            entry.unlink(missing_ok=True)
            removed.append(entry.name)
    return removed


def mark_process_dead(pid: int) -> None:
    """A gunicorn worker exited: drop its live gauges (gunicorn's ``child_exit``)."""
    if os.environ.get(MULTIPROC_VARIABLE):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
