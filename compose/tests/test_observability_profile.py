"""The compose "observability" profile: collector, Jaeger and Prometheus wired to the suite."""

from __future__ import annotations

from typing import Any

import yaml
from facts import (
    COMPOSE_DIR,
    Manifest,
    by_kind,
    celery_workers,
    compose,
    container_env,
    outbox_services,
    relay_name,
    service_ports,
)

PROFILE = {"otel-collector", "jaeger", "prometheus"}


def services() -> dict[str, Any]:
    return dict(compose()["services"])


def read(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((COMPOSE_DIR / "observability" / name).read_text()))


def test_the_tools_run_only_with_the_profile() -> None:
    optional = {name for name, service in services().items() if service.get("profiles")}

    assert optional == PROFILE
    assert all(services()[name]["profiles"] == ["observability"] for name in PROFILE)


def test_every_app_reads_the_tracing_endpoint_empty_by_default() -> None:
    env = compose()["x-django-env"]

    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "${OTEL_EXPORTER_OTLP_ENDPOINT:-}"
    assert env["WORKER_METRICS_PORT"] == "9100"
    assert env["PROMETHEUS_MULTIPROC_DIR"].startswith("/tmp/")  # noqa: S108 - the writable tmpfs


def test_the_collector_takes_otlp_http_and_hands_traces_to_jaeger() -> None:
    config = read("otel-collector.yaml")
    mount = services()["otel-collector"]["volumes"][0]

    assert config["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")
    assert config["exporters"]["otlp/jaeger"]["endpoint"] == "jaeger:4317"
    assert config["service"]["pipelines"]["traces"]["exporters"] == ["otlp/jaeger"]
    assert mount.startswith("./observability/otel-collector.yaml:")


def test_prometheus_scrapes_every_service_and_every_worker() -> None:
    jobs = {job["job_name"]: job for job in read("prometheus.yml")["scrape_configs"]}
    targets = {
        (name, entry["port"])
        for job in jobs.values()
        for entry in job["dns_sd_configs"]
        for name in entry["names"]
    }
    workers = set(celery_workers()) - {"flower"}
    relays = {relay_name(service) for service in outbox_services()}

    for service, port in service_ports().items():
        assert (service, port) in targets, service
    for name in {*relays, *(w for w in services() if w in workers or w.endswith("-worker"))}:
        assert (name, 9100) in targets, name


def test_every_kubernetes_pod_but_flower_is_scraped_where_it_serves_metrics(
    overlays: dict[str, list[Manifest]],
) -> None:
    for overlay, objects in overlays.items():
        for name, deployment in by_kind(objects, "Deployment").items():
            if name in ("flower", "mailpit", "redis") or name.endswith("-db"):
                continue  # not ours: no /metrics of the suite's
            where = f"{overlay}/{name}"
            annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
            [container] = deployment["spec"]["template"]["spec"]["containers"]
            ports = [str(port["containerPort"]) for port in container.get("ports", [])]
            port = ports[0] if ports else container_env(container, objects)["WORKER_METRICS_PORT"]
            assert annotations.get("prometheus.io/scrape") == "true", where
            assert annotations.get("prometheus.io/path") == "/metrics", where
            assert annotations.get("prometheus.io/port") == port, where
