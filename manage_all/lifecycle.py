"""``up``, ``down``, ``status``, ``start``, ``stop``, ``logs`` and ``migrate``: the suite's life."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from manage_all import catalog
from manage_all.readiness import is_ready, log_offset
from manage_all.settings import ROOT, Paths, load, resolve, runs, save, service_environment
from manage_all.supervision import FAILED_STATES, Supervisor


class Failed(Exception):
    """A command failed: with a message, the one line to print; without, it said why already."""


def say(text: str = "") -> None:
    print(text, flush=True)


def complain(text: str) -> None:
    print(f"manage-all: {text}", file=sys.stderr, flush=True)


def last_lines(path: os.PathLike[str] | str, count: int = 20) -> str:
    try:
        with open(path, errors="replace") as log:
            lines = log.readlines()[-count:]
    except FileNotFoundError:
        return ""
    return "".join(f"  | {line}" for line in lines).rstrip("\n")


@dataclass
class Suite:
    """One suite on this machine: its ``VAR_DIR``, settings and supervisor."""

    paths: Paths
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    started: float = field(default_factory=time.monotonic)
    # `up` prints a line as each process gets ready; `start NAME` only its result.
    show_progress: bool = False

    @property
    def supervisor(self) -> Supervisor:
        return Supervisor(self.paths)

    @property
    def ready_timeout(self) -> float:
        return float(self.environ.get("READY_TIMEOUT") or 60)

    def settings(self) -> dict[str, str]:
        loaded = load(self.paths)
        if loaded is None or not self.supervisor.answers():
            raise Failed("the suite is not running here; run ./manage-all.sh up -d")
        return loaded

    def processes(self, settings: Mapping[str, str]) -> list[catalog.Process]:
        return [p for p in catalog.PROCESSES if runs(settings, p)]

    def progress(self, name: str, what: str) -> None:
        if self.show_progress:
            say(f"  {name:<22} {what} ({time.monotonic() - self.started:.1f} s)")

    # -- starting ------------------------------------------------------------------

    def start(self, names: Iterable[str], settings: Mapping[str, str]) -> None:
        """Start processes with the caller's environment, and wait until each is ready."""
        offsets = {}
        for name in names:
            self.paths.environment_file(name).write_text(json.dumps(dict(self.environ)))
            offsets[name] = log_offset(self.paths, name)
            self.supervisor.start(name)
        self.wait_ready(offsets, settings)

    def wait_ready(self, offsets: dict[str, int], settings: Mapping[str, str]) -> None:
        deadline = time.monotonic() + self.ready_timeout
        pending = list(offsets)
        while pending:
            states = self.supervisor.info()
            for name in list(pending):
                state = states.get(name, {}).get("statename", "STOPPED")
                if state in FAILED_STATES:
                    self.report(name, "exited during start-up")
                    raise Failed
                process = catalog.process(name)
                if state == "RUNNING" and is_ready(
                    process, settings, self.paths, log_from=offsets[name]
                ):
                    pending.remove(name)
                    self.progress(name, "ready")
            if pending and time.monotonic() > deadline:
                self.report(pending[0], f"was not ready after {self.ready_timeout:g}s")
                raise Failed
            time.sleep(0.2)

    def report(self, name: str, what: str) -> None:
        log = self.paths.log_file(name)
        complain(f"{name} {what}; last lines of {log}:")
        print(last_lines(log), file=sys.stderr, flush=True)

    def migrate(self, settings: Mapping[str, str]) -> None:
        """Migrate every database at once; user-service also gets its signing key."""
        python = sys.executable
        running = {}
        for service in catalog.database_services():
            command = f"{python} manage.py migrate --noinput -v 0"
            if service.name == "user-service":
                command += f" && {python} manage.py ensure_signing_key"
            log = self.paths.log / f"{service.name}.migrate.log"
            running[service.name] = (
                subprocess.Popen(  # noqa: S602 - our own fixed commands
                    command,
                    shell=True,
                    cwd=ROOT / service.folder,
                    env=self.service_env(service, settings),
                    stdout=log.open("w"),
                    stderr=subprocess.STDOUT,
                ),
                log,
            )
        failed = False
        for name, (child, log) in running.items():
            if child.wait() != 0:
                complain(f"{name}: migrate failed:")
                print(last_lines(log), file=sys.stderr, flush=True)
                failed = True
        if failed:
            raise Failed

    def service_env(self, service: catalog.Service, settings: Mapping[str, str]) -> dict[str, str]:
        environment = {k: v for k, v in self.environ.items() if k != "DATABASE_URL"}
        environment.update(service_environment(settings, service))
        return environment

    # -- verbs ---------------------------------------------------------------------

    def up(self, *, detach: bool) -> None:
        running = self.supervisor.pids()
        if running:
            say(f"The suite is already running here ({' '.join(running)}).")
            say("Use ./manage-all.sh status, or ./manage-all.sh down first.")
            if detach:
                return
            raise Failed
        settings = resolve(self.paths, self.environ)
        self.show_progress = True
        for folder in ("db", "redis", "mail/cur", "mail/new", "mail/tmp", "log"):
            (self.paths.var_dir / folder).mkdir(parents=True, exist_ok=True)
        save(self.paths, settings)
        if not detach:
            # Ctrl-C (or TERM) at any moment, also during start-up, stops everything.
            signal.signal(signal.SIGTERM, signal.default_int_handler)
        try:
            self.supervisor.launch()
            say(f"Starting (logs in {self.paths.log}/):")
            support = [p.name for p in self.processes(settings) if p.kind == "support"]
            self.start(support, settings)
            self.migrate(settings)
            self.progress("databases", "migrated")
            self.start([p.name for p in self.processes(settings) if p.kind != "support"], settings)
        except Failed:
            self.down(quiet=True)
            raise
        except KeyboardInterrupt:
            say("\nStopping ...")
            self.down()
            return
        self.print_urls(settings)
        if detach:
            say("Running in the background; ./manage-all.sh down stops it.")
            return
        say("Following the logs; Ctrl-C stops everything.")
        logs = sorted(str(p) for p in self.paths.log.glob("*.log"))
        tail = subprocess.Popen(["tail", "-n", "0", "-F", *logs])  # noqa: S603, S607
        try:
            tail.wait()
        except KeyboardInterrupt:
            tail.terminate()
            say("\nStopping ...")
            self.down()

    def down(self, *, quiet: bool = False) -> None:
        if not self.supervisor.answers():
            self.paths.settings_file.unlink(missing_ok=True)
            if not quiet:
                say("Nothing is running.")
            return
        # Services and workers first, so that they do not log errors about Redis going away.
        apps = [p.name for p in catalog.PROCESSES if p.kind != "support"]
        self.supervisor.stop_all(apps)
        self.supervisor.stop_all([p.name for p in catalog.processes_of_kind("support")])
        self.supervisor.shutdown()
        self.paths.settings_file.unlink(missing_ok=True)
        if not quiet:
            say("Stopped.")

    def start_one(self, name: str) -> None:
        settings = self.settings()
        process = catalog.process(name)
        if not runs(settings, process):
            raise Failed(f"{name} is not run by this suite (see ./manage-all.sh --help)")
        pid = self.supervisor.pids().get(name)
        if pid:
            say(f"{name} is already running (pid {pid})")
            return
        self.start([name], settings)
        say(f"{name} is ready.")

    def stop_one(self, name: str) -> None:
        self.settings()
        self.supervisor.stop(name)
        say(f"{name} stopped.")

    def status(self) -> None:
        settings = load(self.paths)
        if settings is None or not self.supervisor.answers():
            say("Nothing is running.")
            return
        states = self.supervisor.info()
        for process in self.processes(settings):
            entry = states.get(process.name, {})
            if entry.get("statename") == "RUNNING":
                ready = is_ready(process, settings, self.paths)
                state = "ready" if ready else "running, not ready"
                say(f"  {process.name:<22} pid {entry['pid']:<8} {state}")
            else:
                say(f"  {process.name:<22} {str(entry.get('statename', 'stopped')).lower()}")
        self.print_urls(settings, heading=False)

    def print_urls(self, settings: Mapping[str, str], *, heading: bool = True) -> None:
        base = "http://127.0.0.1"
        if heading:
            say("Ready. Open:")
        for service in catalog.SERVICES:
            port = settings[service.port_variable]
            if service.admin_shows is None:
                say(f"  {service.name:<21} {base}:{port}   (Swagger UI of every service: /docs)")
            else:
                say(f"  {service.name:<21} {base}:{port}/admin/   ({service.admin_shows})")
        if settings.get("SMTP_SINK"):
            port = settings["NOTIFICATION_PORT"]
            say(f"  {'mail viewer':<21} {base}:{port}/admin/mailbox/   (or ./manage-all.sh mail)")
        say(f"  {'flower':<21} {base}:{settings['FLOWER_PORT']}   (Celery workers and tasks)")
        embedded = " (embedded)" if settings.get("EMBEDDED_REDIS") else ""
        say(f"  {'redis':<21} {settings['REDIS_URL']}{embedded}")
        sink = (
            f" (sink; mail in {self.paths.var_dir}/mail/new/)" if settings.get("SMTP_SINK") else ""
        )
        say(f"  {'smtp':<21} {settings['SMTP_HOST']}:{settings['SMTP_PORT']}{sink}")
        say(f"  {'logs':<21} {self.paths.log}/")
        say("Admin logins and a demo user with todos: ./manage-all.sh demo")

    def logs(self, name: str | None) -> None:
        if name:
            files, lines = [str(self.paths.log_file(name))], "50"
        else:
            files, lines = sorted(str(p) for p in self.paths.log.glob("*.log")), "20"
        with contextlib.suppress(KeyboardInterrupt):
            subprocess.run(["tail", "-n", lines, "-F", *files], check=False)  # noqa: S603, S607

    def migrate_only(self) -> None:
        settings = load(self.paths) or resolve(self.paths, self.environ)
        (self.paths.var_dir / "db").mkdir(parents=True, exist_ok=True)
        self.paths.log.mkdir(parents=True, exist_ok=True)
        self.migrate(settings)
        say("Migrations applied.")
