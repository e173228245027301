"""The development mailbox: what the local SMTP sink caught, readable in the admin.

``./manage-all.sh up`` runs an SMTP sink (aiosmtpd) that stores every email as
a file in a Maildir and sets ``DEV_MAILBOX_DIR`` to it; these two admin pages
list those emails and show one (plain text, and the HTML part in a sandboxed
frame). Without ``DEV_MAILBOX_DIR`` (compose, Kubernetes: Mailpit has its own
web UI) the pages do not exist. Staff only, like the rest of the admin.
"""

from __future__ import annotations

import email
import email.policy
import mailbox
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

from django.conf import settings
from django.contrib import admin
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render


@dataclass(frozen=True)
class Mail:
    key: str
    date: datetime | None
    sender: str
    to: str
    subject: str
    message_id: str
    text: str
    html: str


def mails() -> list[Mail]:
    """Every caught email, newest first."""
    box = _maildir()
    found = [_read(key, box) for key in box.iterkeys()]
    # The Date header has whole seconds; the Maildir key (delivery time first) breaks ties.
    return sorted(
        found, key=lambda mail: (mail.date or datetime.min.astimezone(), mail.key), reverse=True
    )


def mail(key: str) -> Mail:
    box = _maildir()
    try:
        return _read(key, box)
    except KeyError:
        raise Http404("No such email.") from None


def _maildir() -> mailbox.Maildir:
    directory = settings.DEV_MAILBOX_DIR
    if not directory or not Path(directory, "new").is_dir():
        raise Http404("No development mailbox here (DEV_MAILBOX_DIR is not set).")
    return mailbox.Maildir(directory, factory=None, create=False)


def _read(key: str, box: mailbox.Maildir) -> Mail:
    message = email.message_from_bytes(box.get_bytes(key), policy=email.policy.default)
    assert isinstance(message, EmailMessage)  # noqa: S101 - the default policy makes one
    try:
        date = parsedate_to_datetime(str(message["Date"])) if message["Date"] else None
    except (TypeError, ValueError):
        date = None
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    return Mail(
        key=key,
        date=date,
        sender=str(message["From"] or ""),
        to=str(message["To"] or ""),
        subject=str(message["Subject"] or ""),
        message_id=str(message["Message-ID"] or ""),
        text=text.get_content() if text else "",
        html=html.get_content() if html else "",
    )


@admin.site.admin_view
def inbox(request: HttpRequest) -> HttpResponse:
    context = {**admin.site.each_context(request), "title": "Development mailbox", "mails": mails()}
    return render(request, "notifications/mailbox/inbox.html", context)


@admin.site.admin_view
def detail(request: HttpRequest, key: str) -> HttpResponse:
    found = mail(key)
    context = {**admin.site.each_context(request), "title": found.subject, "mail": found}
    return render(request, "notifications/mailbox/detail.html", context)
