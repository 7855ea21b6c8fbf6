"""GET /api/layers/locate/: a point and its datum → district, street, community, cell."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from layers.datum import Datum, from_storage
from layers.models import Area
from tests.cast import centre
from tests.loop import INSPECTOR_CELL, client_for

URL = "/api/layers/locate/"


def test_it_names_the_areas_of_a_point(loop: dict[str, User], small_city: dict[str, Area]) -> None:
    point = centre(small_city[INSPECTOR_CELL])
    found = client_for(loop["hotline"]).get(URL, {"lon": point.x, "lat": point.y})
    assert found.status_code == 200, found.json()
    cell = small_city[INSPECTOR_CELL]
    assert found.json() == {
        "district": {"code": "440106", "name": small_city["440106"].name},
        "street": {"code": cell.code[:9], "name": small_city[cell.code[:9]].name},
        "community": {"code": cell.code[:12], "name": small_city[cell.code[:12]].name},
        "cell": {"code": cell.code, "name": cell.name},
    }


def test_it_reads_the_point_in_its_datum(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    point = centre(small_city[INSPECTOR_CELL])
    lon, lat = from_storage([point.x], [point.y], Datum.GCJ02)
    # The GCJ-02 point is some 500 m off its WGS 84 place: read as WGS 84 it would lie
    # in another cell (or none); read as GCJ-02 it is the cell's centre again.
    found = client_for(loop["hotline"]).get(
        URL, {"lon": str(lon[0]), "lat": str(lat[0]), "datum": "gcj-02"}
    )
    assert found.status_code == 200, found.json()
    assert found.json()["cell"]["code"] == INSPECTOR_CELL


def test_a_point_on_a_border_goes_to_the_lower_code(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    # x = 113.34 is the border between 越秀 (440104) and 天河 (440106) in the test city.
    found = client_for(loop["hotline"]).get(URL, {"lon": "113.34", "lat": "23.105"})
    assert found.status_code == 200 and found.json()["district"]["code"] == "440104"


def test_a_point_outside_the_city_is_refused_on_location(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    outside = client_for(loop["hotline"]).get(URL, {"lon": 0.5, "lat": 0.5})
    assert outside.status_code == 400
    (message,) = outside.json()["location"]
    assert "不在本市任何网格内" in message


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lat": "23.1"}, "lon"),
        ({"lon": "113.3"}, "lat"),
        ({"lon": "abc", "lat": "23.1"}, "lon"),
        ({"lon": "113.3", "lat": "NaN"}, "lat"),
        ({"lon": "inf", "lat": "23.1"}, "lon"),
        ({"lon": "1e400", "lat": "23.1"}, "lon"),
        ({"lon": "113.3", "lat": "91"}, "lat"),
        ({"lon": "-181", "lat": "23.1"}, "lon"),
        ({"lon": "113.3,1", "lat": "23.1"}, "lon"),
        ({"lon": "0x10", "lat": "23.1"}, "lon"),
        ({"lon": "113.3", "lat": "23.1", "datum": "mars"}, "datum"),
        # In range for WGS 84 but outside where GCJ-02 is defined (China).
        ({"lon": "2.35", "lat": "48.85", "datum": "gcj02"}, "lon"),
    ],
)
def test_bad_input_is_refused_naming_the_parameter_before_any_query(
    loop: dict[str, User], small_city: dict[str, Area], params: dict[str, str], field: str
) -> None:
    client = client_for(loop["hotline"])
    with CaptureQueriesContext(connection) as queries:
        refused = client.get(URL, params)
    assert refused.status_code == 400, refused.json()
    assert list(refused.json()) == [field] and refused.json()[field][0]
    # Nothing malformed went further than the check: no placement query was made.
    assert not [q for q in queries.captured_queries if "layers_areapiece" in q["sql"]]


def test_only_staff_may_locate(loop: dict[str, User], small_city: dict[str, Area]) -> None:
    assert client_for(loop["nobody"]).get(URL, {"lon": 113.3, "lat": 23.1}).status_code == 403
    anonymous = client_for(loop["hotline"])
    anonymous.logout()
    assert anonymous.get(URL, {"lon": 113.3, "lat": 23.1}).status_code in (401, 403)


def test_it_is_in_the_openapi_schema(loop: dict[str, User]) -> None:
    schema = client_for(loop["hotline"]).get("/api/schema/?format=json").json()
    operation = schema["paths"][URL]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"lon", "lat", "datum"}
    assert {"200", "400"} <= set(operation["responses"])


def _prepared(fragment: str) -> int:
    """The statements prepared on this connection whose text holds `fragment`."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
                       [f"%{fragment}%"])  # fmt: skip
        (count,) = cursor.fetchone()
    return int(count)


def test_the_placement_statement_is_kept_prepared(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    # Planning the placement statement cost more than running it: after a few requests on
    # a connection PostgreSQL keeps it prepared, and the answers stay the same.
    from django.conf import settings

    threshold = settings.DATABASES["default"]["OPTIONS"]["prepare_threshold"]
    point = centre(small_city[INSPECTOR_CELL])
    client = client_for(loop["hotline"])
    answers = []
    for _ in range(threshold + 2):
        with CaptureQueriesContext(connection) as queries:
            found = client.get(URL, {"lon": point.x, "lat": point.y})
        assert found.status_code == 200, found.json()
        answers.append(found.json())
        # Still one statement of the request, logged as every other.
        assert sum("layers_areapiece" in q["sql"] for q in queries.captured_queries) == 1
    assert _prepared("layers_areapiece") == 1
    assert all(answer == answers[0] for answer in answers)
    assert answers[0]["cell"]["code"] == INSPECTOR_CELL
