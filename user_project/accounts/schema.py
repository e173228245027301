"""How drf-spectacular describes our bearer authentication in the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object


class UserTokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.UserTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return dict(build_bearer_security_scheme_object("Authorization", "Bearer", "JWT"))
