"""The one input boundary for coordinates and geometries (layers.geoinput), on every path
that takes them: the case API's bodies and query parameters, the base-layer filters, the
admin's map widgets, bulk imports and Open311.

Each path is tried with property-based inputs (hypothesis): floats including NaN, ±inf,
1e308 and subnormals, odd and huge strings, WKT and GeoJSON with absurd vertex counts.
Whatever comes, the answer is a success or a 4xx in the API's error shape naming the
field, never a 500 or a dead worker (GEOS' WKT writer overruns its stack on 1e308, which
kills this very test process), and nothing is saved by a request that answers an error.
"""

from __future__ import annotations

import json
import math
import struct
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incidents.models import Case
from layers.datum import Datum
from layers.geoinput import (
    BadCoordinates,
    check_lonlat,
    lonlat_reasons,
    parse_geometry,
    parse_number,
)
from layers.importing.core import import_file
from layers.importing.sources import _wkb_point
from layers.models import Area, Person
from tests.cast import CELLS, centre
from tests.loop import INSPECTOR_CELL, client_for, event_category
from tests.open311 import make_client
from tests.test_admin import admin_url, person_form

BOUNDED = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# The values that broke things, and their relatives.
NASTY_NUMBERS = [
    "1e308", "-1e308", "1e309", "nan", "NaN", "inf", "-Infinity", "1_0", "0x1p3", "１１３",
    "١٢٣", "113.3\x00", "", " ", "113,3", "--1", "1e", ".", "9" * 5000, "5e-324", "-0",
    "2.2250738585072014e-308", "113.305", "23.105",
]  # fmt: skip
finite_or_not = st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True)
in_city_lon = st.floats(113.30, 113.38)
in_city_lat = st.floats(23.10, 23.14)
coordinate_text = st.one_of(
    st.sampled_from(NASTY_NUMBERS),
    finite_or_not.map(repr),
    st.text(max_size=60),
    st.integers(min_value=-(10**400), max_value=10**400).map(str),
)
coordinate = st.one_of(finite_or_not, coordinate_text, in_city_lon.map(repr))


def assert_api_error(response: Any) -> dict[str, Any]:
    """A 4xx in the API's error shape: {"detail", "code", "field"}, or a serializer's
    errors field by field ({"lon": ["…"]}, docs/api.md); never HTML, never a 500."""
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, dict) and body
    if "detail" in body:
        assert isinstance(body["detail"], str) and body["detail"]
        assert "code" in body and "field" in body
    else:
        for messages in body.values():
            assert isinstance(messages, list) and messages
            assert all(isinstance(m, str) and m for m in messages)
    return body


def error_text(body: dict[str, Any]) -> str:
    return json.dumps(body, ensure_ascii=False)


def names(body: dict[str, Any], *fields: str) -> bool:
    """Whether the error names one of `fields` (a NUL anywhere in the query string is
    refused before any view, for the whole request: gridmgmt.errors_middleware)."""
    text = error_text(body)
    return any(field in text for field in fields) or "NUL" in text


@pytest.fixture
def hotline(loop: dict[str, User]) -> Any:
    return client_for(loop["hotline"])


@pytest.fixture
def inspector(loop: dict[str, User]) -> Any:
    return client_for(loop["inspector"])


@pytest.fixture
def city(cast: dict[str, User]) -> Any:
    return client_for(cast["city"])


@pytest.fixture
def superuser(cast: dict[str, User]) -> Any:
    return client_for(cast["admin"])


# ---- the boundary itself ---------------------------------------------------------------


@BOUNDED
@given(lon=coordinate, lat=coordinate, datum=st.sampled_from(list(Datum)))
def test_a_point_is_finite_in_range_and_in_its_datum_or_refused(
    lon: Any, lat: Any, datum: Datum
) -> None:
    try:
        x, y = check_lonlat(lon, lat, datum)
    except BadCoordinates as error:
        assert error.field in ("lon", "lat") and error.message
        return
    assert math.isfinite(x) and math.isfinite(y)
    assert -180 <= x <= 180 and -90 <= y <= 90


def test_the_numbers_that_broke_things_are_refused_with_a_message_naming_the_field() -> None:
    for text in ("1e308", "nan", "inf", "-Infinity", "1_0", "１１３", "113.3\x00", "9" * 5000):
        with pytest.raises(BadCoordinates) as refused:
            check_lonlat(text, "23.1", Datum.WGS84)
        assert refused.value.field == "lon" and "lon" in refused.value.message
    assert parse_number("5e-324", field="lon") == 5e-324  # a subnormal is a number
    with pytest.raises(BadCoordinates, match="gcj02"):
        check_lonlat(10.0, 50.0, Datum.GCJ02)  # GCJ-02 is defined over China only


def wkt_points(xs: list[float]) -> str:
    return "MULTIPOINT(" + ",".join(f"({x!r} {x!r})" for x in xs) + ")"


geometry_text = st.one_of(
    st.builds(lambda x, y: f"POINT({x!r} {y!r})", finite_or_not, finite_or_not),
    st.builds(lambda x, y: f"SRID=4326;POINT({x} {y})", coordinate_text, coordinate_text),
    st.builds(
        lambda x, y: json.dumps({"type": "Point", "coordinates": [x, y]}),
        finite_or_not,
        finite_or_not,
    ),
    st.lists(finite_or_not, min_size=1, max_size=30).map(wkt_points),
    st.integers(1, 40_000).map(lambda n: "MULTIPOINT(" + ",".join(["(1 1)"] * n) + ")"),
    st.integers(1, 500).map(lambda n: "[" * n + "1" + "]" * n),
    st.sampled_from(
        [
            "POINT(NaN NaN)",
            "POINT(1e308 1e308)",
            "POINT EMPTY",
            "POINT(1 2)(3 4)",
            "POLYGON((0 0,1 1,1 0,0 1,0 0))",
            "0101000020E6100000000000000000F03F000000000000F03F",
            '{"type":"Point","coordinates":[NaN,1]}',
            '{"type":"Point","coordinates":[1,2],"crs":{"type":"link"}}',
            "POINT(1 2" + " 3" * 100 + ")",
            "x" * 300_000,
        ]
    ),
    st.text(max_size=200),
)


@BOUNDED
@given(text=geometry_text, srid=st.sampled_from([4326, 3857]))
def test_geometry_text_is_a_valid_geometry_in_range_or_refused(text: str, srid: int) -> None:
    try:
        geometry = parse_geometry(text, srid=srid, field="geom")
    except BadCoordinates as error:
        assert error.field == "geom" and "geom" in error.message
        return
    assert geometry.srid == 4326 and geometry.valid and not geometry.empty
    west, south, east, north = geometry.extent
    assert -180 <= west <= east <= 180 and -90 <= south <= north <= 90
    assert geometry.wkt  # writing it out is safe now


def test_absurd_vertex_counts_are_refused_before_parsing(settings: Any) -> None:
    settings.GEOMETRY_INPUT_MAX_VERTICES = 100
    text = "MULTIPOINT(" + ",".join(["(113.3 23.1)"] * 101) + ")"
    with pytest.raises(BadCoordinates, match="顶点太多"):
        parse_geometry(text, srid=4326, field="geom")
    settings.GEOMETRY_INPUT_MAX_CHARS = 1000
    with pytest.raises(BadCoordinates, match="过长"):
        parse_geometry("POINT(1 1)" + " " * 1000, srid=4326, field="geom")


# ---- query parameters: likely duplicates before filing ---------------------------------


@pytest.mark.timeout(60)
def test_duplicates_near_1e308_is_a_400_not_a_dead_worker(loop: dict[str, User]) -> None:
    # Before the boundary this request aborted the process ("stack smashing detected").
    category = str(event_category("0101").pk)
    for lon, lat in (("1e308", "1e308"), ("nan", "23.1"), ("inf", "-inf"), ("113.3", "1e308")):
        response = client_for(loop["hotline"]).get(
            "/api/cases/duplicates/", {"category": category, "lon": lon, "lat": lat}
        )
        body = assert_api_error(response)
        assert "lon" in error_text(body) or "lat" in error_text(body)


def test_duplicates_near_a_point_outside_the_city_names_the_field(loop: dict[str, User]) -> None:
    response = client_for(loop["hotline"]).get(
        "/api/cases/duplicates/", {"category": event_category("0101").pk, "lon": 100, "lat": 30}
    )
    assert "不在本市任何网格内" in error_text(assert_api_error(response))


@BOUNDED
@given(lon=coordinate, lat=coordinate, datum=st.sampled_from(["wgs84", "gcj02", "bd09"]))
def test_duplicates_near_answers_every_point(
    loop: dict[str, User], hotline: Any, lon: Any, lat: Any, datum: str
) -> None:
    response = hotline.get(
        "/api/cases/duplicates/",
        {"category": event_category("0101").pk, "lon": str(lon), "lat": str(lat), "datum": datum},
    )
    if response.status_code == 200:
        assert isinstance(response.json(), (list, dict))
    else:
        # An empty lon or lat is no position at all: then the address is what is missing.
        assert names(assert_api_error(response), "lon", "lat", "address_id")


# ---- request bodies: an inspector's report and a 12345 ticket --------------------------


@BOUNDED
@given(lon=st.one_of(coordinate, in_city_lon), lat=st.one_of(coordinate, in_city_lat))
def test_a_report_with_any_coordinates_is_filed_or_refused_and_nothing_saved(
    inspector: Any, small_city: dict[str, Area], lon: Any, lat: Any
) -> None:
    before = Case.objects.count()
    body = {
        "client_uuid": str(uuid.uuid4()),
        "category": event_category("0101").pk,
        "description": "路边有一堆暴露垃圾",
        "lon": lon,
        "lat": lat,
    }
    # JSON carries floats as they are (NaN and Infinity included, as Python writes them).
    response = inspector.post(
        "/api/cases/reports/",
        json.dumps(body, allow_nan=True),
        content_type="application/json",
    )
    if response.status_code == 201:
        assert Case.objects.count() == before + 1
    else:
        assert_api_error(response)
        assert Case.objects.count() == before


@BOUNDED
@given(lon=coordinate, lat=coordinate)
def test_a_ticket_with_any_coordinates_is_filed_or_refused_and_nothing_saved(
    hotline: Any, lon: Any, lat: Any
) -> None:
    before = Case.objects.count()
    response = hotline.post(
        "/api/cases/tickets/",
        {
            "channel": "phone",
            "category": event_category("0101").pk,
            "description": "垃圾",
            "address_text": "天河路",
            "lon": str(lon),
            "lat": str(lat),
        },
        format="multipart",
    )
    if response.status_code == 201:
        assert Case.objects.count() == before + 1
    else:
        assert_api_error(response)
        assert Case.objects.count() == before


def test_a_report_at_1e308_is_refused_naming_the_field(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    point = centre(small_city[INSPECTOR_CELL])
    for lon, lat in ((1e308, point.y), (point.x, "NaN"), (point.x, "1e309")):
        response = client_for(loop["inspector"]).post(
            "/api/cases/reports/",
            {
                "client_uuid": str(uuid.uuid4()),
                "category": event_category("0101").pk,
                "description": "垃圾",
                "lon": lon,
                "lat": lat,
            },
            format="multipart",
        )
        assert "lon" in error_text(assert_api_error(response)) or "lat" in error_text(
            response.json()
        )
    assert Case.objects.count() == 0


# ---- query parameters of the base-layer filters ----------------------------------------


@BOUNDED
@given(parts=st.lists(coordinate_text, min_size=0, max_size=6))
def test_a_bbox_of_anything_is_a_page_or_a_400(city: Any, parts: list[str]) -> None:
    response = city.get("/api/layers/components/", {"bbox": ",".join(parts)})
    if response.status_code == 200:
        assert response.json()["type"] == "FeatureCollection"
    else:
        assert names(assert_api_error(response), "bbox")


def test_a_bbox_of_1e308_or_nan_is_a_400(cast: dict[str, User]) -> None:
    for bbox in ("1e308,0,1e308,1", "nan,0,1,1", "0,0,1,inf", "1_0,0,20,1"):
        response = client_for(cast["city"]).get("/api/layers/people/", {"bbox": bbox})
        assert "bbox" in error_text(assert_api_error(response))


# ---- the admin's map widget ------------------------------------------------------------


def admin_move(client: Any, person: Person, geom: str) -> Any:
    return client.post(admin_url(Person, "change", person.pk), person_form(person, geom))


@pytest.mark.timeout(60)
def test_the_admin_refuses_1e308_and_nan_as_form_errors_in_no_time(
    superuser: Any, residents: dict[str, Person]
) -> None:
    # Before the boundary: 1e308 pinned a thread at 100% CPU for good, NaN gave a 500.
    person = residents["own"]
    for geom in (
        "POINT(1e308 1e308)",
        "SRID=4326;POINT(1e308 1e308)",
        "POINT(NaN NaN)",
        '{"type": "Point", "coordinates": [1e308, 1e308]}',
        '{"type": "Point", "coordinates": [NaN, NaN]}',
    ):
        started = time.monotonic()
        response = admin_move(superuser, person, geom)
        assert time.monotonic() - started < 5
        assert response.status_code == 200, geom
        html = response.content.decode()
        assert 'class="errorlist' in html and "位置" in html, geom
    assert Person.objects.get(pk=person.pk).geom.coords == person.geom.coords


@BOUNDED
@given(geom=geometry_text)
def test_the_admin_widget_takes_any_text_without_a_500(
    superuser: Any, residents: dict[str, Person], geom: str
) -> None:
    person = Person.objects.get(pk=residents["own"].pk)
    response = admin_move(superuser, person, geom)
    assert response.status_code in (200, 302)
    if response.status_code == 200:  # the form again, with the error
        assert 'class="errorlist' in response.content.decode()
        assert Person.objects.get(pk=person.pk).geom.coords == person.geom.coords


def test_the_admin_still_moves_a_point_given_as_the_widget_sends_it(
    superuser: Any, residents: dict[str, Person], small_city: dict[str, Area]
) -> None:
    person = residents["own"]
    target = centre(small_city[CELLS["own"]])
    target.transform(3857)
    geojson = json.dumps({"type": "Point", "coordinates": [target.x, target.y]})
    assert admin_move(superuser, person, geojson).status_code == 302
    moved = Person.objects.get(pk=person.pk).geom
    assert moved.srid == 4326
    assert moved.distance(centre(small_city[CELLS["own"]])) < 1e-6


# ---- bulk imports ----------------------------------------------------------------------


def test_an_import_rejects_non_finite_and_out_of_range_rows_with_reasons(
    small_city: dict[str, Area], tmp_path: Path
) -> None:
    point = centre(small_city[INSPECTOR_CELL])
    rows = [
        ("440106199001010011", point.x, point.y),
        ("440106199001010021", "1e999", point.y),  # inf once parsed
        ("440106199001010031", "1e308", point.y),
        ("440106199001010041", "nan", point.y),
        ("440106199001010051", point.x, "-1e400"),
    ]
    path = tmp_path / "people.csv"
    path.write_text(
        "id_number,name,lon,lat\n"
        + "".join(f"{key[:17]}{_check(key[:17])},某某,{x},{y}\n" for key, x, y in rows),
        encoding="utf-8",
    )
    result = import_file("population", path)
    assert (result.read, result.inserted, result.rejected) == (5, 1, 4)
    report = (tmp_path / "people.rejected.csv").read_text(encoding="utf-8")
    lines = report.splitlines()[1:]
    assert "坐标不是有限数值" in lines[0]
    assert "坐标超出范围" in lines[1]
    assert "not a number" in lines[2]
    assert "坐标不是有限数值" in lines[3]


def test_an_import_in_gcj02_rejects_points_outside_its_valid_range() -> None:
    lon = np.array([113.3, 10.0, np.nan, 1e308, -200.0])
    lat = np.array([23.1, 50.0, 23.1, 23.1, 23.1])
    reasons = lonlat_reasons(lon, lat, Datum.GCJ02)
    assert reasons[0] is None
    assert "gcj02" in reasons[1]
    assert "有限数值" in reasons[2]
    assert "超出范围" in reasons[3] and "超出范围" in reasons[4]


def test_wkb_records_are_read_without_building_a_geometry() -> None:
    little = struct.pack("<BIdd", 1, 1, 113.3, 23.1)
    big = struct.pack(">BIdd", 0, 1, 1e308, float("nan"))
    ewkb = struct.pack("<BIIdd", 1, 0x20000001, 4326, 113.3, 23.1)
    polygon = struct.pack("<BI", 1, 3) + b"\x00" * 40
    assert _wkb_point(little) == (113.3, 23.1, None)
    x, _y, why = _wkb_point(big)
    assert x == 1e308 and why is None  # the coordinate check rejects it next
    assert _wkb_point(ewkb) == (113.3, 23.1, None)
    assert _wkb_point(polygon)[2] == "geometry must be a Point, got Polygon"
    assert _wkb_point(None)[2] == "no geometry"
    assert _wkb_point(struct.pack("<BIdd", 1, 1, float("nan"), float("nan")))[2] == "empty point"


csv_cell = st.one_of(
    st.sampled_from(NASTY_NUMBERS).filter(lambda t: not set(t) & set(',"\n\r\x00')),
    finite_or_not.map(repr),
    in_city_lon.map(repr),
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=st.lists(st.tuples(csv_cell, st.one_of(csv_cell, in_city_lat.map(repr))),
                     min_size=1, max_size=8))  # fmt: skip
def test_an_import_of_any_coordinates_adds_up_and_rejects_with_a_reason(
    small_city: dict[str, Area], tmp_path: Path, rows: list[tuple[str, str]]
) -> None:
    path = tmp_path / "people.csv"
    lines = []
    for n, (x, y) in enumerate(rows):
        first17 = f"44010619900101{n:03d}"
        lines.append(f"{first17}{_check(first17)},某某,{x},{y}\n")
    path.write_text("id_number,name,lon,lat\n" + "".join(lines), encoding="utf-8")
    result = import_file("population", path, dry_run=True)
    assert result.read == len(rows) == result.inserted + result.rejected
    report = (tmp_path / "people.rejected.csv").read_text(encoding="utf-8").splitlines()[1:]
    assert len(report) == result.rejected
    assert all(line.split(",")[2] for line in report)  # every rejected row has its reason
    assert Person.objects.count() == 0  # a dry run


@BOUNDED
@given(data=st.one_of(st.binary(max_size=64), st.none()))
def test_any_wkb_bytes_give_a_point_or_a_reason(data: bytes | None) -> None:
    x, y, why = _wkb_point(data)
    if why is None:  # a point: its coordinates go on to the coordinate check
        assert isinstance(x, float) and isinstance(y, float)
    else:
        assert math.isnan(x) and math.isnan(y) and why


def test_redrawn_cells_with_absurd_vertices_are_refused_before_anything_changes(
    small_city: dict[str, Area], tmp_path: Path
) -> None:
    for bad in (1e308, 200.0):
        ring = [[113.30, 23.10], [bad, 23.10], [113.31, 23.11], [113.30, 23.11], [113.30, 23.10]]
        path = tmp_path / "cells.geojson"
        feature = {
            "type": "Feature",
            "properties": {"code": INSPECTOR_CELL},
            "geometry": {"type": "Polygon", "coordinates": [ring]},
        }
        path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
        with pytest.raises(CommandError, match=f"cells {INSPECTOR_CELL}: 坐标"):
            call_command("redraw_cells", str(path), "--valid-from", "2026-11-21")
    assert not Area.objects.filter(valid_to__isnull=False).exists()


def _check(first17: str) -> str:
    from layers.validators import id_number_check_digit

    return id_number_check_digit(first17)


# ---- Open311 ---------------------------------------------------------------------------


def open311_post(secret: str, **fields: Any) -> Any:
    data = {"api_key": secret, "service_code": "event-0101", "description": "垃圾", **fields}
    return Client().post("/open311/v2/requests.json", data)


def test_open311_refuses_1e308_and_nan_naming_the_field(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    _app, secret = make_client()
    for lat, long in (("1e308", "113.3"), ("nan", "113.3"), ("23.1", "inf"), ("23.1", "1_0")):
        response = open311_post(secret, lat=lat, long=long)
        assert response.status_code == 400
        errors = response.json()
        assert errors[0]["code"] == 400
        assert "lat" in errors[0]["description"] or "long" in errors[0]["description"]
    assert Case.objects.count() == 0


@pytest.fixture
def open311_key(loop: dict[str, User]) -> str:
    return make_client()[1]


@BOUNDED
@given(lat=st.one_of(coordinate_text, in_city_lat.map(repr)),
       long=st.one_of(coordinate_text, in_city_lon.map(repr)))  # fmt: skip
def test_open311_takes_any_lat_long_without_a_500_and_saves_nothing_on_error(
    open311_key: str, lat: str, long: str
) -> None:
    before = Case.objects.count()
    response = open311_post(open311_key, lat=lat, long=long)
    assert response.status_code in (201, 400), response.content[:300]
    if response.status_code == 400:
        errors = response.json()
        assert errors and all(e["code"] == 400 and e["description"] for e in errors)
        assert Case.objects.count() == before
    else:
        assert Case.objects.count() == before + 1
