"""Admin of stewardship: layer owners (editable), sources, proposals, field changes (read
only), and the base layers' change forms wrapped so that an edit in the admin writes the
same field history as the API, shown under the form (masked as the record is)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from layers.access import staff_of
from layers.models import Placed
from stewardship import history
from stewardship import layers as L
from stewardship.models import FieldChange, LayerOwner, Proposal, Source, SourceKind
from stewardship.recording import record_changes


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(LayerOwner)
class LayerOwnerAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("layer", "unit")
    autocomplete_fields = ("unit",)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "layer":
            from django.contrib.contenttypes.models import ContentType

            ids = [L.content_type(m).pk for m in L.MODELS.values()]
            kwargs["queryset"] = ContentType.objects.filter(pk__in=ids)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Source)
class SourceAdmin(ReadOnlyAdmin):
    list_display = ("pk", "kind", "layer", "unit", "system", "user", "at", "file_name",
                    "inserted", "updated")  # fmt: skip
    list_filter = ("kind", "layer")
    list_select_related = ("layer", "unit", "user")


@admin.register(Proposal)
class ProposalAdmin(ReadOnlyAdmin):
    list_display = ("pk", "layer", "object_id", "proposer", "status", "created_at", "reviewer")
    list_filter = ("status", "layer")
    exclude = ("values",)  # personal data: read through the review page's masking
    list_select_related = ("layer", "proposer", "reviewer")


@admin.register(FieldChange)
class FieldChangeAdmin(ReadOnlyAdmin):
    list_display = ("source", "layer", "object_id", "field")
    list_filter = ("layer",)
    # Values are not listed here: the record's own change form shows them, masked.


class HistoryAdminMixin:
    """Writes the field history of an admin edit and shows the record's history."""

    change_form_template = "admin/stewardship/change_form_with_history.html"

    def save_model(self, request: HttpRequest, obj: Placed, form: Any, change: bool) -> None:
        layer = L.NAMES[type(obj)]
        old: dict[str, str] = {}
        if change and obj.pk is not None:
            saved = type(obj)._default_manager.filter(pk=obj.pk).first()
            old = L.record_values(saved, layer) if saved is not None else {}
        super().save_model(request, obj, form, change)  # type: ignore[misc]
        staff = staff_of(request.user)
        record_changes(
            record=obj,
            old=old,
            new=L.record_values(obj, layer),
            kind=SourceKind.EDIT,
            user=request.user,  # type: ignore[arg-type]
            unit_id=staff.unit_id if staff is not None else None,
            system="admin",
        )

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> Any:  # fmt: skip
        record = self.get_object(request, object_id)  # type: ignore[attr-defined]
        context = dict(extra_context or {})
        if record is not None:
            context["stewardship_history"] = history.record_history(request.user, record)
        return super().change_view(request, object_id, form_url, context)  # type: ignore[misc]


def _wrap_layer_admins() -> None:
    """The base layers' admins (layers.admin) with HistoryAdminMixin: registered again here
    so that layers, which this app depends on, needs no import of it."""
    for model in L.MODELS.values():
        current = admin.site._registry.get(model)
        if current is None or isinstance(current, HistoryAdminMixin):
            continue
        wrapped = type(type(current).__name__, (HistoryAdminMixin, type(current)), {})
        admin.site.unregister(model)
        admin.site.register(model, wrapped)


_wrap_layer_admins()
