"""JSON logs: one object per line, each with ``service`` and ``request_id``.

``logging_config()`` returns a dict for Django's ``LOGGING`` setting (and for
gunicorn, which the same dict configures when the app is preloaded).
"""

from __future__ import annotations

import logging
from typing import Any

from pythonjsonlogger.json import JsonFormatter as _BaseJsonFormatter

from servicekit import tracing
from servicekit.context import request_id_var


class RequestContextFilter(logging.Filter):
    """Adds the current request id to every record (``None`` outside a request),
    and ``trace_id`` / ``span_id`` while a span is recorded (tracing on)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        if tracing.active and not hasattr(record, "trace_id"):
            ids = tracing.current_ids()
            if ids is not None:
                record.trace_id, record.span_id = ids
        return True


class OnlyExceptionsFilter(logging.Filter):
    """Keeps ``django.request`` records that carry a traceback.

    Django also logs every 4xx/5xx response there ("Service Unavailable: ...")
    after the middleware has finished, without the request id; the access log
    already has one line per request with its status.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return record.exc_info is not None


class JsonFormatter(_BaseJsonFormatter):
    """``{"time", "level", "logger", "message", "service", "request_id", ...extra}``."""

    def __init__(self, *, service: str, **kwargs: Any) -> None:
        kwargs.setdefault("fmt", "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s")
        kwargs.setdefault(
            "rename_fields", {"asctime": "time", "levelname": "level", "name": "logger"}
        )
        kwargs.setdefault("static_fields", {"service": service})
        kwargs.setdefault("datefmt", "%Y-%m-%dT%H:%M:%S%z")
        super().__init__(**kwargs)


def logging_config(*, service: str, level: str = "INFO") -> dict[str, Any]:
    """The ``LOGGING`` dict every project uses."""
    handler = {
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
        "formatter": "json",
        "filters": ["request_context"],
    }
    quiet = {"level": "WARNING", "handlers": ["console"], "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_context": {"()": RequestContextFilter},
            "only_exceptions": {"()": OnlyExceptionsFilter},
        },
        "formatters": {"json": {"()": JsonFormatter, "service": service}},
        "handlers": {"console": handler},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.request": {
                "level": "ERROR",
                "handlers": ["console"],
                "filters": ["only_exceptions"],
                "propagate": False,
            },
            "django.server": quiet,
            "gunicorn.error": {"level": level, "handlers": ["console"], "propagate": False},
            "gunicorn.access": quiet,
        },
    }
