"""Django admin for the base layers, the catalogue and the organisation.

- Maps use GridMapWidget: OpenLayers from the project's static files (vendor/ol), and no
  base map from the internet unless settings.MAP_TILE_URL names an (intranet) tile server.
- Which records a staff user may list and open is decided by layers.access, as in the
  API; personal fields of people are masked for users who may not see them.
- Placements (cell, community, street, district) are read-only: saving a record places
  its point (Placed.save); a point outside every cell is a form error, not a crash.
- Geometry text from the widgets goes through the input boundary (layers.geoinput) in
  the form field and in the widget: NaN, 1e308, a million vertices or a broken ring are
  a form error before GEOS or PROJ sees them, and are never drawn back into the form.
- Areas come from boundary imports (import_areas); an area may also be added here, and
  names and validity corrected. Codes, tiers, parents and boundaries of an existing area
  change by a dated redraw (import_areas, redraw_cells), never in place: cases point at
  it. Every save keeps the area's placement pieces in step (layers.placement), so a
  retired area (valid_to set) receives nothing new.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import admin as auth_admin
from django.contrib.auth import get_user_model
from django.contrib.gis import forms as gis_forms
from django.contrib.gis.admin import GISModelAdmin
from django.contrib.gis.db import models as gis_models
from django.contrib.gis.db.models.functions import Centroid
from django.contrib.gis.forms import OSMWidget
from django.contrib.gis.geos import GEOSGeometry
from django.core.exceptions import ValidationError
from django.db.models import Field, QuerySet
from django.forms import Script
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from layers.access import (
    PERSONAL_ACCESS,
    PersonalFields,
    can_see_personal_data,
    personal_data_scope,
    personal_fields,
    visible_records,
    with_personal_access,
)
from layers.geoinput import BadCoordinates, city_placement, parse_geometry
from layers.models import (
    CODE_LENGTH,
    PARENT_TIERS,
    Address,
    Area,
    Building,
    Category,
    Component,
    LegalEntity,
    Person,
    Placed,
    Staff,
    Tier,
    Unit,
)
from layers.signals import announce_access_change

PLACEMENT_FIELDS = ("cell", "community", "street", "district")
# Area boundaries can be megabytes: never load them just to print an area's name.
_NO_AREA_GEOMETRY = tuple(f"{field}__geom" for field in PLACEMENT_FIELDS)


class GridMapWidget(OSMWidget):
    """The GIS widget with vendored OpenLayers and an offline base layer."""

    template_name = "layers/admin/map_widget.html"

    class Media:
        extend = False
        css = {"all": ("vendor/ol/ol.css", "gis/css/ol3.css", "layers/admin/map.css")}
        js = (
            "vendor/ol/ol.js",
            "gis/js/OLMapWidget.js",
            Script("layers/admin/tile-datum.js", type="module"),
        )

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        context["map_tile_url"] = settings.MAP_TILE_URL
        if settings.MAP_TILE_DATUM in ("gcj02", "bd09"):  # wgs84 and cgcs2000 need nothing
            context["map_tile_datum"] = settings.MAP_TILE_DATUM
        # An empty map opens over the city in the data (storage is WGS 84 degrees).
        centre = (
            Area.objects.current()
            .filter(tier=Tier.CITY)
            .annotate(centre=Centroid("geom"))
            .values_list("centre", flat=True)
            .first()
        )
        if centre is not None:
            context["default_lon"], context["default_lat"] = centre.x, centre.y
        return context

    def deserialize(self, value: Any) -> GEOSGeometry | None:
        # Also called to draw a refused form again: text that did not pass the boundary
        # is not drawn (writing 1e308 out as WKT kills the process).
        try:
            return parse_geometry(value, srid=self.map_srid, field="geom")
        except BadCoordinates:
            return None


class CheckedGeometryField(gis_forms.GeometryField):
    """A geometry form field that reads text only through the input boundary
    (layers.geoinput.parse_geometry) and answers in the storage SRID."""

    def to_python(self, value: Any) -> GEOSGeometry | None:
        if value in self.empty_values:
            return None
        if isinstance(value, GEOSGeometry):
            return value  # the initial value, from the database
        srid = getattr(self.widget, "map_srid", None) or self.srid or settings.GRID_SRID
        try:
            return parse_geometry(
                value, srid=srid, field=str(self.label or "geom"), geom_type=self.geom_type
            )
        except BadCoordinates as error:
            raise ValidationError(error.message, code=error.code) from None


class MapAdmin(GISModelAdmin):
    gis_widget = GridMapWidget
    # An empty map opens over the city (GridMapWidget), at a city's zoom.
    gis_widget_kwargs = {"attrs": {"default_zoom": 11}}

    def formfield_for_dbfield(
        self, db_field: Field[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> forms.Field | None:
        if isinstance(db_field, gis_models.GeometryField):
            kwargs["form_class"] = CheckedGeometryField
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class _AreaListFilter(admin.SimpleListFilter):
    """Filter on the area of one tier a record is placed in, chosen by code."""

    tier: Tier

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        areas = Area.objects.current().filter(tier=self.tier)
        parent = self._parent_code(request)
        if parent:
            areas = areas.filter(code__startswith=parent)
        return [(code, f"{code} {name}") for code, name in areas.values_list("code", "name")]

    def _parent_code(self, request: HttpRequest) -> str | None:
        return None

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        code = self.value()
        if not code:
            return queryset
        return self.filter_code(queryset, code)

    def filter_code(self, queryset: QuerySet[Any], code: str) -> QuerySet[Any]:
        ids = Area.objects.filter(tier=self.tier, code=code).values("pk")
        return queryset.filter(**{f"{self.parameter_name}_id__in": ids})


class DistrictFilter(_AreaListFilter):
    title = _("区")
    parameter_name = "district"
    tier = Tier.DISTRICT


class StreetFilter(_AreaListFilter):
    title = _("街道")
    parameter_name = "street"
    tier = Tier.STREET

    def _parent_code(self, request: HttpRequest) -> str | None:
        # With a district chosen, offer only its streets (a city has ~170).
        return request.GET.get(DistrictFilter.parameter_name) or None


class AreaDistrictFilter(DistrictFilter):
    """For areas themselves: the district and everything under it, by code prefix."""

    def filter_code(self, queryset: QuerySet[Any], code: str) -> QuerySet[Any]:
        return queryset.filter(code__startswith=code)


class AreaStreetFilter(StreetFilter):
    def filter_code(self, queryset: QuerySet[Any], code: str) -> QuerySet[Any]:
        return queryset.filter(code__startswith=code)


class PlacedForm(forms.ModelForm):
    """Refuses a point outside the city here, before Placed.save() would raise."""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        point = cleaned.get("geom")
        if point is not None:
            try:
                city_placement(point, field=str(self.fields["geom"].label or "geom"))
            except BadCoordinates as error:
                self.add_error("geom", error.message)
        return cleaned


class PlacedAdmin(MapAdmin):
    """A base layer: only what layers.access lets the user see; placements read-only."""

    form = PlacedForm
    list_filter: ClassVar[tuple[Any, ...]] = (DistrictFilter, StreetFilter)
    list_select_related: ClassVar[tuple[str, ...]] = ("cell", "street", "district")
    readonly_fields = (*PLACEMENT_FIELDS, "updated_at")
    list_per_page = 50

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        rows = super().get_queryset(request).defer(*_NO_AREA_GEOMETRY)
        return visible_records(request.user, rows)

    @admin.display(description=_("网格"), ordering="cell__code")
    def cell_code(self, record: Placed) -> str:
        return record.cell.code if record.cell else "-"

    @admin.display(description=_("街道"), ordering="street__code")
    def street_name(self, record: Placed) -> str:
        return record.street.name if record.street else "-"

    @admin.display(description=_("区"), ordering="district__code")
    def district_name(self, record: Placed) -> str:
        return record.district.name if record.district else "-"


PLACEMENT_COLUMNS = ("cell_code", "street_name", "district_name")

PERSONAL = ("name", "id_number", "phone")
MASKED = ("masked_name", "masked_id_number", "masked_phone")


@admin.register(Person)
class PersonAdmin(PlacedAdmin):
    list_display = (*MASKED, "person_type", *PLACEMENT_COLUMNS)
    list_display_links = ("masked_name",)
    list_filter = ("person_type", DistrictFilter, StreetFilter)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return with_personal_access(request.user, super().get_queryset(request))

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        # Searching by name or ID number would tell a user who only sees masked values
        # whether a given person lives in their area, so only users who may see those
        # fields unmasked may search on them.
        if personal_data_scope(request.user) is False:
            return ("household", "address", "=cell__code")
        return ("name", "=id_number", "phone", "household", "address", "=cell__code")

    def _masked(self, request: HttpRequest, person: Person | None) -> bool:
        return person is not None and not can_see_personal_data(request.user, person)

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> Any:
        return PERSONAL if self._masked(request, obj) else ()

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        readonly = tuple(super().get_readonly_fields(request, obj))
        return (*MASKED, *readonly) if self._masked(request, obj) else readonly

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_fields(request, obj))
        if self._masked(request, obj):
            # The masked copies stand where the real fields would be, and only once.
            fields = [f for f in fields if f not in MASKED]
            fields[0:0] = MASKED
        return fields

    @staticmethod
    def _shown(person: Person) -> PersonalFields:
        # The queryset carries with_personal_access()'s verdict; without it, mask.
        unmasked = bool(getattr(person, PERSONAL_ACCESS, False))
        return personal_fields(person, unmasked=unmasked)

    @admin.display(description=_("姓名"), ordering="name")
    def masked_name(self, person: Person) -> str:
        return self._shown(person)["name"]

    @admin.display(description=_("公民身份号码"))
    def masked_id_number(self, person: Person) -> str:
        return self._shown(person)["id_number"]

    @admin.display(description=_("联系电话"))
    def masked_phone(self, person: Person) -> str:
        return self._shown(person)["phone"]


@admin.register(LegalEntity)
class LegalEntityAdmin(PlacedAdmin):
    list_display = ("credit_code", "name", "entity_type", "status", *PLACEMENT_COLUMNS)
    list_filter = ("status", DistrictFilter, StreetFilter)
    search_fields = ("=credit_code", "name", "address")


@admin.register(Component)
class ComponentAdmin(PlacedAdmin):
    list_display = ("code", "category", "name", "state", *PLACEMENT_COLUMNS)
    list_filter = ("state", "category__major_code", DistrictFilter, StreetFilter)
    list_select_related = ("category", "cell", "street", "district")
    search_fields = ("code", "name", "competent_unit", "owner_unit", "maintainer_unit")
    # A unit picked here names the text beside it; a text typed names its unit by name
    # or code when one matches (layers.owners).
    autocomplete_fields = ("category", "competent", "owner", "maintainer")


@admin.register(Address)
class AddressAdmin(PlacedAdmin):
    list_display = ("code", "text", "building_name", *PLACEMENT_COLUMNS)
    search_fields = ("code", "text", "road", "building_name")


@admin.register(Building)
class BuildingAdmin(PlacedAdmin):
    list_display = ("code", "name", "address_text", "floors", *PLACEMENT_COLUMNS)
    search_fields = ("code", "name", "address_text")


class CurrentFilter(admin.SimpleListFilter):
    title = _("现行")
    parameter_name = "current"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", str(_("现行"))), ("no", str(_("已失效")))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(valid_to__isnull=True)
        if self.value() == "no":
            return queryset.filter(valid_to__isnull=False)
        return queryset


class AreaForm(forms.ModelForm):  # type: ignore[type-arg]
    """A new area: its code must fit its tier and extend its parent's (as import_areas
    checks); an existing area's code, tier, parent and boundary are read-only."""

    class Meta:
        model = Area
        fields = ("code", "tier", "name", "name_en", "parent", "valid_from", "valid_to", "geom")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.instance.pk is not None:
            return data
        tier, code, parent = data.get("tier"), data.get("code") or "", data.get("parent")
        if not tier:
            return data
        length = CODE_LENGTH[Tier(tier)]
        if not (code.isascii() and code.isdigit() and len(code) == length):
            self.add_error(
                "code", _("%(tier)s编码应为%(n)s位数字。") % {"tier": Tier(tier).label, "n": length}
            )
        allowed = PARENT_TIERS.get(Tier(tier), ())
        if not allowed:
            if parent is not None:
                self.add_error("parent", _("市没有上级区域。"))
            return data
        if parent is None or parent.valid_to is not None or parent.tier not in allowed:
            names = "、".join(str(t.label) for t in allowed)
            self.add_error("parent", _("请选择现行的上级区域（%(tiers)s）。") % {"tiers": names})
            return data
        prefix = (
            parent.code[:4] if parent.tier == Tier.CITY and tier == Tier.DISTRICT else parent.code
        )
        if not code.startswith(prefix):
            self.add_error("code", _("编码应以上级区域编码 %(code)s 开头。") % {"code": prefix})
        return data


@admin.register(Area)
class AreaAdmin(MapAdmin):
    list_display = ("code", "name", "tier", "parent", "valid_from", "valid_to")
    list_filter = ("tier", CurrentFilter, AreaDistrictFilter, AreaStreetFilter)
    list_select_related = ("parent",)
    search_fields = ("^code", "name", "name_en")
    readonly_fields = ("tier", "code", "parent", "valid_from")
    fields = ("code", "tier", "name", "name_en", "parent", "valid_from", "valid_to", "geom")
    form = AreaForm
    autocomplete_fields = ("parent",)
    list_per_page = 50

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # A new area takes all its fields from the form; an existing one keeps its code,
        # tier, parent and start (a redraw changes those, with a successor row).
        return () if obj is None else self.readonly_fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Area]:
        # The list never shows boundaries; the change form loads its own row in full.
        return super().get_queryset(request).defer("parent__geom")

    def formfield_for_dbfield(
        self, db_field: Field[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> forms.Field | None:
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "parent" and field is not None:
            field.queryset = Area.objects.current().defer("geom")  # type: ignore[attr-defined]
        return field

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is not None and "geom" in form.base_fields:
            # Shown on the map, never taken from the form: an existing area's boundary
            # changes by a redraw (import_areas, redraw_cells).
            form.base_fields["geom"].disabled = True
        return form

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = (
        "kind",
        "major_code",
        "minor_code",
        "name",
        "time_limit",
        "limit_unit",
        "urgent_by_default",
        "active",
    )
    list_display_links = ("name",)
    list_filter = ("kind", "active", "urgent_by_default", "major_code")
    search_fields = ("major_code", "minor_code", "name", "name_en")
    ordering = ("kind", "major_code", "minor_code")


@admin.register(Unit)
class UnitAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "tier", "kind", "unit_type", "area")
    list_filter = ("tier", "kind", "unit_type")
    list_select_related = ("area",)
    search_fields = ("name", "=code", "^area__code", "area__name")
    autocomplete_fields = ("area",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Unit]:
        return super().get_queryset(request).defer("area__geom")


@admin.register(Staff)
class StaffAdmin(admin.ModelAdmin):
    list_display = ("user", "role", "unit")
    list_filter = ("role",)
    list_select_related = ("user", "unit")
    search_fields = ("user__username", "user__first_name", "user__last_name", "unit__name")
    autocomplete_fields = ("user", "unit", "cells")

    # A changed post ends what the old one allowed (the user's live map closes): told
    # after commit, once the cells are saved too.
    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        before = form.initial.get("user") if change else None
        announce_access_change([u for u in {form.instance.user_id, before} if u])

    def delete_model(self, request: HttpRequest, obj: Staff) -> None:
        super().delete_model(request, obj)
        announce_access_change([obj.user_id])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Staff]) -> None:
        users = list(queryset.values_list("user_id", flat=True))
        super().delete_queryset(request, queryset)
        announce_access_change(users)


class UserAdmin(auth_admin.UserAdmin):  # type: ignore[type-arg]
    """Django's user admin; a deactivated, changed or deleted user's access ends at once
    (their live map closes), told after commit."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change:
            announce_access_change([obj.pk])

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        user_id = obj.pk
        super().delete_model(request, obj)
        announce_access_change([user_id])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        users = list(queryset.values_list("pk", flat=True))
        super().delete_queryset(request, queryset)
        announce_access_change(users)


admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), UserAdmin)
