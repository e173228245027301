"""``test [SUITE ...] [-- PYTEST_ARGS]``: every suite, one summary line each."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from manage_all import catalog
from manage_all.lifecycle import Failed, say
from manage_all.settings import ROOT, Paths

SUITES = (
    "lint",
    "types",
    "shared",
    "gateway",
    "todo",
    "user",
    "notification",
    "deploy",
    "e2e",
    "browser",
)
TYPED = (
    "shared",
    "gateway_project",
    "todo_project",
    "user_project",
    "notification_project",
    "bench",
)
BIN = Path(sys.executable).parent


def ensure_chromium() -> bool:
    """Debian's Chromium and ChromeDriver for the browser tests: installed when this user can."""
    if shutil.which("chromium") and shutil.which("chromedriver"):
        return True
    if os.geteuid() == 0 and shutil.which("apt-get"):
        say("Installing chromium and chromium-driver from Debian ...")
        environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}

        def apt_get(*args: str) -> bool:
            command = ["apt-get", *args]
            result = subprocess.run(command, env=environment, capture_output=True, check=False)  # noqa: S603
            return result.returncode == 0

        install = ("install", "-y", "-q", "chromium", "chromium-driver")
        if apt_get(*install) or (apt_get("update", "-q") and apt_get(*install)):
            return True
    print(
        "browser: Chromium is missing; install it: sudo apt-get install chromium chromium-driver",
        file=sys.stderr,
    )
    return False


def run_suite(name: str, args: list[str], environment: dict[str, str]) -> bool:
    def run(command: list[str], cwd: Path, env: dict[str, str] = environment) -> bool:
        return subprocess.run(command, cwd=cwd, env=env, check=False).returncode == 0  # noqa: S603

    pytest = [sys.executable, "-m", "pytest"]
    if name == "lint":
        ruff = str(BIN / "ruff")
        return run([ruff, "check", "."], ROOT) and run([ruff, "format", "--check", "."], ROOT)
    if name == "types":
        mypy, cache = str(BIN / "mypy"), Path(environment["VAR_DIR"]) / "test" / "mypy"
        results = [run([mypy, "--cache-dir", str(cache / d), "."], ROOT / d) for d in TYPED]
        results.append(
            run(
                [
                    mypy,
                    "--cache-dir",
                    str(cache / "manage_all"),
                    "--config-file",
                    "manage_all/mypy.ini",
                    "-p",
                    "manage_all",
                ],
                ROOT,
            )
        )
        return all(results)
    if name == "shared":
        return run([*pytest, *args], ROOT / "shared")
    if name in ("gateway", "todo", "user", "notification"):
        service = catalog.service(catalog.canonical(name))
        env = {k: v for k, v in environment.items() if k != "DATABASE_URL"}
        env["PORT"] = str(service.default_port)
        if service.database_variable and environment.get(service.database_variable):
            env["DATABASE_URL"] = environment[service.database_variable]
        return run([*pytest, *args], ROOT / service.folder, env)
    if name == "deploy":
        return run([*pytest, "tests", *args], ROOT / "compose")
    if name == "e2e":
        return run([*pytest, "tests", "--ignore=tests/browser", *args], ROOT)
    if name == "browser":
        return ensure_chromium() and run([*pytest, "tests/browser", *args], ROOT)
    raise Failed(f"unknown test suite '{name}' (one of: {' '.join(SUITES)})")


def test(paths: Paths, suites: list[str], args: list[str]) -> bool:
    from servicekit.testing import RedisServer

    for name in suites:
        if name not in SUITES:
            raise Failed(f"unknown test suite '{name}' (one of: {' '.join(SUITES)})")
    (paths.var_dir / "db").mkdir(parents=True, exist_ok=True)
    environment = dict(os.environ, VAR_DIR=str(paths.var_dir))
    # Unit suites get a Redis of their own unless REDIS_URL names one; the
    # databases are the *_DATABASE_URLs when set (PostgreSQL in CI), else SQLite.
    redis = None
    if not environment.get("REDIS_URL"):
        redis = RedisServer()
        redis.start()
        environment["REDIS_URL"] = redis.url
    environment.setdefault("SMTP_HOST", "127.0.0.1")
    environment.setdefault("SMTP_PORT", "25")
    for service in catalog.SERVICES:
        if service.url_variable:
            environment.setdefault(service.url_variable, "")
    results = []
    try:
        for name in suites or SUITES:
            say(f"=== {name}")
            started = time.monotonic()
            ok = run_suite(name, args, environment)
            seconds = round(time.monotonic() - started)
            results.append(f"{'ok' if ok else 'FAILED':<7} {name:<13} {seconds:>4}s")
    finally:
        if redis is not None:
            redis.stop()
    say()
    say("Summary:")
    for line in results:
        say(f"  {line}")
    return all(line.startswith("ok") for line in results)
