"""The user admin: search, and lock/unlock actions that also revoke the account's tokens."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from servicekit.exceptions import ServiceError

from accounts import services
from accounts.models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "email", "is_active", "is_staff", "date_joined", "last_login"]
    list_filter = ["is_active", "is_staff", "is_superuser"]
    search_fields = ["username", "email"]
    ordering = ["-date_joined"]
    # Locking must revoke tokens, so it is an action (a service call), not a checkbox.
    readonly_fields = ["is_active", "last_login", "date_joined"]
    actions = ["lock_accounts", "unlock_accounts"]

    @admin.action(description="Lock selected accounts (no logins, tokens revoked)")
    def lock_accounts(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        self._apply(request, queryset.filter(is_active=True), services.user_lock, "Locked")

    @admin.action(description="Unlock selected accounts")
    def unlock_accounts(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        self._apply(request, queryset.filter(is_active=False), services.user_unlock, "Unlocked")

    def _apply(
        self,
        request: HttpRequest,
        queryset: QuerySet[User],
        action: Callable[..., User],
        verb: str,
    ) -> None:
        done = 0
        for user in queryset:
            try:
                action(user=user)
            except ServiceError as exc:
                self.message_user(request, f"{user.username}: {exc.detail}", messages.ERROR)
            else:
                done += 1
        self.message_user(request, f"{verb} {done} account(s).", messages.SUCCESS)
