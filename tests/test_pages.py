"""The command centre, the street dispatch board and the evaluation page, without a
browser: who may open them, what their page config carries (only the user's own scope),
that no page names an outside host, and the board endpoint behind their counters."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from dispatch.sla import OVERDUE, SUPERVISE, WARNING
from dispatch.transitions import TRANSITIONS
from incidents.models import Case, State
from layers.access import staff_of
from layers.models import Area
from tests.loop import INSPECTOR_CELL, OTHER_STREET_CELL, YUEXIU_CELL, act, client_for, report

PAGES = {
    "/map/command/": {"city", "district", "leader"},
    "/map/street/": {"street"},
    "/map/evaluation/": {"city", "district", "street", "leader", "department", "enforcement"},
}
EVERYONE = [
    "inspector", "hotline", "street", "district", "city", "department", "enforcement",
    "leader", "data_admin", "nobody",
]  # fmt: skip
# Where a page may send the browser: nowhere but this server. Any scheme-and-host or
# protocol-relative address in the HTML is an outside request (or a link to one).
OUTSIDE = re.compile(r"(?:https?:)?//[a-z0-9][a-z0-9.-]*\.[a-z]{2,}", re.IGNORECASE)


def config_of(html: str) -> dict[str, Any]:
    found = re.search(
        r'<script id="page-config" type="application/json">(.*?)</script>', html, re.S
    )
    assert found, "the page carries no #page-config"
    return json.loads(found.group(1))  # type: ignore[no-any-return]


def page(user: User, url: str) -> tuple[int, str]:
    client = Client()
    client.force_login(user)
    response = client.get(url)
    return response.status_code, response.content.decode()


@pytest.mark.parametrize("url", list(PAGES))
def test_anonymous_users_are_sent_to_log_in(db: None, url: str) -> None:
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(f"/accounts/login/?next={url}")


@pytest.mark.parametrize("url", list(PAGES))
def test_each_page_opens_for_its_roles_only(cast: dict[str, User], url: str) -> None:
    answers = {name: page(cast[name], url)[0] for name in EVERYONE}
    allowed = PAGES[url]
    assert {name for name, code in answers.items() if code == 200} == allowed
    assert {code for name, code in answers.items() if name not in allowed} == {403}
    assert page(cast["admin"], url)[0] == 200  # a superuser opens every page


@pytest.mark.parametrize(
    ("username", "url"),
    [("city", "/map/command/"), ("street", "/map/street/"), ("district", "/map/evaluation/")],
)
def test_pages_name_no_outside_host(loop: dict[str, User], username: str, url: str) -> None:
    code, html = page(loop[username], url)
    assert code == 200
    assert OUTSIDE.findall(html) == []
    # Scripts and styles come from this server's static files.
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(s.endswith(f"/static/map_ui/{url.split('/')[2]}.js") for s in sources)
    assert all(s.startswith(("/", "#")) for s in sources), sources


def test_the_street_board_config_holds_the_streets_own_scope(loop: dict[str, User]) -> None:
    street = loop["street"]
    config = config_of(page(street, "/map/street/")[1])
    staff = staff_of(street)
    assert staff is not None
    assert config["scope"] == {
        "area": "440106001",
        "area_name": staff.unit.area.name,
        "unit": staff.unit_id,
        "role": "street",
    }
    assert config["api"] == {
        "cases": "/api/cases/",
        "board": "/api/cases/board/",
        "awaiting": "/api/cases/?awaiting=me&limit=200",
    }
    assert set(config["tiles"]) >= {"areas", "cells", "cases"}
    assert all(url.startswith("/map/tiles/") for url in config["tiles"].values())
    assert config["live"]["url"] == "/ws/live/"
    assert isinstance(config["live"]["since"], int)
    # The page computes no permission: its buttons are the case detail's allowed_actions.
    assert "actions" not in config
    # The unit picker (改派) offers the street's own units, none of the district above it
    # or of another street.
    names = {u["name"] for u in config["units"]}
    assert staff.unit.name in names
    areas = Area.objects.filter(pk__in=[u["area"] for u in config["units"]])
    assert all(a.code.startswith("440106001") for a in areas), [a.code for a in areas]
    queues = [q["key"] for q in config["queues"]]
    assert queues == ["new", "to_sign", "in_progress", "awaiting_verification", "overdue"]


def test_the_command_map_of_a_district_is_its_own(loop: dict[str, User]) -> None:
    config = config_of(page(loop["district"], "/map/command/")[1])
    assert config["scope"]["area"] == "440106"
    assert config["scope"]["role"] == "district"
    assert "actions" not in config  # the buttons come from each case's allowed_actions
    # Its unit picker holds the district's units (streets and departments), not the city's
    # or another district's.
    areas = Area.objects.filter(pk__in=[u["area"] for u in config["units"]])
    codes = {a.code for a in areas}
    assert "440106001" in codes and "440106" in codes
    assert all(code.startswith("440106") for code in codes), codes
    city = config_of(page(loop["city"], "/map/command/")[1])
    assert city["scope"]["area"] == "440100"
    # The city re-dispatches across districts: units of both districts and its own.
    city_codes = {u["area"] for u in city["units"]}
    assert len(city_codes) > len({u["area"] for u in config["units"]})


def test_the_evaluation_map_shows_the_users_streets(loop: dict[str, User]) -> None:
    html = page(loop["district"], "/map/evaluation/")[1]
    config = config_of(html)
    assert config["api"] == {
        "evaluation": "/api/evaluation/street/", "cells": "/api/evaluation/cell/",
    }  # fmt: skip
    assert config["period"]["start"].endswith("-01")
    # The district's two streets are drawn, the other district's are not.
    assert "440106001" in html and "440106002" in html
    assert "440104001" not in html
    assert f"var {config['outlines']} = " in html
    city_html = page(loop["city"], "/map/evaluation/")[1]
    assert "440104001" in city_html


def test_the_board_counts_the_users_cases_only(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    inspector = loop["inspector"]
    own = report(inspector, small_city, cell=INSPECTOR_CELL, category="0501").json()["case"]
    other = report(loop["admin"], small_city, cell=OTHER_STREET_CELL, category="0501")
    yuexiu = report(loop["admin"], small_city, cell=YUEXIU_CELL, category="0101")
    assert {other.status_code, yuexiu.status_code} == {201}
    assert own["state"] == State.DISPATCHED  # 街面秩序 from an inspector: dispatched at once

    board = client_for(loop["street"]).get("/api/cases/board/").json()
    assert board["counters"] == {"new_today": 1, "open": 1, "overdue": 0, "closed_on_time": 0}
    assert board["attention"] == []
    district = client_for(loop["district"]).get("/api/cases/board/").json()
    assert district["counters"]["new_today"] == 2
    city = client_for(loop["city"]).get("/api/cases/board/").json()
    assert city["counters"]["open"] == 3

    # Overdue and escalated cases are listed for chasing; the street's own only.
    Case.objects.filter(pk=own["id"]).update(overdue=True, escalation_level=1)
    Case.objects.filter(pk=other.json()["case"]["id"]).update(overdue=True)
    board = client_for(loop["street"]).get("/api/cases/board/").json()
    assert board["counters"]["overdue"] == 1
    assert [c["id"] for c in board["attention"]] == [own["id"]]
    assert board["attention"][0]["escalation_level"] == 1


def test_the_board_counts_a_case_closed_on_time_today(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    case = report(loop["inspector"], small_city, category="0501").json()["case"]
    Case.objects.filter(pk=case["id"]).update(state=State.VERIFIED)
    assert act(loop["street"], case["id"], "close").status_code == 200
    board = client_for(loop["street"]).get("/api/cases/board/").json()
    assert board["counters"] == {"new_today": 1, "open": 0, "overdue": 0, "closed_on_time": 1}


def test_the_board_needs_a_login(db: None) -> None:
    assert Client().get("/api/cases/board/").status_code in {401, 403}


def test_every_history_entry_has_a_name_on_the_case_pages(loop: dict[str, User]) -> None:
    # Beyond the workflow's actions: the two intakes, a merge into the case, and the
    # deadline worker's warnings and reminders (dispatch.sla).
    for username, url in [("street", "/map/street/"), ("district", "/map/command/")]:
        names = config_of(page(loop[username], url)[1])["labels"]["actions"]
        wanted = {"report", "ticket", "merge_in", WARNING, OVERDUE, SUPERVISE, *TRANSITIONS}
        assert wanted <= set(names), wanted - set(names)
        assert all(isinstance(label, str) and label for label in names.values())


def test_a_tile_server_without_a_credit_line_is_credited_by_its_name(
    loop: dict[str, User], settings: Any
) -> None:
    settings.MAP_TILE_URL = "http://tiles.city.example/{z}/{x}/{y}.png"
    settings.MAP_TILE_ATTRIBUTION = ""
    status, html = page(loop["district"], "/map/command/")
    assert status == 200
    assert "tiles.city.example/{z}/{x}/{y}.png" in html
    assert '"attribution": "tiles.city.example"' in html
