"""API tokens in the admin: issue one (its secret is shown once, on the page that answers
the issue, and never again: only its hash is kept) and revoke them. Tokens are revoked,
not deleted, so that a token's history stays."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import ApiToken
from accounts.tokens import IssuedToken, token_issue, token_revoke


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "prefix",
        "name",
        "user",
        "created_at",
        "created_by",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    list_select_related = ("user", "created_by")
    search_fields = ("prefix", "name", "user__username")
    fields = (
        "user",
        "name",
        "expires_at",
        "prefix",
        "created_at",
        "created_by",
        "last_used_at",
        "revoked_at",
    )
    readonly_fields = ("prefix", "created_at", "created_by", "last_used_at", "revoked_at")
    raw_id_fields = ("user",)
    actions = ["revoke"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Whom an issued token acts as, and until when, never changes; only its name may.
        if obj:
            return ("user", "expires_at", *self.readonly_fields)
        return self.readonly_fields

    def save_model(self, request: HttpRequest, obj: ApiToken, form: Any, change: bool) -> None:
        if change:
            obj.save(update_fields=["name"])
            return
        issued = token_issue(
            user=obj.user,
            name=obj.name,
            expires_at=obj.expires_at,
            by=request.user,  # type: ignore[arg-type]
        )
        obj.pk, obj.prefix = issued.token.pk, issued.token.prefix
        request._api_token_issued = issued  # type: ignore[attr-defined]

    def response_add(
        self, request: HttpRequest, obj: ApiToken, post_url_continue: str | None = None
    ) -> HttpResponse:
        issued: IssuedToken = request._api_token_issued  # type: ignore[attr-defined]
        context = {
            **self.admin_site.each_context(request),
            "title": _("API 令牌已签发"),
            "opts": self.model._meta,
            "issued": issued,
            "endpoint": request.build_absolute_uri("/api/"),
        }
        # The page holds the secret: admin views are never cached (no-store).
        return TemplateResponse(request, "accounts/admin/token_issued.html", context)

    @admin.action(description=gettext_lazy("吊销所选令牌"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        count = token_revoke(token_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, _("已吊销 %(n)d 个令牌。") % {"n": count}, messages.SUCCESS)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
