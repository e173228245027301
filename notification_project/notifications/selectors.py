"""Reads: querysets and objects for the API and the services."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from notifications.models import Erasure, Notification, Preference


def notification_list(*, user_id: int) -> QuerySet[Notification]:
    """The user's notifications, newest first (index ``notification_user_recent``);
    none that an account-deletion saga hides."""
    return Notification.objects.filter(user_id=user_id, erased_by_saga__isnull=True).order_by(
        "-created_at", "-id"
    )


def preference_get(*, user_id: int) -> Preference:
    """The user's preferences; the defaults (unsaved) for a user who never changed them,
    or whose preferences an account-deletion saga hides."""
    preference = Preference.objects.filter(user_id=user_id, erased_by_saga__isnull=True).first()
    return preference if preference is not None else Preference(user_id=user_id)


def erasing_saga(*, user_id: int) -> uuid.UUID | None:
    """The account-deletion saga whose erasure of the user is in force, if any."""
    return (
        Erasure.objects.filter(user_id=user_id, status=Erasure.Status.ERASED)
        .values_list("saga_id", flat=True)
        .first()
    )


def account_deleted(*, user_id: int) -> bool:
    """Whether an account-deletion saga purged the user's data here: the account is gone."""
    return Erasure.objects.filter(user_id=user_id, status=Erasure.Status.PURGED).exists()
