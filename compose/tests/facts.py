"""What the deployment files are checked against, read from the repository itself.

Ports, project folders, processes and the readiness path come from the
suite's catalog (``manage_all/catalog.py``, what ``manage-all.sh`` runs);
environment variable names from each project's settings and gunicorn config;
health paths from servicekit's URL patterns. Nothing here is a second copy of
those facts, so the tests fail when the files and the code drift apart.
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from manage_all import catalog

REPO = Path(__file__).resolve().parents[2]
COMPOSE_DIR = REPO / "compose"
COMPOSE_FILE = COMPOSE_DIR / "docker-compose.yml"
K8S_DIR = COMPOSE_DIR / "k8s"
OVERLAYS = ("dev", "production")
IMAGE_PREFIX = "todo-suite/"

Manifest = dict[str, Any]


@cache
def service_ports() -> dict[str, int]:
    """Service name -> default port, as ``manage-all.sh up`` uses them."""
    return {service.name: service.default_port for service in catalog.SERVICES}


@cache
def project_dirs() -> dict[str, str]:
    """Service name -> project folder (``todo-service`` -> ``todo_project``)."""
    return {service.name: service.folder for service in catalog.SERVICES}


def service_of_project(folder: str) -> str:
    return {project: service for service, project in project_dirs().items()}[folder]


@cache
def database_services() -> list[str]:
    return [service.name for service in catalog.database_services()]


@cache
def outbox_services() -> list[str]:
    """Services with a transactional outbox (``servicekit.outbox`` in INSTALLED_APPS)."""
    app = re.compile(r'^\s*"servicekit\.outbox",\s*$', re.M)
    return sorted(
        service
        for service, folder in project_dirs().items()
        if app.search((REPO / folder / "config/settings.py").read_text())
    )


@cache
def manage_all_relays() -> list[str]:
    """The services whose outbox relay ``manage-all.sh up`` runs (``todo-relay`` ...)."""
    return sorted(str(p.service) for p in catalog.processes_of_kind("relay"))


@cache
def manage_all_workers() -> list[str]:
    """The background processes ``manage-all.sh up`` runs beside the services."""
    return [p.name for p in catalog.processes_of_kind("relay", "worker", "monitor")]


@cache
def celery_workers() -> dict[str, tuple[str, str]]:
    """Celery worker process -> (its service, the queue it consumes), from the catalog.

    ``user-saga-worker`` -> ``("user-service", "user.saga")``: the compose service
    and the Kubernetes Deployment of that name run the same worker.
    """
    return {p.name: (str(p.service), str(p.queue())) for p in catalog.processes_of_kind("worker")}


def declares_queue(folder: str, queue: str) -> bool:
    """Whether the project's settings name the queue (``SAGA_QUEUE = "user.saga"``)."""
    settings = (REPO / folder / "config/settings.py").read_text()
    return re.search(rf'^[A-Z_]*QUEUE = "{re.escape(queue)}"$', settings, re.M) is not None


def relay_name(service: str) -> str:
    """``user-service`` -> ``user-outbox-relay``, its compose service and Deployment."""
    return f"{service.removesuffix('-service')}-outbox-relay"


def has_celery_app(folder: str) -> bool:
    """Whether ``celery -A config`` finds an app in the project (its config/celery.py)."""
    return (REPO / folder / "config/celery.py").is_file()


def readiness_path() -> str:
    """The path ``manage-all.sh up -d`` waits on."""
    return catalog.READINESS_PATH


@cache
def health_paths() -> set[str]:
    """The health routes every service serves (servicekit's health_urlpatterns)."""
    urls = (REPO / "shared/src/servicekit/urls.py").read_text()
    return {"/" + path for path in re.findall(r'optional_slash\(\s*"(health[^"]*)"', urls)}


# An Env getter call and the variable it reads; DATABASE_URL and REDIS_URL are
# the defaults of env.database() and env.redis_url().
_ENV_CALL = re.compile(r"\benv\.(\w+)\(\s*(?:\"([A-Z][A-Z0-9_]*)\")?")
_OS_ENVIRON = re.compile(r"os\.environ(?:\.get\(|\[)\s*[\"']([A-Z][A-Z0-9_]*)[\"']")
_DEFAULT_NAMES = {"database": "DATABASE_URL", "redis_url": "REDIS_URL"}
# Getters that refuse to fall back on a development default in production.
_REQUIRED_GETTERS = {"required", "database", "redis_url", "http_urls"}


def _python_sources(folder: str) -> list[Path]:
    project = REPO / folder
    return [*sorted((project / "config").rglob("*.py")), project / "gunicorn.conf.py"]


# servicekit modules that read the environment for every project.
SHARED_ENV_READERS = ("env.py", "gunicorn.py", "tracing.py")


@cache
def env_names_read(folder: str) -> frozenset[str]:
    """Every environment variable the project's settings, gunicorn and servicekit read."""
    names: set[str] = set()
    shared = REPO / "shared/src/servicekit"
    sources = [*_python_sources(folder), *(shared / name for name in SHARED_ENV_READERS)]
    for source in sources:
        text = source.read_text()
        for getter, name in _ENV_CALL.findall(text):
            if name or getter in _DEFAULT_NAMES:
                names.add(name or _DEFAULT_NAMES[getter])
        names.update(_OS_ENVIRON.findall(text))
        names.update(re.findall(r"_count\(\"([A-Z][A-Z0-9_]*)\"", text))
        names.update(re.findall(r"self\.str\(\s*\"([A-Z][A-Z0-9_]*)\"", text))
        names.update(re.findall(r"[A-Z_]*VARIABLE = \"([A-Z][A-Z0-9_]*)\"", text))
    return frozenset(names)


@cache
def env_names_required_in_production(folder: str) -> frozenset[str]:
    """The variables whose absence stops the service when DJANGO_ENV=production."""
    names: set[str] = set()
    for source in _python_sources(folder):
        for getter, name in _ENV_CALL.findall(source.read_text()):
            if getter in _REQUIRED_GETTERS and (name or getter in _DEFAULT_NAMES):
                names.add(name or _DEFAULT_NAMES[getter])
    return frozenset(names)


# --- docker compose -------------------------------------------------------------


@cache
def compose() -> dict[str, Any]:
    """The compose file as Docker Compose sees it before interpolation (anchors merged)."""
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return loaded


def compose_project(service: dict[str, Any]) -> str | None:
    """The project folder a compose service is built from, if any."""
    dockerfile = service.get("build", {}).get("dockerfile")
    return Path(dockerfile).parent.name if dockerfile else None


# --- kubernetes -------------------------------------------------------------------


def kubectl() -> str:
    found = shutil.which("kubectl")
    assert found, "kubectl is needed to build the kustomize overlays (kubectl kustomize)"
    return found


def kustomize_build(directory: Path) -> list[Manifest]:
    result = subprocess.run(
        [kubectl(), "kustomize", str(directory)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"kubectl kustomize {directory} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def build_overlay(name: str, scratch: Path) -> list[Manifest]:
    """Build an overlay; production's secret files are filled from their templates."""
    if name != "production":
        return kustomize_build(K8S_DIR / "overlays" / name)
    copy = scratch / "k8s"
    shutil.copytree(K8S_DIR, copy)
    secrets = copy / "overlays/production/secrets"
    for template in secrets.glob("*.example"):
        shutil.copy(template, secrets / template.name.removesuffix(".example"))
    return kustomize_build(copy / "overlays/production")


def by_kind(objects: list[Manifest], kind: str) -> dict[str, Manifest]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def pod_spec(manifest: Manifest) -> dict[str, Any] | None:
    if manifest["kind"] in ("Deployment", "StatefulSet", "Job"):
        spec: dict[str, Any] = manifest["spec"]["template"]["spec"]
        return spec
    return None


def all_containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*spec.get("initContainers", []), *spec["containers"]]


def container_env(container: dict[str, Any], objects: list[Manifest]) -> dict[str, str]:
    """A container's environment: envFrom ConfigMaps/Secrets (decoded), then env."""
    by_name = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        kind, ref = (
            ("ConfigMap", source["configMapRef"])
            if "configMapRef" in source
            else ("Secret", source["secretRef"])
        )
        found = by_name.get((kind, ref["name"]))
        assert found, f"{container['name']}: envFrom names a missing {kind} {ref['name']}"
        data: dict[str, str] = found.get("data", {})
        if kind == "Secret":  # base64 in the manifest
            data = {key: base64.b64decode(value).decode() for key, value in data.items()}
        env.update(data)
    env.update({item["name"]: item.get("value", "") for item in container.get("env", [])})
    return env


def image_service(image: str) -> str | None:
    """``todo-suite/todo-service:dev`` (any registry prefix) -> ``todo-service``."""
    match = re.search(rf"(?:^|/){re.escape(IMAGE_PREFIX)}([\w-]+)(?::[\w.-]+)?$", image)
    return match.group(1) if match else None
