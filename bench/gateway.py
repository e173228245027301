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

    ./manage-all.sh bench gateway [--rounds 5] [--duration 10] [--path /todos]

PostgreSQL is used when ``TODO_DATABASE_URL`` (and the other ``*_DATABASE_URL``)
are set, as the targets are measured (docs/spec/targets.md, "Performance");
otherwise the suite's SQLite default.
The gateway's rate limit stays on, set high enough not to refuse the benchmark.
"""

from __future__ import annotations

import argparse
import statistics
import sys

from common import (
    TICKS,
    Run,
    Suite,
    cpu_ticks,
    create_todos,
    figure,
    header,
    require_wrk,
    sign_up,
    this_command,
    wrk,
)

CPU_PROCESSES = ("api-gateway", "todo-service", "redis")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--todos", type=int, default=20)
    parser.add_argument("--path", default="/todos", help="what to fetch (e.g. /health)")
    args = parser.parse_args()
    require_wrk()

    with Suite("gateway") as suite:
        gateway, direct = suite.url("api-gateway"), suite.url("todo-service")
        account = sign_up(gateway)
        create_todos(gateway, account, args.todos)
        header(suite, this_command())
        print(f"{args.todos} todos, same token")
        # Throughput at 8 connections saturates the machine, so latency there is mostly
        # queueing (connections / throughput); the latency the gateway adds is measured
        # on its own, with one connection, as a proxy's added latency usually is.
        runs: dict[str, list[Run]] = {}
        for round_number in range(1, args.rounds + 1):
            for connections in (args.connections, 1):
                for side, base in (("direct", direct), ("gateway", gateway)):
                    key = f"{side} c={connections}"
                    before = cpu_ticks(suite, CPU_PROCESSES)
                    run, command = wrk(
                        base + args.path,
                        account.token,
                        duration=args.duration,
                        connections=connections,
                    )
                    after = cpu_ticks(suite, CPU_PROCESSES)
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


def report(runs: dict[str, list[Run]], connections: int) -> None:
    print()
    for key, key_runs in runs.items():
        figure(f"{key} req/s", [r.rps for r in key_runs])
        figure(f"{key} p50 ms", [r.p50_ms for r in key_runs])
        figure(f"{key} p99 ms", [r.p99_ms for r in key_runs])
    pairs = list(
        zip(runs[f"direct c={connections}"], runs[f"gateway c={connections}"], strict=True)
    )
    single = list(zip(runs["direct c=1"], runs["gateway c=1"], strict=True))
    figure(
        f"throughput ratio (gateway/direct, c={connections})",
        [g.rps / d.rps for d, g in pairs],
        ">= 0.70",
    )
    figure("added p50 ms (c=1)", [g.p50_ms - d.p50_ms for d, g in single], "<= 2")
    figure("added p99 ms (c=1)", [g.p99_ms - d.p99_ms for d, g in single], "<= 10")
    print(f"CPU ms per request (c={connections}, medians; PostgreSQL and wrk not counted):")
    for side in ("direct", "gateway"):
        side_runs = runs[f"{side} c={connections}"]
        names = sorted({name for run in side_runs for name in run.cpu_ms})
        shown = "  ".join(
            f"{name} {statistics.median(run.cpu_ms.get(name, 0.0) for run in side_runs):.2f}"
            for name in names
        )
        print(f"  {side:8s} {shown}")
    shares = [
        run.cpu_ms["api-gateway"] / run.cpu_ms["todo-service"]
        for run in runs[f"gateway c={connections}"]
        if run.cpu_ms.get("todo-service")
    ]
    if shares:
        figure("gateway CPU / todo-service CPU per request", shares)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
