"""The case API's filters refuse what they do not know (an unknown area listed every
case the user may see), and its answers are what /api/schema/ says they are: real
responses of every kind of case endpoint validated against the served schema."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import pytest
from django.contrib.auth.models import User
from jsonschema import Draft7Validator
from rest_framework.test import APIClient

from incidents.models import Case
from layers.models import Area, Unit
from tests.cast import centre
from tests.loop import INSPECTOR_CELL, OTHER_STREET_CELL, client_for, event_category, report


@pytest.fixture(autouse=True)
def no_rate_limits(settings: Any) -> None:
    """Without rates: these tests send more requests from one address than a minute's
    allowance (a scope without a rate is not limited, accounts.throttling)."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {}}


# ---- unknown filter values ------------------------------------------------------------


@pytest.fixture
def two_streets(loop: dict[str, User], small_city: dict[str, Area]) -> dict[str, int]:
    return {
        "own": report(loop["inspector"], small_city).json()["case"]["id"],
        "other": report(loop["admin"], small_city, cell=OTHER_STREET_CELL).json()["case"]["id"],
    }


def listed(user: User, **params: Any) -> Any:
    return client_for(user).get("/api/cases/", params)


def test_an_area_filter_lists_the_cases_placed_in_it(
    loop: dict[str, User], two_streets: dict[str, int]
) -> None:
    answer = listed(loop["city"], area="440106001")
    assert answer.status_code == 200
    assert [c["id"] for c in answer.json()["results"]] == [two_streets["own"]]


@pytest.mark.parametrize(
    ("param", "value", "named"),
    [
        ("area", "440106999", "440106999"),  # no such street
        ("area", "天河区", "天河区"),
        ("category", "999999", "999999"),
        ("unit", "999999", "999999"),
        ("state", "lost", "lost"),
        ("overdue", "perhaps", None),
        ("mine", "perhaps", None),
        ("category", "x", None),
    ],
)
def test_an_unknown_filter_value_is_a_400_naming_it(
    loop: dict[str, User], two_streets: dict[str, int], param: str, value: str, named: str | None
) -> None:
    answer = listed(loop["city"], **{param: value})
    assert answer.status_code == 400, answer.json()
    body = answer.json()
    assert list(body) == [param]
    if named:
        assert named in body[param][0]


def test_a_misspelt_filter_is_a_400_naming_it_and_what_is_allowed(
    loop: dict[str, User], two_streets: dict[str, int]
) -> None:
    answer = listed(loop["city"], areas="440106001", limit=10)
    assert answer.status_code == 400
    (message,) = answer.json()["areas"]
    assert "areas" in message and "area" in message and "limit" in message


def test_known_category_and_unit_filters_still_answer(
    loop: dict[str, User], two_streets: dict[str, int]
) -> None:
    category = event_category("0101").pk
    assert len(listed(loop["city"], category=category).json()["results"]) == 2
    unit = Unit.objects.order_by("pk").first()
    assert unit is not None
    assert listed(loop["city"], unit=unit.pk).status_code == 200


# ---- responses against the served schema ------------------------------------------------


def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0's schema dialect as JSON Schema: `nullable` becomes a null option."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable"):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


@cache
def _served_schema() -> dict[str, Any]:
    client = APIClient()
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200, response.content[:300]
    return dict(_json_schema(response.json()))


def _operation(path: str, method: str) -> dict[str, Any]:
    for template, operations in _served_schema()["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", r"[^/]+", template) + "$"
        if re.match(pattern, path) and method in operations:
            # Fixed paths before templated ones: /cases/duplicates/ is not /cases/{id}/.
            if "{" in template and any(
                path == other for other in _served_schema()["paths"] if "{" not in other
            ):
                continue
            return dict(operations[method])
    raise AssertionError(f"{method.upper()} {path} is not in the schema")


def conforms(response: Any, path: str, method: str = "get") -> Any:
    """Assert that `response` is what the schema promises for its status; return its body."""
    operation = _operation(path, method)
    declared = operation["responses"].get(str(response.status_code))
    assert declared is not None, f"{response.status_code} not declared for {method} {path}"
    body = response.json()
    schema = declared["content"]["application/json"]["schema"]
    document = {**_served_schema(), **schema}
    errors = sorted(Draft7Validator(document).iter_errors(body), key=str)
    assert not errors, f"{method.upper()} {path}: {errors[0]}"
    return body


def test_case_responses_match_the_served_schema(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    inspector, street, hotline = loop["inspector"], loop["street"], loop["hotline"]
    first = report(inspector, small_city)
    body = conforms(first, "/api/cases/reports/", "post")
    case_id = body["case"]["id"]
    again = report(inspector, small_city, category="0101")
    conforms(again, "/api/cases/reports/", "post")
    point = centre(small_city[INSPECTOR_CELL])
    ticket = client_for(hotline).post(
        "/api/cases/tickets/",
        {
            "channel": "phone",
            "category": event_category("0101").pk,
            "description": "又一堆垃圾",
            "address_text": "天河路口",
            "caller_name": "张三",
            "caller_phone": "13812345678",
            "lon": point.x,
            "lat": point.y,
        },
        format="json",
    )
    conforms(ticket, "/api/cases/tickets/", "post")

    conforms(client_for(street).get("/api/cases/"), "/api/cases/")
    conforms(client_for(hotline).get("/api/cases/", {"area": "440106"}), "/api/cases/")
    conforms(client_for(street).get(f"/api/cases/{case_id}/"), f"/api/cases/{case_id}/")
    conforms(client_for(street).get("/api/cases/board/"), "/api/cases/board/")

    # Likely duplicates: a plain list, as the schema now says (it promised a page).
    near = client_for(hotline).get(
        "/api/cases/duplicates/",
        {"category": event_category("0101").pk, "lon": point.x, "lat": point.y},
    )
    found = conforms(near, "/api/cases/duplicates/")
    assert isinstance(found, list) and case_id in [c["id"] for c in found]
    of_case = client_for(street).get(f"/api/cases/{case_id}/duplicates/")
    assert isinstance(conforms(of_case, f"/api/cases/{case_id}/duplicates/"), list)

    filed = client_for(street).post(
        f"/api/cases/{case_id}/file/", {"expected_state": "reported"}, format="json"
    )
    conforms(filed, f"/api/cases/{case_id}/file/", "post")
    conflict = client_for(street).post(
        f"/api/cases/{case_id}/file/", {"expected_state": "reported"}, format="json"
    )
    assert conflict.status_code == 409
    conforms(conflict, f"/api/cases/{case_id}/file/", "post")
    missing = client_for(street).get("/api/cases/999999/")
    assert missing.status_code == 404
    conforms(missing, "/api/cases/999999/")
    bad_area = client_for(street).get("/api/cases/", {"area": "nowhere"})
    assert bad_area.status_code == 400
    conforms(bad_area, "/api/cases/")
    assert Case.objects.count() == 3
