"""Reads: who may see which accounts."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import User


def user_list(*, viewer: User) -> QuerySet[User]:
    """Staff see every account; anyone else only their own."""
    users = User.objects.order_by("id")
    return users if viewer.is_staff else users.filter(pk=viewer.pk)


def user_get_visible(*, viewer: User, user_id: int) -> User | None:
    """The account if ``viewer`` may see it; ``None`` reads as 404, never 403 (no probing)."""
    return user_list(viewer=viewer).filter(pk=user_id).first()


def user_get_active(*, user_id: int) -> User | None:
    """The account a valid token speaks for, unless it was locked or deleted since."""
    return User.objects.filter(pk=user_id, is_active=True).first()


def user_get(*, user_id: int) -> User | None:
    return User.objects.filter(pk=user_id).first()
