"""What goes in and out of user-service's endpoints (validation only; no business logic)."""

from __future__ import annotations

from django.contrib.auth.validators import UnicodeUsernameValidator
from rest_framework import serializers
from servicekit.serializers import ModelSerializer

from accounts.models import User


class PasswordField(serializers.CharField):
    """Write-only, never trimmed (a space is a character), masked in the browsable API."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(
            write_only=True,
            trim_whitespace=False,
            max_length=4096,
            style={"input_type": "password"},
            **kwargs,  # type: ignore[arg-type]
        )


class RegisterInputSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150, validators=[UnicodeUsernameValidator()])
    email = serializers.EmailField(max_length=254)
    password = PasswordField()


class RegisteredUserSerializer(ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "email", "date_joined"]


class UserSerializer(ModelSerializer):
    """An account as ``/users`` shows it; only ``email`` can be written (``PATCH /users/me``)."""

    class Meta:
        model = User
        fields = ["id", "username", "email", "date_joined", "is_staff"]
        read_only_fields = ["id", "username", "date_joined", "is_staff"]
        extra_kwargs = {"email": {"required": True, "allow_blank": False}}


class UserUpdateInputSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class LoginInputSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = PasswordField()


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()
    token_type = serializers.CharField(default="Bearer")
    expires_in = serializers.IntegerField(help_text="Seconds until the access token expires.")


class RefreshInputSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=4096)


class ServiceTokenInputSerializer(serializers.Serializer):
    grant_type = serializers.CharField(max_length=100)
    # Optional and blank-able: the client may authenticate with HTTP Basic instead.
    client_id = serializers.CharField(max_length=200, default="", allow_blank=True)
    client_secret = serializers.CharField(
        max_length=1000, default="", allow_blank=True, trim_whitespace=False
    )
    scope = serializers.CharField(max_length=1000, default="", allow_blank=True)


class ServiceTokenSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    token_type = serializers.CharField(default="Bearer")
    expires_in = serializers.IntegerField()
    scope = serializers.CharField()


class InternalUserSerializer(ModelSerializer):
    """What other services may know about an account."""

    class Meta:
        model = User
        fields = ["id", "username", "email", "is_active"]


class AccountDeletionInputSerializer(serializers.Serializer):
    password = PasswordField()


class AccountDeletionSerializer(serializers.Serializer):
    saga_id = serializers.UUIDField(source="id")
    status = serializers.CharField()
