"""Gateway overhead: GET /todos through the gateway vs. straight to todo-service.

Starts its own copy of the suite (``manage-all.sh up -d`` on free ports, in a
temporary VAR_DIR), signs a user up, creates 20 todos, then runs ``wrk``
(8 connections) against todo-service and against the gateway, alternating,
for several rounds, with the same token. Prints the machine, the commands,
min/median/max per side, the throughput ratio (gateway / direct) and the
latency the gateway adds at p50 and p99. It also prints the CPU time each of
gateway, todo-service and Redis spent per request during the 8-connection
runs: unlike req/s, that hardly moves when other work shares the machine, so
it says what the gateway costs even where the ratio is noise.

    .venv/bin/python bench/gateway.py [--rounds 5] [--duration 10] [--path /todos]

PostgreSQL is used when ``TODO_DATABASE_URL`` (and the other ``*_DATABASE_URL``)
are set, as quality.md asks; otherwise the suite's SQLite default.
The gateway's rate limit stays on, set high enough not to refuse the benchmark.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests
from servicekit.testing import free_port

ROOT = Path(__file__).resolve().parent.parent
MANAGE_ALL = ROOT / "manage-all.sh"
PORT_VARIABLES = {
    "api-gateway": "GATEWAY_PORT",
    "todo-service": "TODO_PORT",
    "user-service": "USER_PORT",
    "notification-service": "NOTIFICATION_PORT",
}


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


def wrk(url: str, token: str, *, duration: int, connections: int) -> tuple[Run, str]:
    command = [
        "wrk", "--latency", f"-t{min(2, connections)}", f"-c{connections}", f"-d{duration}s",
        "-H", f"Authorization: Bearer {token}", url,
    ]  # fmt: skip
    output = subprocess.run(  # noqa: S603 - wrk with our own arguments
        command, capture_output=True, text=True, check=True
    ).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if errors:
        raise SystemExit(f"{url}: {errors.group(1)} error responses; output:\n{output}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    requests_done = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    shown = " ".join(command).replace(token, "$TOKEN")
    return Run(rps, p50, p99, requests_done), shown


def summary(values: list[float]) -> str:
    return (
        f"min {min(values):8.2f}  median {statistics.median(values):8.2f}  max {max(values):8.2f}"
    )


def machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{platform.node()}: {os.cpu_count()} CPUs ({model}), {platform.platform()}, "
        f"Python {platform.python_version()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--todos", type=int, default=20)
    parser.add_argument("--path", default="/todos", help="what to fetch (e.g. /health)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")

    var_dir = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    ports = {service: free_port() for service in PORT_VARIABLES}
    env = {
        **os.environ,
        **{variable: str(ports[s]) for s, variable in PORT_VARIABLES.items()},
        "VAR_DIR": str(var_dir),
        "GATEWAY_RATE_LIMIT": "100000000/min",
        # One token for the whole run, which outlasts the default 5-minute lifetime.
        "JWT_ACCESS_LIFETIME_SECONDS": "3600",
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
    }
    for variable in (
        "REDIS_URL",
        "TODO_SERVICE_URL",
        "USER_SERVICE_URL",
        "NOTIFICATION_SERVICE_URL",
    ):
        env.pop(variable, None)
    try:
        up = subprocess.run(  # noqa: S603 - our own script
            [str(MANAGE_ALL), "up", "-d"], env=env, capture_output=True, text=True, check=False
        )
        if up.returncode != 0:
            raise SystemExit(f"manage-all.sh up -d failed:\n{up.stdout}{up.stderr}")
        gateway = f"http://127.0.0.1:{ports['api-gateway']}"
        direct = f"http://127.0.0.1:{ports['todo-service']}"
        token = sign_up_with_todos(gateway, args.todos)
        database = "PostgreSQL" if "postgres" in env.get("TODO_DATABASE_URL", "") else "SQLite"
        print(f"machine: {machine()}")
        print(f"suite: {var_dir} (todo database: {database}), {args.todos} todos, same token")
        # Throughput at 8 connections saturates the machine, so latency there is mostly
        # queueing (connections / throughput); the latency the gateway adds is measured
        # on its own, with one connection, as a proxy's added latency usually is.
        runs: dict[str, list[Run]] = {}
        for round_number in range(1, args.rounds + 1):
            for connections in (args.connections, 1):
                for side, base in (("direct", direct), ("gateway", gateway)):
                    key = f"{side} c={connections}"
                    before = cpu_ticks(var_dir)
                    run, command = wrk(
                        base + args.path, token, duration=args.duration, connections=connections
                    )
                    after = cpu_ticks(var_dir)
                    run.cpu_ms = {
                        name: (after[name] - before.get(name, 0)) * 1000 / TICKS / run.requests
                        for name in after
                    }
                    runs.setdefault(key, []).append(run)
                    if round_number == 1:
                        print(f"command ({key}): {command}")
                    print(
                        f"round {round_number} {key:12s} {run.rps:9.1f} req/s  "
                        f"p50 {run.p50_ms:6.2f} ms  p99 {run.p99_ms:6.2f} ms"
                    )
        report(runs, args.connections)
    finally:
        subprocess.run(  # noqa: S603 - our own script
            [str(MANAGE_ALL), "down"], env=env, capture_output=True, check=False
        )
        shutil.rmtree(var_dir, ignore_errors=True)


CPU_PROCESSES = ("api-gateway", "todo-service", "redis")
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_ticks(var_dir: Path) -> dict[str, int]:
    """utime + stime of each process in CPU_PROCESSES and its children (gunicorn workers)."""
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        stats[int(entry.name)] = fields
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    ticks: dict[str, int] = {}
    for name in CPU_PROCESSES:
        try:
            pid = int((var_dir / "run" / f"{name}.pid").read_text())
        except (OSError, ValueError):
            continue  # e.g. an external Redis
        # fields[0] is the state; utime and stime are stat fields 14 and 15
        ticks[name] = sum(
            int(stats[p][11]) + int(stats[p][12])
            for p in [pid, *children.get(pid, [])]
            if p in stats
        )
    return ticks


def sign_up_with_todos(gateway: str, count: int) -> str:
    username, password = f"bench{uuid.uuid4().hex[:8]}", uuid.uuid4().hex + "Aa1!"
    requests.post(
        f"{gateway}/auth/register",
        json={"username": username, "email": f"{username}@example.com", "password": password},
        timeout=10,
    ).raise_for_status()
    login = requests.post(
        f"{gateway}/auth/login", json={"username": username, "password": password}, timeout=10
    )
    login.raise_for_status()
    token = str(login.json()["access"])
    for number in range(count):
        requests.post(
            f"{gateway}/todos",
            json={"title": f"todo {number}"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        ).raise_for_status()
    return token


def report(runs: dict[str, list[Run]], connections: int) -> None:
    print()
    for key, key_runs in runs.items():
        print(f"{key:12s} req/s  {summary([r.rps for r in key_runs])}")
        print(f"{key:12s} p50 ms {summary([r.p50_ms for r in key_runs])}")
        print(f"{key:12s} p99 ms {summary([r.p99_ms for r in key_runs])}")
    pairs = list(
        zip(runs[f"direct c={connections}"], runs[f"gateway c={connections}"], strict=True)
    )
    single = list(zip(runs["direct c=1"], runs["gateway c=1"], strict=True))
    ratios = [g.rps / d.rps for d, g in pairs]
    added_p50 = [g.p50_ms - d.p50_ms for d, g in single]
    added_p99 = [g.p99_ms - d.p99_ms for d, g in single]
    print(f"throughput ratio (gateway/direct, c={connections}) {summary(ratios)}   goal >= 0.70")
    print(f"added p50 ms (c=1)                     {summary(added_p50)}   goal <= 2")
    print(f"added p99 ms (c=1)                     {summary(added_p99)}   goal <= 10")
    print(f"CPU ms per request (c={connections}, medians; PostgreSQL and wrk not counted):")
    for side in ("direct", "gateway"):
        side_runs = runs[f"{side} c={connections}"]
        names = sorted({name for run in side_runs for name in run.cpu_ms})
        shown = "  ".join(
            f"{name} {statistics.median(run.cpu_ms.get(name, 0.0) for run in side_runs):.2f}"
            for name in names
        )
        print(f"  {side:8s} {shown}")
    gateway_runs = runs[f"gateway c={connections}"]
    shares = [
        run.cpu_ms["api-gateway"] / run.cpu_ms["todo-service"]
        for run in gateway_runs
        if run.cpu_ms.get("todo-service")
    ]
    if shares:
        print(f"gateway CPU / todo-service CPU per request {summary(shares)}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
