"""The saga console: every saga, its step timeline, and what an operator may do."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from sagas import engine
from sagas.models import Saga, SagaStep


class SagaStepInline(admin.TabularInline):
    model = SagaStep
    fields = readonly_fields = (
        "position",
        "name",
        "direction",
        "status",
        "attempts",
        "first_attempted_at",
        "finished_at",
        "duration",
        "last_error",
    )
    ordering = ["position"]
    extra = 0
    can_delete = False

    @admin.display(description="duration")
    def duration(self, step: SagaStep) -> str:
        return "" if step.duration_ms is None else f"{step.duration_ms} ms"

    def has_add_permission(self, request: HttpRequest, obj: Saga | None = None) -> bool:
        return False


@admin.register(Saga)
class SagaAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "kind",
        "username",
        "user_id",
        "status",
        "waiting",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "kind"]
    search_fields = ["=id", "username", "=user_id"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "id",
        "kind",
        "user_id",
        "username",
        "status",
        "reason",
        "compensation_requested",
        "next_attempt_at",
        "lease_owner",
        "lease_expires_at",
        "created_at",
        "updated_at",
        "finished_at",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    ("id", "kind"),
                    ("username", "user_id"),
                    ("status", "reason"),
                    ("created_at", "finished_at"),
                ]
            },
        ),
        (
            "Worker",
            {
                "classes": ["collapse"],
                "fields": [
                    "compensation_requested",
                    "next_attempt_at",
                    ("lease_owner", "lease_expires_at"),
                    "updated_at",
                ],
            },
        ),
    ]
    inlines = [SagaStepInline]
    actions = ["retry_step", "compensate"]

    @admin.display(description="waiting for", ordering="next_attempt_at")
    def waiting(self, saga: Saga) -> str:
        if not saga.is_active:
            return ""
        if saga.waits_for_operator:
            return "an operator"
        return f"next attempt at {saga.next_attempt_at:%H:%M:%S}" if saga.next_attempt_at else ""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # sagas start from the API (DELETE /users/me)

    def has_change_permission(self, request: HttpRequest, obj: Saga | None = None) -> bool:
        return False  # state changes only through the engine and the actions below

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # it would not ask each saga (below)
        return actions

    def has_delete_permission(self, request: HttpRequest, obj: Saga | None = None) -> bool:
        # A running saga's row is its only memory: deleting it would strand the account.
        if obj is not None and obj.is_active:
            return False
        return super().has_delete_permission(request, obj)

    @admin.action(description="Retry the current step now", permissions=["view"])
    def retry_step(self, request: HttpRequest, queryset: QuerySet[Saga]) -> None:
        retried = [saga for saga in queryset if engine.retry_now(saga)]
        self._report(request, retried, queryset, "retried", "not running any more")

    @admin.action(description="Compensate (undo and fail the saga)", permissions=["view"])
    def compensate(self, request: HttpRequest, queryset: QuerySet[Saga]) -> None:
        asked = [saga for saga in queryset if engine.request_compensation(saga)]
        self._report(request, asked, queryset, "set to compensate", "past the point of no return")

    def _report(
        self,
        request: HttpRequest,
        done: list[Saga],
        queryset: QuerySet[Saga],
        verb: str,
        why_not: str,
    ) -> None:
        if done:
            self.message_user(request, f"{len(done)} saga(s) {verb}.", messages.SUCCESS)
        skipped = queryset.count() - len(done)
        if skipped:
            self.message_user(request, f"{skipped} saga(s) skipped: {why_not}.", messages.WARNING)
