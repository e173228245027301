"""The errors user-service's own endpoints raise, in servicekit's ``{"detail", "code"}`` shape.

They are :class:`~servicekit.exceptions.ServiceError` subclasses rather than
DRF's ``AuthenticationFailed``: DRF turns that into a 403 on views without an
authenticator (login, refresh). ``auth_header`` makes DRF's handler send the
``WWW-Authenticate`` header a 401 needs.
"""

from __future__ import annotations

from rest_framework import status
from servicekit.exceptions import ServiceError

BEARER_CHALLENGE = 'Bearer realm="api"'


class Unauthorized(ServiceError):
    status_code = status.HTTP_401_UNAUTHORIZED
    auth_header = BEARER_CHALLENGE


class InvalidCredentials(Unauthorized):
    default_detail = "No account matches this username and password."
    default_code = "invalid_credentials"


class WrongPassword(Unauthorized):
    default_detail = "The password is not right."
    default_code = "wrong_password"


class AccountLocked(Unauthorized):
    default_detail = "This account is locked."
    default_code = "account_locked"


class TokenRefused(Unauthorized):
    default_detail = "Token is invalid or has been revoked."
    default_code = "token_not_valid"


# OAuth2 client credentials (RFC 6749 section 5.2): the codes are OAuth2's own.


class InvalidClient(Unauthorized):
    default_detail = "Unknown client or wrong client secret."
    default_code = "invalid_client"
    auth_header = 'Basic realm="user-service"'


class UnsupportedGrantType(ServiceError):
    default_detail = "Only grant_type=client_credentials is supported."
    default_code = "unsupported_grant_type"


class InvalidScope(ServiceError):
    default_detail = "The requested scope is not granted to this client."
    default_code = "invalid_scope"
