"""The contract tests every service inherits (docs/spec/api.md, "General rules" and "Health").

A project's test module subclasses :class:`ServiceContract`::

    class TestServiceContract(ServiceContract):
        service_name = "todo-service"

and pytest-django runs the inherited tests against that project's settings,
real database and real Redis.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest
from django.conf import settings
from django.test import Client


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run this project's ``manage.py`` in a fresh process with extra environment."""
    manage_py = Path(settings.BASE_DIR) / "manage.py"
    return subprocess.run(  # noqa: S603 - our own manage.py with fixed arguments
        [sys.executable, str(manage_py), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class ServiceContract:
    """What every service promises in docs/spec/api.md, "General rules" and "Health"."""

    service_name: ClassVar[str]
    has_database: ClassVar[bool] = True
    has_admin: ClassVar[bool] = True
    # A variable whose bad value must stop the service at start, and that value.
    bad_setting: ClassVar[tuple[str, str]] = ("DATABASE_URL", "nonsense")

    @pytest.fixture
    def database(self, request: pytest.FixtureRequest) -> None:
        """pytest-django's test database, for services that have one."""
        if self.has_database:
            request.getfixturevalue("db")

    def test_health_names_the_service_and_its_version(self, client: Client) -> None:
        response = client.get("/health")

        assert response.status_code == 200
        body = response.json()
        assert body == {"status": "ok", "service": self.service_name, "version": body["version"]}
        assert body["version"].count(".") == 2

    @pytest.mark.usefixtures("database")
    @pytest.mark.parametrize("path", ["/health", "/health/", "/health/ready", "/health/ready/"])
    def test_paths_work_with_and_without_trailing_slash(self, client: Client, path: str) -> None:
        response = client.get(path)

        assert response.status_code == 200

    @pytest.mark.usefixtures("database")
    def test_readiness_checks_the_real_dependencies(self, client: Client) -> None:
        response = client.get("/health/ready")

        assert response.status_code == 200, response.json()
        checks = response.json()["checks"]
        assert checks["redis"]["status"] == "ok"
        if self.has_database:
            assert checks["database"]["status"] == "ok"

    def test_readiness_is_503_naming_redis_when_redis_is_unreachable(
        self, client: Client, settings: Any, closed_port_url: str
    ) -> None:
        settings.SERVICEKIT = {**settings.SERVICEKIT, "REDIS_URL": closed_port_url}

        response = client.get("/health/ready")

        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "unavailable"
        assert body["checks"]["redis"]["status"] == "unavailable"
        assert "refused" in body["checks"]["redis"]["error"].lower()

    def test_unknown_path_is_a_json_404(self, client: Client) -> None:
        response = client.get("/no/such/path", HTTP_AUTHORIZATION="Bearer whatever")

        assert response.status_code == 404
        assert response["Content-Type"].startswith("application/json")
        assert response.json()["code"] == "not_found"

    def test_wrong_method_is_a_json_405(self, client: Client) -> None:
        response = client.delete("/health")

        assert response.status_code == 405
        assert response.json()["code"] == "method_not_allowed"

    def test_every_response_carries_the_callers_request_id(self, client: Client) -> None:
        response = client.get("/health", HTTP_X_REQUEST_ID="trace-me-42")

        assert response["X-Request-ID"] == "trace-me-42"

    def test_a_bad_setting_stops_the_service_with_one_line(self) -> None:
        variable, value = self.bad_setting

        result = run_manage("check", env={variable: value})

        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith(f"{self.service_name}: configuration error: {variable}:")

    def test_production_mode_requires_a_real_secret_key(self) -> None:
        result = run_manage("check", env={"DJANGO_ENV": "production", "DJANGO_SECRET_KEY": ""})

        assert result.returncode == 2
        assert "DJANGO_SECRET_KEY: must be set" in result.stderr

    @pytest.mark.usefixtures("database")
    def test_admin_login_page_and_its_static_files_are_served(self, client: Client) -> None:
        if not self.has_admin:
            response = client.get("/admin/")
            assert response.status_code == 404
            return

        page = client.get("/admin/login/")
        stylesheet = client.get(f"/{settings.STATIC_URL.strip('/')}/admin/css/base.css")

        assert page.status_code == 200
        assert b"Django administration" in page.content
        assert stylesheet.status_code == 200


@pytest.fixture
def closed_port_url() -> str:
    """A Redis URL on a local port nobody listens on: a real connection refusal."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"
