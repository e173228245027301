"""``demo``, ``mail`` and ``createsuperuser``: what a person does with a running suite."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
from typing import Any

from manage_all import catalog
from manage_all.lifecycle import Failed, Suite, say
from manage_all.settings import ROOT, load, resolve

DEMO_USER = "demo"
DEMO_PASSWORD = "todo-demo-password"  # noqa: S105 - a documented demo account
DEMO_TODOS = (
    {"title": "Buy milk", "priority": "high"},
    {"title": "Read docs/saga.md", "priority": "normal"},
    {"title": "Water the plants", "priority": "low"},
)


def run_in_service(suite: Suite, name: str, command: list[str], **extra: str) -> int:
    """Run a command in a project's folder with its service's environment."""
    service = catalog.service(name)
    settings = load(suite.paths) or resolve(suite.paths, suite.environ)
    environment = {**suite.service_env(service, settings), **extra}
    folder = ROOT / service.folder
    return subprocess.run(command, cwd=folder, env=environment, check=False).returncode  # noqa: S603


def createsuperuser(suite: Suite, name: str) -> int:
    service = catalog.service(name)
    if not service.database_variable:
        raise Failed(f"{name} has no database or admin")
    return run_in_service(suite, name, [sys.executable, "manage.py", "createsuperuser"])


def mail(suite: Suite, arguments: list[str]) -> int:
    settings = suite.settings()
    if not settings.get("SMTP_SINK"):
        raise Failed("SMTP_HOST points at a real SMTP server; its mail is not kept here")
    command = [sys.executable, "manage.py", "mailbox", *arguments]
    return run_in_service(suite, "notification-service", command)


def _post(url: str, body: dict[str, Any] | None = None, token: str | None = None) -> Any:
    request = urllib.request.Request(url, data=json.dumps(body or {}).encode(), method="POST")  # noqa: S310
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the suite's gateway
        return json.load(response)


def demo(suite: Suite) -> None:
    """A demo user with todos (one completed: an email), an admin in each service, curl lines."""
    settings = suite.settings()
    gateway = f"http://127.0.0.1:{settings['GATEWAY_PORT']}"
    account = {
        "username": DEMO_USER,
        "email": f"{DEMO_USER}@example.com",
        "password": DEMO_PASSWORD,
    }
    # Registering twice is refused (the user exists): logging in is then enough.
    with contextlib.suppress(urllib.error.HTTPError):
        _post(f"{gateway}/auth/register", account)
    try:
        token = _post(f"{gateway}/auth/login", account)["access"]
        for todo in DEMO_TODOS:
            _post(f"{gateway}/todos", todo, token)
        todo_id = _post(f"{gateway}/todos", {"title": "Try the suite"}, token)["id"]
        _post(f"{gateway}/todos/{todo_id}/complete", token=token)
    except (urllib.error.URLError, OSError) as exc:
        raise Failed(
            f"could not set up the demo user through {gateway}: {exc} "
            "(is the suite up? ./manage-all.sh status)"
        ) from None
    say(
        f"Demo user: {DEMO_USER} / {DEMO_PASSWORD} "
        '(3 open todos; "Try the suite" completed, so an email is on its way)'
    )
    say()
    say("Admins (user 'admin', a new one-time password each time you run demo):")
    for service in catalog.database_services():
        password = secrets.token_urlsafe(12)
        command = [sys.executable, "-m", "manage_all.ensure_admin"]
        python_path = os.pathsep.join(filter(None, [str(ROOT), suite.environ.get("PYTHONPATH")]))
        status = run_in_service(
            suite, service.name, command, ADMIN_PASSWORD=password, PYTHONPATH=python_path
        )
        if status != 0:
            raise Failed(f"could not create the admin of {service.name}")
        port = settings[service.port_variable]
        say(f"  {service.name:<22} http://127.0.0.1:{port}/admin/   admin / {password}")
    say()
    say("Try the API (the token is valid for 5 minutes; log in again for a new one):")
    bearer = '-H "Authorization: Bearer $TOKEN"'
    login = json.dumps({"username": DEMO_USER, "password": DEMO_PASSWORD})
    say(f"""  export TOKEN={token}
  curl -s {gateway}/todos {bearer}
  curl -s "{gateway}/todos?completed=false&ordering=-priority" {bearer}
  curl -s -X POST {gateway}/todos {bearer} \\
    -H 'Content-Type: application/json' -d '{{"title": "My first todo"}}'
  curl -s -X POST {gateway}/todos/{todo_id}/complete {bearer}
  curl -s {gateway}/todos/stats {bearer}
  curl -s {gateway}/notifications {bearer}
  curl -s -X POST {gateway}/auth/login -H 'Content-Type: application/json' \\
    -d '{login}'""")
    say()
    port = settings["NOTIFICATION_PORT"]
    say(f"The email: ./manage-all.sh mail, or http://127.0.0.1:{port}/admin/mailbox/")
