"""Cases in the admin: read-only. Cases change only through the workflow services (the
API and the role pages), so that every change has its history entry and live event."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from incidents.access import visible_cases
from incidents.models import Case, CaseEvent


class ReadOnly(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class HistoryInline(admin.TabularInline):  # type: ignore[type-arg]
    model = CaseEvent
    fields = ("at", "actor", "actor_unit", "action", "from_state", "to_state", "unit", "note")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Case)
class CaseAdmin(ReadOnly):
    list_display = ("id", "category", "state", "street", "unit", "created_at", "due_at",
                    "overdue")  # fmt: skip
    list_filter = ("state", "source", "overdue", "urgent")
    list_select_related = ("category", "street", "unit")
    search_fields = ("=id", "description", "address_text")
    date_hierarchy = "created_at"
    inlines = [HistoryInline]
    exclude = ("caller_name", "caller_phone", "body_hash")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Case]:
        cases = super().get_queryset(request).defer("street__geom")
        return visible_cases(request.user, cases)
