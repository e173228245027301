"""How the services' OpenAPI schemas (drf-spectacular) describe the suite's conventions.

Import it from an app's ``ready()`` (drf-spectacular finds extensions by their
import) and name the hooks in ``SPECTACULAR_SETTINGS`` (``defaults`` does both):

- :class:`BearerTokenScheme`: every view authenticated by
  :class:`~servicekit.authentication.BearerTokenAuthentication` (or a subclass,
  like user-service's) takes an RS256 JWT in ``Authorization: Bearer ...``, so
  Swagger UI offers an "Authorize" button for it.
- :func:`document_each_path_once`: every route answers with and without a
  trailing slash (docs/spec/api.md, "General rules"); the schema lists each
  once, and leaves out the health probes, which are for orchestrators rather
  than API clients.
- :func:`document_errors` (a postprocessing hook): the error responses every
  operation can give, each with the body servicekit's exception handler
  renders, so clients (and Schemathesis) know a 404 from an undocumented one.

Only services that install drf-spectacular import this module.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object

from servicekit.pagination import PageNumberPagination


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


# --- error responses -----------------------------------------------------------------

HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
PAGE = PageNumberPagination.page_query_param
PAGE_SIZE = PageNumberPagination.page_size_query_param

# The bodies of servicekit.exceptions: {"detail", "code"} for every error, except
# that a 400 from a serializer maps each field (or non_field_errors) to its messages.
ERROR_SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": {
        "type": "object",
        "description": "What went wrong, for a person, and a code for programs.",
        "properties": {"detail": {"type": "string"}, "code": {"type": "string"}},
        "required": ["detail", "code"],
    },
    "ValidationError": {
        "type": "object",
        "description": "Each invalid field (or non_field_errors) with its messages.",
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
        "minProperties": 1,
    },
}
ERROR = {"$ref": "#/components/schemas/Error"}
BAD_REQUEST = {"oneOf": [{"$ref": "#/components/schemas/ValidationError"}, ERROR]}
# gunicorn refuses an over-long request line (414) or header (431) itself, before
# Django runs, with a small HTML page: listed where the caller's data goes there.
HTML = {"text/html": {"schema": {"type": "string"}}}


def document_errors(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: every operation lists the errors it can answer.

    The statuses follow from the operation's shape (:func:`errors_of`); a
    view's own ``@extend_schema`` responses (a 409, a 422, its wording of a
    401) stay as they are, and get the error body when they declare none.
    """
    result.setdefault("components", {}).setdefault("schemas", {}).update(ERROR_SCHEMAS)
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in HTTP_METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for status_code, response in errors_of(operation).items():
                responses.setdefault(status_code, response)
            for status_code, response in responses.items():
                if status_code.startswith("4") and "content" not in response:
                    schema = BAD_REQUEST if status_code == "400" else ERROR
                    response["content"] = {"application/json": {"schema": schema}}
            operation["responses"] = dict(sorted(responses.items()))
    return result


def errors_of(operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The error responses an operation of this shape can give (docs/spec/api.md, "Errors").

    JSON bodies are left for :func:`document_errors` to add. Not listed: 405
    (a method the path lacks has no operation to document it on), 406/415
    (only for a caller that asks for or sends something other than JSON) and
    5xx (failures, not answers). A throttled view (login's 429) lists its own.
    """
    parameters = [p for p in operation.get("parameters", []) if "in" in p]
    located = {p["in"] for p in parameters}
    has_body = "requestBody" in operation
    errors: dict[str, dict[str, Any]] = {}
    if has_body or any(_is_validated(p) for p in parameters):
        errors["400"] = {"description": "Invalid input: malformed JSON, a wrong field or value."}
    if _needs_token(operation):
        errors["401"] = {"description": "No valid access token: missing, expired or revoked."}
        # Every authenticated view names its caller (IsEndUser, IsServiceClient):
        # a valid token of the other kind is refused.
        errors["403"] = {"description": "A valid token of the wrong kind (a service's, a user's)."}
    if "path" in located:
        errors["404"] = {"description": "No such object for the caller, or a malformed id."}
    elif any(p["in"] == "query" and p["name"] == PAGE for p in parameters):
        errors["404"] = {"description": "No such page."}
    if has_body:
        errors["413"] = {"description": "The body is over the size limit (1 MiB by default)."}
    if located & {"path", "query"}:
        errors["414"] = {"description": "URL over 4094 bytes (HTTP server)", "content": HTML}
    if "header" in located:
        errors["431"] = {"description": "Header over 8190 bytes (HTTP server)", "content": HTML}
    return errors


def _is_validated(parameter: dict[str, Any]) -> bool:
    """Query and header parameters are checked (400), except the page ones (404 or ignored)."""
    return parameter["in"] in ("query", "header") and parameter["name"] not in (PAGE, PAGE_SIZE)


def _needs_token(operation: dict[str, Any]) -> bool:
    """A security requirement that anonymous callers (``{}``) do not meet."""
    requirements = operation.get("security", [])
    return bool(requirements) and {} not in requirements
