"""``python -m manage_all.ensure_admin`` in a project's folder: its superuser ``admin``.

Creates the user, or makes an existing one an active superuser again, with the
password in ``ADMIN_PASSWORD`` (``./manage-all.sh demo`` sets a new one each time).
"""

from __future__ import annotations

import os

import django


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.contrib.auth import get_user_model

    admin, _ = get_user_model().objects.get_or_create(
        username="admin", defaults={"email": "admin@example.com"}
    )
    # (Every project's user model has Django's staff and superuser flags.)
    admin.is_active = admin.is_staff = admin.is_superuser = True  # type: ignore[attr-defined]
    admin.set_password(os.environ["ADMIN_PASSWORD"])
    admin.save()


if __name__ == "__main__":
    main()
