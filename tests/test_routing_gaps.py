"""routing_gaps lists, per district, the subcategories that no rule or owner reaches; the
demo routing reaches a unit for every subcategory of the catalogue."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from dispatch.models import RoutingRule
from dispatch.routing_gaps import routing_gaps
from layers.models import Area, Category, CategoryKind, Component, Unit
from tests.cast import centre


def test_the_demo_routing_reaches_a_unit_for_every_subcategory(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    subcategories = Category.objects.filter(active=True).exclude(minor_code="").count()
    assert subcategories == 78
    assert routing_gaps() == []
    out = io.StringIO()
    call_command("routing_gaps", "--check", stdout=out)
    assert out.getvalue().strip() == "no gaps: every subcategory reaches a unit in every district"


def test_it_lists_what_falls_to_the_street_office_and_what_owners_reach(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    # Without the rule for extension events (99), they only fall to the street office.
    RoutingRule.objects.filter(name="扩展事件派专业部门").delete()
    # Without the city's post office authority, 9902 邮政 … has no department either.
    Unit.objects.filter(unit_type="邮政管理部门").delete()
    gaps = routing_gaps()
    extension = Category.objects.filter(kind=CategoryKind.EVENT, major_code="99").exclude(
        minor_code=""
    )
    postal = Category.objects.get(kind=CategoryKind.COMPONENT, default_unit_type="邮政管理部门")
    expected = {(d, c.pk) for d in ("440104", "440106") for c in [*extension, postal]}
    assert {(g.district.code, g.category.pk) for g in gaps} == expected
    by_key = {(g.district.code, g.category.pk): g for g in gaps}
    assert {g.outcome for g in gaps if g.category.kind == CategoryKind.EVENT} == {
        "无匹配规则 → 属地兜底"
    }
    assert by_key[("440106", postal.pk)].outcome.startswith(
        "规则46「部件（扩展部件）派区级专业部门」：没有邮政管理部门 → 属地单位"
    )

    # Every postal component of 天河区 has a maintaining unit: owners reach it there.
    Component.objects.create(
        code="4401069902000001", category=postal, geom=centre(small_city["440106001001001"]),
        maintainer=Unit.objects.get(name="天河区指挥中心"),
    )  # fmt: skip
    assert ("440106", postal.pk) not in {(g.district.code, g.category.pk) for g in routing_gaps()}

    out = io.StringIO()
    with pytest.raises(CommandError, match="gaps in 2 districts"):
        call_command("routing_gaps", "--check", stdout=out)
    assert "440104 越秀区:" in out.getvalue()
    assert "事件 9901" in out.getvalue()
