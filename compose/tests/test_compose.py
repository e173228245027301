"""docker-compose.yml: valid against the Compose Specification, and wired as documented."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from facts import (
    COMPOSE_DIR,
    COMPOSE_FILE,
    celery_workers,
    compose,
    compose_project,
    database_services,
    has_celery_app,
    outbox_services,
    relay_name,
)

# Only these publish host ports; every other service can run as several replicas.
PUBLISHING = {"api-gateway", "flower", "mailpit", "jaeger", "prometheus"}
# The processes that sign with user-service's RS256 key: the API (user tokens)
# and the saga worker (the service tokens it mints for its /internal/ calls).
SIGNERS = ("user-service", "user-saga-worker")


def check_jsonschema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
         str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def test_the_compose_file_follows_the_compose_specification() -> None:
    # When: check-jsonschema validates it against the Compose Specification schema
    result = check_jsonschema(COMPOSE_FILE)

    # Then
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_a_broken_compose_file(tmp_path: Path) -> None:
    # Given: a depends_on condition that Compose does not know
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE_FILE.read_text().replace("service_healthy", "service_ready", 1))

    # When
    result = check_jsonschema(broken)

    # Then: the validator names the problem
    assert result.returncode != 0
    assert "service_ready" in result.stdout + result.stderr


def test_every_dependency_exists_and_its_condition_can_be_met() -> None:
    for name, service in services().items():
        for target, rule in service.get("depends_on", {}).items():
            assert target in services(), f"{name} depends on unknown service {target}"
            condition = rule["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in services()[target], f"{target} has no healthcheck"
            elif condition == "service_completed_successfully":
                assert services()[target].get("restart") == "no", f"{target} is not a one-shot"
            else:
                pytest.fail(f"{name} -> {target}: unexpected condition {condition}")


def test_only_the_front_doors_publish_host_ports_so_services_scale() -> None:
    publishing = {name for name, service in services().items() if service.get("ports")}
    named = {name for name, service in services().items() if "container_name" in service}

    assert publishing == PUBLISHING
    assert named == set(), "container_name prevents --scale"


def test_long_running_services_have_healthchecks_and_restart() -> None:
    relays = {relay_name(service) for service in outbox_services()}
    for name, service in services().items():
        if service.get("restart") == "no":
            continue  # one-shots
        if service.get("profiles"):
            continue  # optional tools (observability): their images have no shell to probe with
        assert service.get("restart") == "unless-stopped", name
        if name not in relays:  # a relay has no port to probe (docs/deploy.md)
            assert "healthcheck" in service, name


def test_each_database_service_has_its_own_postgres_a_migration_and_waits_for_it() -> None:
    for service_name in database_services():
        short = service_name.removesuffix("-service")
        db, migrate = services()[f"{short}-db"], services()[f"{short}-migrate"]
        # Given: its own PostgreSQL with a pg_isready healthcheck and a volume
        assert db["image"].startswith("postgres:")
        assert "pg_isready" in " ".join(db["healthcheck"]["test"])
        assert db["volumes"], f"{short}-db keeps its data in a volume"
        # Then: a one-shot migration after the database is healthy ...
        assert migrate["command"] == ["python", "manage.py", "migrate", "--noinput"]
        assert migrate["depends_on"][f"{short}-db"]["condition"] == "service_healthy"
        # ... which the service waits for, directly or through another one-shot
        assert _waits_for(service_name, f"{short}-migrate"), service_name


def _waits_for(name: str, target: str) -> bool:
    for dependency, rule in services()[name].get("depends_on", {}).items():
        if rule["condition"] == "service_completed_successfully" and (
            dependency == target or _waits_for(dependency, target)
        ):
            return True
    return False


def test_the_apps_run_hardened_and_in_production_mode() -> None:
    for name, service in services().items():
        if compose_project(service) is None:
            continue
        assert service["environment"]["DJANGO_ENV"] == "production", name
        assert service.get("read_only") is True, name
        if service.get("restart") != "no":
            assert service["cap_drop"] == ["ALL"], name


def test_the_expected_processes_run() -> None:
    commands: dict[str, list[str]] = {
        name: service.get("command", []) for name, service in services().items()
    }
    celery_worker = ["celery", "-A", "config", "worker", "-Q"]

    assert commands["todo-outbox-relay"][:3] == ["python", "manage.py", "relay_outbox"]
    assert commands["user-outbox-relay"][:3] == ["python", "manage.py", "relay_outbox"]
    assert commands["user-signing-key"] == ["python", "manage.py", "ensure_signing_key"]
    assert commands["notification-worker"][:6] == [*celery_worker, "notification.events"]
    assert commands["user-saga-worker"][:6] == [*celery_worker, "user.saga"]
    assert commands["flower"][:4] == ["celery", "-A", "config", "flower"]
    assert services()["mailpit"]["image"].startswith("axllent/mailpit:")
    assert services()["redis"]["image"].startswith("redis:7")


def test_every_service_with_an_outbox_runs_its_relay_in_its_image_and_environment() -> None:
    for service in outbox_services():
        api, relay = services()[service], services()[relay_name(service)]
        where = relay_name(service)
        # Given: the service's own image and the very same environment
        assert relay["command"][:3] == ["python", "manage.py", "relay_outbox"], where
        assert (relay["image"], relay["build"]) == (api["image"], api["build"]), where
        assert relay["environment"] == api["environment"], where
        # Then: no port, no volume (the relay signs nothing), so it scales ...
        assert "ports" not in relay, where
        assert "volumes" not in relay, where
        # ... and it starts once the schema is in and the broker is up
        short = service.removesuffix("-service")
        assert _waits_for(where, f"{short}-migrate"), where
        assert relay["depends_on"]["redis"]["condition"] == "service_healthy", where


def test_no_process_without_http_inherits_the_images_http_health_check() -> None:
    """The project images' HEALTHCHECK asks gunicorn's /health on $PORT.

    A container of such an image that runs another command (a relay, a worker,
    Flower) serves nothing there: without a health check of its own it turns
    unhealthy and ``docker compose up --wait`` fails.
    """
    for name, service in services().items():
        if not compose_project(service) or "command" not in service:
            continue
        if service.get("restart") == "no":  # one-shot jobs: they exit, nobody checks them
            continue
        check = service.get("healthcheck")
        assert check, f"{name} runs {service['command'][:4]} with the image's HTTP health check"
        assert "$PORT" not in str(check), name
        assert "'PORT'" not in str(check), name


def test_each_relay_is_healthy_while_its_heartbeat_file_is_fresh() -> None:
    for service in outbox_services():
        relay = services()[relay_name(service)]
        # Given: the file the relay touches on every turn of its loop ...
        command = relay["command"]
        beats = command[command.index("--heartbeat") + 1]
        # Then: ... is the file its health check reads
        assert relay["healthcheck"]["test"][1:5] == ["python", "-m", "servicekit.heartbeat", beats]
        # (the root file system is read-only but for the /tmp tmpfs)
        assert Path(beats).parent == Path("/tmp"), beats  # noqa: S108


@pytest.mark.parametrize("worker", sorted(celery_workers()))
def test_each_celery_worker_runs_in_its_services_image_and_environment(worker: str) -> None:
    service, queue = celery_workers()[worker]
    api, definition = services()[service], services()[worker]
    # Given: the queue manage-all.sh's worker consumes, in the service's own
    # image and with the very same environment
    assert definition["command"][:6] == ["celery", "-A", "config", "worker", "-Q", queue]
    assert (definition["image"], definition["build"]) == (api["image"], api["build"])
    assert definition["environment"] == api["environment"]
    # Then: it is healthy while it answers a ping under Celery's default node
    # name (a --hostname would make the ping ask for a node that is not there) ...
    assert "inspect ping" in " ".join(definition["healthcheck"]["test"]), worker
    assert "--hostname" not in definition["command"], worker
    # ... it publishes no port, so it scales ...
    assert "ports" not in definition, worker
    # ... and it starts once the schema is in and the broker is up
    assert _waits_for(worker, f"{service.removesuffix('-service')}-migrate"), worker
    assert definition["depends_on"]["redis"]["condition"] == "service_healthy", worker


def test_every_token_signer_mounts_the_key_the_signing_key_job_made() -> None:
    # Given: the one-shot that makes the key on a named volume, at JWT_KEY_DIR
    job = services()["user-signing-key"]
    assert job["command"] == ["python", "manage.py", "ensure_signing_key"]
    (mount,) = job["volumes"]
    volume, key_dir = mount.split(":")
    assert volume in compose()["volumes"]
    assert key_dir == job["environment"]["JWT_KEY_DIR"]

    for name in SIGNERS:
        signer = services()[name]
        # Then: the signer mounts that volume where its JWT_KEY_DIR points ...
        assert signer["environment"]["JWT_KEY_DIR"] == key_dir, name
        mounts = [entry.split(":") for entry in signer.get("volumes", [])]
        assert [volume, key_dir] in [entry[:2] for entry in mounts], f"{name} has no key"
        # ... and starts only once the key is there
        assert _waits_for(name, "user-signing-key"), name
    # Only the job writes the key; the saga worker reads it.
    assert f"{volume}:{key_dir}:ro" in services()["user-saga-worker"]["volumes"]


def test_every_celery_process_belongs_to_a_project_with_a_celery_app() -> None:
    for name, service in services().items():
        if service.get("command", [])[:3] == ["celery", "-A", "config"]:
            folder = compose_project(service)
            assert folder, f"{name} runs Celery without a project image"
            assert has_celery_app(folder), f"{name}: {folder} has no Celery app"


def test_every_secret_comes_from_the_env_file_or_has_a_default() -> None:
    text = "\n".join(
        line for line in COMPOSE_FILE.read_text().splitlines() if not line.lstrip().startswith("#")
    )
    example = (COMPOSE_DIR / ".env.example").read_text()
    documented = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", example, re.M))

    for name, operator in re.findall(r"\$\{([A-Z][A-Z0-9_]*)(:[-?])?", text):
        assert operator == ":-" or name in documented, f"${{{name}}} is not in .env.example"
    for name, service in services().items():
        value = str(service.get("environment", {}).get("DJANGO_SECRET_KEY", "${"))
        assert value.startswith("${"), f"{name}: DJANGO_SECRET_KEY is written in the file"


def test_the_example_env_file_holds_no_real_secret() -> None:
    example = yaml.safe_load(
        "\n".join(
            line.replace("=", ": ", 1)
            for line in (COMPOSE_DIR / ".env.example").read_text().splitlines()
            if line and not line.startswith("#")
        )
    )

    assert all("change-me" in str(value) for value in example.values())
