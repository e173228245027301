"""The gateway's gunicorn sizing: one process, eight threads, unless the environment says so."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CONF = Path(__file__).resolve().parents[2] / "gunicorn.conf.py"


def sizing(**env: str) -> str:
    code = (
        f"import runpy; c = runpy.run_path({str(CONF)!r}); "
        "print(c['workers'], c['threads'], c['worker_class'])"
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
        ({}, "1 8 gthread"),
        ({"GUNICORN_WORKERS": "3", "GUNICORN_THREADS": "16"}, "3 16 gthread"),
    ],
)
def test_workers_and_threads_and_their_overrides(env: dict[str, str], expected: str) -> None:
    assert sizing(**env) == expected


def test_a_bad_thread_count_stops_gunicorn_with_one_line() -> None:
    with pytest.raises(AssertionError, match="GUNICORN_THREADS: 'many' is not a whole number"):
        sizing(GUNICORN_THREADS="many")
