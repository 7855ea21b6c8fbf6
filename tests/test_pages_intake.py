"""The intake pages without a browser: who may open them, what their HTML and config hold,
and the hotline's look-up of likely duplicates before a ticket is filed."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from layers.datum import Datum, point_from_storage
from layers.models import Address, Area
from tests.cast import centre
from tests.loop import INSPECTOR_CELL, OTHER_STREET_CELL, client_for, event_category, report

STATIC = Path(__file__).resolve().parent.parent / "map_ui" / "static" / "map_ui"
OWN_SCRIPTS = [
    "common.js",
    "intake-common.js",
    "hotline.js",
    "inspector.js",
    "queue.js",
    "collect.js",
]
# Any address with a host: http://…, https://…, ws://…, or protocol-relative //host.
OUTSIDE = re.compile(r"""(?:\b(?:https?|wss?):)?//[\w.-]+\.[a-z]{2,}""", re.IGNORECASE)


def get_page(user: User, name: str) -> Any:
    client = Client()
    client.force_login(user)
    return client.get(f"/map/{name}/")


def page_config(html: str) -> dict[str, Any]:
    found = re.search(r'<script id="page-config" type="application/json">(.*?)</script>', html)
    assert found, "the page has no #page-config"
    return json.loads(found.group(1))


@pytest.mark.parametrize(
    ("name", "allowed"),
    [("hotline", {"hotline", "admin"}), ("inspector", {"inspector", "inspector2", "admin"})],
)
def test_each_page_opens_to_its_role_only(
    loop: dict[str, User], name: str, allowed: set[str]
) -> None:
    assert len(loop) > 10  # every post of the demo cast, the superuser and `nobody`
    for username, user in loop.items():
        expected = 200 if username in allowed else 403
        assert get_page(user, name).status_code == expected, username
    anonymous = Client().get(f"/map/{name}/")
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(("name", "username"), [("hotline", "hotline"), ("inspector", "inspector")])
def test_pages_name_no_outside_host(loop: dict[str, User], name: str, username: str) -> None:
    html = get_page(loop[username], name).content.decode()
    assert OUTSIDE.findall(html) == []
    scripts = re.findall(r'<script[^>]+src="([^"]+)"', html)
    styles = re.findall(r'<link[^>]+href="([^"]+)"', html)
    assert scripts and styles
    assert all(url.startswith("/static/") for url in scripts + styles), scripts + styles
    assert f"/static/map_ui/{name}.js" in scripts


def test_the_page_scripts_name_no_outside_host() -> None:
    for script in OWN_SCRIPTS:
        assert OUTSIDE.findall((STATIC / script).read_text()) == [], script


def test_caller_fields_are_on_the_hotline_page_only(loop: dict[str, User]) -> None:
    hotline = get_page(loop["hotline"], "hotline").content.decode()
    inspector = get_page(loop["inspector"], "inspector").content.decode()
    for field in ('name="caller_name"', 'name="caller_phone"', 'id="channel"'):
        assert field in hotline
        assert field not in inspector
    assert 'id="photos"' in inspector and 'id="photos"' not in hotline


def test_the_configs_give_the_scripts_what_they_call(loop: dict[str, User]) -> None:
    hotline = page_config(get_page(loop["hotline"], "hotline").content.decode())
    assert hotline["api"] == {
        "geocode": "/api/geocode/",
        "tickets": "/api/cases/tickets/",
        "duplicates": "/api/cases/duplicates/",
        "cases": "/api/cases/",
        "locate": "/api/geocode/locate/",
        "areas": "/api/geocode/areas/",
    }
    assert hotline["uncertain_score"] == settings.HOTLINE_UNCERTAIN_SCORE
    assert [c["value"] for c in hotline["channels"]] == ["phone", "sms", "wechat", "weibo", "web"]
    assert hotline["tiles"]["areas"].startswith("/map/tiles/areas/{z}/{x}/{y}.pbf")
    codes = {c["code"] for c in hotline["categories"]}
    assert "0101" in codes  # a subcategory …
    assert all(len(code) == 4 for code in codes)  # … and never a major class
    assert hotline["labels"]["sent"]

    inspector = page_config(get_page(loop["inspector"], "inspector").content.decode())
    assert inspector["api"] == {"reports": "/api/cases/reports/", "cases": "/api/cases/"}
    assert inspector["user"] == "inspector"
    assert inspector["categories"] == hotline["categories"]
    assert inspector["csrf"] and inspector["map"].startswith("map_")


def test_category_names_follow_the_page_language(loop: dict[str, User]) -> None:
    client = Client()
    client.force_login(loop["hotline"])
    chinese = page_config(client.get("/map/hotline/").content.decode())
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # what /i18n/setlang/ sets
    english = page_config(client.get("/map/hotline/").content.decode())
    garbage = event_category("0101")
    by_id = {c["id"]: c for c in chinese["categories"]}
    assert by_id[garbage.pk]["name"] == garbage.name
    assert {c["id"]: c for c in english["categories"]}[garbage.pk]["name"] == garbage.name_en


# ---- likely duplicates before filing --------------------------------------------------


def duplicates(user: User, **params: Any) -> Any:
    return client_for(user).get("/api/cases/duplicates/", params)


@pytest.fixture
def open_case(loop: dict[str, User], small_city: dict[str, Area]) -> int:
    """An inspector's open report of exposed garbage (0101) at the centre of their cell."""
    answer = report(loop["inspector"], small_city, category="0101")
    assert answer.status_code == 201
    return int(answer.json()["case"]["id"])


def test_duplicates_are_the_open_cases_of_the_category_near_the_address(
    loop: dict[str, User], small_city: dict[str, Area], open_case: int
) -> None:
    here = Address.objects.create(
        code="D1", text="华景路1号", geom=centre(small_city[INSPECTOR_CELL])
    )
    far = Address.objects.create(
        code="D2", text="同和路2号", geom=centre(small_city[OTHER_STREET_CELL])
    )
    garbage, other = event_category("0101").pk, event_category("0102").pk

    found = duplicates(loop["hotline"], category=garbage, address_id=here.pk)
    assert found.status_code == 200
    [dup] = found.json()
    assert (dup["id"], dup["state"], dup["distance_m"]) == (open_case, "reported", 0.0)

    assert duplicates(loop["hotline"], category=other, address_id=here.pk).json() == []
    assert duplicates(loop["hotline"], category=garbage, address_id=far.pk).json() == []


def test_duplicates_near_a_point_picked_on_the_map_in_its_datum(
    loop: dict[str, User], small_city: dict[str, Area], open_case: int
) -> None:
    point = centre(small_city[INSPECTOR_CELL])
    lon, lat = point_from_storage(point.x + 0.0001, point.y, Datum.GCJ02)  # ~10 m east
    found = duplicates(
        loop["hotline"], category=event_category("0101").pk, lon=lon, lat=lat, datum="gcj02"
    ).json()
    assert [d["id"] for d in found] == [open_case]
    assert 5 < found[0]["distance_m"] < 15
    # Read as WGS 84, the same numbers lie hundreds of metres away: no duplicate.
    assert (
        duplicates(loop["hotline"], category=event_category("0101").pk, lon=lon, lat=lat).json()
        == []
    )


def test_duplicates_are_scoped_and_say_what_is_missing(
    loop: dict[str, User], small_city: dict[str, Area], open_case: int
) -> None:
    category = event_category("0101").pk
    here = centre(small_city[INSPECTOR_CELL])
    # The case lies in the inspector's own cell and the hotline sees the whole city; the
    # department was never assigned it, so for them it does not exist.
    for user, expected in [
        ("hotline", [open_case]),
        ("inspector", [open_case]),
        ("department", []),
    ]:
        found = duplicates(loop[user], category=category, lon=here.x, lat=here.y).json()
        assert [d["id"] for d in found] == expected, user
    missing = duplicates(loop["hotline"], category=category)
    assert missing.status_code == 400
    assert "address_id" in missing.json()
    assert "category" in duplicates(loop["hotline"], category="x", address_id=1).json()
    mars = duplicates(loop["hotline"], category=category, lon=113.3, lat=23.1, datum="mars")
    assert mars.status_code == 400 and "datum" in mars.json()


# ---- the hotline's fallbacks and caller history; the inspector's own reports -----------


def ticket_body(city: dict[str, Area], phone: str, **extra: Any) -> dict[str, Any]:
    point = centre(city[INSPECTOR_CELL])
    return {
        "channel": "phone",
        "category": event_category("0101").pk,
        "description": "小区门口垃圾堆积",
        "address_text": "华景路",
        "lon": point.x,
        "lat": point.y,
        "caller_phone": phone,
        **extra,
    }


def test_caller_phone_finds_the_callers_earlier_tickets_for_the_hotline_only(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    hotline = client_for(loop["hotline"])
    ids = []
    for phone in ["138 1234 5678", "+86 138-1234-5678", "13900000000"]:
        answer = hotline.post("/api/cases/tickets/", ticket_body(small_city, phone), format="json")
        assert answer.status_code == 201, answer.json()
        ids.append(answer.json()["case"]["id"])

    found = hotline.get("/api/cases/", {"caller_phone": "+8613812345678"})
    assert found.status_code == 200
    rows = found.json()["results"]
    assert sorted(r["id"] for r in rows) == sorted(ids[:2])
    assert {r["caller_phone"] for r in rows} == {"13812345678"}  # the hotline sees it whole
    other = hotline.get("/api/cases/", {"caller_phone": "13900000000"}).json()["results"]
    assert [r["id"] for r in other] == [ids[2]]

    bad = hotline.get("/api/cases/", {"caller_phone": "12"})
    assert bad.status_code == 400 and "caller_phone" in bad.json()
    # A role that sees numbers masked may not search by them: the answer would name them.
    for role in ["inspector", "street", "department"]:
        refused = client_for(loop[role]).get("/api/cases/", {"caller_phone": "13812345678"})
        assert refused.status_code == 403, role
        assert refused.json()["detail"]


def test_reported_by_me_lists_my_reports_only(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    mine = report(loop["inspector"], small_city, category="0101").json()["case"]["id"]
    theirs = report(loop["inspector2"], small_city, category="0101")
    inspector = client_for(loop["inspector"])
    rows = inspector.get("/api/cases/", {"reported_by": "me"}).json()["results"]
    assert [r["id"] for r in rows] == [mine]
    assert rows[0]["state"] == "reported"
    if theirs.status_code == 201:
        rows = client_for(loop["inspector2"]).get("/api/cases/", {"reported_by": "me"})
        assert [r["id"] for r in rows.json()["results"]] == [theirs.json()["case"]["id"]]
    assert inspector.get("/api/cases/", {"reported_by": "you"}).status_code == 400


def test_locate_names_the_areas_of_a_point(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    hotline = client_for(loop["hotline"])
    point = centre(small_city[INSPECTOR_CELL])
    found = hotline.get("/api/geocode/locate/", {"lon": point.x, "lat": point.y})
    assert found.status_code == 200
    body = found.json()
    cell = small_city[INSPECTOR_CELL]
    assert body["cell"] == {"code": cell.code, "name": cell.name}
    assert body["community"]["code"] == cell.code[:12]
    assert body["street"]["code"] == cell.code[:9]
    assert body["district"] == {"code": "440106", "name": "天河区"}
    outside = hotline.get("/api/geocode/locate/", {"lon": 0.5, "lat": 0.5})
    assert outside.status_code == 400 and "location" in json.dumps(outside.json())
    assert (
        client_for(loop["nobody"]).get("/api/geocode/locate/", {"lon": 0, "lat": 0}).status_code
        == 403
    )


def test_areas_by_name_give_streets_and_communities_with_bounds(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    hotline = client_for(loop["hotline"])
    hits = hotline.get("/api/geocode/areas/", {"q": "天河区第2街道"}).json()
    assert hits[0]["code"] == "440106002" and hits[0]["tier"] == "street"
    assert hits[0]["within"] == "天河区"
    assert all(h["tier"] in {"street", "community"} for h in hits)
    assert {h["code"] for h in hits[1:]} <= {a for a in small_city if a.startswith("440106002")}
    west, south, east, north = hits[0]["bounds"]
    inside = centre(small_city[OTHER_STREET_CELL])
    assert west <= inside.x <= east and south <= inside.y <= north
    assert hotline.get("/api/geocode/areas/", {"q": "没有这个地方"}).json() == []
    assert hotline.get("/api/geocode/areas/").status_code == 400
