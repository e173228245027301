"""One stack for the whole module: built from the local base, started, and taken down.

Without a Docker engine the tests are skipped with one line saying why, unless
DEPLOY_REQUIRE_ENGINE is set (CI sets it): then they fail.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from servicekit.testing.servers import free_ports
from stack import (
    BUILD_BASE_IMAGES,
    REQUIRE_ENGINE_VARIABLE,
    CommandFailed,
    Stack,
    engine_problem,
    env_file,
    run,
)

PROJECT = "todo-suite-deploy-test"
# Figures for docs/deploy.md, printed at the end of the run.
FIGURES: dict[str, str] = {}


@pytest.fixture(scope="session")
def figures() -> dict[str, str]:
    """Where a test puts what it measured, for the end-of-run summary line."""
    return FIGURES


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    problem = engine_problem()
    if problem:  # (test_stack.py skips itself without an engine, unless it is required)
        pytest.fail(f"{REQUIRE_ENGINE_VARIABLE} is set but {problem}", pytrace=False)

    started = time.monotonic()
    run([str(BUILD_BASE_IMAGES)], timeout=900)
    FIGURES["base images"] = f"{time.monotonic() - started:.0f} s"

    published = ("GATEWAY_PORT", "FLOWER_PORT", "MAILPIT_UI_PORT")
    ports = dict(zip(published, free_ports(len(published)), strict=True))
    scratch: Path = tmp_path_factory.mktemp("stack")
    stack = Stack(project=PROJECT, env_file=env_file(scratch / ".env", ports), ports=ports)
    # A run that was stopped half-way may have left its stack behind.
    stack.compose("down", "--volumes", "--remove-orphans")

    started = time.monotonic()
    built = stack.compose("build", timeout=1800)
    missing = stack.missing_images()
    if missing:
        output = (built.stdout + built.stderr)[-6000:]
        raise CommandFailed(f"compose build did not build {', '.join(missing)}:\n{output}")
    FIGURES["build"] = f"{time.monotonic() - started:.0f} s"

    started = time.monotonic()
    try:
        stack.compose("up", "--detach", "--wait", "--wait-timeout", "300", timeout=420)
        if down := stack.not_running():
            raise CommandFailed(f"compose up left {', '.join(down)} without a running container")
    except CommandFailed as exc:
        states = stack.compose("ps", "--all").stdout
        logs = stack.compose("logs", "--no-color", "--tail", "20").stdout
        raise CommandFailed(f"{exc}\n\n{states}\n{logs[-8000:]}") from None
    FIGURES["up --wait until healthy"] = f"{time.monotonic() - started:.0f} s"

    try:
        yield stack
    finally:
        stack.compose("down", "--volumes", "--remove-orphans")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FIGURES:
        measured = "; ".join(f"{name}: {value}" for name, value in FIGURES.items())
        terminalreporter.write_line(f"deploy stack: {measured}")
