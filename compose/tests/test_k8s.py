"""Kubernetes manifests: every overlay builds, validates, and follows the hardening rules."""

from __future__ import annotations

import copy
from typing import Any

import kubernetes_validate
import pytest
from facts import (
    OVERLAYS,
    Manifest,
    all_containers,
    by_kind,
    database_services,
    has_celery_app,
    image_service,
    outbox_services,
    pod_spec,
    project_dirs,
    relay_name,
)
from kubernetes_validate.utils import SchemaNotFoundError, ValidationError

# The oldest Kubernetes still commonly run, and the newest kubernetes-validate ships.
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")


def validation_errors(objects: list[Manifest], version: str) -> list[str]:
    errors = []
    for manifest in objects:
        name = f"{manifest['kind']}/{manifest['metadata']['name']}"
        try:
            kubernetes_validate.validate(manifest, version, strict=True)
        except ValidationError as error:
            path = ".".join(str(part) for part in error.path)
            errors.append(f"{name}: {path}: {error.message}")
        except SchemaNotFoundError as error:
            errors.append(f"{name}: {error.message}")
    return errors


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_validates_against_the_kubernetes_schemas(
    overlays: dict[str, list[Manifest]], overlay: str, version: str
) -> None:
    assert validation_errors(overlays[overlay], version) == []


def test_the_validator_rejects_an_unknown_field(overlays: dict[str, list[Manifest]]) -> None:
    # Given: a Deployment with a misspelt container field
    deployment = copy.deepcopy(by_kind(overlays["dev"], "Deployment")["todo-service"])
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}

    # Then
    errors = validation_errors([deployment], KUBERNETES_VERSIONS[0])
    assert len(errors) == 1
    assert "readinessProbes" in errors[0]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_runs_as_non_root_read_only_without_capabilities_and_with_limits(
    overlays: dict[str, list[Manifest]], overlay: str
) -> None:
    for manifest in overlays[overlay]:
        spec = pod_spec(manifest)
        if spec is None:
            continue
        where = f"{manifest['kind']}/{manifest['metadata']['name']}"
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["automountServiceAccountToken"] is False, where
        for container in all_containers(spec):
            security: dict[str, Any] = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            assert {"cpu", "memory"} <= container["resources"]["requests"].keys(), where
            assert {"cpu", "memory"} <= container["resources"]["limits"].keys(), where


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_suite_has_its_autoscalers_budgets_jobs_and_ingress(
    overlays: dict[str, list[Manifest]], overlay: str
) -> None:
    objects = overlays[overlay]
    deployments = by_kind(objects, "Deployment")

    hpas = by_kind(objects, "HorizontalPodAutoscaler")
    assert set(hpas) == {"api-gateway", "todo-service"}
    for hpa in hpas.values():
        assert hpa["spec"]["scaleTargetRef"]["name"] in deployments
        assert "replicas" not in deployments[hpa["spec"]["scaleTargetRef"]["name"]]["spec"]
    assert set(by_kind(objects, "PodDisruptionBudget")) == {
        "api-gateway", "todo-service", "user-service", "notification-service"
    }  # fmt: skip
    assert set(by_kind(objects, "Job")) == {f"{s}-migrate" for s in database_services()}
    (ingress,) = by_kind(objects, "Ingress").values()
    (rule,) = ingress["spec"]["rules"]
    assert rule["http"]["paths"][0]["backend"]["service"]["name"] == "api-gateway"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_selectors_match_pods(overlays: dict[str, list[Manifest]], overlay: str) -> None:
    objects = overlays[overlay]
    pod_labels = [
        manifest["spec"]["template"]["metadata"]["labels"]
        for manifest in objects
        if pod_spec(manifest) is not None
    ]

    def selects_some_pod(selector: dict[str, str]) -> bool:
        return any(selector.items() <= labels.items() for labels in pod_labels)

    for service in by_kind(objects, "Service").values():
        assert selects_some_pod(service["spec"]["selector"]), service["metadata"]["name"]
    for budget in by_kind(objects, "PodDisruptionBudget").values():
        assert selects_some_pod(budget["spec"]["selector"]["matchLabels"])
    for policy in by_kind(objects, "NetworkPolicy").values():
        selector = policy["spec"]["podSelector"].get("matchLabels", {})
        assert selects_some_pod(selector), policy["metadata"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_deny_by_default_and_open_service_ports_to_the_suite_only(
    overlays: dict[str, list[Manifest]], overlay: str
) -> None:
    policies = by_kind(overlays[overlay], "NetworkPolicy")
    assert policies["default-deny-ingress"]["spec"] == {
        "podSelector": {},
        "policyTypes": ["Ingress"],
    }
    for name, policy in policies.items():
        selector = policy["spec"]["podSelector"].get("matchLabels", {})
        if selector.get("app.kubernetes.io/name") in database_services():
            # Services: reachable from the gateway and the suite's service pods only.
            (rule,) = policy["spec"]["ingress"]
            assert [peer["podSelector"]["matchLabels"] for peer in rule["from"]] == [
                {"todo-suite/tier": "gateway"},
                {"todo-suite/tier": "service"},
            ], name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_with_an_outbox_runs_its_relay_in_its_image_and_environment(
    overlays: dict[str, list[Manifest]], overlay: str
) -> None:
    deployments = by_kind(overlays[overlay], "Deployment")
    for service in outbox_services():
        where = f"{overlay} {relay_name(service)}"
        relay = deployments[relay_name(service)]
        labels = {"app.kubernetes.io/name": service, "app.kubernetes.io/component": "relay"}
        assert relay["spec"]["selector"]["matchLabels"] == labels, where
        assert relay["spec"]["template"]["metadata"]["labels"].items() >= {
            **labels, "todo-suite/tier": "service"
        }.items(), where  # fmt: skip
        spec = relay["spec"]["template"]["spec"]
        (container,) = spec["containers"]
        (api,) = deployments[service]["spec"]["template"]["spec"]["containers"]
        # Given: the service's own image and the very same environment
        assert container["command"][:3] == ["python", "manage.py", "relay_outbox"], where
        assert image_service(container["image"]) == service, where
        assert container["image"] == api["image"], where
        assert container["envFrom"] == api["envFrom"], where
        # Then: no port, no HTTP probe (a liveness command reads its heartbeat,
        # test_parity.py), and no volume but its in-memory /tmp
        assert "ports" not in container, where
        assert not {"readinessProbe", "startupProbe"} & container.keys(), where
        assert "exec" in container["livenessProbe"], where
        assert [volume["name"] for volume in spec["volumes"]] == ["tmp"], where
        # ... and it waits for the schema like the service's pods do
        assert [c["name"] for c in spec["initContainers"]] == ["wait-for-migrations"], where


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_celery_process_belongs_to_a_project_with_a_celery_app(
    overlays: dict[str, list[Manifest]], overlay: str
) -> None:
    for manifest in overlays[overlay]:
        spec = pod_spec(manifest)
        for container in all_containers(spec) if spec else []:
            service = image_service(container["image"])
            if container.get("command", [])[:3] == ["celery", "-A", "config"]:
                where = f"{overlay} {manifest['metadata']['name']}"
                assert service in project_dirs(), where
                assert has_celery_app(project_dirs()[service]), f"{where}: no Celery app"


def test_backing_services_run_in_the_dev_overlay_only(
    overlays: dict[str, list[Manifest]],
) -> None:
    assert set(by_kind(overlays["dev"], "StatefulSet")) == {
        "redis", *(f"{s.removesuffix('-service')}-db" for s in database_services())
    }  # fmt: skip
    assert by_kind(overlays["production"], "StatefulSet") == {}
    assert "mailpit" in by_kind(overlays["dev"], "Deployment")
    assert "mailpit" not in by_kind(overlays["production"], "Deployment")
