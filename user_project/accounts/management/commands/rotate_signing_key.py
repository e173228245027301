"""``python manage.py rotate_signing_key``: a new current key; old tokens stay valid.

The previous key stays in the JWKS until every token it signed has expired
(the longest token lifetime plus leeway); keys retired longer ago are deleted.
Running processes pick the new key up without a restart.
"""

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts import keys


class Command(BaseCommand):
    help = "Add a new current signing key to JWT_KEY_DIR and drop keys no token can need."

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.JWT_SIGNING_KEY_PEM:
            raise CommandError(
                "The signing key is fixed by JWT_PRIVATE_KEY(_FILE); rotate it by deploying a new "
                "one, or use a key directory (JWT_KEY_DIR) to rotate with this command."
            )
        new, removed = keys.rotate_key(Path(settings.JWT_KEY_DIR), keep_seconds=keys.keep_seconds())
        self.stdout.write(f"New current signing key {new.kid} in {settings.JWT_KEY_DIR}")
        for kid in removed:
            self.stdout.write(f"Removed expired key {kid}")
