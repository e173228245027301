"""The catalog manage-all.sh runs: consistent, and a configuration supervisord accepts."""

from __future__ import annotations

from pathlib import Path

from manage_all import catalog
from manage_all.settings import ROOT, Paths
from manage_all.supervision import configuration
from supervisor.options import ServerOptions


def test_every_service_is_a_django_project_with_a_gunicorn_config() -> None:
    for service in catalog.SERVICES:
        folder = ROOT / service.folder
        assert (folder / "manage.py").is_file(), service.name
        assert (folder / "gunicorn.conf.py").is_file(), service.name


def test_names_and_aliases_are_unique_and_each_process_belongs_to_a_service() -> None:
    names = [p.name for p in catalog.PROCESSES]
    aliases = [alias for p in catalog.PROCESSES for alias in p.aliases]
    assert len(set(names + aliases)) == len(names) + len(aliases)
    services = {service.name for service in catalog.SERVICES}
    for process in catalog.PROCESSES:
        assert process.service is None or process.service in services, process.name
        assert catalog.canonical(process.name) == process.name
        assert all(catalog.canonical(alias) == process.name for alias in process.aliases)


def test_every_worker_consumes_a_queue_its_project_declares() -> None:
    for worker in catalog.processes_of_kind("worker"):
        folder = ROOT / catalog.service(str(worker.service)).folder
        assert f'"{worker.queue()}"' in (folder / "config/settings.py").read_text(), worker.name


def test_supervisord_accepts_the_configuration_with_a_program_per_process(tmp_path: Path) -> None:
    config = tmp_path / "supervisord.conf"
    for folder in ("log", "run"):
        (tmp_path / folder).mkdir()
    config.write_text(configuration(Paths(tmp_path)))

    options = ServerOptions()
    options.realize(args=["-c", str(config)])

    programs = {group.name: group for group in options.process_group_configs}
    assert set(programs) == {p.name for p in catalog.PROCESSES}
    for process in catalog.PROCESSES:
        (program,) = programs[process.name].process_configs
        assert program.autostart is False
        assert bool(program.autorestart) is process.restart, process.name
        assert program.stopasgroup
        assert program.killasgroup
        assert program.stdout_logfile == str(tmp_path / "log" / f"{process.name}.log")
