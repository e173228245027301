"""The Celery app of notification-service's worker.

Run it with ``celery -A config worker -Q notification.events``. Its settings
are the ``CELERY_*`` names in ``config/settings.py`` (read from the
environment there, like everything else). Producers never import this: they
publish ``notification.handle_event`` by name (``send_task``).
"""

import os

from celery import Celery
from servicekit.celery_connections import keep_database_connections
from servicekit.entrypoints import load_settings_or_exit
from servicekit.metrics.workers import observe_celery_worker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# A bad setting stops the worker with one line, as it stops manage.py and gunicorn.
load_settings_or_exit("notification-service")

app = Celery("notification-service")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Task outcomes and durations into /metrics; spans named after the worker.
observe_celery_worker(app, process_name="notification-worker")
# One database connection per worker process, not one per task.
keep_database_connections(app)
