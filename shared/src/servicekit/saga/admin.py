"""A read-only admin for a service's erasure records (register it with the concrete model)::

@admin.register(Erasure)
class TodoErasureAdmin(ErasureAdmin):
    list_display = [*ErasureAdmin.list_display, "todos"]
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest


class ErasureAdmin(admin.ModelAdmin):
    list_display = ["saga_id", "user_id", "status", "created_at", "updated_at"]
    list_filter = ["status"]
    search_fields = ["=saga_id", "=user_id"]
    ordering = ["-created_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # records come from the saga's calls only
