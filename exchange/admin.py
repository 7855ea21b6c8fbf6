from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from exchange import webhooks
from exchange.models import ProvincialTicket, Webhook, WebhookAttempt, WebhookDelivery


@admin.register(ProvincialTicket)
class ProvincialTicketAdmin(admin.ModelAdmin):
    list_display = ["ticket_no", "ticket_type", "case", "imported_at", "exported_at"]
    search_fields = ["ticket_no"]
    raw_id_fields = ["case"]


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    list_display = ["name", "unit", "url", "active"]
    raw_id_fields = ["unit"]


class AttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["at", "status", "error", "duration_ms"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "webhook", "kind", "seq", "state", "attempts", "delivered_at"]
    list_filter = ["state", "webhook"]
    readonly_fields = ["webhook", "seq", "kind", "body", "attempts", "created_at",
                       "delivered_at", "replay_of"]  # fmt: skip
    inlines = [AttemptInline]
    actions = ["replay"]

    @admin.action(description=_("重放所选推送"))
    def replay(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        for delivery in queryset:
            webhooks.replay(delivery)
