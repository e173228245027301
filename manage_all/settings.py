"""The running suite's settings: resolved once by ``up``, kept in ``var/run/suite.json``.

Every port, URL and database comes from an environment variable or its
default (README.md, "Point it at PostgreSQL and a real Redis"). ``up`` resolves
them, picks free ports for the embedded Redis and SMTP sink, and writes them
down, so that ``start SERVICE`` later gives a process exactly the same ones.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from manage_all import catalog

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Paths:
    """Where a suite keeps its state: ``VAR_DIR`` (``./var`` by default)."""

    var_dir: Path

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> Paths:
        return cls(Path(environ.get("VAR_DIR") or ROOT / "var").resolve())

    @property
    def run(self) -> Path:
        return self.var_dir / "run"

    @property
    def log(self) -> Path:
        return self.var_dir / "log"

    @property
    def settings_file(self) -> Path:
        return self.run / "suite.json"

    def log_file(self, process: str) -> Path:
        return self.log / f"{process}.log"

    def environment_file(self, process: str) -> Path:
        """The environment ``up`` or ``start`` was called with, for that process."""
        return self.run / f"{process}.environment.json"


def free_port(taken: set[int]) -> int:
    """A local TCP port nobody listens on now and not in ``taken``, which it joins.

    ``taken`` holds the ports the suite's own processes are configured for but may
    not have bound yet (they start after the embedded Redis and SMTP sink): the
    kernel could otherwise hand one of them out here.
    """
    held: list[socket.socket] = []
    try:
        while True:
            sock = socket.socket()
            held.append(sock)
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
            if port not in taken:
                taken.add(port)
                return port
    finally:
        for sock in held:
            sock.close()


def resolve(paths: Paths, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The suite's settings from the environment, with the embedded defaults filled in."""
    settings: dict[str, str] = {"VAR_DIR": str(paths.var_dir), "INSTANCE": str(os.getpid())}
    for service in catalog.SERVICES:
        port = environ.get(service.port_variable) or str(service.default_port)
        settings[service.port_variable] = port
        if service.database_variable:
            default = f"sqlite:///{paths.var_dir / 'db' / str(service.database_file)}"
            settings[service.database_variable] = environ.get(service.database_variable) or default
        if service.url_variable:
            default = f"http://127.0.0.1:{port}"
            settings[service.url_variable] = environ.get(service.url_variable) or default
    settings["FLOWER_PORT"] = environ.get("FLOWER_PORT") or str(catalog.DEFAULT_FLOWER_PORT)
    configured = [settings[s.port_variable] for s in catalog.SERVICES] + [settings["FLOWER_PORT"]]
    taken = {int(port) for port in configured if port.isdigit()}
    if environ.get("REDIS_URL"):
        settings.update(REDIS_URL=environ["REDIS_URL"], EMBEDDED_REDIS="")
    else:
        port = environ.get("EMBEDDED_REDIS_PORT") or str(free_port(taken))
        settings.update(
            REDIS_URL=f"redis://127.0.0.1:{port}/0", EMBEDDED_REDIS="1", EMBEDDED_REDIS_PORT=port
        )
    if environ.get("SMTP_HOST"):
        settings.update(
            SMTP_HOST=environ["SMTP_HOST"], SMTP_PORT=environ.get("SMTP_PORT") or "25", SMTP_SINK=""
        )
    else:
        port = environ.get("SMTP_PORT") or str(free_port(taken))
        settings.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_SINK="1")
    for name, default in catalog.WORKER_DEFAULTS.items():
        settings[name] = environ.get(name) or default
    return settings


def save(paths: Paths, settings: Mapping[str, str]) -> None:
    paths.run.mkdir(parents=True, exist_ok=True)
    paths.settings_file.write_text(json.dumps(dict(settings), indent=2))


def load(paths: Paths) -> dict[str, str] | None:
    """The running suite's settings; None when no suite was started here."""
    try:
        loaded: dict[str, str] = json.loads(paths.settings_file.read_text())
    except FileNotFoundError:
        return None
    return loaded


def runs(settings: Mapping[str, str], process: catalog.Process) -> bool:
    """Whether the suite runs this process (the embedded Redis only without REDIS_URL ...)."""
    return not process.only_if or bool(settings.get(process.only_if))


def service_environment(settings: Mapping[str, str], service: catalog.Service) -> dict[str, str]:
    """What a process of ``service`` gets on top of the caller's environment."""
    environment = {
        name: settings[name] for name in ("VAR_DIR", "REDIS_URL", "SMTP_HOST", "SMTP_PORT")
    }
    for other in catalog.SERVICES:
        if other.url_variable:
            environment[other.url_variable] = settings[other.url_variable]
    environment["PORT"] = settings[service.port_variable]
    # Where people log in, for the services' browsable API pages (servicekit.browsable).
    environment["GATEWAY_URL"] = f"http://127.0.0.1:{settings['GATEWAY_PORT']}"
    if service.database_variable:
        environment["DATABASE_URL"] = settings[service.database_variable]
    if settings.get("SMTP_SINK"):
        # The sink's Maildir, shown in notification-service's admin (/admin/mailbox/).
        environment["DEV_MAILBOX_DIR"] = str(Path(settings["VAR_DIR"]) / "mail")
    return environment


def port_of(settings: Mapping[str, str], process: catalog.Process) -> int | None:
    if process.kind == "http":
        return int(settings[catalog.service(process.name).port_variable])
    variable = catalog.PROCESS_PORT_SETTINGS.get(process.name)
    return int(settings[variable]) if variable and settings.get(variable) else None
