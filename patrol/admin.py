from __future__ import annotations

from django.contrib import admin

from patrol.models import CellCoverage, Shift


@admin.register(Shift)
class ShiftAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Shifts on duty: times only, no positions (tracks are read through the API, audited)."""

    list_display = ["user", "started_at", "ended_at", "last_at"]
    list_filter = ["ended_at"]
    search_fields = ["user__username"]
    date_hierarchy = "started_at"
    readonly_fields = ["last_at", "last_geom"]
    raw_id_fields = ["user"]


@admin.register(CellCoverage)
class CellCoverageAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["day", "cell", "minutes", "km", "positions", "inspectors"]
    list_filter = ["day"]
    search_fields = ["cell__code", "cell__name"]
    raw_id_fields = ["cell"]

    def has_add_permission(self, request: object) -> bool:
        return False  # computed from the track (patrol.services.coverage_compute)
