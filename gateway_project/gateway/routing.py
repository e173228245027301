"""Which service a path goes to, and whether it needs a token.

The route table is ``settings.GATEWAY_ROUTES`` (path prefix → service) and
``settings.GATEWAY_PUBLIC_PATHS`` (patterns that need no token). A prefix
matches whole path segments: ``/todos`` matches ``/todos``, ``/todos/`` and
``/todos/7``, never ``/todosx``. A path that contains ``internal`` in any
spelling, or a ``.``/``..`` segment, is never routed: service-to-service
endpoints are not reachable from outside, also not as ``/todos/../Internal/...``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from django.conf import settings


@dataclass(frozen=True)
class Route:
    service: str
    public: bool
    login: bool
    # The route-table prefix that matched (``/todos``): the metrics' route label.
    prefix: str = ""


@cache
def _table(
    routes: tuple[tuple[str, str], ...], public: tuple[str, ...], login: str
) -> tuple[list[tuple[str, str]], re.Pattern[str], str]:
    # Longest prefix first, so a more specific route wins.
    ordered = sorted(((p.rstrip("/"), s) for p, s in routes), key=lambda r: -len(r[0]))
    public_re = re.compile("|".join(f"(?:{pattern})" for pattern in public) or "(?!)")
    return ordered, public_re, login.rstrip("/")


def match(path: str) -> Route | None:
    """The route for ``path``, or ``None`` when the gateway does not serve it (404)."""
    prefixes, public_re, login = _table(
        tuple(settings.GATEWAY_ROUTES.items()),
        tuple(settings.GATEWAY_PUBLIC_PATHS),
        settings.GATEWAY_LOGIN_PATH,
    )
    if "internal" in path.lower():
        return None  # service-to-service endpoints, however the path spells the word
    if "/." in path and any(segment in (".", "..") for segment in path.split("/")):
        return None  # dot segments: a service behind us might resolve them
    bare = path.rstrip("/") or "/"
    for prefix, service in prefixes:
        if bare == prefix or bare.startswith(prefix + "/"):
            return Route(
                service, public=bool(public_re.fullmatch(bare)), login=bare == login, prefix=prefix
            )
    return None
