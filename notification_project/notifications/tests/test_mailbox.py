"""The development mailbox in the admin: the SMTP sink's Maildir, listed and shown."""

from __future__ import annotations

import mailbox
from email.message import EmailMessage
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def maildir(tmp_path: Path, settings) -> mailbox.Maildir:
    settings.DEV_MAILBOX_DIR = str(tmp_path / "mail")
    return mailbox.Maildir(tmp_path / "mail", create=True)


def _email(subject: str, *, html: str = "") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Todo <notifications@todo.localhost>"
    message["To"] = "ann@example.com"
    message["Subject"] = subject
    message["Date"] = "Thu, 26 Nov 2026 05:00:00 +0000"
    message["Message-ID"] = "<0b1c@notification-service>"
    message.set_content("You completed: buy milk")
    if html:
        message.add_alternative(html, subtype="html")
    return message


def test_staff_see_every_caught_email_and_open_one(admin_client: Client, maildir) -> None:
    key = maildir.add(_email("Todo completed: buy milk", html="<p>buy <b>milk</b></p>"))
    maildir.add(_email("Welcome to Todo, ann"))

    listing = admin_client.get("/admin/mailbox/")
    shown = admin_client.get(f"/admin/mailbox/{key}/")

    assert listing.status_code == 200
    assert "Todo completed: buy milk" in listing.content.decode()
    assert "Welcome to Todo, ann" in listing.content.decode()
    assert shown.status_code == 200
    page = shown.content.decode()
    assert "You completed: buy milk" in page
    # the HTML part is shown in a sandboxed frame, escaped into srcdoc, never inline
    assert 'sandbox srcdoc="&lt;p&gt;buy &lt;b&gt;milk&lt;/b&gt;&lt;/p&gt;' in page
    assert "<p>buy <b>milk</b></p>" not in page


def test_the_mailbox_is_for_staff_only(client: Client, maildir) -> None:
    response = client.get("/admin/mailbox/")

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_without_a_development_mailbox_there_is_no_page(admin_client: Client, settings) -> None:
    settings.DEV_MAILBOX_DIR = ""

    assert admin_client.get("/admin/mailbox/").status_code == 404


def test_an_unknown_email_is_404(admin_client: Client, maildir) -> None:
    assert admin_client.get("/admin/mailbox/no-such-key/").status_code == 404


def test_the_command_lists_and_shows_the_emails(maildir) -> None:
    maildir.add(_email("Todo completed: buy milk"))
    out = StringIO()

    call_command("mailbox", stdout=out)
    call_command("mailbox", "--show", "1", stdout=out)

    printed = out.getvalue()
    assert "ann@example.com" in printed
    assert "Todo completed: buy milk" in printed
    assert "You completed: buy milk" in printed


def test_the_command_names_a_missing_mailbox(settings) -> None:
    settings.DEV_MAILBOX_DIR = ""

    with pytest.raises(CommandError, match="DEV_MAILBOX_DIR"):
        call_command("mailbox")
