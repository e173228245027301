"""Admin for todos: read-only, since a change made here would bypass the services
and so announce nothing; deleting goes through :func:`todos.services.todo_delete`
so consumers still hear of it."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from servicekit.saga.admin import ErasureAdmin

from todos import services
from todos.models import Erasure, IdempotencyKey, Todo


@admin.register(Todo)
class TodoAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "user_id", "completed", "priority", "due_date", "created_at"]
    list_filter = ["completed", "priority", ("archived_at", admin.EmptyFieldListFilter)]
    search_fields = ["title", "description", "=user_id"]
    ordering = ["-created_at"]
    date_hierarchy = "created_at"
    readonly_fields = ["created_at", "updated_at", "completed_at", "version", "archived_by_saga"]
    list_per_page = 50

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Todo | None = None) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: Todo) -> None:
        services.todo_delete(todo=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Todo]) -> None:
        for todo in queryset:
            services.todo_delete(todo=todo)


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(admin.ModelAdmin):
    list_display = ["key", "user_id", "status_code", "created_at"]
    search_fields = ["=key", "=user_id"]
    readonly_fields = [
        "user_id",
        "key",
        "request_hash",
        "status_code",
        "response_body",
        "created_at",
    ]


@admin.register(Erasure)
class TodoErasureAdmin(ErasureAdmin):
    list_display = [*ErasureAdmin.list_display, "todos"]
