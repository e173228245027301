"""The Kubernetes manifests run what the compose stack runs, and tests/engine proves on an engine.

No API server can be had here, so the manifests cannot be run. What can be
held is that every process of the compose file appears in them with the same
image, the same command, the same environment variables and the same health
check, so that what the engine tests show about the compose stack carries over.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from facts import (
    Manifest,
    all_containers,
    by_kind,
    compose,
    compose_project,
    container_env,
    image_service,
    pod_spec,
)

# Production takes user-service's signing key from a Secret (JWT_PRIVATE_KEY);
# compose and the dev overlay keep it on a volume (JWT_KEY_DIR).
KEY_SOURCE = {"dev": "JWT_KEY_DIR", "production": "JWT_PRIVATE_KEY"}
WAIT_FOR_MIGRATIONS = "wait-for-migrations"


def interpolated(value: str) -> str:
    """A compose value as the container sees it with an empty compose/.env."""
    return re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", value).replace("$$", "$")


def project_services() -> dict[str, dict[str, Any]]:
    return {
        name: service for name, service in compose()["services"].items() if compose_project(service)
    }


def compose_command(service: dict[str, Any]) -> list[str] | None:
    command = service.get("command")
    return [interpolated(part) for part in command] if command else None


def k8s_containers(objects: list[Manifest]) -> list[tuple[Manifest, dict[str, Any]]]:
    """(workload, container) for every container of the suite's images, but the wait loops."""
    found = []
    for kind in ("Deployment", "Job"):
        for workload in by_kind(objects, kind).values():
            spec = pod_spec(workload)
            assert spec is not None
            for container in all_containers(spec):
                if image_service(container["image"]) and container["name"] != WAIT_FOR_MIGRATIONS:
                    found.append((workload, container))
    return found


def k8s_command(container: dict[str, Any]) -> list[str] | None:
    command = [*container.get("command", []), *container.get("args", [])]
    return command or None


def counterpart(
    name: str, service: dict[str, Any], objects: list[Manifest]
) -> tuple[Manifest, dict[str, Any]]:
    """The k8s container that runs the compose service's image and command."""
    image = image_service(interpolated(service["image"]))
    command = compose_command(service)
    matches = [
        (workload, container)
        for workload, container in k8s_containers(objects)
        if image_service(container["image"]) == image and k8s_command(container) == command
    ]
    assert matches, f"no container in the manifests runs {image} with {command} ({name})"
    if service.get("restart") != "no":  # a long-running process: the Deployment of its name
        matches = [m for m in matches if m[0]["metadata"]["name"] == name]
        assert matches, f"{name}: no Deployment of that name runs {command}"
    return matches[0]


def health_check_of(service: dict[str, Any]) -> tuple[str, Any] | None:
    """("http", path) for a request to 127.0.0.1, ("exec", argv) for a command."""
    check = service.get("healthcheck")
    if not check:
        return None
    form, *rest = [interpolated(part) for part in check["test"]]
    text = " ".join(rest)
    http = re.search(r"urlopen\('http://127\.0\.0\.1:[^/]+(/[\w/]*)'", text)
    if http:
        return ("http", http.group(1))
    return ("exec", ["sh", "-c", rest[0]] if form == "CMD-SHELL" else rest)


def probe_of(container: dict[str, Any]) -> tuple[str, Any] | None:
    """The k8s probe that plays the compose health check's part.

    An HTTP check is compose's readiness (it gates the gateway's start), so it
    is the readinessProbe; a command is a liveness check.
    """
    ready = container.get("readinessProbe", {})
    if "httpGet" in ready:
        return ("http", ready["httpGet"]["path"])
    live = container.get("livenessProbe", {})
    if "exec" in live:
        return ("exec", live["exec"]["command"])
    return None


# The job that makes the key on that volume has no part in production.
KEY_VOLUME_ONLY = {"user-signing-key"}
PAIRS = [
    (name, overlay)
    for name in sorted(project_services())
    for overlay in KEY_SOURCE
    if overlay == "dev" or name not in KEY_VOLUME_ONLY
]


@pytest.mark.parametrize(("name", "overlay"), PAIRS)
def test_each_compose_process_runs_alike_in_kubernetes(
    name: str, overlay: str, overlays: dict[str, list[Manifest]]
) -> None:
    service = project_services()[name]
    objects = overlays[overlay]

    # Given: the container that runs the same image and command
    _, container = counterpart(name, service, objects)

    # Then: the same environment variables ...
    in_compose = set(service.get("environment", {}))
    if KEY_SOURCE["dev"] in in_compose:
        in_compose = in_compose - {KEY_SOURCE["dev"]} | {KEY_SOURCE[overlay]}
    assert set(container_env(container, objects)) == in_compose, name
    # ... and the same health check
    assert probe_of(container) == health_check_of(service), name


def test_the_http_probes_ask_the_port_the_service_listens_on(
    overlays: dict[str, list[Manifest]],
) -> None:
    for objects in overlays.values():
        for _, container in k8s_containers(objects):
            probe = container.get("readinessProbe", {}).get("httpGet")
            if not probe:
                continue
            ports = {port["name"]: port["containerPort"] for port in container.get("ports", [])}
            port = ports.get(probe["port"], probe["port"])
            env = container_env(container, objects)
            # (Flower takes its port on the command line, the services from PORT)
            listens = env.get("PORT") if "--port=" not in str(container.get("command")) else None
            assert listens is None or int(listens) == port, container["name"]
