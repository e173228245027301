"""End-to-end fixtures: real copies of the suite, a real PostgreSQL, a real Redis.

Each fixture stops what it started, also when a test fails.
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from servicekit.testing import RedisServer, free_port

from support import DATABASE_VARIABLES, PostgresServer, Suite


@pytest.fixture
def make_suite(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Suite]]:
    """Build suites on demand; every one is stopped at the end of the test.

    A suite gets fresh databases in the tests' PostgreSQL cluster, as in production,
    unless the test names its own databases or asks for ``embedded=True``: the
    SQLite files of the README's ``up`` with zero setup.
    """
    suites: list[Suite] = []

    def make(*, embedded: bool = False, **env: str) -> Suite:
        if not embedded and not env.keys() & set(DATABASE_VARIABLES.values()):
            postgres: PostgresServer = request.getfixturevalue("postgres")
            prefix = request.module.__name__.removeprefix("test_")
            env = {**postgres.suite_databases(prefix), **env}
        suite = Suite(var_dir=tmp_path_factory.mktemp("suite"), env=env)
        suites.append(suite)
        return suite

    yield make
    for suite in suites:
        suite.down()


@pytest.fixture(scope="session")
def shared_suite(
    tmp_path_factory: pytest.TempPathFactory, postgres: PostgresServer
) -> Iterator[Suite]:
    """One suite for the tests that only read or add data (security, Schemathesis, events).

    On PostgreSQL (a database per service in the tests' own cluster), as in production.
    Login limits are raised so that many users can sign up and log in from 127.0.0.1.
    """
    suite = Suite(
        var_dir=tmp_path_factory.mktemp("shared-suite"),
        env={
            "GATEWAY_LOGIN_RATE_LIMIT": "1000/min",
            "USER_LOGIN_RATE_LIMIT": "1000/min",
            **postgres.suite_databases("shared"),
        },
    )
    suite.up()
    yield suite
    suite.down()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL server of the tests' own, on a free port."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    found = candidates[-1] if candidates else shutil.which("initdb")
    assert found, "PostgreSQL server binaries (initdb, pg_ctl) are needed for these tests"
    # PostgreSQL refuses to run as root: as root, the cluster belongs to "postgres",
    # in a directory that user can reach (pytest's own tmp dirs are private to root).
    user = "postgres" if os.geteuid() == 0 else None
    base = Path(tempfile.mkdtemp(prefix="e2e-postgres-"))
    data_dir = base / "data"
    data_dir.mkdir()
    if user:
        base.chmod(0o755)
        shutil.chown(data_dir, user=user)
    server = PostgresServer(
        bindir=Path(found).parent, data_dir=data_dir, port=free_port(), user=user
    )
    server.run("initdb", "-D", str(data_dir), "-U", "postgres", "-A", "trust", "--no-sync")
    server.start()
    yield server
    server.stop()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def external_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()
