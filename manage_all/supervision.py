"""The suite's processes under supervisord, configured from the catalog.

``up`` writes ``var/run/supervisord.conf`` (one ``[program:NAME]`` per
catalog process, none started automatically), starts supervisord in the
background and then starts the programs in order through its XML-RPC socket.
supervisord is their parent: it knows each one's real state, stops whole
process groups (``stopasgroup``, ``killasgroup``), and restarts the Celery
workers when they exit, with its own back-off, logging each restart in
``var/log/supervisord.log``. ``supervisorctl -c var/run/supervisord.conf``
works on a running suite too.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import xmlrpc.client
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supervisor.xmlrpc import SupervisorTransport

from manage_all import catalog
from manage_all.settings import ROOT, Paths

# Seconds a process is given to stop on TERM before its group is killed.
STOP_SECONDS = 15
RUNNING_STATES = {"STARTING", "RUNNING"}
FAILED_STATES = {"EXITED", "FATAL", "BACKOFF", "UNKNOWN"}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _escape(value: object) -> str:
    """supervisord expands %(name)s in its configuration: a literal % is %%."""
    return str(value).replace("%", "%%")


def configuration(paths: Paths) -> str:
    python = Path(sys.executable)
    sections = [
        f"""[unix_http_server]
file={_escape(paths.run / "supervisor.sock")}

[supervisord]
logfile={_escape(paths.log / "supervisord.log")}
pidfile={_escape(paths.run / "supervisord.pid")}
directory={_escape(ROOT)}
identifier=todo-suite

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{_escape(paths.run / "supervisor.sock")}
"""
    ]
    for process in catalog.PROCESSES:
        command = [python, "-m", "manage_all.run", "--var-dir", paths.var_dir, process.name]
        # A restarted process must have run a second to count as started;
        # the others are running as soon as they are spawned, so that one
        # that exits at once (a bad setting) is reported, not retried.
        sections.append(
            f"""[program:{process.name}]
command={" ".join(_escape(part) for part in command)}
directory={_escape(ROOT)}
autostart=false
autorestart={"true" if process.restart else "false"}
startsecs={1 if process.restart else 0}
startretries=5
stopsignal=TERM
stopwaitsecs={STOP_SECONDS}
stopasgroup=true
killasgroup=true
redirect_stderr=true
stdout_logfile={_escape(paths.log_file(process.name))}
stdout_logfile_maxbytes=50MB
stdout_logfile_backups=2
"""
        )
    return "\n".join(sections)


@dataclass
class Supervisor:
    """The running supervisord of one suite (one ``VAR_DIR``)."""

    paths: Paths

    @property
    def config_file(self) -> Path:
        return self.paths.run / "supervisord.conf"

    @property
    def socket(self) -> Path:
        return self.paths.run / "supervisor.sock"

    def rpc(self) -> Any:
        transport = SupervisorTransport(None, None, f"unix://{self.socket}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor

    def answers(self) -> bool:
        try:
            return self.rpc().getState()["statename"] == "RUNNING"  # type: ignore[no-any-return]
        except (OSError, xmlrpc.client.Fault):
            return False

    def launch(self) -> None:
        """Write the configuration and start supervisord in the background."""
        self.paths.run.mkdir(parents=True, exist_ok=True)
        self.paths.log.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(configuration(self.paths))
        supervisord = str(Path(sys.executable).parent / "supervisord")
        subprocess.run([supervisord, "-c", str(self.config_file)], check=True)  # noqa: S603
        deadline = time.monotonic() + 30
        while not self.answers():
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"supervisord did not start; see {self.paths.log}/supervisord.log"
                )
            time.sleep(0.05)

    def shutdown(self) -> None:
        """Stop supervisord (every process first) and wait until its process has gone.

        (Not until its pid file has: supervisord removes that before it exits.)
        """
        try:
            pid = int(self.rpc().getPID())
            self.rpc().shutdown()
        except (OSError, xmlrpc.client.Fault):
            return
        deadline = time.monotonic() + STOP_SECONDS * 2
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)

    def start(self, name: str) -> None:
        self.rpc().startProcess(name, False)

    def stop(self, name: str) -> None:
        try:
            self.rpc().stopProcess(name, True)
        except xmlrpc.client.Fault as fault:
            if "NOT_RUNNING" not in fault.faultString:
                raise

    def stop_all(self, names: list[str]) -> None:
        """Stop several at once (each TERM, then KILL after STOP_SECONDS)."""
        rpc = self.rpc()
        for name in names:
            try:
                rpc.stopProcess(name, False)
            except xmlrpc.client.Fault as fault:
                if "NOT_RUNNING" not in fault.faultString:
                    raise
        deadline = time.monotonic() + STOP_SECONDS + 5
        while time.monotonic() < deadline:
            if not any(self.state(name) in RUNNING_STATES | {"STOPPING"} for name in names):
                return
            time.sleep(0.05)

    def info(self) -> dict[str, dict[str, Any]]:
        """Every program's state, by name (empty when supervisord does not answer)."""
        try:
            return {entry["name"]: entry for entry in self.rpc().getAllProcessInfo()}
        except (OSError, xmlrpc.client.Fault):
            return {}

    def state(self, name: str) -> str:
        return str(self.info().get(name, {}).get("statename", "STOPPED"))

    def pids(self) -> dict[str, int]:
        """The pid of every running process, by name."""
        return {
            name: int(entry["pid"])
            for name, entry in self.info().items()
            if entry["statename"] in RUNNING_STATES and entry["pid"]
        }
