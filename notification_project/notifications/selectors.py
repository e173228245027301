"""Reads: querysets and objects for the API and the services."""

from __future__ import annotations

from django.db.models import QuerySet

from notifications.models import Notification, Preference


def notification_list(*, user_id: int) -> QuerySet[Notification]:
    """The user's notifications, newest first (index ``notification_user_recent``)."""
    return Notification.objects.filter(user_id=user_id).order_by("-created_at", "-id")


def preference_get(*, user_id: int) -> Preference:
    """The user's preferences; the defaults (unsaved) for a user who never changed them."""
    preference = Preference.objects.filter(user_id=user_id).first()
    return preference if preference is not None else Preference(user_id=user_id)
