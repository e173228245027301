"""End-to-end fixtures: real copies of the suite, a real PostgreSQL, a real Redis.

Each fixture stops what it started, also when a test fails.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from servicekit.testing import RedisServer

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
    server = PostgresServer.create()
    yield server
    server.remove()


@pytest.fixture
def external_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()
