"""``manage.py mailbox``: the emails the development SMTP sink caught, newest first."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.http import Http404

from notifications import mailbox


class Command(BaseCommand):
    help = "List the emails in the development mailbox (DEV_MAILBOX_DIR), newest first."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--show", metavar="N", type=int, help="print email N in full")

    def handle(self, *args: Any, show: int | None = None, **options: Any) -> None:
        try:
            mails = mailbox.mails()
        except Http404 as exc:
            raise CommandError(str(exc)) from None
        if show is not None:
            if not 1 <= show <= len(mails):
                raise CommandError(
                    f"--show: there are {len(mails)} emails; choose 1 to {len(mails)}"
                )
            mail = mails[show - 1]
            self.stdout.write(f"From: {mail.sender}\nTo: {mail.to}\nSubject: {mail.subject}")
            self.stdout.write(f"Date: {mail.date}\nMessage-ID: {mail.message_id}\n\n{mail.text}")
            return
        if not mails:
            self.stdout.write("No email yet.")
        for number, mail in enumerate(mails, start=1):
            when = f"{mail.date:%Y-%m-%d %H:%M:%S}" if mail.date else "?"
            self.stdout.write(f"{number:3d}  {when}  {mail.to:28.28s}  {mail.subject}")
