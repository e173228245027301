"""Rendering a notification into an email (plain text + HTML, Django templates).

Each event type has three templates under ``templates/notifications/email/``:
``<type>.subject.txt``, ``<type>.txt`` and ``<type>.html``, rendered with the
event's ``data``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from notifications.models import Notification


def _template(event_type: str, suffix: str) -> str:
    return f"notifications/email/{event_type.replace('.', '_')}.{suffix}"


def render_subject(*, event_type: str, data: dict[str, Any]) -> str:
    subject = render_to_string(_template(event_type, "subject.txt"), {"data": data})
    # A header must stay on one line, whatever the title contains.
    return " ".join(subject.split())[:255]


def build_message(*, notification: Notification, recipient: str) -> EmailMultiAlternatives:
    context = {"data": notification.envelope["data"], "notification": notification}
    message = EmailMultiAlternatives(
        subject=notification.subject,
        body=render_to_string(_template(notification.event_type, "txt"), context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[recipient],
        # The same Message-ID on every attempt: if a send is repeated after a
        # crash, receiving systems can recognise (and most drop) the copy.
        headers={"Message-ID": notification.message_id},
    )
    message.attach_alternative(
        render_to_string(_template(notification.event_type, "html"), context), "text/html"
    )
    return message
