"""Open311 in the admin: client applications, their API keys, and the extra fields of
services. A key is shown once, on the page that answers its issue, and never again: only
its hash is kept. Keys are revoked, not deleted, so that a key's history stays."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from open311.clients import IssuedKey, client_save, key_issue, key_revoke
from open311.models import ApiKey, ClientApplication, ServiceAttribute


class KeyInline(admin.TabularInline):  # type: ignore[type-arg]
    model = ApiKey
    fields = ("prefix", "label", "created_at", "created_by", "last_used_at", "revoked_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ClientApplication)
class ClientApplicationAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "channel", "scope", "unit", "user", "created_at")
    list_filter = ("channel",)
    list_select_related = ("scope", "unit", "user")
    search_fields = ("name", "contact")
    fields = ("name", "contact", "channel", "scope", "unit", "user", "created_at")
    readonly_fields = ("user", "created_at")
    autocomplete_fields = ("scope", "unit")
    inlines = [KeyInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ClientApplication]:
        return super().get_queryset(request).defer("scope__geom")

    def save_model(
        self, request: HttpRequest, obj: ClientApplication, form: Any, change: bool
    ) -> None:
        client_save(obj)

    def response_add(
        self, request: HttpRequest, obj: ClientApplication, post_url_continue: str | None = None
    ) -> HttpResponse:
        # A new application needs a key: straight on to issuing its first one.
        url = reverse("admin:open311_apikey_add")
        return HttpResponseRedirect(f"{url}?application={obj.pk}")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # its cases name its service user; revoke its keys instead


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "prefix",
        "application",
        "label",
        "created_at",
        "created_by",
        "last_used_at",
        "revoked_at",
    )
    list_filter = (("revoked_at", admin.EmptyFieldListFilter), "application")
    list_select_related = ("application", "created_by")
    search_fields = ("prefix", "label", "application__name")
    fields = (
        "application",
        "label",
        "prefix",
        "created_at",
        "created_by",
        "last_used_at",
        "revoked_at",
    )
    readonly_fields = ("prefix", "created_at", "created_by", "last_used_at", "revoked_at")
    actions = ["revoke"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # The application of an issued key never changes; only its note may.
        return ("application", *self.readonly_fields) if obj else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            obj.save(update_fields=["label"])
            return
        issued = key_issue(application=obj.application, label=obj.label, by=request.user)  # type: ignore[arg-type]
        obj.pk, obj.prefix = issued.key.pk, issued.key.prefix
        request._open311_issued = issued  # type: ignore[attr-defined]

    def response_add(
        self, request: HttpRequest, obj: ApiKey, post_url_continue: str | None = None
    ) -> HttpResponse:
        issued: IssuedKey = request._open311_issued  # type: ignore[attr-defined]
        context = {
            **self.admin_site.each_context(request),
            "title": _("API 密钥已签发"),
            "opts": self.model._meta,
            "issued": issued,
            "application": issued.key.application,
            "endpoint": request.build_absolute_uri("/open311/v2"),
        }
        # The page holds the secret: admin views are never cached (no-store).
        return TemplateResponse(request, "open311/admin/key_issued.html", context)

    @admin.action(description=gettext_lazy("吊销所选密钥"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        count = key_revoke(key_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, _("已吊销 %(n)d 个密钥。") % {"n": count}, messages.SUCCESS)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ServiceAttribute)
class ServiceAttributeAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("category", "order", "code", "description", "datatype", "required")
    list_filter = ("datatype", "required", "category__kind")
    list_select_related = ("category",)
    search_fields = ("code", "description", "category__name")
    autocomplete_fields = ("category",)
    fields = (
        "category",
        "order",
        "code",
        "description",
        "datatype",
        "required",
        "variable",
        "datatype_description",
        "choices",
    )
