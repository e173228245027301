"""The operator's view: notifications by status (with counts), re-send, preferences, events,
the account-deletion saga's erasures."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from servicekit.saga.admin import ErasureAdmin

from notifications import services
from notifications.models import Erasure, Notification, Preference, ProcessedEvent


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "event_type",
        "user_id",
        "recipient",
        "subject",
        "status",
        "attempts",
        "created_at",
        "sent_at",
    ]
    list_filter = ["status", "event_type"]
    show_facets = admin.ShowFacets.ALWAYS  # counts next to each status
    search_fields = ["event_id", "recipient", "subject", "=user_id"]
    date_hierarchy = "created_at"
    actions = ["resend"]
    readonly_fields = [field.name for field in Notification._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # notifications come from events only

    @admin.action(description="Re-send selected failed notifications")
    def resend(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        count = services.notification_resend(notification_ids=queryset.values_list("id", flat=True))
        skipped = queryset.count() - count
        self.message_user(request, f"{count} notification(s) queued for delivery.")
        if skipped:
            self.message_user(
                request,
                f"{skipped} selected notification(s) were not failed and were left alone.",
                messages.WARNING,
            )


@admin.register(Preference)
class PreferenceAdmin(admin.ModelAdmin):
    list_display = ["user_id", "email_on_todo_completed", "updated_at"]
    list_filter = ["email_on_todo_completed"]
    search_fields = ["=user_id"]


@admin.register(ProcessedEvent)
class ProcessedEventAdmin(admin.ModelAdmin):
    list_display = ["event_id", "event_type", "outcome", "reason", "received_at"]
    list_filter = ["outcome", "event_type"]
    show_facets = admin.ShowFacets.ALWAYS
    search_fields = ["event_id", "reason"]
    readonly_fields = [field.name for field in ProcessedEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Erasure)
class NotificationErasureAdmin(ErasureAdmin):
    list_display = [*ErasureAdmin.list_display, "notifications", "preferences"]
