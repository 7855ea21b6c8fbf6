"""Django admin for the dispatch engine's data."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dispatch import holidays
from dispatch.models import (
    Assignment,
    CalendarDay,
    HotlineTerm,
    RoutingRule,
    StageLimit,
    TicketKind,
)


class CalendarFileForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("节假日文件（CSV）"))


@admin.register(CalendarDay)
class CalendarDayAdmin(admin.ModelAdmin):
    """Exceptions to the Monday–Friday week. Each year's holidays are imported here
    (导入节假日: a CSV file, dispatch/holidays.py) or entered one by one, once the State
    Council publishes them (around November of the year before). The list warns when
    fewer than settings.CALENDAR_MIN_DAYS_AHEAD days of them lie ahead."""

    list_display = ("date", "is_workday", "name")
    list_filter = ("is_workday", "name")
    date_hierarchy = "date"
    search_fields = ("name",)
    ordering = ("-date",)

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("import/", view(self.import_view), name="dispatch_calendarday_import"),
            path("export/", view(self.export_view), name="dispatch_calendarday_export"),
            *super().get_urls(),
        ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        warning = holidays.shortage_message()
        if warning and request.method == "GET":
            messages.warning(request, warning)
        return super().changelist_view(request, extra_context)

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not (self.has_add_permission(request) and self.has_delete_permission(request)):
            raise PermissionDenied
        form = CalendarFileForm(request.POST or None, request.FILES or None)
        errors: list[tuple[int, str]] = []
        if request.method == "POST" and form.is_valid():
            try:
                result = holidays.import_calendar(form.cleaned_data["file"].read())
            except UnicodeDecodeError:
                errors = [(1, _("文件不是 UTF-8 编码的文本"))]
            else:
                errors = result.errors
                if not errors:
                    messages.success(request, result.summary())
                    return HttpResponseRedirect(reverse("admin:dispatch_calendarday_changelist"))
            messages.error(request, _("工作日历未导入：%(count)d 行有误") % {"count": len(errors)})
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("导入节假日"),
            "form": form,
            "errors": errors,
        }
        return TemplateResponse(request, "admin/dispatch/calendarday/import.html", context)

    def export_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        response = HttpResponse(
            holidays.rows_of(CalendarDay.objects.order_by("date")),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = 'attachment; filename="calendar.csv"'
        return response


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


@admin.register(HotlineTerm)
class HotlineTermAdmin(admin.ModelAdmin):
    """The 12345 reply and call-back limits per term (dispatch.hotline): a change applies
    to tickets received (or reopened) afterwards."""

    list_display = ("term", "reply_limit", "reply_unit", "callback_limit", "callback_unit",
                    "callback_tries")  # fmt: skip
    list_editable = ("reply_limit", "reply_unit", "callback_limit", "callback_unit",
                     "callback_tries")  # fmt: skip


@admin.register(TicketKind)
class TicketKindAdmin(admin.ModelAdmin):
    """The 12345 ticket types: their default reply term, and which the hotline may close
    on the phone (直接办结)."""

    list_display = ("ticket_type", "default_term", "direct_close")
    list_editable = ("default_term", "direct_close")


@admin.register(StageLimit)
class StageLimitAdmin(admin.ModelAdmin):
    """The limits of the stages before dispatch (立案), counted from the intake."""

    list_display = ("stage", "limit", "unit")
    list_editable = ("limit", "unit")
