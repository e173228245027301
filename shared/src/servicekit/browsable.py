"""DRF's browsable API, for a person in a browser, through the gateway.

A browser holds no bearer token: it logs in at the gateway, which keeps the
tokens in cookies and forwards each request with the ``Authorization`` header
(docs/decisions/0009-browser-sessions-at-the-gateway.md). A service never sees
those cookies; what its pages need from the gateway comes in one header:

- ``X-Gateway-CSRF-Token``: the gateway's CSRF token for this browser. The
  gateway checks the token on every unsafe request a cookie authenticates, so
  the forms on the page (DRF's ``{% csrf_token %}`` and the ``X-CSRFToken``
  its JavaScript sends) must carry the gateway's token, not the service's own.
  The header is also how a page knows it is seen through the gateway: only
  then does it show the user's name and a "Log out" button (a form that
  posts to the gateway's ``/auth/logout``).

On a service's own port there is no browser login; a page that answers 401
says where to log in: ``SERVICEKIT["GATEWAY_URL"]`` + ``/auth/login``.

:class:`HTMLForms` gives an ``APIView`` that validates with a serializer of its
own the HTML forms of the browsable API (DRF offers them only to views with
``get_serializer`` and a form parser); JSON stays the API's format.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from rest_framework import parsers, renderers
from rest_framework.request import Request
from rest_framework.serializers import BaseSerializer

from servicekit.settings import servicekit_settings

GATEWAY_CSRF_HEADER = "X-Gateway-CSRF-Token"
LOGIN_PATH = "/auth/login"
LOGOUT_PATH = "/auth/logout"
# A Django CSRF token as get_token() makes it: 64 letters and digits (a masked secret).
_CSRF_TOKEN_RE = re.compile(r"[A-Za-z0-9]{64}")


def gateway_csrf_token(request: Request) -> str | None:
    """The CSRF token the gateway sent with ``request``; ``None`` on the service's own port."""
    token = request.headers.get(GATEWAY_CSRF_HEADER, "")
    return token if _CSRF_TOKEN_RE.fullmatch(token) else None


def login_url(request: Request, *, through_gateway: bool) -> str:
    """Where to log in to come back to this page: the gateway's login page."""
    base = "" if through_gateway else str(servicekit_settings.GATEWAY_URL).rstrip("/")
    return f"{base}{LOGIN_PATH}?{urlencode({'next': request.get_full_path()})}"


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    """DRF's page with the gateway's CSRF token, a "Log out" button and a way to log in."""

    template = "servicekit/browsable_api.html"

    def get_context(
        self, data: Any, accepted_media_type: str | None, renderer_context: Mapping[str, Any]
    ) -> dict[str, Any]:
        context = super().get_context(data, accepted_media_type, renderer_context)
        request = renderer_context["request"]
        token = gateway_csrf_token(request)
        if token is not None:
            # Above the csrf context processor's token (and never evaluating it, so the
            # service sets no CSRF cookie of its own on a page seen through the gateway).
            context["csrf_token"] = token
        context["through_gateway"] = token is not None
        context["login_url"] = login_url(request, through_gateway=token is not None)
        context["logout_url"] = LOGOUT_PATH
        return context


class HTMLForms:
    # Mixed into an APIView: the browsable API's HTML forms, validated by form_serializer.
    # DRF renders an HTML form only for a view that has get_serializer and accepts a form
    # body; such a view accepts multipart/form-data and x-www-form-urlencoded besides
    # JSON. A form sends every value as a string (a checked checkbox as "true"): fields
    # that insist on JSON types must read a form's strings (html.is_html_input).
    # (Comments, not a docstring: DRF's page and the OpenAPI schema would show it as the
    # description of every view that mixes it in.)

    form_serializer: type[BaseSerializer[Any]]
    parser_classes: Sequence[type[parsers.BaseParser]] = (
        parsers.JSONParser,
        parsers.FormParser,
        parsers.MultiPartParser,
    )

    def get_serializer(self, *args: Any, **kwargs: Any) -> BaseSerializer[Any]:
        return self.form_serializer(*args, **kwargs)
