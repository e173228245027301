"""Tells drf-spectacular how callers authenticate, so Swagger UI offers a bearer token field."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "servicekit.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return build_bearer_security_scheme_object(
            header_name="Authorization",
            token_prefix="Bearer",  # noqa: S106 - the scheme name, not a secret
            bearer_format="JWT",
        )


def document_each_path_once(endpoints: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """drf-spectacular hook: drop the trailing-slash twin of every path, and the probes.

    Every route answers with and without a trailing slash (api.md); the schema
    lists it once. ``/health`` is for orchestrators, not API clients.
    """
    return [
        (path, *rest)
        for path, *rest in endpoints
        if not path.endswith("/") and not path.startswith("/health")
    ]
