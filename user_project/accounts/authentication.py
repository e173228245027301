"""Bearer authentication for user-service: servicekit's verifier, then the user row.

Other services trust the token's claims (stateless). user-service owns the
accounts, so it looks the user up: a locked or deleted account's tokens stop
working here at once, and views get a real ``User``.
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.request import Request
from servicekit.authentication import BearerTokenAuthentication, TokenUser

from accounts import selectors


class UserTokenAuthentication(BearerTokenAuthentication):
    """Access tokens become the ``User`` row; service tokens stay a ``ServiceClient``."""

    def authenticate(self, request: Request) -> tuple[Any, dict[str, Any]] | None:
        result = super().authenticate(request)
        if result is None or not isinstance(result[0], TokenUser):
            return result
        token_user, claims = result
        user = selectors.user_get_active(user_id=token_user.id)
        if user is None:
            raise exceptions.AuthenticationFailed(
                "The account of this token is locked or gone.", code="token_not_valid"
            )
        return user, claims
