"""Areas own their placement pieces (layers.placement): every create, change, retirement
and redraw, through the ORM, the admin or a command, keeps them in step; a retired area
receives nothing new; inspectors' cells follow a redraw."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.contrib.gis.geos import MultiPolygon, Polygon
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from gridmgmt import clock
from incidents.models import Case
from layers.models import Area, AreaPiece, Staff, Tier
from layers.placement import OutsideCity, deferred_pieces, place_point
from layers.redraw import redraw_cells
from tests.cast import CELLS, centre
from tests.loop import INSPECTOR_CELL, MONDAY_10, report


def pieces_cover(area: Area) -> bool:
    """Whether the area's pieces put together are exactly its boundary."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ST_Equals(ST_Union(p.geom), a.geom) FROM layers_areapiece p"
            " JOIN layers_area a ON a.id = p.area_id WHERE a.id = %s GROUP BY a.geom",
            [area.pk],
        )
        row = cursor.fetchone()
    return bool(row and row[0])


def square(x0: float, y0: float, size: float) -> MultiPolygon:
    ring = ((x0, y0), (x0 + size, y0), (x0 + size, y0 + size), (x0, y0 + size), (x0, y0))
    return MultiPolygon(Polygon(ring, srid=4326), srid=4326)


def admin_client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_pieces_follow_every_save_of_an_area(small_city: dict[str, Area]) -> None:
    community = small_city["440106001001"]
    cell = Area.objects.create(
        tier=Tier.CELL, code="440106001001009", name="新网格", parent=community,
        geom=square(113.30, 23.10, 0.005), valid_from=dt.date(2024, 1, 1),
    )  # fmt: skip
    assert pieces_cover(cell)
    cell.geom = square(113.301, 23.101, 0.004)
    cell.save()
    assert pieces_cover(cell)
    ids = set(cell.pieces.values_list("pk", flat=True))
    cell.name = "改名"
    cell.save(update_fields=["name"])  # a name leaves the pieces alone
    assert set(cell.pieces.values_list("pk", flat=True)) == ids
    cell.valid_to = dt.date(2025, 1, 1)
    cell.save()
    assert not cell.pieces.exists()
    cell.valid_to = None
    cell.save()
    assert pieces_cover(cell)
    cell.delete()
    assert not AreaPiece.objects.filter(pk__in=ids).exists()
    # Bulk writers defer the work and rebuild once.
    with deferred_pieces():
        late = Area.objects.create(
            tier=Tier.CELL, code="440106001001008", name="批量", parent=community,
            geom=square(113.30, 23.10, 0.002), valid_from=dt.date(2024, 1, 1),
        )  # fmt: skip
        assert not late.pieces.exists()
    assert pieces_cover(late)


def test_a_cell_retired_in_the_admin_receives_nothing_new(
    cast: dict[str, User], small_city: dict[str, Area], tmp_path: Path
) -> None:
    cell = small_city[CELLS["own"]]
    point = centre(cell)
    assert place_point(point).cell == cell
    response = admin_client(cast["admin"]).post(
        reverse("admin:layers_area_change", args=[cell.pk]),
        {"name": cell.name, "name_en": "", "valid_to": "2026-01-01"},
    )
    assert response.status_code == 302
    assert not AreaPiece.objects.filter(area=cell).exists()
    with pytest.raises(OutsideCity):
        place_point(point)
    csv = tmp_path / "buildings.csv"
    csv.write_text(f"code,name,address_text,floors,lon,lat\nB1,楼,,3,{point.x},{point.y}\n")
    out = io.StringIO()
    call_command("import_layer", "buildings", str(csv), "--no-progress", stdout=out)
    assert "inserted 0" in out.getvalue() and "rejected 1" in out.getvalue()


def test_the_admin_adds_an_area_with_its_pieces(
    cast: dict[str, User], small_city: dict[str, Area]
) -> None:
    client = admin_client(cast["admin"])
    url = reverse("admin:layers_area_add")
    assert client.get(url).status_code == 200
    form = {
        "code": "440106001001009",
        "tier": Tier.CELL,
        "name": "新增网格",
        "name_en": "",
        "parent": small_city["440106001001"].pk,
        "valid_from": "2026-01-01",
        "valid_to": "",
        "geom": square(113.30, 23.10, 0.005).ewkt,
    }
    bad = client.post(url, {**form, "code": "440106002001009"})
    assert bad.status_code == 200
    assert "编码应以上级区域编码 440106001001 开头" in bad.content.decode()
    response = client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    added = Area.objects.get(code="440106001001009")
    assert pieces_cover(added)


@clock.travel(MONDAY_10, tick=False)
def test_an_inspectors_cells_follow_a_redraw(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    old = small_city[INSPECTOR_CELL]
    redraw_cells({INSPECTOR_CELL: old.geom}, valid_from=dt.date(2026, 11, 1))
    new = Area.objects.current().get(code=INSPECTOR_CELL)
    staff = Staff.objects.get(user=loop["inspector"])
    cells = set(staff.cells.values_list("pk", flat=True))
    assert new.pk in cells and old.pk not in cells
    assert not AreaPiece.objects.filter(area=old).exists()
    # A new report in their own cell is accepted and placed in the successor.
    created = report(loop["inspector"], {INSPECTOR_CELL: new})
    assert created.status_code == 201, created.json()
    assert Case.objects.get(pk=created.json()["case"]["id"]).cell_id == new.pk


def test_an_import_into_areas_without_pieces_says_the_areas_are_missing(
    small_city: dict[str, Area], tmp_path: Path
) -> None:
    point = centre(small_city[CELLS["own"]])
    AreaPiece.objects.all().delete()  # as after a raw bulk insert that skipped them
    csv = tmp_path / "buildings.csv"
    csv.write_text(f"code,name,address_text,floors,lon,lat\nB1,楼,,3,{point.x},{point.y}\n")
    call_command("import_layer", "buildings", str(csv), "--no-progress", stdout=io.StringIO())
    reason = (tmp_path / "buildings.rejected.csv").read_text(encoding="utf-8")
    assert "import the areas first with import_areas" in reason
    assert "--datum" not in reason
