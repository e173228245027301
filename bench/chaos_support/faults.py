"""The chaos run's faults: a schedule drawn from a seed, and carrying it out.

Kinds of fault (weights in ``KINDS``):

- ``kill``: SIGKILL to one process and everything in its process group (a
  service's gunicorn master and workers, a relay, a Celery worker and its pool,
  Flower, the embedded Redis, the SMTP sink). The Celery workers come back
  through ``manage-all.sh``'s supervision (supervisord restarts them); the
  others are started again after a few seconds with ``manage-all.sh start
  NAME``, as an operator or an orchestrator would.
- ``pause``: SIGSTOP to an HTTP service for 2-15 s, then SIGCONT: a process
  that hangs without dying (a long GC pause, a stuck disk, a frozen VM).
- ``redis-restart``: ``manage-all.sh stop redis``, then ``start redis``.
- ``postgres-restart``: the database server shut down ``fast`` (sessions
  ended, a clean stop) or ``immediate`` (a crash: recovery at the next start),
  then started again.
- ``smtp-refusing``: the SMTP sink stopped for 5-20 s (connections refused).

About every fifth fault comes with a second one at the same moment, on
another target. A target is never hit again before its last fault is over.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from dataclasses import dataclass, field

from manage_all import catalog
from manage_all.harness import SuiteCopy, SuiteError
from manage_all.postgres import PostgresServer
from manage_all.supervision import Supervisor

KINDS = {"kill": 50, "pause": 15, "redis-restart": 10, "postgres-restart": 12, "smtp-refusing": 13}
HTTP_SERVICES = ("api-gateway", "todo-service", "user-service", "notification-service")
WARM_UP = 10.0  # seconds of traffic before the first fault
QUIET_END = 10.0  # no fault starts this close to the end of the traffic
SECOND_FAULT = 0.2  # the chance that a fault comes with another
START_TIMEOUT = 120.0  # seconds to get a process running again before the run fails


@dataclass
class Fault:
    at: float  # seconds after the traffic started
    kind: str
    target: str  # a process name, or "postgres"
    seconds: float  # how long the target stays down, paused or refusing
    mode: str = ""  # postgres-restart: "fast" or "immediate"
    # What happened, filled in when it is carried out.
    began: float | None = None
    ended: float | None = None  # when the target was back (running and ready)
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        mode = f" ({self.mode})" if self.mode else ""
        return f"{self.at:6.1f} s  {self.kind}{mode} {self.target}, {self.seconds:.1f} s"


def schedule(
    random_seed: int, duration: float, mean_gap: float, processes: list[str]
) -> list[Fault]:
    """The faults of a run of ``duration`` seconds, a fault every ``mean_gap`` s on average."""
    chooser = random.Random(random_seed)  # noqa: S311 - a fault schedule, not a secret
    busy_until: dict[str, float] = {}
    faults: list[Fault] = []
    at = WARM_UP
    while True:
        at += chooser.expovariate(1 / mean_gap)
        if at > duration - QUIET_END:
            return faults
        for number in range(2 if chooser.random() < SECOND_FAULT else 1):
            fault = _draw(chooser, at, processes, busy_until)
            if fault is not None:
                faults.append(fault)
                # Restarts take a few seconds more than the down time itself.
                busy_until[fault.target] = at + fault.seconds + 30
            if number == 0 and fault is None:
                break


def _draw(
    chooser: random.Random, at: float, processes: list[str], busy_until: dict[str, float]
) -> Fault | None:
    kinds = list(KINDS)
    for _ in range(10):
        kind = chooser.choices(kinds, [KINDS[k] for k in kinds])[0]
        if kind == "kill":
            target = chooser.choice(processes)
            seconds = chooser.uniform(1, 5)
        elif kind == "pause":
            target = chooser.choice([p for p in HTTP_SERVICES if p in processes])
            seconds = chooser.uniform(2, 15)
        elif kind == "redis-restart":
            target, seconds = "redis", chooser.uniform(0.5, 3)
        elif kind == "postgres-restart":
            target, seconds = "postgres", chooser.uniform(0.5, 3)
        else:
            target, seconds = "smtp", chooser.uniform(5, 20)
        if target not in processes and target != "postgres":
            continue  # e.g. no embedded Redis in this suite
        if busy_until.get(target, -1.0) > at:
            continue
        mode = chooser.choice(("fast", "immediate")) if kind == "postgres-restart" else ""
        return Fault(at=at, kind=kind, target=target, seconds=seconds, mode=mode)
    return None


class Injector:
    """Carries out a schedule against a running suite, each fault in a thread of its own."""

    def __init__(self, suite: SuiteCopy, postgres: PostgresServer, started: float) -> None:
        self.suite = suite
        self.postgres = postgres
        self.started = started
        self.supervisor = Supervisor(suite.paths)
        self.restarts: dict[str, int] = {}  # explicit starts by the run, per process
        self.errors: list[str] = []
        self._threads: list[threading.Thread] = []

    def now(self) -> float:
        return time.monotonic() - self.started

    def run(self, faults: list[Fault], stop: threading.Event) -> None:
        """Start each fault at its time (in this thread), until the list or ``stop`` ends."""
        for fault in faults:
            if stop.wait(max(0.0, fault.at - self.now())):
                return
            thread = threading.Thread(target=self._carry_out, args=(fault,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def wait(self) -> None:
        for thread in self._threads:
            thread.join()

    def _carry_out(self, fault: Fault) -> None:
        fault.began = self.now()
        try:
            getattr(self, "_" + fault.kind.replace("-", "_"))(fault)
        except Exception as exc:  # noqa: BLE001 - reported as a failure of the run itself
            self.errors.append(f"{fault}: {type(exc).__name__}: {exc}")
        fault.ended = self.now()

    def _group(self, name: str) -> int | None:
        return self.suite.pids().get(name)

    def _signal(self, fault: Fault, number: signal.Signals) -> int | None:
        """Send the signal to the target's process group; its pid, None if it was not running."""
        pid = self._group(fault.target)
        if pid is None:
            fault.notes.append("was not running")
        else:
            os.killpg(pid, number)
        return pid

    def _kill(self, fault: Fault) -> None:
        pid = self._signal(fault, signal.SIGKILL)
        if pid is None:
            return
        if catalog.process(fault.target).restart:
            self._wait_for_new_pid(fault, pid)
        else:
            time.sleep(fault.seconds)
            self.start(fault.target, fault)

    def _wait_for_new_pid(self, fault: Fault, old: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            pid = self._group(fault.target)
            if pid is not None and pid != old:
                return
            if self.supervisor.state(fault.target) == "FATAL":
                fault.notes.append("supervisord gave up restarting it")
                self.start(fault.target, fault)
                return
            time.sleep(0.2)
        fault.notes.append("not restarted by supervisord in time")
        self.start(fault.target, fault)

    def _pause(self, fault: Fault) -> None:
        pid = self._signal(fault, signal.SIGSTOP)
        if pid is None:
            return
        try:
            time.sleep(fault.seconds)
        finally:
            os.killpg(pid, signal.SIGCONT)

    def _stopped_for_a_while(self, fault: Fault) -> None:
        """``manage-all.sh stop``, then ``start`` again after the fault's seconds."""
        self.suite.stop(fault.target)
        time.sleep(fault.seconds)
        self.start(fault.target, fault)

    _redis_restart = _smtp_refusing = _stopped_for_a_while

    def _postgres_restart(self, fault: Fault) -> None:
        self.postgres.stop(fault.mode)  # type: ignore[arg-type]
        time.sleep(fault.seconds)
        self.postgres.start()

    def start(self, name: str, fault: Fault | None = None) -> None:
        """``manage-all.sh start NAME`` until it succeeds (a dependency may be down too)."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            self.restarts[name] = self.restarts.get(name, 0) + 1
            try:
                self.suite.start(name)
                return
            except SuiteError as error:
                if time.monotonic() > deadline:
                    raise
                last = str(error).strip().splitlines()[-1:]
                if fault is not None:
                    fault.notes.append(f"start failed, again in 2 s: {' '.join(last)}")
                time.sleep(2)

    def not_running(self, expected: list[str]) -> list[str]:
        running = self.suite.pids()
        return [name for name in expected if name not in running]
