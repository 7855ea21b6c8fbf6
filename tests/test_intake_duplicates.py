"""The intake answer's likely duplicates (incidents.duplicates.likely_duplicates_seen_by,
one statement kept per post) against the ORM's likely_duplicates() among visible_cases():
the same candidates, distances and rendering for every user of the cast, and for each
user exactly the open cases nearby that visible_cases() holds. And the answer rendered
with fields built once per class, byte for byte as DRF renders it without."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import translation
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer

from dispatch.api import serializers as s
from dispatch.api.serializers import DuplicateOut
from gridmgmt.serializers import FieldsBuiltOnce
from incidents.access import visible_cases
from incidents.duplicates import _KEPT, likely_duplicates, likely_duplicates_seen_by
from incidents.models import Case, Satisfaction, State, TicketType
from layers.datum import Datum
from layers.models import Area
from tests.loop import INSPECTOR_CELL, event_category, report
from tests.test_case_scope import SEES, world  # noqa: F401 -- `world` is a fixture


def rendered(cases: list[Case]) -> object:
    return DuplicateOut(cases, many=True, context={"datum": "wgs84"}).data


@pytest.fixture
def wide_radius(world: dict[str, int]) -> None:  # noqa: F811 -- the fixture imported above
    """The whole test city within the world's category's radius: every other open case in
    the window is a candidate for anyone who may see it."""
    category = event_category("0101")
    category.duplicate_radius_m = 200_000
    category.save(update_fields=["duplicate_radius_m"])


@pytest.mark.usefixtures("wide_radius")
def test_candidates_are_the_visible_cases_for_every_role(
    cast: dict[str, User],
    world: dict[str, int],  # noqa: F811 -- the fixture imported above
) -> None:
    # Reported at the same moment: each is within the window before each other.
    at = Case.objects.get(pk=world["own"]).created_at
    Case.objects.filter(pk__in=world.values()).update(created_at=at)
    _KEPT.clear()
    users = {**{name: cast[name] for name in SEES}, "admin": cast["admin"]}
    assert len(world) == 3
    seen_some = 0
    for name, user in users.items():
        visible = set(visible_cases(user).values_list("id", flat=True))
        for case_id in world.values():
            # A fresh instance each time, as the intake has it (category loaded).
            case = Case.objects.select_related("category").get(pk=case_id)
            kept = likely_duplicates_seen_by(user, case)
            orm = likely_duplicates(case, among=visible_cases(user))
            assert {c.pk for c in kept} == visible - {case_id}, (name, case_id)
            assert [c.pk for c in kept] == [c.pk for c in orm], (name, case_id)
            assert [c.distance.m for c in kept] == [c.distance.m for c in orm]  # type: ignore[attr-defined]
            assert rendered(kept) == rendered(orm), (name, case_id)
            seen_some += bool(kept)
    assert seen_some > 0
    # The statement is kept per post: one for each user who may see any case.
    assert len(_KEPT) == len(users)


@pytest.mark.usefixtures("wide_radius")
def test_a_closed_case_or_one_outside_the_window_is_no_candidate(
    cast: dict[str, User],
    world: dict[str, int],  # noqa: F811 -- the fixture imported above
) -> None:
    city = cast["city"]
    # The last of the three reported: the two others came before it.
    case = Case.objects.select_related("category").get(pk=world["other_district"])
    assert {c.pk for c in likely_duplicates_seen_by(city, case)} == {
        world["own"],
        world["other_street"],
    }
    Case.objects.filter(pk=world["other_street"]).update(state="closed")
    assert [c.pk for c in likely_duplicates_seen_by(city, case)] == [world["own"]]
    # Reported after the case: not an earlier report of the same problem.
    Case.objects.filter(pk=world["own"]).update(created_at=case.created_at + timedelta(seconds=1))
    assert likely_duplicates_seen_by(city, case) == []
    assert likely_duplicates(case, among=visible_cases(city)) == []


# --- the answer's rendering: fields built once per class, the references and the choices'
# labels by plain fields; the same bytes as DRF's nested serializers and display methods --


def plain(cls: type[Any], base: type[Any], **swap: Any) -> type[Any]:
    """`cls` as DRF renders it without FieldsBuiltOnce (its declared fields deep-copied
    for every instance), with its methods; `swap`: declared fields replaced."""
    attrs = {name: copy.deepcopy(field) for name, field in cls._declared_fields.items()}
    attrs.update(swap)
    methods = {
        name: value
        for name, value in vars(cls).items()
        if callable(value) and not name.startswith("__") and name not in attrs
    }
    meta = {"Meta": cls.Meta} if hasattr(cls, "Meta") else {}
    return type(f"Plain{cls.__name__}", (base,), {**attrs, **methods, **meta})


def test_the_answer_renders_as_drf_renders_it_byte_for_byte(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    area_ref = plain(s.AreaRef, serializers.Serializer)
    unit_ref = plain(s.UnitRef, serializers.Serializer)
    case_out = plain(
        s.CaseOut,
        serializers.ModelSerializer,
        **{tier: area_ref() for tier in ("cell", "community", "street", "district")},
        unit=unit_ref(allow_null=True),
        supervising_unit=unit_ref(allow_null=True),
        **{
            f"{name}_label": serializers.CharField(source=f"get_{name}_display")
            for name in ("state", "ticket_type", "satisfaction")
        },
    )
    duplicate_out = plain(s.DuplicateOut, serializers.Serializer)
    assert not issubclass(case_out, FieldsBuiltOnce)
    inspector = loop["inspector"]
    # Auto-dispatched (a unit to render) after two earlier reports (two candidates).
    for _ in range(2):
        assert report(inspector, small_city, category="0501").status_code == 201
    answer = report(inspector, small_city, category="0501")
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    case = Case.objects.get(pk=body["case"]["id"])
    assert case.unit_id is not None and len(body["likely_duplicates"]) == 2
    candidates = likely_duplicates(case, among=visible_cases(inspector))
    render = JSONRenderer().render
    for datum, unmasked in [(Datum.WGS84, False), (Datum.GCJ02, True), (Datum.WGS84, False)]:
        context = s.context(datum, unmasked)
        ours = render(s.CaseOut(case, context=dict(context)).data)
        assert ours == render(case_out(case, context=dict(context)).data), datum
        ours = render(s.DuplicateOut(candidates, many=True, context=context).data)
        assert ours == render(duplicate_out(candidates, many=True, context=context).data)
    # Every reference set and every label chosen (not saved: rendered only), a label of a
    # value outside the choices too (the display method shows the value).
    case.supervising_unit = case.unit
    context = s.context(Datum.WGS84, True)
    for state, ticket_type, satisfaction in [
        (State.HANDLED, TicketType.COMPLAINT, Satisfaction.BASIC),
        ("closed", "praise", "dissatisfied"),
        ("unknown", "", ""),
    ]:
        case.state, case.ticket_type, case.satisfaction = state, ticket_type, satisfaction
        ours = render(s.CaseOut(case, context=dict(context)).data)
        assert ours == render(case_out(case, context=dict(context)).data), state
        assert json.loads(ours)["supervising_unit"]["id"] == case.unit_id
    # The labels and names in the language of the request, not of the class's making.
    assert case.unit is not None
    case.unit.name_en = "Street Order Team"  # in memory only
    with translation.override("en"):
        case.state = State.CLOSED
        ours = render(s.CaseOut(case, context=dict(context)).data)
        assert ours == render(case_out(case, context=dict(context)).data)
        assert json.loads(ours)["state_label"] == "Closed"
        assert json.loads(ours)["unit"]["name"] == "Street Order Team"
    case.unit.refresh_from_db()
    case.refresh_from_db()
    # What the intake answered is that rendering (the answer's case was read back here).
    context = s.context(Datum.WGS84, False)
    assert body["case"] == json.loads(render(case_out(case, context=context).data))
    assert body["likely_duplicates"] == json.loads(
        render(duplicate_out(candidates, many=True, context=context).data)
    )
    assert body["case"]["unit"]["id"] == case.unit_id
    assert body["case"]["cell"]["code"] == INSPECTOR_CELL
