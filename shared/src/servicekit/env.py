"""Reading settings from the environment, with errors that name the variable.

Each project's ``settings.py`` creates one :class:`Env` and reads everything
through it. A bad value raises ``ImproperlyConfigured`` whose message starts
with the variable's name; the entry points (``manage.py``, gunicorn) print that
message as a single line and stop.

Production mode (``DJANGO_ENV=production``) refuses to fall back on the
development defaults: every variable read with ``dev_default=`` must be set.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

SUPPORTED_DATABASE_ENGINES = {
    "django.db.backends.postgresql": "postgres://USER:PASSWORD@HOST:5432/NAME",
    "django.db.backends.sqlite3": "sqlite:////absolute/path/db.sqlite3",
}
REDIS_SCHEMES = {"redis", "rediss", "unix"}
RATE_UNITS = {
    "sec": 1,
    "s": 1,
    "min": 60,
    "m": 60,
    "hour": 3600,
    "h": 3600,
    "day": 86400,
    "d": 86400,
}
_RATE_RE = re.compile(r"^\s*(\d+)\s*/\s*([a-z]+)\s*$")


class Env(environ.Env):
    """``environ.Env`` with validating getters for the values services share."""

    def __init__(self, **scheme: Any) -> None:
        super().__init__(**scheme)
        mode = self.str("DJANGO_ENV", default="development")
        if mode not in ("development", "production"):
            raise ImproperlyConfigured(
                f"DJANGO_ENV: {mode!r} is not a mode; use 'development' or 'production'"
            )
        self.production = mode == "production"

    # -- basic values -------------------------------------------------------

    def required(self, var: str, *, dev_default: str) -> str:
        """A value that must be given explicitly in production (secrets, URLs)."""
        value = self.str(var, default="")
        if value:
            return value
        if self.production:
            raise ImproperlyConfigured(f"{var}: must be set when DJANGO_ENV=production")
        return dev_default

    def flag(self, var: str, *, default: bool) -> bool:
        raw = self.str(var, default="")
        if raw == "":
            return default
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ImproperlyConfigured(f"{var}: {raw!r} is not a boolean; use true or false")

    def positive_number(self, var: str, *, default: float, integer: bool = False) -> Any:
        raw = self.str(var, default="")
        if raw == "":
            return default
        try:
            value = int(raw) if integer else float(raw)
        except ValueError:
            kind = "a whole number" if integer else "a number"
            raise ImproperlyConfigured(f"{var}: {raw!r} is not {kind}") from None
        if not math.isfinite(value) or value <= 0:
            raise ImproperlyConfigured(f"{var}: {raw!r} must be a finite number greater than zero")
        return value

    def rate(self, var: str, *, default: str) -> tuple[int, int]:
        """A rate such as ``600/min`` as ``(requests, period_seconds)``."""
        raw = self.str(var, default=default)
        match = _RATE_RE.match(raw.lower())
        if not match or match.group(2) not in RATE_UNITS or int(match.group(1)) <= 0:
            raise ImproperlyConfigured(
                f"{var}: {raw!r} is not a rate; use N/sec, N/min, N/hour or N/day with N > 0"
            )
        return int(match.group(1)), RATE_UNITS[match.group(2)]

    def metrics(self, *, service: str, var_dir: Path) -> dict[str, Any]:
        """The ``SERVICEKIT`` metrics entries (servicekit.metrics), from the environment.

        ``PROMETHEUS_MULTIPROC_DIR`` [``<var_dir>/metrics/<service>``]: where this
        service's processes on this machine write their samples;
        ``WORKER_METRICS_PORT`` [none]: a Celery worker's or relay's own /metrics
        port (containers); ``METRICS_TOKEN`` [none]: the bearer token /metrics asks for.
        """
        port = self.str("WORKER_METRICS_PORT", default="")
        return {
            "METRICS_DIR": self.str(
                "PROMETHEUS_MULTIPROC_DIR", default=str(var_dir / "metrics" / service)
            ),
            "WORKER_METRICS_PORT": (
                self.positive_number("WORKER_METRICS_PORT", default=0, integer=True)
                if port
                else None
            ),
            "METRICS_TOKEN": self.str("METRICS_TOKEN", default="") or None,
        }

    # -- URLs ---------------------------------------------------------------

    def database(self, var: str = "DATABASE_URL", *, dev_default: str) -> dict[str, Any]:
        """A ``DATABASES`` entry from a URL; only PostgreSQL and SQLite are accepted."""
        raw = self.required(var, dev_default=dev_default)
        try:
            config = self.db_url_config(raw) if "://" in raw else {}
        except (ValueError, KeyError):
            config = {}
        engine = config.get("ENGINE", "")
        if engine not in SUPPORTED_DATABASE_ENGINES or not config.get("NAME"):
            examples = " or ".join(SUPPORTED_DATABASE_ENGINES.values())
            raise ImproperlyConfigured(
                f"{var}: {_redact(raw)!r} is not a database URL; expected {examples}"
            )
        if engine == "django.db.backends.postgresql":
            config.setdefault("OPTIONS", {}).setdefault("connect_timeout", 2)
        else:
            # Several processes write to one SQLite file (gunicorn workers, the relay,
            # a Celery worker): take the write lock when a transaction begins and wait
            # for it, instead of failing with "database is locked" when two upgrade at
            # once; WAL lets readers go on meanwhile (Django's documented settings).
            options = config.setdefault("OPTIONS", {})
            options.setdefault("transaction_mode", "IMMEDIATE")
            options.setdefault("timeout", 20)
            options.setdefault(
                "init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
            )
        config["CONN_MAX_AGE"] = 60
        config["CONN_HEALTH_CHECKS"] = True
        return config

    def redis_url(self, var: str = "REDIS_URL", *, dev_default: str) -> str:
        raw = self.required(var, dev_default=dev_default)
        parts = urlsplit(raw)
        if parts.scheme not in REDIS_SCHEMES or (
            parts.scheme != "unix" and not _has_host_and_port(raw)
        ):
            raise ImproperlyConfigured(
                f"{var}: {_redact(raw)!r} is not a Redis URL; expected redis://HOST:6379/0"
            )
        return raw

    def http_urls(self, var: str, *, dev_default: str) -> list[str]:
        """One or more base URLs, comma-separated (several instances of a service)."""
        raw = self.required(var, dev_default=dev_default)
        urls = [item.strip().rstrip("/") for item in raw.split(",") if item.strip()]
        for url in urls:
            _check_http_url(var, url)
        if not urls:
            raise ImproperlyConfigured(f"{var}: no URL given")
        return urls

    def http_url(self, var: str, *, default: str) -> str:
        """One base URL with a default that also holds in production (a public address)."""
        url = self.str(var, default=default).strip().rstrip("/")
        _check_http_url(var, url)
        return url


def _check_http_url(var: str, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not _has_host_and_port(url):
        raise ImproperlyConfigured(
            f"{var}: {_redact(url)!r} is not an http(s) URL; expected e.g. http://127.0.0.1:8081"
        )


def _has_host_and_port(url: str) -> bool:
    """A hostname, and a port that is a number when one is given."""
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return False
    return bool(parts.hostname)


def _redact(url: str) -> str:
    """Hide a password in a URL before it goes into an error message."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)
