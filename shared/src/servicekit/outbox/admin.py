"""The outbox in the admin: rows by state (with counts), and re-publishing."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from servicekit.outbox import services
from servicekit.outbox.models import OutboxMessage


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
    ) -> list[tuple[str, str]]:
        return [("pending", "pending"), ("published", "published")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "pending":
            return queryset.filter(published_at__isnull=True)
        if self.value() == "published":
            return queryset.filter(published_at__isnull=False)
        return queryset


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "event_type",
        "subject",
        "state",
        "created_at",
        "published_at",
        "attempts",
    ]
    list_filter = [StateFilter, "event_type"]
    show_facets = admin.ShowFacets.ALWAYS  # counts next to each state and type
    search_fields = ["=event_id", "subject"]
    ordering = ["-id"]
    actions = ["republish"]
    readonly_fields = [
        "event_id",
        "event_type",
        "subject",
        "envelope",
        "created_at",
        "published_at",
        "attempts",
        "last_error",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # events come from the service's own transactions only

    @admin.action(description="Re-publish selected events")
    def republish(self, request: HttpRequest, queryset: QuerySet[OutboxMessage]) -> None:
        count = services.republish(message_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} event(s) queued for publishing.", messages.SUCCESS)
