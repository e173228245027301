"""How the services' OpenAPI schemas (drf-spectacular) describe the suite's conventions.

Import it from an app's ``ready()`` (drf-spectacular finds extensions by their
import) and name the hook in ``SPECTACULAR_SETTINGS["PREPROCESSING_HOOKS"]``:

- :class:`BearerTokenScheme`: every view authenticated by
  :class:`~servicekit.authentication.BearerTokenAuthentication` (or a subclass,
  like user-service's) takes an RS256 JWT in ``Authorization: Bearer ...``, so
  Swagger UI offers an "Authorize" button for it.
- :func:`document_each_path_once`: every route answers with and without a
  trailing slash (api.md); the schema lists each once, and leaves out the
  health probes, which are for orchestrators rather than API clients.

Only services that install drf-spectacular import this module.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "servicekit.authentication.BearerTokenAuthentication"
    match_subclasses = True
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return dict(
            build_bearer_security_scheme_object(
                header_name="Authorization",
                token_prefix="Bearer",  # noqa: S106 - the scheme name, not a secret
                bearer_format="JWT",
            )
        )


def document_each_path_once(endpoints: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """drf-spectacular preprocessing hook: no trailing-slash twins, no health probes."""
    return [
        (path, *rest)
        for path, *rest in endpoints
        if not path.endswith("/") and not path.startswith("/health")
    ]
