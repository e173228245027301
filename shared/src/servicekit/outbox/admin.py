"""The outbox in the admin: rows by state (with counts), and re-publishing."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from servicekit.outbox import services
from servicekit.outbox.models import OutboxMessage
from servicekit.settings import servicekit_settings


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
    ) -> list[tuple[str, str]]:
        return [
            ("pending", "pending"),
            ("published", "published, no receipt yet"),
            ("accepted", "accepted (the consumer is on it)"),
            ("delivered", "delivered (receipt seen)"),
            ("undelivered", "undelivered (gave up)"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        most = servicekit_settings.OUTBOX_MAX_DELIVERIES
        states = {
            "pending": Q(published_at__isnull=True),
            "published": Q(published_at__isnull=False, delivered_at__isnull=True)
            & Q(deliveries__lt=most, accepted_at__isnull=True),
            "accepted": Q(accepted_at__isnull=False, delivered_at__isnull=True)
            & Q(deliveries__lt=most),
            "delivered": Q(delivered_at__isnull=False),
            "undelivered": Q(delivered_at__isnull=True, deliveries__gte=most),
        }
        value = self.value()
        return queryset.filter(states[value]) if value in states else queryset


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "event_type",
        "subject",
        "state",
        "created_at",
        "published_at",
        "deliveries",
        "accepted_at",
        "delivered_at",
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
        "deliveries",
        "accepted_at",
        "delivered_at",
        "attempts",
        "last_error",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # events come from the service's own transactions only

    @admin.action(description="Re-publish selected events")
    def republish(self, request: HttpRequest, queryset: QuerySet[OutboxMessage]) -> None:
        count = services.republish(message_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} event(s) queued for publishing.", messages.SUCCESS)
