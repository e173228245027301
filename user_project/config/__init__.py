__version__ = "1.0.0"

# Django's documented pattern: the Celery app loads with Django, so that
# ``shared_task`` and ``current_app`` (the saga dispatch in the web process) use it.
from config.celery import app as celery_app

__all__ = ["__version__", "celery_app"]
