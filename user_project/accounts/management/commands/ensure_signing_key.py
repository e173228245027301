"""``python manage.py ensure_signing_key``: create the first signing key if there is none.

Idempotent: ``manage-all.sh up`` runs it on every start. It only acts on the
key directory (``JWT_KEY_DIR``, in development ``$VAR_DIR/keys/user-service``);
with ``JWT_PRIVATE_KEY``/``JWT_PRIVATE_KEY_FILE`` the key is given, nothing to do.
"""

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts import keys


class Command(BaseCommand):
    help = "Create a signing key in JWT_KEY_DIR unless one exists (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.JWT_SIGNING_KEY_PEM:
            self.stdout.write("The signing key comes from JWT_PRIVATE_KEY(_FILE); nothing to do.")
            return
        key, created = keys.ensure_key(Path(settings.JWT_KEY_DIR))
        verb = "Created" if created else "Using existing"
        self.stdout.write(f"{verb} signing key {key.kid} in {settings.JWT_KEY_DIR}")
