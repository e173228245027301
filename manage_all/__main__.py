"""``./manage-all.sh COMMAND``: the verbs, over :mod:`manage_all.lifecycle` and friends."""

from __future__ import annotations

import os
import sys

from manage_all import catalog
from manage_all.extras import createsuperuser, demo, mail
from manage_all.lifecycle import Failed, Suite, complain
from manage_all.settings import ROOT, Paths
from manage_all.testing import SUITES, test

USAGE = f"""Usage: ./manage-all.sh COMMAND [ARGS]

Runs the whole Todo microservices suite on this machine, under supervisord.

Commands:
  up [-d]            migrate, start everything, wait until all are ready; -d returns
                     after that, otherwise the logs follow and Ctrl-C stops it all
  down               stop everything
  status             each process, its pid and whether it is ready; the URLs
  logs [SERVICE]     follow the logs (var/log/)
  start|stop|restart SERVICE
                     one process of a running suite
  migrate            apply every service's migrations
  createsuperuser SERVICE
                     an admin for todo, user or notification
  demo               a demo user with todos, an admin in each service, curl lines
  mail [ID]          the emails the local SMTP sink caught (also in
                     notification-service's /admin/mailbox/)
  bench [NAME [ARGS]]
                     the benchmarks (bench/README.md); without NAME, lists them
  test [SUITE ...] [-- PYTEST_ARGS]
                     {", ".join(SUITES[:-3])},
                     deploy (compose/k8s validation, and the compose stack on
                     a Docker engine when one answers), e2e, browser (headless
                     Chromium: apt-get install chromium chromium-driver)
                     (all when none is named); exits non-zero if any fails

Processes (manage_all/catalog.py): {
    ", ".join(
        f"{p.name} ({'/'.join(p.aliases)})" if p.aliases else p.name for p in catalog.PROCESSES
    )
}; redis and smtp only when the suite runs its own.

Environment (defaults in brackets):
  GATEWAY_PORT [8080] TODO_PORT [8081] USER_PORT [8082] NOTIFICATION_PORT [8083]
  FLOWER_PORT [5555] (Celery Flower, monitoring both workers)
  TODO_DATABASE_URL, USER_DATABASE_URL, NOTIFICATION_DATABASE_URL
                     [SQLite files under var/db/]; postgres://... for PostgreSQL
  REDIS_URL          [an embedded redis-server on a free port, data in var/redis/]
  SMTP_HOST, SMTP_PORT
                     [a local SMTP sink on a free port, mail kept in var/mail/]
  TODO_SERVICE_URL, USER_SERVICE_URL, NOTIFICATION_SERVICE_URL
                     [http://127.0.0.1:<port>]; comma-separated for several instances
  VAR_DIR [./var]    where the supervisor's files, logs, databases and mail live
  PYTHON [python3]   the interpreter used to create .venv (3.11 or newer)
"""


def process_name(arguments: list[str], verb: str) -> str:
    if not arguments:
        raise Failed(f"{verb} needs a service name (see --help)")
    try:
        return catalog.canonical(arguments[0])
    except KeyError:
        raise Failed(f"unknown service '{arguments[0]}' (see --help)") from None


def bench(arguments: list[str]) -> int:
    names = sorted(p.stem for p in (ROOT / "bench").glob("*.py") if p.stem != "common")
    if not arguments:
        print("Benchmarks (./manage-all.sh bench NAME [ARGS]; NAME --help; bench/README.md):")
        print("\n".join(f"  {name}" for name in names))
        return 0
    if arguments[0] not in names:
        raise Failed(f"unknown benchmark '{arguments[0]}' (one of: {' '.join(names)})")
    script = str(ROOT / "bench" / f"{arguments[0]}.py")
    # The benchmarks read the catalog (manage_all) from the repository root.
    python_path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    environment = {**os.environ, "PYTHONPATH": python_path}
    os.execve(sys.executable, [sys.executable, script, *arguments[1:]], environment)  # noqa: S606


def main(argv: list[str]) -> int:
    if not argv:
        print(USAGE, file=sys.stderr)
        return 2
    verb, arguments = argv[0], argv[1:]
    suite = Suite(Paths.from_environment())
    if verb == "up":
        suite.up(detach=arguments[:1] == ["-d"])
    elif verb == "down":
        suite.down()
    elif verb == "status":
        suite.status()
    elif verb == "logs":
        suite.logs(process_name(arguments, verb) if arguments else None)
    elif verb == "start":
        suite.start_one(process_name(arguments, verb))
    elif verb == "stop":
        suite.stop_one(process_name(arguments, verb))
    elif verb == "restart":
        suite.stop_one(process_name(arguments, verb))
        suite.start_one(process_name(arguments, verb))
    elif verb == "migrate":
        suite.migrate_only()
    elif verb == "createsuperuser":
        return createsuperuser(suite, process_name(arguments, verb))
    elif verb == "demo":
        demo(suite)
    elif verb == "mail":
        return mail(suite, arguments)
    elif verb == "bench":
        return bench(arguments)
    elif verb == "test":
        suites, args = arguments, []
        if "--" in arguments:
            at = arguments.index("--")
            suites, args = arguments[:at], arguments[at + 1 :]
        return 0 if test(suite.paths, suites, args) else 1
    elif verb in ("-h", "--help", "help"):
        print(USAGE)
    else:
        print(f"Unknown command: {verb}", file=sys.stderr)
        print(USAGE, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except Failed as failure:
        if str(failure):
            complain(str(failure))
        sys.exit(1)
