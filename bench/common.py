"""What every benchmark shares: a private copy of the suite, wrk, accounts, figures.

Each benchmark starts its own copy (``manage-all.sh up -d`` on free ports, in a
temporary ``VAR_DIR``; manage_all/harness.py, as the end-to-end tests do), so it
runs beside a suite a developer already has up. What a benchmark runs inside a
service's Django project is in bench/in_service/ (``Suite.in_service``).
PostgreSQL is used when ``TODO_DATABASE_URL`` (and the other ``*_DATABASE_URL``)
are set, as the targets are measured (docs/spec/targets.md, "Performance");
otherwise the suite's SQLite default.
"""

from __future__ import annotations

import base64
import json
import math
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import requests
from manage_all.harness import DATABASE_VARIABLES, SuiteCopy, SuiteError
from manage_all.settings import ROOT

BENCH = ROOT / "bench"
PYTHON = ROOT / ".venv" / "bin" / "python"
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
T = TypeVar("T")
# What a benchmark sets unless it measures the suite's defaults.
BENCH_SETTINGS = {
    # The gateway's limits stay on, high enough not to refuse the benchmark.
    "GATEWAY_RATE_LIMIT": "100000000/min",
    "GATEWAY_ANON_RATE_LIMIT": "100000000/min",
    "GATEWAY_LOGIN_RATE_LIMIT": "100000000/min",
    "USER_LOGIN_RATE_LIMIT": "100000000/min",
    # One token for the whole run, which outlasts the default 5-minute lifetime.
    "JWT_ACCESS_LIFETIME_SECONDS": "3600",
}


# --- the suite ----------------------------------------------------------------


class Suite(SuiteCopy):
    """A benchmark's copy of the suite (manage_all/harness.py) in a temporary VAR_DIR.

    ``with Suite(...) as suite:`` starts it, and stops and removes it afterwards.
    It runs on the databases in the caller's ``*_DATABASE_URL`` when they are set.
    """

    def __init__(self, name: str, *, defaults: bool = False) -> None:
        """``defaults``: the suite's own settings, not raised limits and quiet logs."""
        env = {v: os.environ[v] for v in DATABASE_VARIABLES.values() if os.environ.get(v)}
        if not defaults:
            env.update(BENCH_SETTINGS, LOG_LEVEL=os.environ.get("LOG_LEVEL", "WARNING"))
        super().__init__(Path(tempfile.mkdtemp(prefix=f"bench-{name}-")), env)

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        super().__exit__(kind, exc, tb)
        shutil.rmtree(self.var_dir, ignore_errors=True)

    def up(self, **extra_env: str) -> float:
        """``up -d``: the seconds until every process was ready; a failure ends the benchmark."""
        try:
            return super().up(**extra_env)
        except SuiteError as error:
            raise SystemExit(str(error)) from None

    def start(self, process: str, **extra_env: str) -> None:
        try:
            super().start(process, **extra_env)
        except SuiteError as error:
            raise SystemExit(str(error)) from None

    def database(self) -> str:
        return "PostgreSQL" if "postgres" in self.settings()["TODO_DATABASE_URL"] else "SQLite"

    def in_service(self, service: str, module: str, **options: object) -> str:
        """``python -m bench.in_service.MODULE --OPTION VALUE ...`` in the service's project.

        The modules in bench/in_service/ set Django up with the project's settings;
        they run with the environment manage-all.sh gives the service's processes.
        Returns what the module printed.
        """
        python_path = os.pathsep.join(filter(None, [str(ROOT), self.env.get("PYTHONPATH")]))
        arguments = [part for name, value in options.items() for part in (f"--{name}", str(value))]
        command = [str(PYTHON), "-m", f"bench.in_service.{module}", *arguments]
        result = self.run_in_service(service, *command, PYTHONPATH=python_path)
        if result.returncode != 0:
            raise SystemExit(f"bench.in_service.{module} in {service} failed:\n{result.stderr}")
        return result.stdout

    def processes(self) -> dict[str, list[int]]:
        """Each process of the suite, with everything in its process group (workers)."""
        leaders = {pid: name for name, pid in self.pids().items()}
        found: dict[str, list[int]] = {name: [] for name in leaders.values()}
        for pid, fields in _proc_stats().items():
            group = int(fields[2])  # the supervisor starts each process in a group of its own
            if group in leaders:
                found[leaders[group]].append(pid)
        return found


def _proc_stats() -> dict[int, list[str]]:
    """``/proc/<pid>/stat`` of every process, split after the command name."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stats[int(entry.name)] = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # gone meanwhile
    return stats


def cpu_ticks(suite: Suite, names: tuple[str, ...]) -> dict[str, int]:
    """utime + stime of each named process and its workers, in clock ticks."""
    stats = _proc_stats()
    # fields[0] is the state; utime and stime are stat fields 14 and 15
    return {
        name: sum(int(stats[p][11]) + int(stats[p][12]) for p in pids if p in stats)
        for name, pids in suite.processes().items()
        if name in names
    }


def command_ticks(command: str) -> int:
    """utime + stime of every process whose command name is ``command`` (e.g. ``postgres``)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                name, _, rest = (entry / "stat").read_text().partition(" (")[2].rpartition(")")
                fields = rest.split()
            except OSError:
                continue  # gone meanwhile
            if name == command:
                # its own time, and that of its children that have exited (a PostgreSQL
                # backend whose connection closed is counted in the postmaster's)
                total += sum(int(value) for value in fields[11:15])
    return total


class CpuMeter:
    """CPU of every process of the suite, plus the PostgreSQL server, over a piece of work.

    A write wakes more than the process that answers it: the outbox relay, Redis, the
    notification worker, the mail server, PostgreSQL for each of them. ``measure``
    counts from before the work until the suite is quiet again (its CPU back at the
    idle rate measured first), and takes the idle rate off, so what is left is what
    the work cost, wherever it was spent. PostgreSQL is counted only when the suite
    runs on it (every ``postgres`` process on the machine: run it on a quiet one).
    """

    # Quiet: the suite as a whole below a fifth of a core.
    QUIET_TICKS_PER_SECOND = TICKS / 5

    def __init__(self, suite: Suite, *, timeout: float = 60.0) -> None:
        self.suite = suite
        self.postgres = suite.database() == "PostgreSQL"
        self.idle_rate = self._idle_rate(timeout)

    def _idle_rate(self, timeout: float) -> dict[str, float]:
        """Ticks per second by process over the first two quiet seconds in a row.

        Waiting for them first keeps work still draining from before (a warm-up's
        events) out of the idle rate, which ``measure`` takes off its figures.
        """
        deadline = time.monotonic() + timeout
        samples = [(time.monotonic(), self.ticks())]
        while True:
            time.sleep(1.0)
            samples.append((time.monotonic(), self.ticks()))
            if len(samples) < 3:
                continue
            (t0, a), (t1, b), (t2, c) = samples[-3:]
            quiet = all(
                sum(later.values()) - sum(earlier.values())
                <= self.QUIET_TICKS_PER_SECOND * (end - start)
                for (start, earlier), (end, later) in (((t0, a), (t1, b)), ((t1, b), (t2, c)))
            )
            if quiet or time.monotonic() > deadline:
                return {name: (value - a.get(name, 0)) / (t2 - t0) for name, value in c.items()}

    def ticks(self) -> dict[str, int]:
        names = tuple(self.suite.processes())
        found = cpu_ticks(self.suite, names)
        if self.postgres:
            found["postgresql"] = command_ticks("postgres")
        return found

    def measure(
        self, work: Callable[[], T], *, settle_timeout: float = 60.0
    ) -> tuple[T, dict[str, float]]:
        """Run ``work``; return what it returned and the CPU seconds it cost, by process."""
        before, started = self.ticks(), time.monotonic()
        result = work()
        # Settled: one second at (about) the idle rate again.
        threshold = sum(self.idle_rate.values()) * 1.5 + 2
        deadline = time.monotonic() + settle_timeout
        last = self.ticks()
        while time.monotonic() < deadline:
            time.sleep(1.0)
            now, earlier = self.ticks(), last
            last = now
            if sum(now.values()) - sum(earlier.values()) <= threshold:
                break
        elapsed = time.monotonic() - started
        spent = {
            name: max(0.0, (value - before.get(name, 0) - self.idle_rate.get(name, 0.0) * elapsed))
            / TICKS
            for name, value in last.items()
        }
        return result, spent


def group_ticks(group: int) -> int:
    """utime + stime of every process in process group ``group``, in clock ticks."""
    return sum(
        int(fields[11]) + int(fields[12])
        for fields in _proc_stats().values()
        if int(fields[2]) == group
    )


def worker_ticks(suite: Suite, name: str) -> dict[int, int]:
    """utime + stime of each process of ``name`` (its master and workers), by pid."""
    stats = _proc_stats()
    pids = suite.processes().get(name, [])
    return {p: int(stats[p][11]) + int(stats[p][12]) for p in pids if p in stats}


def memory(suite: Suite) -> dict[str, tuple[int, int]]:
    """(RSS, PSS) in bytes of each process and its workers; PSS splits shared pages."""
    result = {}
    for name, pids in suite.processes().items():
        rss = pss = 0
        for pid in pids:
            try:
                rss += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
                rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
                match = re.search(r"^Pss:\s+(\d+) kB", rollup, re.MULTILINE)
                pss += int(match.group(1)) * 1024 if match else 0
            except OSError:
                continue
        result[name] = (rss, pss)
    return result


# --- accounts and data ----------------------------------------------------------


@dataclass
class Account:
    username: str
    password: str
    token: str
    user_id: int

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def sign_up(gateway: str) -> Account:
    """Register a user through the gateway and log in."""
    username, password = f"bench{uuid.uuid4().hex[:10]}", uuid.uuid4().hex + "Aa1!"
    requests.post(
        f"{gateway}/auth/register",
        json={"username": username, "email": f"{username}@example.com", "password": password},
        timeout=30,
    ).raise_for_status()
    token = log_in(gateway, username, password)
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return Account(username, password, token, int(claims["sub"]))


def log_in(gateway: str, username: str, password: str) -> str:
    response = requests.post(
        f"{gateway}/auth/login", json={"username": username, "password": password}, timeout=30
    )
    response.raise_for_status()
    return str(response.json()["access"])


def create_todos(gateway: str, account: Account, count: int, **fields: Any) -> list[int]:
    """``count`` todos through the gateway; their ids."""
    ids = []
    with requests.Session() as session:
        for number in range(count):
            response = session.post(
                f"{gateway}/todos",
                json={"title": f"todo {number}", **fields},
                headers=account.headers,
                timeout=30,
            )
            response.raise_for_status()
            ids.append(int(response.json()["id"]))
    return ids


class Mailbox:
    """The sink's Maildir, read incrementally: subject and Message-ID of each file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.seen: dict[str, tuple[str, str, float]] = {}  # file -> subject, id, accepted

    def read(self) -> list[tuple[str, str, float]]:
        parser = BytesHeaderParser()
        for path in self.folder.iterdir():
            if path.name not in self.seen:
                with path.open("rb") as file:
                    message = parser.parse(file)
                accepted = path.stat().st_mtime_ns / 1e9
                self.seen[path.name] = (
                    str(message["Subject"]),
                    str(message["Message-ID"]),
                    accepted,
                )
        return list(self.seen.values())


# --- wrk --------------------------------------------------------------------------


@dataclass
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int = 0
    cpu_ms: dict[str, float] = field(default_factory=dict)  # CPU ms per request, by process


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not match:
        raise ValueError(f"unexpected latency {text!r} in wrk output")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _number(pattern: str, output: str) -> str:
    match = re.search(pattern, output)
    if not match:
        raise SystemExit(f"unexpected wrk output (no {pattern!r}):\n{output}")
    return match.group(1)


def require_wrk() -> None:
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")


def wrk(
    url: str,
    token: str,
    *,
    duration: int,
    connections: int,
    script: str | None = None,
    script_args: tuple[str, ...] = (),
) -> tuple[Run, str]:
    """One ``wrk --latency`` run; fails on any non-2xx/3xx response. Returns the run and
    the command as printed (the token shown as ``$TOKEN``)."""
    command = [
        "wrk", "--latency", f"-t{min(2, connections)}", f"-c{connections}", f"-d{duration}s",
        "-H", f"Authorization: Bearer {token}",
    ]  # fmt: skip
    if script:
        command += ["-s", str(BENCH / "lua" / script)]
    command.append(url)
    if script_args:
        command += ["--", *script_args]
    output = subprocess.run(  # noqa: S603 - wrk with our own arguments
        command, capture_output=True, text=True, check=True
    ).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if errors:
        raise SystemExit(f"{url}: {errors.group(1)} error responses; output:\n{output}")
    run = Run(
        rps=float(_number(r"Requests/sec:\s+([\d.]+)", output)),
        p50_ms=_ms(_number(r"\s50%\s+(\S+)", output)),
        p99_ms=_ms(_number(r"\s99%\s+(\S+)", output)),
        requests=int(_number(r"(\d+) requests in", output)),
    )
    shown = shlex.join(command).replace(token, "$TOKEN").replace(str(ROOT) + "/", "")
    return run, shown


# --- printing ---------------------------------------------------------------------


def summary(values: list[float]) -> str:
    return (
        f"min {min(values):8.2f}  median {statistics.median(values):8.2f}  max {max(values):8.2f}"
    )


def figure(label: str, values: list[float], bar: str = "") -> None:
    """One line of results: the figure, min/median/max over rounds, and its bar."""
    print(f"{label:42s} {summary(values)}   {'bar: ' + bar if bar else ''}".rstrip())
    sys.stdout.flush()


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (``share`` 0.5 for p50, 0.99 for p99)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    return (
        f"{platform.node()}: {os.cpu_count()} CPUs ({model}), {platform.platform()}, "
        f"Python {platform.python_version()}{load}"
    )


def header(suite: Suite | None, command: str) -> None:
    """What every benchmark prints first: the machine, the command and the database."""
    print(f"machine: {machine()}")
    print(f"command: {command}")
    if suite is not None:
        print(f"suite: {suite.var_dir} (databases: {suite.database()})")
    sys.stdout.flush()


def this_command() -> str:
    return " ".join([".venv/bin/python", *(shlex.quote(a) for a in sys.argv)])


def megabytes(value: float) -> str:
    return f"{value / 2**20:.0f} MB"
