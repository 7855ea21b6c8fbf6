"""Django admin for the dispatch engine's data."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from dispatch.models import Assignment, CalendarDay, RoutingRule


@admin.register(CalendarDay)
class CalendarDayAdmin(admin.ModelAdmin):
    """Exceptions to the Monday–Friday week. Each year's holidays are entered here once
    the State Council publishes them (around November of the year before)."""

    list_display = ("date", "is_workday", "name")
    list_filter = ("is_workday", "name")
    date_hierarchy = "date"
    search_fields = ("name",)
    ordering = ("-date",)


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    """The routing rules, in the order they are tried (dispatch.routing)."""

    list_display = ("order", "name", "active", "category", "area", "channel", "time_from",
                    "time_to", "tier", "owner_only", "unit", "auto_dispatch")  # fmt: skip
    list_display_links = ("name",)
    list_editable = ("order", "active")
    list_filter = ("active", "tier", "channel", "auto_dispatch")
    list_select_related = ("category", "area", "unit")
    search_fields = ("name",)
    autocomplete_fields = ("category", "area", "unit")
    ordering = ("order", "id")

    def get_queryset(self, request: HttpRequest) -> QuerySet[RoutingRule]:
        return super().get_queryset(request).defer("area__geom")


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    """Which rule sent which case where, and why: a record, not editable."""

    list_display = ("at", "case", "unit", "tier", "rule", "reason")
    list_select_related = ("case__category", "unit", "rule")
    list_filter = ("tier",)
    date_hierarchy = "at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
