"""Entry points that turn a configuration error into one clear line.

A bad setting raises ``ImproperlyConfigured`` while ``settings.py`` is
imported. Rather than a traceback, the process prints
``<service>: configuration error: <VARIABLE>: <what is wrong>`` and exits 2.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from django.core.exceptions import ImproperlyConfigured

CONFIG_ERROR_EXIT_CODE = 2


def load_settings_or_exit(service: str) -> None:
    """Import the settings module now, exiting with one line if a value is bad.

    Then prepare what must precede the app: the metrics directory (before
    prometheus_client is imported) and, when tracing is on, the instrumentation
    (before Django builds its middleware chain).
    """
    from django.conf import settings

    try:
        settings.INSTALLED_APPS  # noqa: B018 - forces settings.py to be imported
    except ImproperlyConfigured as exc:
        print(f"{service}: configuration error: {exc}", file=sys.stderr, flush=True)
        sys.exit(CONFIG_ERROR_EXIT_CODE)
    from servicekit import metrics, tracing
    from servicekit.settings import servicekit_settings

    metrics.prepare_process(servicekit_settings.METRICS_DIR)
    tracing.instrument()


def manage(service: str, argv: Sequence[str] | None = None) -> None:
    """What ``manage.py`` runs."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    load_settings_or_exit(service)
    from django.core.management import execute_from_command_line

    execute_from_command_line(list(argv if argv is not None else sys.argv))
