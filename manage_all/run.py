"""``python -m manage_all.run --var-dir DIR NAME``: how the supervisor starts one process.

It looks the process up in the catalog, fills its command from the running
suite's settings, gives it its service's folder and environment on top of the
environment ``up`` (or ``start NAME``) was called with, and replaces itself
with the real program, so the supervisor's pid is the program's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from manage_all import catalog
from manage_all.settings import ROOT, Paths, load, service_environment

VIRTUALENV_PROGRAMS = {"gunicorn", "celery"}


def argv(process: catalog.Process, settings: dict[str, str]) -> list[str]:
    values = dict(settings)
    if process.name == "redis":
        from servicekit.testing.servers import redis_server_binary

        values["REDIS_SERVER"] = redis_server_binary()
    command = [part.format(**values) for part in process.command]
    program = command[0]
    if program == "python":
        command[0] = sys.executable
    elif program in VIRTUALENV_PROGRAMS:
        command[0] = str(Path(sys.executable).parent / program)
    return command


def main(arguments: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m manage_all.run")
    parser.add_argument("--var-dir", required=True, type=Path)
    parser.add_argument("name")
    options = parser.parse_args(arguments)
    paths = Paths(options.var_dir)
    process = catalog.process(options.name)
    settings = load(paths)
    if settings is None:
        sys.exit(f"manage-all: no suite settings in {paths.settings_file}")
    environment = json.loads(paths.environment_file(process.name).read_text())
    directory = ROOT
    if process.service:
        service = catalog.service(process.service)
        directory = ROOT / service.folder
        environment.pop("DATABASE_URL", None)
        environment.update(service_environment(settings, service))
    command = argv(process, settings)
    os.chdir(directory)
    os.execve(command[0], command, environment)  # noqa: S606 - the catalog's own command


if __name__ == "__main__":
    main()
