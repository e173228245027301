"""Is a process ready? As the catalog says for its kind (manage_all.catalog.Readiness)."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from manage_all import catalog
from manage_all.settings import Paths, port_of


def log_offset(paths: Paths, process: str) -> int:
    """Where the process's log ends now: readiness reads only what it prints after."""
    try:
        return paths.log_file(process).stat().st_size
    except FileNotFoundError:
        return 0


def _logged_since(path: Path, offset: int, text: str) -> bool:
    try:
        with path.open("rb") as log:
            log.seek(offset)
            return text.encode() in log.read()
    except FileNotFoundError:
        return False


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _answers_ready(port: int) -> bool:
    url = f"http://127.0.0.1:{port}{catalog.READINESS_PATH}"
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def is_ready(
    process: catalog.Process, settings: Mapping[str, str], paths: Paths, *, log_from: int = 0
) -> bool:
    """Whether a running process is ready (the caller knows that it runs)."""
    if process.readiness == "running":
        return True
    if process.readiness == "celery":
        # Celery says "<hostname> ready." once it consumes from the broker.
        return _logged_since(paths.log_file(process.name), log_from, " ready.")
    port = port_of(settings, process)
    assert port is not None, f"{process.name} has no port"  # noqa: S101 - a catalog error
    if process.readiness == "tcp":
        return _accepts(port)
    return _answers_ready(port)
