"""HTTP endpoints: validate, call one service or selector, serialize.

See docs/spec/api.md, "Auth", "Users" and "Service tokens".
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, cast
from urllib.parse import unquote
from uuid import UUID

from django.http import Http404
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from servicekit.authentication import IsEndUser, IsServiceClient

from accounts import deletion, keys, selectors, services
from accounts.exceptions import InvalidClient, WrongPassword
from accounts.models import User
from accounts.serializers import (
    AccountDeletionInputSerializer,
    AccountDeletionSerializer,
    InternalUserSerializer,
    LoginInputSerializer,
    RefreshInputSerializer,
    RegisteredUserSerializer,
    RegisterInputSerializer,
    ServiceTokenInputSerializer,
    ServiceTokenSerializer,
    TokenPairSerializer,
    UserSerializer,
    UserUpdateInputSerializer,
)
from accounts.throttling import LoginRateThrottle
from accounts.tokens import TokenPair
from sagas.selectors import saga_get
from sagas.serializers import SagaSerializer

# Responses carrying tokens must not be stored by any cache (RFC 6749 section 5.1).
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _user(request: Request) -> User:
    """The signed-in account (``IsEndUser`` on the view guarantees there is one)."""
    if not isinstance(request.user, User):
        raise TypeError("this view must be guarded by IsEndUser")
    return request.user


def _pair(pair: TokenPair) -> dict[str, Any]:
    return {
        "access": pair.access,
        "refresh": pair.refresh,
        "token_type": "Bearer",
        "expires_in": pair.expires_in,
    }


class PublicApi(APIView):
    """No authentication: a stale token in the header must not break logging in."""

    authentication_classes = []
    permission_classes = [AllowAny]


# --- auth ---------------------------------------------------------------------------


class RegisterApi(PublicApi):
    @extend_schema(request=RegisterInputSerializer, responses={201: RegisteredUserSerializer})
    def post(self, request: Request) -> Response:
        data = RegisterInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_register(**data.validated_data)
        return Response(RegisteredUserSerializer(user).data, status=status.HTTP_201_CREATED)


class LoginApi(PublicApi):
    throttle_classes = [LoginRateThrottle]

    @extend_schema(
        request=LoginInputSerializer,
        responses={
            200: TokenPairSerializer,
            401: OpenApiResponse(description="Wrong username or password, or a locked account."),
            429: OpenApiResponse(description="Too many attempts; see Retry-After."),
        },
    )
    def post(self, request: Request) -> Response:
        data = LoginInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        pair = services.user_login(**data.validated_data, request=request._request)
        return Response(_pair(pair), headers=NO_STORE)


class RefreshApi(PublicApi):
    @extend_schema(
        request=RefreshInputSerializer,
        responses={
            200: TokenPairSerializer,
            401: OpenApiResponse(description="The refresh token is invalid, expired or revoked."),
        },
    )
    def post(self, request: Request) -> Response:
        data = RefreshInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        pair = services.tokens_refresh(refresh=data.validated_data["refresh"])
        return Response(_pair(pair), headers=NO_STORE)


class LogoutApi(APIView):
    permission_classes = [IsEndUser]

    @extend_schema(request=RefreshInputSerializer, responses={204: OpenApiResponse()})
    def post(self, request: Request) -> Response:
        data = RefreshInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.user_logout(
            user=_user(request),
            refresh=data.validated_data["refresh"],
            access_claims=cast(dict[str, Any], request.auth),  # the verified claims
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class JwksApi(PublicApi):
    @extend_schema(responses={200: OpenApiResponse(description="JSON Web Key Set")})
    def get(self, request: Request) -> Response:
        return Response(keys.jwks())


class ServiceTokenApi(PublicApi):
    """OAuth2 client credentials: form (the standard) or JSON; secret in the body or Basic auth."""

    parser_classes = [FormParser, JSONParser]

    @extend_schema(
        request=ServiceTokenInputSerializer,
        responses={
            200: ServiceTokenSerializer,
            401: OpenApiResponse(description="Unknown client or wrong client secret."),
        },
    )
    def post(self, request: Request) -> Response:
        data = ServiceTokenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        credentials = {
            "client_id": data.validated_data["client_id"],
            "client_secret": data.validated_data["client_secret"],
        }
        credentials.update(_basic_credentials(request))
        token = services.service_token_issue(
            grant_type=data.validated_data["grant_type"],
            scope=data.validated_data["scope"],
            **credentials,
        )
        body = {
            "access_token": token.access_token,
            "token_type": "Bearer",
            "expires_in": token.expires_in,
            "scope": token.scope,
        }
        return Response(body, headers=NO_STORE)


def _basic_credentials(request: Request) -> dict[str, str]:
    """``client_secret_basic`` (RFC 6749 section 2.3.1), when the client sent it."""
    scheme, _, encoded = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "basic":
        return {}
    try:
        client_id, separator, secret = (
            base64.b64decode(encoded, validate=True).decode().partition(":")
        )
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidClient("Malformed Basic credentials.") from None
    if not separator:
        raise InvalidClient("Malformed Basic credentials.")
    return {"client_id": unquote(client_id), "client_secret": unquote(secret)}


# --- users --------------------------------------------------------------------------


class UserListApi(generics.ListAPIView):
    permission_classes = [IsEndUser]
    serializer_class = UserSerializer

    def get_queryset(self) -> Any:
        return selectors.user_list(viewer=_user(self.request))


class UserMeApi(APIView):
    permission_classes = [IsEndUser]

    @extend_schema(responses={200: UserSerializer})
    def get(self, request: Request) -> Response:
        return Response(UserSerializer(_user(request)).data)

    @extend_schema(
        request=AccountDeletionInputSerializer,
        # OpenAPI 3.0 has no request body on DELETE (drf-spectacular leaves it out): say it.
        description='Send the password as a JSON body: `{"password": "..."}`. The account '
        "is locked at once and deleted by a saga across the three services; follow it at "
        "the `Location` of the 202.",
        responses={
            202: AccountDeletionSerializer,
            400: OpenApiResponse(description="No password given."),
            401: OpenApiResponse(description="The password is not right."),
        },
    )
    def delete(self, request: Request) -> Response:
        """Delete the account: starts the deletion saga; follow it at ``Location``."""
        data = AccountDeletionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = _user(request)
        if not user.check_password(data.validated_data["password"]):
            raise WrongPassword()
        saga, _ = deletion.start_account_deletion(user=user)
        location = reverse("account-deletion", kwargs={"saga_id": saga.pk})
        return Response(
            AccountDeletionSerializer(saga).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": location},
        )

    @extend_schema(request=UserUpdateInputSerializer, responses={200: UserSerializer})
    def patch(self, request: Request) -> Response:
        # Only known, writable fields are read: username/is_staff/id in the body are ignored.
        data = UserUpdateInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        user = _user(request)
        if "email" in data.validated_data:
            user = services.user_update(user=user, email=data.validated_data["email"])
        return Response(UserSerializer(user).data)


class UserDetailApi(APIView):
    permission_classes = [IsEndUser]

    @extend_schema(responses={200: UserSerializer})
    def get(self, request: Request, user_id: int) -> Response:
        user = selectors.user_get_visible(viewer=_user(request), user_id=user_id)
        if user is None:
            raise Http404("No such user.")
        return Response(UserSerializer(user).data)


class AccountDeletionApi(PublicApi):
    """A deletion saga's progress; the id is an unguessable UUID, so no token is needed."""

    @extend_schema(responses={200: SagaSerializer})
    def get(self, request: Request, saga_id: UUID) -> Response:
        saga = saga_get(saga_id=saga_id, kind=deletion.ACCOUNT_DELETION.kind)
        if saga is None:
            raise Http404("No such account deletion.")
        return Response(SagaSerializer(saga).data)


# --- for other services -------------------------------------------------------------


class InternalUserApi(APIView):
    """Who a user id is, for services holding a ``users:read`` service token."""

    permission_classes = [IsServiceClient]
    required_scope = "users:read"

    @extend_schema(responses={200: InternalUserSerializer})
    def get(self, request: Request, user_id: int) -> Response:
        user = selectors.user_get(user_id=user_id)
        if user is None:
            raise Http404("No such user.")
        return Response(InternalUserSerializer(user).data)
