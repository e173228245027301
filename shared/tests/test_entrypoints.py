"""manage(): a configuration error is one line on stderr and exit code 2.

Each case runs a real interpreter on a tiny settings module written to tmp_path.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

MANAGE_CHECK = (
    "from servicekit.entrypoints import manage; manage('demo-service', ['manage.py', 'check'])"
)

ENV_SETTINGS = """
from servicekit.env import Env

env = Env()
SECRET_KEY = env.required("SECRET_KEY", dev_default="dev-only")
INSTALLED_APPS = []
DATABASES = {"default": env.database(dev_default="sqlite:////tmp/demo.sqlite3")}
"""


def run_python(
    tmp_path: Path, code: str, settings_source: str, **env_vars: str
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "demo_settings.py").write_text(textwrap.dedent(settings_source))
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "DATABASE_", "GUNICORN_", "SECRET_KEY"))
    }
    env.update(DJANGO_SETTINGS_MODULE="demo_settings", **env_vars)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_settings_module_raising_improperly_configured_exits_2_with_one_line(
    tmp_path: Path,
) -> None:
    # given
    settings_source = """
        from django.core.exceptions import ImproperlyConfigured
        raise ImproperlyConfigured("DATABASE_URL: bad")
    """

    # when
    result = run_python(tmp_path, MANAGE_CHECK, settings_source)

    # then
    assert result.returncode == 2
    assert result.stderr == "demo-service: configuration error: DATABASE_URL: bad\n"
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("env_vars", "expected_start"),
    [
        (
            {"DATABASE_URL": "mysql://todo:secret@db:3306/todos"},
            "demo-service: configuration error: DATABASE_URL: 'mysql://todo:***@db:3306/todos'",
        ),
        (
            {"DJANGO_ENV": "staging"},
            "demo-service: configuration error: DJANGO_ENV: 'staging' is not a mode",
        ),
        (
            {"DJANGO_ENV": "production"},
            "demo-service: configuration error: SECRET_KEY: must be set when DJANGO_ENV=production",
        ),
        (
            {"DATABASE_URL": "postgres://todo:secret@db:notaport/todos"},
            "demo-service: configuration error: DATABASE_URL: ",
        ),
    ],
)
def test_a_bad_environment_variable_is_reported_in_one_line_without_secrets(
    tmp_path: Path, env_vars: dict[str, str], expected_start: str
) -> None:
    result = run_python(tmp_path, MANAGE_CHECK, ENV_SETTINGS, **env_vars)

    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(expected_start)
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    assert "secret" not in result.stderr


def test_good_settings_run_the_management_command(tmp_path: Path) -> None:
    result = run_python(tmp_path, MANAGE_CHECK, ENV_SETTINGS)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    ("env_vars", "expected"),
    [
        ({}, "2 10000 30 True None servicekit.server.EdgeWorker"),
        (
            {
                "GUNICORN_WORKERS": "5",
                "GUNICORN_WORKER_CONNECTIONS": "800",
                "GUNICORN_TIMEOUT": "90",
            },
            "5 800 90 True None servicekit.server.EdgeWorker",
        ),
    ],
)
def test_gunicorn_settings_and_their_environment_overrides(
    tmp_path: Path, env_vars: dict[str, str], expected: str
) -> None:
    code = (
        "import servicekit.gunicorn as g; "
        "print(g.workers, g.worker_connections, g.timeout, g.preload_app, g.accesslog,"
        " g.worker_class)"
    )

    result = run_python(tmp_path, code, "", **env_vars)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected
