"""compose and Kubernetes agree with manage-all.sh and the code on ports, env names, health paths.

The facts are parsed from manage-all.sh, the projects' settings and servicekit
(see support.py), so a renamed variable or a moved port fails here.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from facts import (
    OVERLAYS,
    REPO,
    Manifest,
    all_containers,
    celery_workers,
    compose,
    compose_project,
    container_env,
    declares_queue,
    env_names_read,
    env_names_required_in_production,
    has_celery_app,
    health_paths,
    image_service,
    manage_all_relays,
    manage_all_workers,
    outbox_services,
    pod_spec,
    project_dirs,
    readiness_path,
    service_of_project,
    service_ports,
)

LIVENESS_PATH = "/health"
# user-service needs a signing key in production: one of these (see its settings).
SIGNING_KEY_SOURCES = {"JWT_PRIVATE_KEY", "JWT_PRIVATE_KEY_FILE", "JWT_KEY_DIR"}


def allowed_names(folder: str, command: list[str] | None) -> frozenset[str]:
    """What a container may set: what its code reads, plus Flower's own FLOWER_* options."""
    names = env_names_read(folder)
    if command and "flower" in command:
        return names | {"FLOWER_BASIC_AUTH"}
    return names


def check_environment(where: str, folder: str, env: dict[str, Any], command: Any) -> None:
    unknown = set(env) - allowed_names(folder, command)
    assert not unknown, f"{where} sets variables {folder} never reads: {sorted(unknown)}"
    missing = env_names_required_in_production(folder) - set(env)
    assert not missing, f"{where} lacks what production mode requires: {sorted(missing)}"
    if folder == project_dirs()["user-service"]:
        assert SIGNING_KEY_SOURCES & set(env), f"{where} gives user-service no signing key"


def test_the_facts_are_found_in_manage_all_and_the_code() -> None:
    # Guards the parsers: an empty result would make the other tests vacuous.
    assert set(service_ports()) == set(project_dirs()) == {
        "api-gateway", "todo-service", "user-service", "notification-service"
    }  # fmt: skip
    assert readiness_path() in health_paths()
    assert LIVENESS_PATH in health_paths()
    for folder in project_dirs().values():
        assert {"DJANGO_SECRET_KEY", "REDIS_URL", "PORT"} <= env_names_read(folder)
    # The services with an outbox are the ones manage-all.sh runs a relay for.
    assert outbox_services()
    assert outbox_services() == manage_all_relays()
    # Every Celery worker manage-all.sh starts, with its service and queue.
    assert {"notification-worker", "user-saga-worker"} <= celery_workers().keys()
    assert celery_workers().keys() <= set(manage_all_workers())


@pytest.mark.parametrize("worker", sorted(celery_workers()))
def test_each_celery_worker_consumes_a_queue_its_project_declares_and_has_an_app(
    worker: str,
) -> None:
    service, queue = celery_workers()[worker]
    folder = project_dirs()[service]

    assert has_celery_app(folder), f"{worker}: {folder} has no config/celery.py"
    assert declares_queue(folder, queue), f"{worker}: {folder}'s settings have no queue {queue}"


# --- images -----------------------------------------------------------------------


@pytest.mark.parametrize("service", sorted(project_dirs()))
def test_each_image_exposes_the_port_and_checks_health(service: str) -> None:
    port = service_ports()[service]
    dockerfile = (REPO / project_dirs()[service] / "Dockerfile").read_text()
    gunicorn = (REPO / project_dirs()[service] / "gunicorn.conf.py").read_text()

    assert re.search(rf"^EXPOSE {port}$", dockerfile, re.M)
    assert f"PORT={port}" in dockerfile
    assert f"os.environ.get('PORT', '{port}')" in gunicorn
    assert re.search(rf"HEALTHCHECK .*\n.*'http://127.0.0.1:%s{LIVENESS_PATH}'", dockerfile)
    assert re.search(r'^CMD \["gunicorn", "-c", "gunicorn.conf.py"\]$', dockerfile, re.M)
    assert re.search(r"^USER 10001:10001$", dockerfile, re.M)


# --- docker compose ---------------------------------------------------------------


def test_compose_services_use_manage_all_ports_and_readiness() -> None:
    services = compose()["services"]
    for service, port in service_ports().items():
        definition = services[service]
        assert definition["environment"]["PORT"] == str(port), service
        assert f"{readiness_path()}'" in " ".join(definition["healthcheck"]["test"]), service
    gateway = services["api-gateway"]
    assert gateway["ports"] == [f"${{GATEWAY_PORT:-{service_ports()['api-gateway']}}}:8080"]
    for service in ("todo-service", "user-service", "notification-service"):
        variable = f"{service.removesuffix('-service').upper()}_SERVICE_URL"
        expected = f"http://{service}:{service_ports()[service]}"
        assert gateway["environment"][variable] == expected
        for definition in services.values():
            assert definition.get("environment", {}).get(variable, expected) == expected


def test_compose_sets_only_variables_the_code_reads_and_all_it_requires() -> None:
    for name, definition in compose()["services"].items():
        folder = compose_project(definition)
        if folder is not None:
            check_environment(
                f"compose {name}", folder, definition["environment"], definition.get("command")
            )


# --- kubernetes -------------------------------------------------------------------


def app_containers(objects: list[Manifest]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for manifest in objects:
        spec = pod_spec(manifest)
        for container in all_containers(spec) if spec else []:
            if image_service(container["image"]):
                found.append((f"{manifest['kind']}/{manifest['metadata']['name']}", container))
    return found


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_k8s_containers_set_only_variables_the_code_reads_and_all_it_requires(
    overlays: dict[str, list[Manifest]], overlay: str
) -> None:
    containers = app_containers(overlays[overlay])
    assert len(containers) >= len(project_dirs())
    for where, container in containers:
        service = image_service(container["image"])
        assert service in project_dirs(), f"{where}: unknown image {container['image']}"
        env = container_env(container, overlays[overlay])
        check_environment(
            f"{overlay} {where}", project_dirs()[service], env, container.get("command")
        )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_k8s_services_use_manage_all_ports_and_health_paths(
    overlays: dict[str, list[Manifest]], overlay: str
) -> None:
    objects = overlays[overlay]
    deployments = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Deployment"}
    services = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Service"}
    for service, port in service_ports().items():
        (container,) = deployments[service]["spec"]["template"]["spec"]["containers"]
        assert container["ports"] == [{"name": "http", "containerPort": port}]
        assert container_env(container, objects)["PORT"] == str(port)
        assert container["livenessProbe"]["httpGet"]["path"] == LIVENESS_PATH
        assert container["readinessProbe"]["httpGet"]["path"] == readiness_path()
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            # Django refuses the pod IP that kubelet would send as Host.
            headers = container[probe]["httpGet"]["httpHeaders"]
            assert {"name": "Host", "value": "localhost"} in headers
            assert "localhost" in container_env(container, objects)["DJANGO_ALLOWED_HOSTS"]
        assert services[service]["spec"]["ports"] == [
            {"name": "http", "port": port, "targetPort": "http"}
        ]
        for where, other in app_containers(objects):
            variable = f"{service.removesuffix('-service').upper()}_SERVICE_URL"
            value = container_env(other, objects).get(variable)
            assert value in (None, f"http://{service}:{port}"), f"{where} {variable}"


def test_every_service_folder_has_a_compose_service_and_a_k8s_deployment(
    overlays: dict[str, list[Manifest]],
) -> None:
    built = {compose_project(d) for d in compose()["services"].values()}
    assert {service_of_project(folder) for folder in built if folder} == set(project_dirs())
    for overlay in OVERLAYS:
        names = {o["metadata"]["name"] for o in overlays[overlay] if o["kind"] == "Deployment"}
        assert set(project_dirs()) <= names
