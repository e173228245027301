"""The user account: Django's user, with usernames unique whatever their case.

An account is *locked* when ``is_active`` is false: Django's own auth backend
already refuses such users, the admin shows it, and other services learn it
from ``GET /internal/users/{id}``. Locking goes through
``services.user_lock`` so that the user's tokens are revoked at the same time.
"""

from __future__ import annotations

from typing import ClassVar

from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models
from django.db.models.functions import Lower


class UserManager(DjangoUserManager["User"]):
    def get_by_natural_key(self, username: str | None) -> User:
        """``Alice`` logs in as ``alice``: case-insensitive, like the constraint."""
        return self.get(username__iexact=username)


class User(AbstractUser):
    objects: ClassVar[UserManager] = UserManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                Lower("username"),
                name="accounts_user_username_ci_unique",
                violation_error_message="A user with that username already exists.",
            ),
        ]

    @property
    def is_locked(self) -> bool:
        return not self.is_active
