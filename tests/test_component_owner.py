"""A component's 主管/权属/养护 units are references to units: imported from the file by
name or code with every unknown value reported with its row, set in step when a record
is saved, and listed or matched again by `component_units`."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from django.core.management import call_command

from layers.importing.core import import_file
from layers.models import Area, Category, CategoryKind, Component, Tier, Unit, UnitKind
from tests.cast import centre
from tests.test_import import TIANHE, write_csv

HEADER = ["code", "name", "competent_unit", "owner_unit", "maintainer_unit", "lon", "lat"]
CODE = "12440106MB0000001X"


def _units(city: dict[str, Area]) -> tuple[Unit, Unit]:
    district = city["440106"]
    water = Unit.objects.create(
        name="天河区水务局", tier=Tier.DISTRICT, kind=UnitKind.DEPARTMENT, area=district
    )
    upkeep = Unit.objects.create(
        name="天河区排水设施养护所", code=CODE, tier=Tier.DISTRICT, area=district
    )
    return water, upkeep


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_the_import_names_units_by_name_or_code_and_reports_each_unknown(
    small_city: dict[str, Area], tmp_path: Path
) -> None:
    Category.objects.create(kind=CategoryKind.COMPONENT, major_code="01", name="公用设施")
    Category.objects.create(
        kind=CategoryKind.COMPONENT, major_code="01", minor_code="02", name="污水井盖"
    )
    water, upkeep = _units(small_city)
    rows: list[list[object]] = [
        ["4401060102000001", "井盖一", "天河区水务局", "天河区水务局", CODE, *TIANHE],
        ["4401060102000002", "井盖二", "天河区水务局", "某某置业", "未登记养护公司", *TIANHE],
        ["4401060102000003", "井盖三", "", "", "天河区排水设施养护所", *TIANHE],
        ["44010601020000", "坏编码", "", "", "也不存在", *TIANHE],  # rejected: not listed
    ]
    path = write_csv(tmp_path / "covers.csv", rows, HEADER)
    result = import_file("components", path)

    assert (result.inserted, result.rejected, result.unknown_units) == (3, 1, 2)
    assert result.units_path == tmp_path / "covers.unknown-units.csv"
    assert _read(result.units_path) == [
        {"row": "2", "key": "4401060102000002", "column": "owner_unit", "value": "某某置业"},
        {"row": "2", "key": "4401060102000002", "column": "maintainer_unit",
         "value": "未登记养护公司"},
    ]  # fmt: skip
    assert "2 unit names or codes match no unit (kept as text)" in result.summary()
    got = {
        c.code[-1]: (c.competent_id, c.owner_id, c.maintainer_id, c.maintainer_unit)
        for c in Component.objects.all()
    }
    assert got == {
        "1": (water.pk, water.pk, upkeep.pk, CODE),
        "2": (water.pk, None, None, "未登记养护公司"),
        "3": (None, None, upkeep.pk, "天河区排水设施养护所"),
    }

    # The unknown maintainer is registered; the next import of the file (the merge path)
    # sets the reference, and nothing else changes.
    later = Unit.objects.create(name="未登记养护公司", tier=Tier.DISTRICT, area=water.area)
    again = import_file("components", path)
    assert (again.updated, again.unchanged, again.unknown_units) == (1, 2, 1)
    assert Component.objects.get(code="4401060102000002").maintainer_id == later.pk


def test_saving_keeps_text_and_reference_in_step_and_the_command_matches_again(
    small_city: dict[str, Area],
) -> None:
    category = Category.objects.create(
        kind=CategoryKind.COMPONENT, major_code="01", minor_code="02", name="污水井盖"
    )
    water, upkeep = _units(small_city)
    at = centre(small_city["440106001001001"])
    cover = Component.objects.create(
        code="4401060102000001", category=category, geom=at, maintainer_unit=CODE
    )
    assert cover.maintainer_id == upkeep.pk and cover.maintainer_unit == CODE
    # A unit picked (the admin's autocomplete) names the text.
    cover.maintainer = water
    cover.save()
    assert Component.objects.values_list("maintainer_id", "maintainer_unit").get() == (
        water.pk, "天河区水务局",
    )  # fmt: skip
    # A text typed (a proposal accepted, an API edit) finds its unit, or none.
    cover.maintainer_unit = "未登记养护公司"
    cover.save(update_fields=["maintainer_unit"])
    assert Component.objects.values_list("maintainer_id", "maintainer_unit").get() == (
        None, "未登记养护公司",
    )  # fmt: skip

    out = io.StringIO()
    call_command("component_units", stdout=out)
    assert "maintainer_unit  未登记养护公司  1" in out.getvalue()
    later = Unit.objects.create(name="未登记养护公司", tier=Tier.DISTRICT, area=water.area)
    out = io.StringIO()
    call_command("component_units", "--resolve", stdout=out)
    assert "1 references set" in out.getvalue()
    assert "no unit names left unmatched" in out.getvalue()
    cover.refresh_from_db()
    assert cover.maintainer_id == later.pk
