"""The handler's workbench, the data administrator's landing page, the error pages and
the favicon, without a browser (tests/test_browser_handler.py drives the workbench)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from layers.models import Address, Area
from tests.cast import centre
from tests.loop import OTHER_STREET_CELL
from tests.test_pages import config_of, page

HANDLERS = {"department", "enforcement", "street", "district", "city"}
EVERYONE = [
    "inspector", "hotline", "street", "district", "city", "department", "enforcement",
    "leader", "data_admin", "nobody",
]  # fmt: skip


def test_the_workbench_opens_for_every_unit_that_handles_cases(cast: dict[str, User]) -> None:
    answers = {name: page(cast[name], "/map/handle/")[0] for name in EVERYONE}
    assert {name for name, code in answers.items() if code == 200} == HANDLERS
    assert {code for name, code in answers.items() if name not in HANDLERS} == {403}


def test_a_department_lands_on_its_workbench_with_its_unit_and_queues(
    cast: dict[str, User],
) -> None:
    client = Client()
    client.force_login(cast["department"])
    assert client.get("/map/")["Location"] == "/map/handle/"
    status, html = page(cast["department"], "/map/handle/")
    assert status == 200
    config = config_of(html)
    assert config["unit"] == cast["department"].staff.unit_id
    assert config["area_name"] == cast["department"].staff.unit.area.display_name
    assert [q["key"] for q in config["queues"]] == [
        "to_sign", "in_progress", "warned", "overdue", "rework", "co",
    ]  # fmt: skip
    assert [q["title"] for q in config["queues"]] == [
        "待签收", "办理中", "即将超期", "已超期", "被退回/返工", "协办",
    ]  # fmt: skip
    assert config["api"]["cases"] == "/api/cases/"
    assert config["work_day_hours"] > 0
    assert config["labels"]["panel"]["form"]["photos"] == "处置照片（可拍照）"
    assert '<script type="module" src="/static/map_ui/handler.js">' in html


def test_the_data_admin_lands_on_the_base_data_page(
    cast: dict[str, User], small_city: dict[str, Area]
) -> None:
    # One address in a cell, one imported without placement (bulk imports set it).
    Address.objects.create(code="A1", text="天河路1号", geom=centre(small_city[OTHER_STREET_CELL]))
    placed = Address.objects.get()
    Address.objects.bulk_create(
        [Address(code="A2", text="无网格路2号", geom=placed.geom, street_id=placed.street_id)]
    )
    client = Client()
    client.force_login(cast["data_admin"])
    assert client.get("/map/")["Location"] == "/map/data/"
    response = client.get("/map/data/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<tr data-layer="address">' in html
    row = html.split('<tr data-layer="address">')[1].split("</tr>")[0]
    assert '<td data-key="total">2</td>' in row
    assert '<td data-key="unplaced" class="warn">1</td>' in row
    assert 'href="/admin/layers/address/"' in row
    assert 'data-unplaced="1"' in html
    assert "import_layer" in html
    # Nobody else opens it.
    assert page(cast["street"], "/map/data/")[0] == 403


@pytest.mark.parametrize(
    ("language", "forbidden", "missing", "home"),
    [
        ("zh-hans", "无权访问", "页面不存在", "返回首页"),
        ("en", "Access denied", "Page not found", "Back to the home page"),
    ],
)
def test_error_pages_speak_the_users_language_and_lead_home(
    cast: dict[str, User], language: str, forbidden: str, missing: str, home: str
) -> None:
    client = Client()
    client.force_login(cast["street"])
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    denied = client.get("/map/hotline/")
    assert denied.status_code == 403
    html = denied.content.decode()
    assert f'<html lang="{language}">' in html
    assert forbidden in html and home in html
    assert 'class="home-link" href="/map/"' in html
    assert "favicon.svg" in html and "403 Forbidden" not in html
    absent = client.get("/map/no-such-page/")
    assert absent.status_code == 404
    html = absent.content.decode()
    assert missing in html and home in html and 'href="/map/"' in html
    # The API keeps its JSON errors.
    api = client.get("/api/no-such-thing/")
    assert api.status_code == 404 and api["Content-Type"].startswith("application/json")


def test_the_favicon_is_served(db: None) -> None:
    response = Client().get("/favicon.ico")
    assert response.status_code == 200
    body = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO file
