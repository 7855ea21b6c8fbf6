from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from notifications.delivery import retry
from notifications.models import DeliveryState, Message, Notification, Preference


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["at", "user", "kind", "case", "proposal", "read_at"]
    list_filter = ["kind"]
    raw_id_fields = ["user", "case", "proposal"]
    search_fields = ["user__username"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["created_at", "transport", "to", "subject", "state", "attempts", "sent_at"]
    list_filter = ["transport", "state"]
    search_fields = ["to", "subject"]
    readonly_fields = ["attempts", "last_error", "sent_at", "created_at", "next_attempt_at"]
    raw_id_fields = ["notification", "case"]
    actions = ["send_again"]

    @admin.action(description=_("重新发送所选消息"))
    def send_again(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        for message in queryset.exclude(state=DeliveryState.PENDING):
            retry(message)


@admin.register(Preference)
class PreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "email", "sms", "phone", "closed", "language"]
    raw_id_fields = ["user"]
