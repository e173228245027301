"""The gateway's gunicorn settings: one gevent process and its deadlines, or the environment's."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

CONF = Path(__file__).resolve().parents[2] / "gunicorn.conf.py"


def settings(**env: str) -> str:
    code = (
        f"import runpy; c = runpy.run_path({str(CONF)!r}); "
        "from gunicorn.util import load_class; "
        "worker = load_class(c['worker_class']); "
        "print(c['workers'], c['worker_connections'], worker.__name__, c['keepalive'], "
        "worker.client_timeout)"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GUNICORN_")}
    result = subprocess.run(
        [sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "1 10000 EdgeWorker 5 8.0"),
        (
            {
                "GUNICORN_WORKERS": "3",
                "GUNICORN_WORKER_CONNECTIONS": "500",
                "GUNICORN_CLIENT_TIMEOUT": "30",
            },
            "3 500 EdgeWorker 5 30.0",
        ),
    ],
)
def test_workers_connections_deadlines_and_their_overrides(
    env: dict[str, str], expected: str
) -> None:
    assert settings(**env) == expected


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GUNICORN_WORKERS": "many"}, "GUNICORN_WORKERS: 'many' is not a whole number"),
        (
            {"GUNICORN_CLIENT_TIMEOUT": "3"},
            "GUNICORN_CLIENT_TIMEOUT: '3' is not a number of seconds > 5",
        ),
    ],
)
def test_a_bad_setting_stops_gunicorn_with_one_line(env: dict[str, str], message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        settings(**env)


def test_the_workers_may_hold_as_many_descriptors_as_the_hard_limit_allows() -> None:
    # given a process started with a small soft limit on open files (1,024 is common)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    small = min(256, hard)
    code = (
        f"import runpy, resource; runpy.run_path({str(CONF)!r}); "
        "print(*resource.getrlimit(resource.RLIMIT_NOFILE))"
    )

    # when gunicorn reads its settings
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (small, hard)),
    )

    # then the soft limit is the hard one: every slow or idle connection is a descriptor
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(hard), str(hard)]
