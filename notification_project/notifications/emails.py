"""Rendering a notification into an email (plain text + HTML, Django templates), and sending it.

Each event type has three templates under ``templates/notifications/email/``:
``<type>.subject.txt``, ``<type>.txt`` and ``<type>.html``, rendered with the
event's ``data``. :func:`send` keeps one SMTP session per worker process.
"""

from __future__ import annotations

import contextlib
import smtplib
import threading
import time
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
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


# --- sending --------------------------------------------------------------------

# A mail server may close a session that stays quiet; one idle longer than this is
# checked with NOOP before it carries the next message.
IDLE_CHECK_SECONDS = 10.0

_local = threading.local()


def send(message: EmailMessage) -> None:
    """Send ``message`` over this worker's SMTP session, opened once and kept.

    A session per email costs a TCP handshake, EHLO and QUIT around every
    message. Any error closes the session: the next email opens a new one, and
    the task's retry takes care of this one, as it would with a fresh session.
    """
    backend = _session()
    try:
        backend.send_messages([message])
    except Exception:
        _close_session()
        raise
    _local.last_used = time.monotonic()


def _session() -> BaseEmailBackend:
    server = (settings.EMAIL_BACKEND, settings.EMAIL_HOST, settings.EMAIL_PORT)
    backend: BaseEmailBackend | None = getattr(_local, "backend", None)
    if backend is not None and (_local.server != server or not _alive(backend)):
        _close_session()
        backend = None
    if backend is None:
        backend = get_connection()
        backend.open()
        _local.backend, _local.server = backend, server
    return backend


def _alive(backend: BaseEmailBackend) -> bool:
    smtp = getattr(backend, "connection", None)
    if smtp is None:  # closed, or a backend without a session (locmem in tests)
        return not hasattr(backend, "connection")
    if time.monotonic() - getattr(_local, "last_used", 0.0) < IDLE_CHECK_SECONDS:
        return True
    try:
        return bool(smtp.noop()[0] == 250)
    except (smtplib.SMTPException, OSError):
        return False


def _close_session() -> None:
    backend = getattr(_local, "backend", None)
    _local.backend = None
    if backend is not None:
        # A broken session is dropped either way.
        with contextlib.suppress(smtplib.SMTPException, OSError):
            backend.close()
