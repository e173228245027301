"""The project Dockerfiles, checked without an engine (tests/engine builds them for real).

A build step that runs Django (``collectstatic``) loads the production
settings the image carries (``DJANGO_ENV=production``). Here each such step
runs on this machine with the environment the Dockerfile gives it and nothing
else, so a step that needs a runtime secret or URL fails here as it would in
``docker build``.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from facts import REPO, compose, compose_project, project_dirs

PROJECTS = sorted(project_dirs().values())
BASE_IMAGE_ARG = "PYTHON_IMAGE"
OFFICIAL_BASE = "python:3.11-slim"

Instruction = tuple[str, str]


def instructions(folder: str) -> list[Instruction]:
    """(keyword, arguments) of each instruction, continuation lines joined."""
    text = (REPO / folder / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    found = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, arguments = line.strip().partition(" ")
            found.append((keyword.upper(), arguments.strip()))
    return found


def final_stage(folder: str) -> list[Instruction]:
    steps = instructions(folder)
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[last_from + 1 :]


def image_env(stage: list[Instruction], *, root: Path) -> dict[str, str]:
    """The stage's ENV values, with the image's paths moved under ``root``."""
    env: dict[str, str] = {}
    for keyword, arguments in stage:
        if keyword == "ENV":
            for pair in shlex.split(arguments):
                name, _, value = pair.partition("=")
                env[name] = value
    env.pop("PATH", None)  # the image's venv is this machine's sys.executable
    for name, value in env.items():
        if value.startswith(("/app", "/var/lib/app")):
            env[name] = str(root / value.lstrip("/"))
    return env


@pytest.mark.parametrize("folder", PROJECTS)
def test_every_stage_is_built_on_the_python_image_argument(folder: str) -> None:
    steps = instructions(folder)
    # Given: the argument, declared before the first FROM with the official default
    assert steps[0] == ("ARG", f"{BASE_IMAGE_ARG}={OFFICIAL_BASE}"), folder
    # Then: every stage starts from it
    bases = [arguments.split()[0] for keyword, arguments in steps if keyword == "FROM"]
    assert bases, folder
    assert set(bases) == {f"${{{BASE_IMAGE_ARG}}}"}, (folder, bases)


def test_compose_passes_the_python_image_to_every_project_build() -> None:
    for name, service in compose()["services"].items():
        if compose_project(service):
            args = service["build"].get("args", {})
            assert args.get(BASE_IMAGE_ARG) == f"${{{BASE_IMAGE_ARG}:-{OFFICIAL_BASE}}}", name


@pytest.mark.parametrize("folder", PROJECTS)
def test_build_steps_that_run_django_need_no_runtime_configuration(
    folder: str, tmp_path: Path
) -> None:
    stage = final_stage(folder)
    django_steps = [arguments for keyword, arguments in stage if keyword == "RUN"]
    django_steps = [step for step in django_steps if "manage.py" in step]
    assert django_steps, f"{folder}/Dockerfile runs no manage.py step (collectstatic)"
    python = Path(sys.executable).parent
    environment = {
        **image_env(stage, root=tmp_path),
        "PATH": f"{python}:/usr/bin:/bin",
        "HOME": str(tmp_path),
    }

    for step in django_steps:
        # When: the step runs with the image's environment and nothing else
        result = subprocess.run(
            ["sh", "-c", step],
            cwd=REPO / folder,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

        # Then: it succeeds
        assert result.returncode == 0, f"{folder}: RUN {step}\n{result.stdout}{result.stderr}"
