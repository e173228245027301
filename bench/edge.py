"""The edge under slow and hostile clients: slow heads, slow bodies, idle keep-alive, a flood.

Starts its own copy of the suite, signs a user up and creates 20 todos; then,
against one target port (the gateway by default, or a service's own):

1. baseline: ``wrk`` ``GET /todos`` (``--connections``, 8) for ``--duration`` seconds
   (``/users/me`` on user-service, ``/notifications`` on notification-service);
2. the same run while ``--slow`` connections send their request head a line
   at a time, ``--slow`` more send a body slower than its ``Content-Length``,
   and ``--idle`` keep-alive connections sit silent after one request: the
   throughput ratio and p99 against the baseline, the target's CPU (each
   process apart), how long the server took to cut the slow ones off (a 408
   or a close), and the target's memory before and during;
3. a flood: ``--flood`` connections opened at once and held for 2 s, while a
   client asks ``/health`` once every 0.1 s; how many of those failed, and
   whether the target's processes are the same ones afterwards.

The bars are docs/spec/targets.md, "Targets not yet checked".

    ./manage-all.sh bench edge [--target api-gateway] [--slow 1000] [--idle 2000]
                               [--flood 5000] [--duration 10] [--connections 8]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from common import (
    TICKS,
    Run,
    Suite,
    cpu_ticks,
    create_todos,
    header,
    megabytes,
    memory,
    require_wrk,
    sign_up,
    this_command,
    worker_ticks,
    wrk,
)

# What each target is asked: a normal read (measured), and a route that reads a body.
READ_PATH = {"user-service": "/users/me", "notification-service": "/notifications"}
BODY_ROUTE = {
    "user-service": "POST /auth/register",
    "notification-service": "PATCH /notifications/preferences",
}
P99_BAR_MS = 50
THROUGHPUT_BAR = 0.9
CUT_OFF_BAR_S = 10
# How long the attack waits, after the measured run, for the server to cut the slow ones off.
GRACE_S = 30


@dataclass
class Attack:
    """Connections held open against ``port``; when each was cut off, if it was."""

    port: int
    token: str
    read_path: str
    body_route: str
    cut_off: dict[str, list[float]] = field(default_factory=dict)
    still_open: dict[str, int] = field(default_factory=dict)
    refused: int = 0
    stop: asyncio.Event | None = None

    async def _connection(self, kind: str, head: bytes, dribble: bytes) -> None:
        started = time.monotonic()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError:
            self.refused += 1
            return
        assert self.stop is not None  # noqa: S101 - set by run()
        try:
            writer.write(head)
            await writer.drain()
            if kind == "idle":  # one whole request, then silence
                await reader.readuntil(b"\r\n\r\n")
            while not self.stop.is_set():
                if dribble:
                    writer.write(dribble)
                    await writer.drain()
                read = asyncio.ensure_future(reader.read(1024))
                done, _ = await asyncio.wait({read}, timeout=1)
                if done:
                    if not read.result():  # the server closed the connection
                        self.cut_off.setdefault(kind, []).append(time.monotonic() - started)
                        return
                    # (an answer such as a 408: the close follows)
                else:
                    read.cancel()
            self.still_open[kind] = self.still_open.get(kind, 0) + 1
        except (OSError, asyncio.IncompleteReadError):
            self.cut_off.setdefault(kind, []).append(time.monotonic() - started)
        finally:
            writer.close()

    async def run(
        self, slow: int, idle: int, ready: threading.Event, until: threading.Event
    ) -> None:
        self.stop = asyncio.Event()
        host = f"Host: 127.0.0.1:{self.port}\r\n".encode()
        auth = f"Authorization: Bearer {self.token}\r\n".encode()
        slow_head = f"GET {self.read_path} HTTP/1.1\r\n".encode() + host
        slow_body = (
            f"{self.body_route} HTTP/1.1\r\n".encode() + host + auth
            + b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
        )  # fmt: skip
        idle_request = b"GET /health HTTP/1.1\r\n" + host + b"\r\n"
        tasks = [
            *(self._connection("slow head", slow_head, b"X-Slow: 1\r\n") for _ in range(slow)),
            *(self._connection("slow body", slow_body, b" ") for _ in range(slow)),
            *(self._connection("idle", idle_request, b"") for _ in range(idle)),
        ]
        running = [asyncio.ensure_future(task) for task in tasks]
        await asyncio.sleep(2)  # every connection opened and started
        ready.set()
        while not until.is_set():
            await asyncio.sleep(0.2)
        self.stop.set()
        await asyncio.gather(*running)


def in_thread(attack: Attack, slow: int, idle: int) -> tuple[threading.Thread, threading.Event]:
    ready, until = threading.Event(), threading.Event()
    thread = threading.Thread(
        target=lambda: asyncio.run(attack.run(slow, idle, ready, until)), daemon=True
    )
    thread.start()
    ready.wait(timeout=60)
    return thread, until


async def flood(port: int, count: int, hold: float) -> int:
    """Open ``count`` connections at once, hold them, close them; how many were refused."""

    async def one() -> bool:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), hold)
        except (OSError, TimeoutError):
            return False
        await asyncio.sleep(hold)
        writer.close()
        return True

    results = await asyncio.gather(*(one() for _ in range(count)))
    return results.count(False)


def probe(url: str, seconds: float) -> tuple[int, int, float]:
    """GET ``url`` every 0.1 s for ``seconds``: (answered, failed, slowest in ms)."""
    answered = failed = 0
    slowest = 0.0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.monotonic()
        try:
            ok = requests.get(url, timeout=5).status_code == 200
        except requests.RequestException:
            ok = False
        slowest = max(slowest, (time.monotonic() - started) * 1000)
        answered, failed = answered + ok, failed + (not ok)
        time.sleep(0.1)
    return answered, failed, slowest


def split(before: dict[int, int], after: dict[int, int], seconds: float) -> str:
    """Each process's share of a core between two ``worker_ticks`` readings, busiest first."""
    used = sorted((after[pid] - before.get(pid, 0) for pid in after), reverse=True)
    return " / ".join(cpu_share(ticks, seconds) for ticks in used)


def bar(value: float, limit: float, *, at_most: bool) -> str:
    met = value <= limit if at_most else value >= limit
    return f"(bar {'≤' if at_most else '≥'} {limit:g}: {'met' if met else 'NOT met'})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="api-gateway", help="a service name")
    parser.add_argument("--slow", type=int, default=1000, help="slow heads, and as many bodies")
    parser.add_argument("--idle", type=int, default=2000)
    parser.add_argument("--flood", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=8, help="wrk's, for normal reads")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    args = parser.parse_args()
    require_wrk()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    with Suite("edge") as suite:
        gateway, target = suite.url("api-gateway"), suite.url(args.target)
        account = sign_up(gateway)
        create_todos(gateway, account, 20)
        header(suite, this_command())
        print(f"target {args.target}; {args.slow} slow heads, {args.slow} slow bodies, "
              f"{args.idle} idle keep-alive; descriptors {hard}")  # fmt: skip

        ticks = cpu_ticks(suite, (args.target,))[args.target]
        per_worker = worker_ticks(suite, args.target)
        read_path = READ_PATH.get(args.target, "/todos")
        baseline, command = wrk(target + read_path, account.token, duration=args.duration,
                                connections=args.connections)  # fmt: skip
        baseline_ticks = cpu_ticks(suite, (args.target,))[args.target] - ticks
        baseline_split = split(per_worker, worker_ticks(suite, args.target), args.duration)
        print(f"  {command}")
        rss_before = memory(suite).get(args.target, (0, 0))[0]
        body_route = BODY_ROUTE.get(args.target, "POST /todos")
        attack = Attack(suite.ports[args.target], account.token, read_path, body_route)
        thread, until = in_thread(attack, args.slow, args.idle)
        ticks = cpu_ticks(suite, (args.target,))[args.target]
        per_worker = worker_ticks(suite, args.target)
        attacker = resource.getrusage(resource.RUSAGE_SELF)
        try:
            attacked = wrk(target + read_path, account.token, duration=args.duration,
                           connections=args.connections)[0]  # fmt: skip
        except (SystemExit, subprocess.CalledProcessError) as exc:
            # Error responses, or wrk could not even connect: the attack won.
            said = (
                exc.stderr or exc.stdout if isinstance(exc, subprocess.CalledProcessError) else exc
            )
            print(f"  wrk under attack failed: {(str(said).strip().splitlines() or ['?'])[0]}")
            attacked = Run(rps=0.0, p50_ms=float("inf"), p99_ms=float("inf"))
        rss_during = memory(suite).get(args.target, (0, 0))[0]
        attacked_ticks = cpu_ticks(suite, (args.target,))[args.target] - ticks
        attacked_split = split(per_worker, worker_ticks(suite, args.target), args.duration)
        attacker_after = resource.getrusage(resource.RUSAGE_SELF)
        attacker_s = (attacker_after.ru_utime + attacker_after.ru_stime) - (
            attacker.ru_utime + attacker.ru_stime
        )
        time.sleep(GRACE_S)
        until.set()
        thread.join(timeout=60)

        if not attacked.requests:  # nothing answered within the run: no latency to speak of
            attacked = Run(rps=0.0, p50_ms=float("inf"), p99_ms=float("inf"))
        ratio = attacked.rps / baseline.rps if baseline.rps else 0.0
        print(f"baseline            {baseline.rps:8.1f} req/s  p99 {baseline.p99_ms:7.1f} ms")
        print(f"under attack        {attacked.rps:8.1f} req/s  p99 {attacked.p99_ms:7.1f} ms  "
              f"{bar(attacked.p99_ms, P99_BAR_MS, at_most=True)}")  # fmt: skip
        print(f"throughput ratio    {ratio:8.2f}  {bar(ratio, THROUGHPUT_BAR, at_most=False)}")
        # On a small machine the attack competes for the same cores: say how much it took.
        print(f"{args.target} CPU   {cpu_share(baseline_ticks, args.duration)} of a core alone, "
              f"{cpu_share(attacked_ticks, args.duration)} under attack; the attacking "
              f"clients (this process) {attacker_s / args.duration:.0%}")  # fmt: skip
        # Each worker process apart: one saturated worker beside an idle one is a
        # question of which process accepted the measured connections.
        print(f"  by process        {baseline_split} alone; {attacked_split} under attack")
        for kind in ("slow head", "slow body", "idle"):
            times = attack.cut_off.get(kind, [])
            left = attack.still_open.get(kind, 0)
            if times:
                worst = max(times)
                verdict = bar(worst, CUT_OFF_BAR_S, at_most=True) if kind != "idle" else ""
                median = statistics.median(times)
                stats = f"median {median:.1f} s, max {worst:.1f} s"
                print(f"{kind:<18}  {len(times)} cut off, {stats}; "
                      f"{left} still open after {GRACE_S} s {verdict}")  # fmt: skip
            else:
                print(f"{kind:<18}  none cut off; {left} still open after {GRACE_S} s")
        print(f"refused at connect  {attack.refused}")
        print(f"{args.target} RSS   {megabytes(rss_before)} before, {megabytes(rss_during)} during")

        before = suite.pids()
        descriptors_before = descriptors(suite, args.target)
        probe_result: list[tuple[int, int, float]] = []
        prober = threading.Thread(
            target=lambda: probe_result.append(probe(target + "/health", 6)), daemon=True
        )
        prober.start()
        refused = asyncio.run(flood(suite.ports[args.target], args.flood, hold=2))
        prober.join(timeout=30)
        answered, failed, slowest = probe_result[0] if probe_result else (0, 0, 0.0)
        restarted = sorted(name for name, pid in suite.pids().items() if before.get(name) != pid)
        time.sleep(args.duration)  # the server's deadlines close what the flood left open
        print(f"flood of {args.flood}     {refused} refused or timed out at connect; /health "
              f"{answered} answered, {failed} failed, slowest {slowest:.0f} ms; "
              f"restarted: {', '.join(restarted) or 'none'}; open descriptors "
              f"{descriptors_before} before, {descriptors(suite, args.target)} after")  # fmt: skip


def cpu_share(ticks: int, seconds: float) -> str:
    return f"{ticks / TICKS / seconds:.0%}"


def descriptors(suite: Suite, name: str) -> int:
    """Open file descriptors of a process and its workers."""
    count = 0
    for pid in suite.processes().get(name, []):
        try:
            count += len(list(Path(f"/proc/{pid}/fd").iterdir()))
        except OSError:
            continue
    return count


if __name__ == "__main__":
    main()
