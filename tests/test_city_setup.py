"""The first run (manage.py start_city, what `make run` calls): a city's own files into an
empty database, with a data administrator; a database that holds a city is served as it
is. The city directory is Dongguan's real outline (fixtures/dongguan, GCJ-02) with made-up
streets, communities and cells (tests/test_import_areas.py), a few addresses and a
calendar year."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from dispatch.models import CalendarDay
from layers.models import Address, Area, Role, Staff, Tier
from map_ui.pages.maps import area_map, city_extent
from tests.test_import_areas import CITY, CITY_FILE, made_up_hierarchy, write_csv


def city_dir(root: Path) -> Path:
    """The layout the README documents: datum.txt, areas/, layers/, calendar/."""
    (root / "areas").mkdir(parents=True)
    (root / "layers").mkdir()
    (root / "calendar").mkdir()
    (root / "datum.txt").write_text("gcj02\n")
    shutil.copy(CITY_FILE, root / "areas" / "1-city.geojson")
    tiers = made_up_hierarchy()
    streets = gpd.GeoDataFrame(
        {
            "code": [r[0] for r in tiers[Tier.STREET]],
            "name": [r[1] for r in tiers[Tier.STREET]],
        },
        geometry=[r[3] for r in tiers[Tier.STREET]],
        crs="EPSG:4326",
    )
    streets.to_file(root / "areas" / "2-street.gpkg", driver="GPKG")
    rows = [(code, name, parent, "社区", g) for code, name, parent, g in tiers[Tier.COMMUNITY]]
    rows += [(code, name, parent, "网格", g) for code, name, parent, g in tiers[Tier.CELL]]
    write_csv(root / "areas" / "3-lower.csv", rows)
    with (root / "layers" / "addresses.csv").open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["code", "text", "road", "house_number", "building_name", "lon", "lat"])
        for n, (_code, _name, _parent, geom) in enumerate(tiers[Tier.CELL][:3], 1):
            point = shapely.point_on_surface(geom)
            writer.writerow([f"A{n}", f"虚构路{n}号", "虚构路", str(n), "", point.x, point.y])
    (root / "calendar" / "2027.csv").write_text("date,is_workday,name\n2027-01-01,0,元旦\n")
    return root


@pytest.mark.django_db
def test_a_city_directory_loads_into_an_empty_database_with_a_data_admin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRIDMGMT_ADMIN_PASSWORD", "a-long-test-password")
    assert not Area.objects.exists()
    out = io.StringIO()
    call_command("start_city", city_dir=city_dir(tmp_path / "city"), stdout=out)
    city = Area.objects.current().get(tier=Tier.CITY)
    assert city.code == CITY
    tiers = {tier: Area.objects.current().filter(tier=tier).count() for tier in Tier}
    assert tiers[Tier.STREET] == 4 and tiers[Tier.COMMUNITY] == 8 and tiers[Tier.CELL] == 16
    assert sorted(Address.objects.values_list("code", flat=True)) == ["A1", "A2", "A3"]
    assert all(a.cell is not None for a in Address.objects.select_related("cell"))
    assert CalendarDay.objects.filter(date__year=2027).count() == 1
    admin = User.objects.get(username="data_admin")
    assert admin.is_staff and not admin.is_superuser
    staff = Staff.objects.select_related("unit__area").get(user=admin)
    assert staff.role == Role.DATA_ADMIN and staff.unit.area == city
    assert admin.has_perm("layers.change_address") and admin.has_perm("layers.view_area")
    client = Client()
    assert client.login(username="data_admin", password="a-long-test-password")
    assert client.get("/admin/layers/address/").status_code == 200
    assert "a-long-test-password" not in out.getvalue()
    # The map opens on the loaded city, not on any city written in code.
    x0, y0, x1, y1 = city.geom.extent
    assert city_extent() == pytest.approx((x0, y0, x1, y1))
    lat, lon = area_map(None).location
    assert y0 < lat < y1 and x0 < lon < x1

    # A second run finds a city and changes nothing.
    again = io.StringIO()
    call_command("start_city", city_dir=tmp_path / "city", stdout=again)
    assert "nothing loaded" in again.getvalue()
    assert Area.objects.current().count() == sum(tiers.values())
    assert Address.objects.count() == 3


@pytest.mark.django_db
def test_a_database_holding_a_city_is_served_as_it_is(small_city: dict[str, Area]) -> None:
    """The demo loader is not run over another city (it used to fail with
    HierarchyConflict, and `make run` with it)."""
    before = Area.objects.count()
    out = io.StringIO()
    call_command("start_city", stdout=out)
    assert "nothing loaded" in out.getvalue()
    assert Area.objects.count() == before
    assert not User.objects.filter(username="data_admin").exists()


@pytest.mark.django_db
def test_a_city_directory_without_areas_or_with_unknown_files_is_refused(
    tmp_path: Path,
) -> None:
    with pytest.raises(CommandError, match="areas/ is missing"):
        call_command("start_city", city_dir=tmp_path, stdout=io.StringIO())
    root = city_dir(tmp_path / "city")
    (root / "layers" / "people.csv").write_text("id_number\n")
    with pytest.raises(CommandError, match="unknown layer files"):
        call_command("start_city", city_dir=root, stdout=io.StringIO())


def test_make_run_calls_the_first_run_command_and_passes_city_dir() -> None:
    root = Path(__file__).resolve().parent.parent
    run = (root / "scripts" / "run.sh").read_text()
    assert "load_demo_city" not in run and "manage.py start_city" in run
    assert '--city-dir "$CITY_DIR"' in run
    assert 'CITY_DIR="$(CITY_DIR)" bash scripts/run.sh' in (root / "Makefile").read_text()
