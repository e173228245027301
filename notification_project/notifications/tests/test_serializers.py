"""The list's rows (notification_rows, from .values()) are what NotificationSerializer writes."""

from __future__ import annotations

import pytest
from django.utils import timezone

from notifications.models import Notification
from notifications.serializers import (
    NOTIFICATION_FIELDS,
    NotificationSerializer,
    notification_rows,
)
from notifications.tests.support import make_notification

pytestmark = pytest.mark.django_db


def test_notification_rows_write_what_the_serializer_writes() -> None:
    # given notifications sent and not sent, with and without microseconds
    make_notification(7)
    make_notification(7, status="sent", attempts=1)
    Notification.objects.filter(status="sent").update(sent_at=timezone.now())
    make_notification(7, status="skipped")
    Notification.objects.filter(status="skipped").update(
        created_at=timezone.now().replace(microsecond=0)
    )
    notifications = Notification.objects.order_by("id")

    # when
    rows = notification_rows(notifications.values(*NOTIFICATION_FIELDS))

    # then
    assert rows == [dict(NotificationSerializer(n).data) for n in notifications]
    assert [row["sent_at"] is None for row in rows] == [True, False, True]
