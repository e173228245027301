"""Kubernetes: the Celery workers, who holds the signing key, and what the saga worker may reach."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from facts import (
    OVERLAYS,
    Manifest,
    all_containers,
    by_kind,
    celery_workers,
    container_env,
    image_service,
    pod_spec,
)

SAGA_WORKER = "user-saga-worker"
# The containers that sign with user-service's RS256 key: the API (user tokens)
# and the saga worker (the service tokens it mints for its /internal/ calls).
SIGNERS = {"user-service": "user-service", SAGA_WORKER: "worker"}
# What the saga worker connects to: its participants, its database, the broker.
SAGA_WORKER_PEERS = ("TODO_SERVICE_URL", "NOTIFICATION_SERVICE_URL", "DATABASE_URL", "REDIS_URL")
ENSURE_SIGNING_KEY = ["python", "manage.py", "ensure_signing_key"]


def the_container(deployment: Manifest, name: str) -> dict[str, Any]:
    containers: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["containers"]
    (container,) = [c for c in containers if c["name"] == name]
    return container


def pod_labels(manifest: Manifest) -> dict[str, str]:
    labels: dict[str, str] = manifest["spec"]["template"]["metadata"]["labels"]
    return labels


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert "matchExpressions" not in selector, "only matchLabels is understood here"
    wanted: dict[str, str] = selector.get("matchLabels", {})
    return wanted.items() <= labels.items()


# --- the Celery workers -----------------------------------------------------------


@pytest.mark.parametrize("worker", sorted(celery_workers()))
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_celery_worker_runs_in_its_services_image_and_environment(
    overlays: dict[str, list[Manifest]], overlay: str, worker: str
) -> None:
    service, queue = celery_workers()[worker]
    deployments = by_kind(overlays[overlay], "Deployment")
    where = f"{overlay} {worker}"
    assert worker in deployments, f"{where}: no Deployment"
    spec = deployments[worker]["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    api = the_container(deployments[service], service)
    # Given: a pod of the service, among the suite's service pods
    assert pod_labels(deployments[worker]).items() >= {
        "app.kubernetes.io/name": service, "todo-suite/tier": "service"
    }.items(), where  # fmt: skip
    # ... running the queue manage-all.sh's worker consumes, in the service's
    # image and with the very same environment
    assert container["command"][:6] == ["celery", "-A", "config", "worker", "-Q", queue], where
    assert image_service(container["image"]) == service, where
    assert container["image"] == api["image"], where
    assert container["envFrom"] == api["envFrom"], where
    # Then: restarted when it stops answering a ping under Celery's default node name
    assert "inspect ping" in " ".join(container["livenessProbe"]["exec"]["command"]), where
    assert "--hostname" not in container["command"], where
    assert "ports" not in container, where
    # ... and it waits for the schema like the service's pods do
    assert spec["initContainers"][0]["name"] == "wait-for-migrations", where


# --- the signing key --------------------------------------------------------------


def volume_at(spec: dict[str, Any], container: dict[str, Any], path: str) -> dict[str, Any]:
    """The pod volume a container mounts at ``path``, with the mount's readOnly flag."""
    (mount,) = [m for m in container.get("volumeMounts", []) if m["mountPath"] == path] or [None]
    assert mount, f"{container['name']} mounts nothing at {path}"
    (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    return {**volume, "readOnly": mount.get("readOnly", False)}


def key_maker(objects: list[Manifest]) -> tuple[Manifest, dict[str, Any]] | None:
    """The Deployment whose init container runs ``ensure_signing_key``, and that container."""
    for manifest in objects:
        spec = pod_spec(manifest)
        for container in all_containers(spec) if spec else []:
            if container.get("command") == ENSURE_SIGNING_KEY:
                return manifest, container
    return None


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_token_signer_has_the_signing_key(
    overlays: dict[str, list[Manifest]], overlay: str
) -> None:
    objects = overlays[overlay]
    deployments = by_kind(objects, "Deployment")
    made = key_maker(objects)
    for name, container_name in SIGNERS.items():
        where = f"{overlay} {name}"
        container = the_container(deployments[name], container_name)
        env = container_env(container, objects)
        if "JWT_PRIVATE_KEY" in env:
            continue  # production: the PEM from user-service-secrets
        # Given: a key directory, made by ensure_signing_key on a volume
        assert made, f"{where}: no JWT_PRIVATE_KEY and nothing runs ensure_signing_key"
        maker, maker_container = made
        maker_spec = maker["spec"]["template"]["spec"]
        key_dir = container_env(maker_container, objects)["JWT_KEY_DIR"]
        claim = volume_at(maker_spec, maker_container, key_dir)["persistentVolumeClaim"]
        # Then: the signer mounts that same claim where its JWT_KEY_DIR points
        spec = deployments[name]["spec"]["template"]["spec"]
        assert env["JWT_KEY_DIR"] == key_dir, where
        volume = volume_at(spec, container, key_dir)
        assert volume["persistentVolumeClaim"]["claimName"] == claim["claimName"], where
        if name == SAGA_WORKER:
            # ... read-only, and on the node of the pod that holds the
            # ReadWriteOnce claim
            assert volume["readOnly"] is True, where
            affinity = spec["affinity"]["podAffinity"]
            (term,) = affinity["requiredDuringSchedulingIgnoredDuringExecution"]
            assert term["topologyKey"] == "kubernetes.io/hostname", where
            assert selects(term["labelSelector"], pod_labels(maker)), where


# --- network policies ---------------------------------------------------------------


def target_of(objects: list[Manifest], url: str) -> tuple[dict[str, str], set[Any]] | None:
    """The pods an in-cluster URL reaches (their labels) and the ports a policy may name.

    None when the host is no Service of the overlay (an external database in production).
    """
    parts = urlsplit(url)
    service = by_kind(objects, "Service").get(parts.hostname or "")
    if service is None:
        return None
    (port,) = [p for p in service["spec"]["ports"] if p["port"] == parts.port]
    selector = service["spec"]["selector"]
    pods = [(m, spec) for m in objects if (spec := pod_spec(m)) is not None
            and selector.items() <= pod_labels(m).items()]  # fmt: skip
    assert pods, f"Service {parts.hostname} selects no pod"
    (manifest, spec), target = pods[0], port["targetPort"]
    numbers = {
        found["containerPort"]
        for container in spec["containers"]
        for found in container.get("ports", [])
        if target in (found["containerPort"], found.get("name"))
    }
    assert numbers, f"Service {parts.hostname}: no container port {target}"
    return pod_labels(manifest), {target, *numbers}


def admitted(policies: dict[str, Manifest], source: dict[str, str],
             target: dict[str, str], ports: set[Any]) -> bool:  # fmt: skip
    """Whether some ingress rule of a policy selecting ``target`` lets ``source`` in on a port."""
    for policy in policies.values():
        spec = policy["spec"]
        if "Ingress" not in spec["policyTypes"] or not selects(spec["podSelector"], target):
            continue
        for rule in spec.get("ingress", []):
            peers = rule.get("from")
            source_ok = peers is None or any(
                "podSelector" in peer
                and "namespaceSelector" not in peer
                and selects(peer["podSelector"], source)
                for peer in peers
            )
            rule_ports = rule.get("ports")
            port_ok = rule_ports is None or any(p.get("port") in ports for p in rule_ports)
            if source_ok and port_ok:
                return True
    return False


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_saga_worker_may_reach_its_participants_its_database_and_redis(
    overlays: dict[str, list[Manifest]], overlay: str
) -> None:
    objects = overlays[overlay]
    policies = by_kind(objects, "NetworkPolicy")
    worker = by_kind(objects, "Deployment")[SAGA_WORKER]
    env = container_env(the_container(worker, "worker"), objects)
    reached = set()

    for variable in SAGA_WORKER_PEERS:
        for url in env[variable].split(","):
            target = target_of(objects, url.strip())
            if target is None:
                continue  # outside the cluster: egress is open
            # Then: some policy lets the worker's pods in, on the port the URL names
            labels, ports = target
            assert admitted(policies, pod_labels(worker), labels, ports), (
                f"{overlay}: no NetworkPolicy lets {SAGA_WORKER} reach {variable}"
            )
            reached.add(variable)

    # The participants are in the cluster everywhere; database and Redis in dev.
    in_cluster = SAGA_WORKER_PEERS if overlay == "dev" else SAGA_WORKER_PEERS[:2]
    assert reached == set(in_cluster)
    for name, policy in policies.items():
        if "Egress" in policy["spec"]["policyTypes"]:
            assert not selects(policy["spec"]["podSelector"], pod_labels(worker)), name


def test_the_policy_check_refuses_a_pod_outside_the_suite(
    overlays: dict[str, list[Manifest]],
) -> None:
    # Given: Mailpit's pods, which are not among the suite's service pods
    objects = overlays["dev"]
    mailpit = pod_labels(by_kind(objects, "Deployment")["mailpit"])
    target = target_of(objects, "http://todo-service:8081")
    assert target

    # Then: todo-service's policy keeps them out, and lets the saga worker in
    labels, ports = target
    policies = by_kind(objects, "NetworkPolicy")
    assert not admitted(policies, mailpit, labels, ports)
    worker = pod_labels(by_kind(objects, "Deployment")[SAGA_WORKER])
    assert admitted(policies, worker, labels, ports)
