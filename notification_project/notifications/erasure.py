"""notification-service's part in the account-deletion saga (user-service orchestrates).

- erase: hide the user's notifications and preferences from the API;
  compensation (restore): bring back what this saga hid.
- purge: after the saga's pivot (the account is gone), delete the user's
  notifications and preferences for good: what the saga hid, and anything
  recorded for the user while it ran.

While an erasure is in force, an event for the user sends no email: its
notification is recorded ``skipped`` ("the account is being deleted") and
hidden under the same saga, so restore shows it and purge deletes it
(:func:`notifications.services.notification_record`). A pending notification
whose email had not gone out yet is not sent either. An event that arrives
after the purge (it was on its way while the account was deleted) records no
notification: it is kept as an ignored event ("the account was deleted").

The state machine (idempotency by saga id, restore-before-erase, conflicts)
is servicekit's :class:`~servicekit.saga.participant.SagaParticipant`.
"""

from __future__ import annotations

import uuid

from servicekit.exceptions import Conflict
from servicekit.saga.participant import Counts, SagaParticipant

from notifications.models import Erasure, Notification, Preference

ACCOUNT_BEING_DELETED = "the account is being deleted"
ACCOUNT_DELETED = "the account was deleted"


class AccountBeingDeleted(Conflict):
    default_detail = "The account is being deleted; its preferences cannot be changed."
    default_code = "account_being_deleted"


def _hide(*, user_id: int, saga_id: uuid.UUID) -> Counts:
    return {
        "notifications": Notification.objects.filter(
            user_id=user_id, erased_by_saga__isnull=True
        ).update(erased_by_saga=saga_id),
        "preferences": Preference.objects.filter(
            user_id=user_id, erased_by_saga__isnull=True
        ).update(erased_by_saga=saga_id),
    }


def _unhide(*, user_id: int, saga_id: uuid.UUID) -> Counts:
    return {
        "notifications": Notification.objects.filter(erased_by_saga=saga_id).update(
            erased_by_saga=None
        ),
        "preferences": Preference.objects.filter(erased_by_saga=saga_id).update(
            erased_by_saga=None
        ),
    }


def _delete(*, user_id: int, saga_id: uuid.UUID) -> Counts:
    # By user, not only by saga: the account no longer exists, and a notification
    # recorded while the erase was committing must not outlive it.
    notifications, _ = Notification.objects.filter(user_id=user_id).delete()
    preferences, _ = Preference.objects.filter(user_id=user_id).delete()
    return {"notifications": notifications, "preferences": preferences}


participant = SagaParticipant(
    Erasure,
    data="notifications and preferences",
    hide=_hide,
    unhide=_unhide,
    delete=_delete,
)
user_notifications_erase = participant.erase
user_notifications_restore = participant.restore
user_notifications_purge = participant.purge
