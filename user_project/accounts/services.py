"""Writes: registration, logging in and out, token refresh, locking, service tokens.

Views call one of these and serialize the result; the admin and (later) the
account-deletion saga call the same functions.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

import redis
from django.conf import settings
from django.contrib.auth import authenticate, password_validation
from django.contrib.auth.models import update_last_login
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from servicekit import tokens as servicekit_tokens
from servicekit.exceptions import ServiceError
from servicekit.outbox.services import emit_event

from accounts.exceptions import (
    AccountLocked,
    InvalidClient,
    InvalidCredentials,
    InvalidScope,
    TokenRefused,
    UnsupportedGrantType,
)
from accounts.models import User
from accounts.revocation import remember_access_token, revoke_user_access_tokens
from accounts.tokens import (
    ServiceToken,
    TokenPair,
    UserRefreshToken,
    issue_service_token,
    issue_token_pair,
)

logger = logging.getLogger(__name__)

DUPLICATE_USERNAME = "A user with that username already exists."


class RevocationUnavailable(ServiceError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Tokens cannot be revoked right now; nothing was changed. Try again."
    default_code = "revocation_unavailable"


# --- accounts ------------------------------------------------------------------


@transaction.atomic
def user_register(*, username: str, email: str, password: str) -> User:
    """A new account; the password must pass Django's validators (length, common, similarity)."""
    user = User(username=username, email=email)
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": [DUPLICATE_USERNAME]})
    try:
        password_validation.validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise ValidationError({"password": list(exc.messages)}) from None
    user.set_password(password)
    try:
        # One transaction for the account and its event (the outbox): both or neither.
        with transaction.atomic():
            user.save()
            emit_event(
                event_type="user.registered",
                subject=f"users/{user.pk}",
                data={"user_id": user.pk, "username": user.username, "email": user.email},
            )
    except IntegrityError:
        # A concurrent registration of the same name loses here, cleanly.
        raise ValidationError({"username": [DUPLICATE_USERNAME]}) from None
    logger.info("user_registered", extra={"user_id": user.pk})
    return user


@transaction.atomic
def user_update(*, user: User, email: str) -> User:
    """Only the email address is the user's to change; name and staff flag are not."""
    user.email = email
    user.save(update_fields=["email"])
    return user


@transaction.atomic
def user_lock(*, user: User) -> User:
    """No more logins, and every token of the account stops working now.

    Refresh tokens are blacklisted (simplejwt) and live access tokens denied
    (servicekit's denylist). If Redis is down this raises and the lock is
    rolled back: an account must not look locked while its tokens still work.
    """
    user.is_active = False
    user.save(update_fields=["is_active"])
    live = OutstandingToken.objects.filter(user=user, expires_at__gt=timezone.now())
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in live], ignore_conflicts=True
    )
    try:
        revoked = revoke_user_access_tokens(user.pk)
    except redis.RedisError:
        raise RevocationUnavailable() from None
    logger.info("user_locked", extra={"user_id": user.pk, "access_tokens_revoked": revoked})
    return user


@transaction.atomic
def user_unlock(*, user: User) -> User:
    user.is_active = True
    user.save(update_fields=["is_active"])
    logger.info("user_unlocked", extra={"user_id": user.pk})
    return user


# --- user tokens ---------------------------------------------------------------


def user_login(*, username: str, password: str, request: HttpRequest | None = None) -> TokenPair:
    """Tokens for the right username (any case) and password of an active account."""
    user = authenticate(request, username=username, password=password)
    if not isinstance(user, User):
        # Django's backend refuses locked (inactive) accounts as if the password
        # were wrong; say "locked" only to someone who knows the password.
        candidate = User.objects.filter(username__iexact=username).first()
        if candidate and candidate.is_locked and candidate.check_password(password):
            raise AccountLocked()
        raise InvalidCredentials()
    update_last_login(User, user)
    pair = issue_token_pair(user)
    remember_access_token(pair.access_claims)
    logger.info("user_logged_in", extra={"user_id": user.pk})
    return pair


def _refresh_token(raw: str) -> UserRefreshToken:
    """A refresh token we signed, unexpired and not blacklisted; else 401."""
    try:
        return UserRefreshToken(raw)  # type: ignore[arg-type]  # simplejwt accepts the string
    except TokenError as exc:
        raise TokenRefused(str(exc)) from None


@transaction.atomic
def tokens_refresh(*, refresh: str) -> TokenPair:
    """New tokens for a refresh token, which is used up (rotation: it is blacklisted).

    Blacklisting is a unique row, so of two concurrent refreshes with the same
    token only one gets new tokens: a stolen refresh token shows up as a 401.
    """
    token = _refresh_token(refresh)
    user = User.objects.filter(pk=token.get("user_id"), is_active=True).first()
    if user is None:
        raise TokenRefused("The account of this token is locked or gone.")
    # simplejwt returns get_or_create's (row, created), whatever its annotation says.
    blacklisted: Any = token.blacklist()
    if not blacklisted[1]:
        raise TokenRefused("Token is blacklisted")
    pair = issue_token_pair(user)
    remember_access_token(pair.access_claims)
    return pair


@transaction.atomic
def user_logout(*, user: User, refresh: str, access_claims: dict[str, Any]) -> None:
    """Blacklist the refresh token and deny the access token the request came with."""
    token = _refresh_token(refresh)
    if str(token.get("user_id")) != str(user.pk):
        raise TokenRefused("The refresh token belongs to another account.")
    token.blacklist()
    try:
        servicekit_tokens.revoke(access_claims["jti"], expires_at=access_claims["exp"])
    except redis.RedisError:
        raise RevocationUnavailable() from None
    logger.info("user_logged_out", extra={"user_id": user.pk})


# --- service tokens (OAuth2 client credentials) ------------------------------------


def service_token_issue(
    *, grant_type: str, client_id: str, client_secret: str, scope: str = ""
) -> ServiceToken:
    """A short-lived service token for a configured client (``settings.SERVICE_CLIENTS``)."""
    client = settings.SERVICE_CLIENTS.get(client_id)
    # Compared in constant time, and even for an unknown client, so that timing
    # tells nothing about which client ids exist.
    expected = client["secret"] if client else "\0unknown-client"
    if not hmac.compare_digest(client_secret.encode(), expected.encode()) or client is None:
        raise InvalidClient()
    if grant_type != "client_credentials":
        raise UnsupportedGrantType()
    granted: list[str] = client["scopes"]
    requested = scope.split() or granted
    if not set(requested) <= set(granted):
        raise InvalidScope(f"This client may ask for: {' '.join(granted) or 'no scope'}.")
    logger.info("service_token_issued", extra={"client_id": client_id})
    return issue_service_token(client_id=client_id, scopes=requested)
