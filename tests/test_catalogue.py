import re

import pytest
from django.core.management import call_command

from layers.models import Category, CategoryKind, LimitUnit

COMPONENT_MAJORS = {"01", "02", "03", "04", "05", "06", "99"}
EVENT_MAJORS = {"01", "02", "03", "04", "05", "99"}


@pytest.fixture
def catalogue(db: None) -> None:
    call_command("loaddata", "catalogue", verbosity=0)


def codes(kind: str, *, majors: bool) -> set[str]:
    rows = Category.objects.filter(kind=kind)
    rows = rows.filter(minor_code="") if majors else rows.exclude(minor_code="")
    return {row.code for row in rows}


def test_it_loads_every_major_class(catalogue: None) -> None:
    assert codes(CategoryKind.COMPONENT, majors=True) == COMPONENT_MAJORS
    assert codes(CategoryKind.EVENT, majors=True) == EVENT_MAJORS
    assert Category.objects.get(kind="component", major_code="01", minor_code="").name == "公用设施"
    assert Category.objects.get(kind="event", major_code="04", minor_code="").name == "突发事件"


def test_every_subcategory_sits_under_a_major_class(catalogue: None) -> None:
    components = codes(CategoryKind.COMPONENT, majors=False)
    events = codes(CategoryKind.EVENT, majors=False)
    assert len(components) >= 35
    assert len(events) >= 30
    assert {code[:2] for code in components} == COMPONENT_MAJORS
    assert {code[:2] for code in events} == EVENT_MAJORS


def test_codes_are_two_digits_and_names_are_given(catalogue: None) -> None:
    for category in Category.objects.all():
        assert re.fullmatch(r"\d\d", category.major_code), category
        assert category.minor_code == "" or re.fullmatch(r"\d\d", category.minor_code), category
        assert category.minor_code != "00", category
        assert category.name and category.name_en, category


def test_every_subcategory_can_be_filed_dispatched_and_closed(catalogue: None) -> None:
    subcategories = Category.objects.exclude(minor_code="")
    for category in subcategories:
        assert category.filing_condition and category.closing_condition, category
        assert category.time_limit and category.time_limit > 0, category
        assert category.urgent_time_limit and category.urgent_time_limit > 0, category
        assert category.limit_unit in LimitUnit.values, category
        assert category.urgent_limit_unit == LimitUnit.CALENDAR_HOURS, category
        assert category.default_unit_type, category
        assert category.active, category
    # Urgent handling is faster than normal handling wherever both are in hours.
    for category in subcategories.filter(limit_unit=LimitUnit.WORKING_HOURS):
        assert category.urgent_time_limit <= category.time_limit, category  # type: ignore[operator]


def test_it_holds_the_examples_city_rules_give(catalogue: None) -> None:
    garbage = Category.objects.get(kind="event", name="暴露垃圾")
    assert (garbage.code, garbage.time_limit, garbage.limit_unit) == (
        "0101",
        4,
        LimitUnit.WORKING_HOURS,
    )
    not_clean = Category.objects.get(kind="event", name="道路不洁")
    assert not_clean.limit_unit == LimitUnit.WORKING_HOURS
    assert not_clean.time_limit is not None and 2 <= not_clean.time_limit <= 5
    illegal_building = Category.objects.get(kind="event", name="违法建设")
    assert illegal_building.limit_unit == LimitUnit.WORKING_DAYS
    assert illegal_building.time_limit is not None and 15 <= illegal_building.time_limit <= 20

    cover = Category.objects.get(kind="event", name="井盖缺失")
    assert cover.major_code == "04"
    assert cover.urgent_by_default
    assert cover.urgent_limit_unit == LimitUnit.CALENDAR_HOURS
    assert cover.urgent_time_limit is not None and cover.urgent_time_limit <= 4

    for name in ("路面塌陷", "火灾"):
        assert Category.objects.get(kind="event", name=name).urgent_by_default, name
    assert not Category.objects.filter(kind="event", major_code="05", urgent_by_default=True)


def test_the_component_classes_named_by_the_standard_are_present(catalogue: None) -> None:
    expected = {
        "0101": "上水井盖",
        "0102": "污水井盖",
        "0103": "雨水井盖",
        "0104": "电力井盖",
        "0106": "燃气井盖",
        "0110": "消防栓",
        "0201": "交通信号灯",
        "0203": "公交站亭",
        "0206": "路名牌",
        "0301": "公共厕所",
        "0302": "垃圾箱",
        "0304": "报刊亭",
        "0401": "行道树",
        "0402": "绿地",
        "0501": "危房",
    }
    found = {
        c.code: c.name for c in Category.objects.filter(kind="component").exclude(minor_code="")
    }
    assert {code: found.get(code) for code in expected} == expected


def test_loading_the_fixture_twice_changes_nothing(catalogue: None) -> None:
    before = list(Category.objects.order_by("pk").values())
    call_command("loaddata", "catalogue", verbosity=0)
    assert list(Category.objects.order_by("pk").values()) == before
    assert [row["id"] for row in before] == list(range(1, len(before) + 1))
