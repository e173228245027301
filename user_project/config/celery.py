"""The Celery app of user-service's saga worker.

Run it with ``celery -A config worker -Q user.saga``. It runs the account
deletion saga's steps (``sagas.advance``) and, on its own timer, the sweep
that resumes sagas left behind (:mod:`sagas.worker`). Its settings are the
``CELERY_*`` names in ``config/settings.py``.
"""

import os

from celery import Celery
from servicekit.celery_connections import keep_database_connections
from servicekit.entrypoints import load_settings_or_exit
from servicekit.metrics.workers import observe_celery_worker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# A bad setting stops the worker with one line, as it stops manage.py and gunicorn.
load_settings_or_exit("user-service")

app = Celery("user-service")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Task outcomes and durations into /metrics; spans named after the worker.
observe_celery_worker(app, process_name="user-saga-worker")
# One database connection per worker process, not one per task.
keep_database_connections(app)

from sagas.worker import SagaSweep  # noqa: E402 - needs the settings loaded above

app.steps["worker"].add(SagaSweep)
