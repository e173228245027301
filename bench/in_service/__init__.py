"""What the benchmarks run inside todo-service's Django project, against their copy.

Each module is run as ``python -m bench.in_service.NAME ARGS`` in the project's
folder, with the service's environment and the repository root on
``PYTHONPATH`` (``Suite.in_service`` in ``bench/common.py``), the way
``./manage-all.sh demo`` runs ``manage_all.ensure_admin``: it sets Django up
with the project's settings (``config.settings``), takes its parameters as
command-line arguments and prints its result on stdout.
"""

from __future__ import annotations

import os

import django


def setup() -> None:
    """Django with the settings of the project whose folder this runs in."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
