"""What the case API reads and writes. Inputs are checked for type and shape here; the
rules of the domain (placement, scope, states) are checked by the services."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import TextChoices
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from dispatch import holidays
from dispatch.calendar import office_hours
from dispatch.models import Assignment, CasePart, ExtensionKind, ExtensionRequest
from gridmgmt.serializers import FieldsBuiltOnce
from incidents.access import caller_fields
from incidents.models import (
    Case,
    CaseEvent,
    CasePhoto,
    Channel,
    ReplyTerm,
    Satisfaction,
    Source,
    State,
    TicketType,
)
from layers.api.filters import CoordinateField, DatumField, city_point, location_point
from layers.datum import DEFAULT_DATUM, Datum, point_from_storage
from layers.models import Area, Category, Unit
from layers.validators import InvalidCode, validate_phone

# ---- inputs -------------------------------------------------------------------------


class LocationIn(serializers.Serializer[Any]):
    # lon/lat pass the input boundary (layers.geoinput): finite, in range, in the datum's.
    lon = CoordinateField(axis="lon", help_text="Longitude in `datum`.")
    lat = CoordinateField(axis="lat", help_text="Latitude in `datum`.")
    datum = DatumField(default=DEFAULT_DATUM, help_text="wgs84 (default), gcj02, bd09 …")
    accuracy_m = serializers.FloatField(required=False, allow_null=True, min_value=0)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        location_point(attrs)
        return attrs


class ReportIn(LocationIn):
    """An inspector's report (multipart/form-data when it carries photos)."""

    client_uuid = serializers.UUIDField(
        help_text="The phone's own id for this report: resending it returns the same case."
    )
    category = serializers.IntegerField(help_text="A subcategory id of the catalogue.")
    description = serializers.CharField(max_length=4000)
    urgent = serializers.BooleanField(required=False, allow_null=True, default=None)
    component_code = serializers.CharField(required=False, allow_blank=True, default="")
    entity = serializers.IntegerField(required=False, allow_null=True, default=None)
    photos = serializers.ListField(
        child=serializers.FileField(), required=False, default=list, allow_empty=True
    )


class TicketIn(serializers.Serializer[Any]):
    """A 12345 work order: confirm a geocoded `address_id`, or give a point on the map."""

    client_uuid = serializers.UUIDField(required=False, allow_null=True, default=None)
    channel = serializers.ChoiceField(choices=[c for c in Channel.choices if c[0] != "app"])
    category = serializers.IntegerField()
    description = serializers.CharField(max_length=4000)
    address_text = serializers.CharField(max_length=200)
    address_id = serializers.IntegerField(required=False, allow_null=True, default=None)
    lon = CoordinateField(axis="lon", required=False, allow_null=True, default=None)
    lat = CoordinateField(axis="lat", required=False, allow_null=True, default=None)
    datum = DatumField(default=DEFAULT_DATUM)
    caller_name = serializers.CharField(max_length=50, required=False, allow_blank=True)
    caller_phone = serializers.CharField(max_length=30, required=False, allow_blank=True)
    urgent = serializers.BooleanField(required=False, allow_null=True, default=None)
    ticket_type = serializers.ChoiceField(
        choices=TicketType.choices, required=False, allow_blank=True, default="",
        help_text="咨询 consult, 求助 help, 投诉 complaint, 举报 tipoff, 建议 suggestion, "
        "表扬 praise, 其他 other. A typed ticket gets a ticket number and a reply deadline.",
    )  # fmt: skip
    reply_term = serializers.ChoiceField(
        choices=ReplyTerm.choices, required=False, allow_blank=True, default="",
        help_text="The reply deadline's class; empty: the type's default (urgent: 紧急).",
    )  # fmt: skip
    notify_on_close = serializers.BooleanField(
        required=False, default=False,
        help_text="The caller asked for an SMS when the case is closed (结案时短信告知).",
    )  # fmt: skip

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if (attrs["lon"] is None) != (attrs["lat"] is None):
            raise serializers.ValidationError({"lat": [_("lon 和 lat 须同时给出。")]})
        if attrs["lon"] is not None:
            location_point(attrs)
        return attrs


class ActionIn(serializers.Serializer[Any]):
    """What every case action takes: the state the actor saw when deciding."""

    expected_state = serializers.ChoiceField(
        choices=Case._meta.get_field("state").choices or [],
        required=False, allow_null=True, default=None,
        help_text="The case's state as the actor saw it: if it changed meanwhile, the "
        "action is refused with 409 (of two actions decided on one state, one wins).",
    )  # fmt: skip


class NoteIn(ActionIn):
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)


class ReasonIn(ActionIn):
    reason = serializers.CharField(max_length=4000)


class MergeIn(NoteIn):
    into = serializers.IntegerField(help_text="The open case this report duplicates.")


CO_UNITS_HELP = (
    "Co-units (协办) beside the lead unit: each gets its own part to sign for (co_sign) "
    "and report on (co_handle). Checked like `unit`; not the lead, not one already."
)


class DispatchIn(NoteIn):
    unit = serializers.IntegerField(
        required=False, allow_null=True, default=None,
        help_text="A unit to dispatch to instead of the routing rules' choice.",
    )  # fmt: skip
    co_units = serializers.ListField(
        child=serializers.IntegerField(), required=False, default=list, max_length=20,
        help_text=CO_UNITS_HELP,
    )  # fmt: skip


class ExtensionIn(ReasonIn):
    kind = serializers.ChoiceField(choices=ExtensionKind.choices)
    hours = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1)


class HandleIn(ActionIn):
    note = serializers.CharField(max_length=4000)
    photos = serializers.ListField(child=serializers.FileField(), allow_empty=False)


class VerifyIn(NoteIn):
    passed = serializers.BooleanField()
    photos = serializers.ListField(
        child=serializers.FileField(), required=False, default=list, allow_empty=True
    )


class VerifyAsIn(NoteIn):
    """verify_pass / verify_fail: the outcome is in the action's name."""

    photos = serializers.ListField(
        child=serializers.FileField(), required=False, default=list, allow_empty=True
    )


class ReplyIn(ActionIn):
    """答复 (the unit), or 直接办结 (the hotline: the answer given on the phone)."""

    reply = serializers.CharField(max_length=4000, help_text="The answer to the caller.")


class CallbackIn(NoteIn):
    """回访: one call to the caller. Not reached: counted as a try; after the term's number
    of tries the call-back is recorded as not reached."""

    reached = serializers.BooleanField()
    satisfaction = serializers.ChoiceField(
        choices=Satisfaction.choices, required=False, allow_blank=True, default="",
        help_text="When reached: satisfied (满意), basic (基本满意) or dissatisfied (不满意, "
        "reopens the case: 重办).",
    )  # fmt: skip


class RedispatchIn(ReasonIn):
    unit = serializers.IntegerField(help_text="The unit the case moves to.")
    co_units = serializers.ListField(
        child=serializers.IntegerField(), required=False, default=list, max_length=20,
        help_text=CO_UNITS_HELP + " The case's parts so far keep going.",
    )  # fmt: skip


class SplitChildIn(serializers.Serializer[Any]):
    category = serializers.IntegerField(help_text="A subcategory of the catalogue.")
    unit = serializers.IntegerField(
        required=False, allow_null=True, default=None,
        help_text="The unit it goes to; empty: the routing rules' choice.",
    )  # fmt: skip
    description = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=4000,
        help_text="Its own description; empty: the parent's.",
    )  # fmt: skip


class SplitIn(NoteIn):
    """拆分: two or more child cases, each filed and dispatched at once."""

    children = SplitChildIn(many=True)


class CoHandleIn(ActionIn):
    """协办反馈: the co-unit's report on its part, with photos."""

    note = serializers.CharField(max_length=4000)
    photos = serializers.ListField(child=serializers.FileField(), allow_empty=False)


@extend_schema_field(
    {"type": "string", "description": "A date (the end of that day, local time) or a datetime."}
)
class DeadlineField(serializers.Field):  # type: ignore[type-arg]
    """A date or a datetime: a date means the end of that day in the city's time zone."""

    default_error_messages = {"invalid": _("请填写日期(YYYY-MM-DD)或日期时间(ISO 8601)。")}

    def to_internal_value(self, value: Any) -> dt.datetime:
        text = str(value).strip()
        try:
            if len(text) == 10:
                day = dt.date.fromisoformat(text)
                return timezone.make_aware(dt.datetime.combine(day, dt.time(23, 59, 59)))
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            self.fail("invalid")
        return moment if timezone.is_aware(moment) else timezone.make_aware(moment)

    def to_representation(self, value: Any) -> str:
        return str(value.isoformat())


class SuperviseIn(ActionIn):
    note = serializers.CharField(max_length=4000, help_text="What the unit is pressed to do.")
    due_at = DeadlineField(help_text="By when (a date: the end of that day, local time).")


class DatumQuery(serializers.Serializer[Any]):
    datum = DatumField(default=DEFAULT_DATUM, required=False)


class DuplicatesNearIn(DatumQuery):
    """A case about to be filed: its category and place (a standard address or a point)."""

    category = serializers.IntegerField()
    address_id = serializers.IntegerField(required=False, allow_null=True, default=None)
    lon = CoordinateField(axis="lon", required=False, allow_null=True, default=None)
    lat = CoordinateField(axis="lat", required=False, allow_null=True, default=None)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["address_id"] is None and (attrs["lon"] is None or attrs["lat"] is None):
            raise serializers.ValidationError({"address_id": [_("请给出标准地址或地图上的位置。")]})
        # The point, through the input boundary (finite, in range, in the datum's range,
        # in the city): the view uses it as it is, nothing else converts it again.
        attrs["point"] = None
        if attrs["address_id"] is None:
            attrs["point"] = city_point(location_point(attrs), field="lon")
        return attrs


# Read by the list's pagination (layers.api.pagination) and DRF's format override.
PAGE_PARAMETERS = ("limit", "offset", "format")


class CaseListQuery(DatumQuery):
    state = serializers.MultipleChoiceField(choices=Case._meta.get_field("state").choices or [],
                                            required=False)  # fmt: skip
    area = serializers.CharField(required=False, help_text="Code of a district/street/…/cell.")
    category = serializers.IntegerField(required=False)
    overdue = serializers.BooleanField(required=False, allow_null=True, default=None)
    mine = serializers.BooleanField(
        required=False, default=False, help_text="Only cases I reported or must verify."
    )
    unit = serializers.IntegerField(required=False, help_text="Cases assigned to this unit.")
    awaiting = serializers.ChoiceField(
        choices=[("me", "me")], required=False,
        help_text="`me`: the open cases waiting for a decision of mine (docs/api.md).",
    )  # fmt: skip
    assigned = serializers.ChoiceField(
        choices=[("me", "me"), ("co", "co")], required=False,
        help_text="`me`: cases assigned to my unit; `co`: cases where my unit is a co-unit "
        "(协办) whose part is still open.",
    )  # fmt: skip
    # Search (issue 13): an id, or text in the description or address; creation days.
    q = serializers.CharField(
        required=False, allow_blank=True, max_length=200,
        help_text="A case id (123 or #123), else text in the description or address "
        "(case-insensitive).",
    )  # fmt: skip
    since = serializers.DateField(required=False, help_text="Created on or after this day.")
    until = serializers.DateField(required=False, help_text="Created on or before this day.")
    source = serializers.ChoiceField(choices=Source.choices, required=False)  # type: ignore[assignment]
    # Intake (issue 13): the inspector's own reports; a caller's earlier tickets.
    reported_by = serializers.ChoiceField(
        choices=[("me", "me")], required=False, help_text="`me`: the cases I reported."
    )
    # 12345 work orders (dispatch.hotline): the hotline's queues.
    ticket_type = serializers.ChoiceField(choices=TicketType.choices, required=False)
    ticket = serializers.ChoiceField(
        choices=[("awaiting_reply", "awaiting_reply"), ("awaiting_callback", "awaiting_callback")],
        required=False,
        help_text="`awaiting_reply`: open tickets the unit has not answered yet; "
        "`awaiting_callback`: answered tickets the hotline has not finished calling back "
        "(the call-back queue), soonest call-back deadline first.",
    )
    caller_phone = serializers.CharField(
        required=False, max_length=30,
        help_text="The cases of this caller: the number normalised, matched exactly. "
        "Only for roles that see callers' numbers (the hotline); others get a 403.",
    )  # fmt: skip

    def validate_caller_phone(self, phone: str) -> str:
        try:
            return validate_phone(phone)
        except InvalidCode:
            raise serializers.ValidationError(
                _("电话号码无法识别：手机号为 1 开头的 11 位数字，固话为区号-号码。")
            ) from None

    # An unknown value is a 400 naming it: a typo must not read as "no filter" and list
    # everything the user may see.
    def validate_area(self, code: str) -> Area:
        area = Area.objects.current().filter(code=code.strip()).only("id", "tier").first()
        if area is None:
            raise serializers.ValidationError(
                _("没有代码为 %(code)s 的现行区域。") % {"code": code[:40]}
            )
        return area

    def validate_category(self, category_id: int) -> int:
        if not Category.objects.filter(pk=category_id).exists():
            raise serializers.ValidationError(_("没有编号为 %(id)s 的分类。") % {"id": category_id})
        return category_id

    def validate_unit(self, unit_id: int) -> int:
        if not Unit.objects.filter(pk=unit_id).exists():
            raise serializers.ValidationError(_("没有编号为 %(id)s 的单位。") % {"id": unit_id})
        return unit_id

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # A misspelt filter (`areas=`, `status=`) is refused like an unknown value.
        known = {*self.fields, *PAGE_PARAMETERS}
        unknown = sorted(name for name in self.initial_data if name not in known)
        if unknown:
            allowed = "、".join(sorted(known))
            raise serializers.ValidationError(
                {
                    name: [_("未知的查询参数 %(name)s（可用：%(allowed)s）。")
                           % {"name": name[:40], "allowed": allowed}]
                    for name in unknown[:5]
                }
            )  # fmt: skip
        since, until = attrs.get("since"), attrs.get("until")
        if since and until and until < since:
            raise serializers.ValidationError({"until": [_("结束日期不能早于开始日期。")]})
        return attrs


# ---- outputs ------------------------------------------------------------------------


# The references and the likely duplicates are rendered in every intake answer (six
# references a case): their fields too are built once per class (gridmgmt.serializers).
class AreaRef(FieldsBuiltOnce, serializers.Serializer[Any]):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()


class UnitRef(FieldsBuiltOnce, serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField(source="display_name")


# A case's six references, rendered as AreaRef and UnitRef render them (the schema says
# so) but by a plain field: a nested serializer is deep-copied with its parent's fields
# and builds and binds its own for every case it renders, more than the dict it makes.
@extend_schema_field(AreaRef)
class AreaRefField(serializers.Field):  # type: ignore[type-arg]
    def to_representation(self, area: Area) -> dict[str, Any]:
        return {"id": int(area.pk), "code": str(area.code), "name": str(area.name)}


@extend_schema_field(UnitRef)
class UnitRefField(serializers.Field):  # type: ignore[type-arg]
    def to_representation(self, unit: Unit) -> dict[str, Any]:
        return {"id": int(unit.pk), "name": str(unit.display_name)}


@extend_schema_field({"type": "string"})
class ChoiceLabel(serializers.Field):  # type: ignore[type-arg]
    """The label of a choice column in the request's language, as
    CharField(source="get_<column>_display") renders it, from the choices' own mapping:
    DRF inspects a bound method's signature on every call, Django re-hashes the choices."""

    def __init__(self, choices: type[TextChoices], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.labels = dict(choices.choices)  # value → label, translated when rendered

    def to_representation(self, value: str) -> str:
        return str(self.labels.get(value, value))


@extend_schema_field({"type": "array", "items": {"type": "number"}, "minItems": 2})
class PointField(serializers.Field):  # type: ignore[type-arg]
    """[lon, lat] in the datum the request asked for."""

    def to_representation(self, value: Any) -> list[float]:
        datum = self.context.get("datum", DEFAULT_DATUM)
        lon, lat = point_from_storage(value.x, value.y, datum)
        return [round(lon, 7), round(lat, 7)]


class PhotoOut(FieldsBuiltOnce, serializers.ModelSerializer[CasePhoto]):
    url = serializers.SerializerMethodField()

    class Meta:
        model = CasePhoto
        fields = ["id", "content_type", "size", "url"]

    def get_url(self, photo: CasePhoto) -> str:
        return f"/api/cases/{photo.case_id}/photos/{photo.pk}/"


class CaseOut(FieldsBuiltOnce, serializers.ModelSerializer[Case]):
    state_label = ChoiceLabel(State, source="state")
    category = serializers.SerializerMethodField()
    point = PointField(source="geom")
    cell = AreaRefField()
    community = AreaRefField()
    street = AreaRefField()
    district = AreaRefField()
    unit = UnitRefField(allow_null=True)
    supervising_unit = UnitRefField(allow_null=True)
    reporter = serializers.CharField(source="reporter.username", allow_null=True, default=None)
    verifier = serializers.CharField(source="verifier.username", allow_null=True, default=None)
    caller_name = serializers.SerializerMethodField()
    caller_phone = serializers.SerializerMethodField()
    ticket_type_label = ChoiceLabel(TicketType, source="ticket_type")
    satisfaction_label = ChoiceLabel(Satisfaction, source="satisfaction")
    due_beyond_calendar = serializers.SerializerMethodField()

    class Meta:
        model = Case
        fields = [
            "id", "state", "state_label", "source", "channel", "category", "urgent",
            "description", "point", "datum", "accuracy_m", "address_text", "address",
            "component_code", "entity", "cell", "community", "street", "district",
            "reporter", "caller_name", "caller_phone", "unit", "supervising_unit", "verifier",
            "merged_into", "created_at", "updated_at", "filed_at", "dispatched_at",
            "handled_at", "closed_at", "due_at", "warn_at", "warned", "overdue",
            "escalation_level", "closed_on_time", "extensions", "reworks", "suspended",
            "ticket_no", "ticket_type", "ticket_type_label", "reply_term", "reply_due_at",
            "reply", "replied_at", "reply_overdue", "callback_due_at", "callback_at",
            "callback_reached", "callback_tries", "callback_overdue", "satisfaction",
            "satisfaction_label", "reopens", "file_due_at", "due_beyond_calendar",
            "verify_due_at", "verify_overdue", "parent",
        ]  # fmt: skip

    @extend_schema_field(
        {"type": "object", "properties": {"id": {"type": "integer"}, "code": {"type": "string"},
                                          "name": {"type": "string"}}}
    )  # fmt: skip
    def get_category(self, case: Case) -> dict[str, Any]:
        category = case.category
        return {"id": category.pk, "code": category.code, "name": category.display_name}

    @extend_schema_field({"type": "boolean"})
    def get_due_beyond_calendar(self, case: Case) -> bool:
        """The deadline falls after the last year of the working calendar: it was counted
        without that year's holidays (dispatch/holidays.py)."""
        if case.due_at is None:  # no deadline yet (a new report): nothing to read
            return False
        context = self.context  # the response's: one query for all its cases
        assert isinstance(context, dict)
        if "calendar_known_until" not in context:
            context["calendar_known_until"] = holidays.known_until()
        return holidays.beyond(case.due_at, context["calendar_known_until"])

    def _caller(self, case: Case) -> dict[str, str]:
        return caller_fields(case, unmasked=bool(self.context.get("unmasked")))

    def get_caller_name(self, case: Case) -> str:
        return self._caller(case)["caller_name"]

    def get_caller_phone(self, case: Case) -> str:
        return self._caller(case)["caller_phone"]


class EventOut(FieldsBuiltOnce, serializers.ModelSerializer[CaseEvent]):
    actor = serializers.CharField(source="actor.username", allow_null=True, default=None)
    actor_unit = serializers.CharField(
        source="actor_unit.display_name", allow_null=True, default=None
    )
    unit = UnitRef(allow_null=True)
    photos = PhotoOut(many=True)

    class Meta:
        model = CaseEvent
        fields = ["id", "at", "actor", "actor_unit", "action", "from_state", "to_state",
                  "unit", "note", "data", "photos"]  # fmt: skip


class AssignmentOut(FieldsBuiltOnce, serializers.ModelSerializer[Assignment]):
    unit = UnitRef()
    rule = serializers.CharField(source="rule.name", allow_null=True, default=None)

    class Meta:
        model = Assignment
        fields = ["at", "unit", "tier", "rule", "reason"]


class ActionOut(serializers.Serializer[Any]):
    action = serializers.CharField(help_text="POST /api/cases/{id}/<action>/")
    label = serializers.CharField(help_text="The action's name in the user's language.")  # type: ignore[assignment]


class ExtensionOut(serializers.Serializer[Any]):
    """The pending 延期/缓办 request of a case."""

    id = serializers.IntegerField()
    kind = serializers.CharField(help_text="extend (延期) or suspend (缓办), as requested.")
    kind_label = serializers.CharField(source="get_kind_display")
    hours = serializers.IntegerField(
        allow_null=True, help_text="Working hours asked for (延期); null for 缓办."
    )
    days = serializers.SerializerMethodField()
    reason = serializers.CharField()
    requested_by = serializers.CharField(source="requested_by.username")
    requested_at = serializers.DateTimeField()

    @extend_schema_field(
        serializers.FloatField(
            allow_null=True, help_text="`hours` in working days of the office hours."
        )
    )
    def get_days(self, request: ExtensionRequest) -> float | None:
        if request.hours is None:
            return None
        day = sum(
            (
                dt.datetime.combine(dt.date.min, closes) - dt.datetime.combine(dt.date.min, opens)
                for opens, closes in office_hours()
            ),
            dt.timedelta(),
        )
        return round(request.hours * 3600 / max(day.total_seconds(), 1), 1)


class SupervisionOut(serializers.Serializer[Any]):
    """An open 督办: pressed on the unit and not yet answered by its feedback."""

    by = serializers.CharField(allow_null=True, help_text="The unit (or user) that pressed.")
    note = serializers.CharField()
    due_at = serializers.DateTimeField()
    at = serializers.DateTimeField()


class PartOut(FieldsBuiltOnce, serializers.ModelSerializer[CasePart]):
    """A co-unit's part (协办) of the case."""

    unit = UnitRef()
    state_label = serializers.CharField(source="get_state_display")
    open = serializers.BooleanField(source="is_open")
    photos = serializers.SerializerMethodField()

    class Meta:
        model = CasePart
        fields = ["id", "unit", "state", "state_label", "open", "assigned_at", "signed_at",
                  "handled_at", "note", "photos"]  # fmt: skip

    @extend_schema_field(PhotoOut(many=True))
    def get_photos(self, part: CasePart) -> list[dict[str, Any]]:
        # The photos of its feedback entry, from the case's prefetched history.
        events = self.context.get("events", {})
        event = events.get(part.feedback_id) if part.feedback_id else None
        return PhotoOut(event.photos.all(), many=True).data if event else []  # type: ignore[return-value]


class ChildOut(serializers.Serializer[Any]):
    """A child case of a split (拆分), in brief."""

    id = serializers.IntegerField()
    state = serializers.CharField()
    state_label = serializers.CharField(source="get_state_display")
    category = serializers.CharField(source="category.display_name")
    unit = UnitRef(allow_null=True)
    due_at = serializers.DateTimeField(allow_null=True)


class CaseDetailOut(CaseOut):
    history = EventOut(many=True)
    assignments = AssignmentOut(many=True)
    photos = serializers.SerializerMethodField()
    allowed_actions = serializers.SerializerMethodField()
    extension = serializers.SerializerMethodField()
    supervisions = serializers.SerializerMethodField()
    parts = serializers.SerializerMethodField()
    children = ChildOut(many=True)

    class Meta(CaseOut.Meta):
        fields = [*CaseOut.Meta.fields, "history", "assignments", "photos", "allowed_actions",
                  "extension", "supervisions", "parts", "children"]  # fmt: skip

    @extend_schema_field(PartOut(many=True))
    def get_parts(self, case: Case) -> list[dict[str, Any]]:
        """The co-units' parts (协办), open or done: the lead sees which are still open."""
        events = {event.pk: event for event in case.history.all()}
        return PartOut(case.parts.all(), many=True, context={"events": events}).data  # type: ignore[return-value]

    @extend_schema_field(ActionOut(many=True))
    def get_allowed_actions(self, case: Case) -> list[dict[str, str]]:
        # dispatch.permissions.allowed_actions(), computed by the view (context "actions").
        actions = self.context.get("actions", [])
        return [{"action": t.action, "label": str(t.label)} for t in actions]

    @extend_schema_field(ExtensionOut(allow_null=True))
    def get_extension(self, case: Case) -> dict[str, Any] | None:
        pending = self.context.get("extension")
        return ExtensionOut(pending).data if pending is not None else None

    @extend_schema_field(SupervisionOut(many=True))
    def get_supervisions(self, case: Case) -> list[dict[str, Any]]:
        return SupervisionOut(open_supervisions(case), many=True).data  # type: ignore[return-value]

    @extend_schema_field(PhotoOut(many=True))
    def get_photos(self, case: Case) -> list[dict[str, Any]]:
        # The report's own photos; feedback and verification photos are in `history`.
        own = [p for p in case.photos.all() if p.event is None or p.event.action == "report"]
        return PhotoOut(own, many=True).data  # type: ignore[return-value]


def open_supervisions(case: Case) -> list[dict[str, Any]]:
    """The 督办 entries of the case's history (prefetched) that still stand: made since
    the unit's last feedback (反馈 answers them), on a case not finished. The SLA
    worker's automatic 督办 (dispatch.sla, no actor) counts too, `by` empty."""
    if not case.is_open:
        return []
    standing: list[dict[str, Any]] = []
    for event in case.history.all():
        if event.action == "handle":
            standing = []
        elif event.action == "supervise" and event.data.get("due_at"):
            by = event.actor_unit.display_name if event.actor_unit else None
            by = by or (event.actor.username if event.actor else None)
            due = dt.datetime.fromisoformat(event.data["due_at"])
            standing.append({"by": by, "note": event.note, "due_at": due, "at": event.at})
    return standing


class DuplicateOut(FieldsBuiltOnce, serializers.Serializer[Any]):
    """A likely duplicate, in brief: enough to recognise it on the map and merge."""

    id = serializers.IntegerField()
    state = serializers.CharField()
    category = serializers.IntegerField(source="category_id")
    point = PointField(source="geom")
    created_at = serializers.DateTimeField()
    description = serializers.CharField()
    distance_m = serializers.SerializerMethodField()

    def get_distance_m(self, case: Case) -> float:
        return round(case.distance.m, 1)  # type: ignore[attr-defined]


class IntakeOut(serializers.Serializer[Any]):
    case = CaseOut()
    created = serializers.BooleanField(help_text="False when this is a resend of a report.")
    likely_duplicates = DuplicateOut(many=True)


class CountersOut(serializers.Serializer[Any]):
    new_today = serializers.IntegerField(help_text="Cases received today (local day).")
    open = serializers.IntegerField(help_text="Cases not closed, cancelled or merged.")
    overdue = serializers.IntegerField(help_text="Open cases past their deadline.")
    closed_on_time = serializers.IntegerField(help_text="Cases closed today by their deadline.")


class BoardOut(serializers.Serializer[Any]):
    as_of = serializers.DateTimeField()
    counters = CountersOut()
    attention = serializers.ListField(
        child=serializers.DictField(), help_text="CaseOut records: overdue or escalated."
    )


def context(datum: Datum, unmasked: bool) -> dict[str, Any]:
    return {"datum": datum, "unmasked": unmasked}
