"""Who sees which case: the whole matrix of the cast against cases in three places, through
the list, the detail and an action (ids guessed outside one's scope answer 404)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from incidents.access import visible_cases
from layers.models import Area, Role, Unit
from tests.cast import centre
from tests.loop import (
    INSPECTOR_CELL,
    OTHER_STREET_CELL,
    YUEXIU_CELL,
    act,
    add_staff,
    client_for,
    event_category,
    set_up_loop,
)

PLACES = {"own": INSPECTOR_CELL, "other_street": OTHER_STREET_CELL, "other_district": YUEXIU_CELL}
EVERYWHERE = set(PLACES)

# What each user may see once `other_street` is dispatched to the district's 城管执法
# department (the `enforcement` user) and `other_district` to 越秀's first street office.
SEES = {
    "inspector": {"own"},  # their own cells
    "inspector2": set(),  # other cells of the same street
    "hotline": EVERYWHERE,  # city-wide intake
    "street": {"own"},  # 天河 first street
    "yuexiu_street": {"other_district"},
    "district": {"own", "other_street"},  # 天河
    "city": EVERYWHERE,
    "leader": EVERYWHERE,
    "department": set(),  # the city water authority: nothing assigned to it
    "enforcement": {"other_street"},  # assigned to it
    "data_admin": set(),
    "nobody": set(),
}


@pytest.fixture
def world(cast: dict[str, User], small_city: dict[str, Area]) -> dict[str, int]:
    set_up_loop()
    cast["yuexiu_street"] = add_staff(
        "yuexiu_street", Role.STREET, Unit.objects.get(area__code="440104001")
    )
    cases = {}
    for key, cell in PLACES.items():
        point = centre(small_city[cell])
        response = client_for(cast["hotline"]).post(
            "/api/cases/tickets/",
            {"channel": "phone", "category": event_category("0101").pk, "description": key,
             "address_text": key, "lon": point.x, "lat": point.y},
            format="json",
        )  # fmt: skip
        cases[key] = response.json()["case"]["id"]
        assert act(cast["city"], cases[key], "file").status_code == 200
    enforcement = Unit.objects.get(name="天河区城市管理和综合执法局")
    sent = act(cast["city"], cases["other_street"], "dispatch", unit=enforcement.pk)
    assert sent.status_code == 200, sent.json()
    assert act(cast["city"], cases["other_district"], "dispatch").status_code == 200
    return cases


def test_every_user_sees_exactly_their_scope(cast: dict[str, User], world: dict[str, int]) -> None:
    assert set(SEES) <= set(cast), set(SEES) - set(cast)
    for username, expected in SEES.items():
        user = cast[username]
        ids = {world[key] for key in expected}
        assert set(visible_cases(user).values_list("id", flat=True)) == ids, username
        client = client_for(user)
        listed = client.get("/api/cases/")
        if username == "nobody":
            assert {c["id"] for c in listed.json()["results"]} == set()
            continue
        assert {c["id"] for c in listed.json()["results"]} == ids, username
        for key, case_id in world.items():
            detail = client.get(f"/api/cases/{case_id}/")
            assert detail.status_code == (200 if key in expected else 404), (username, key)


def test_nobody_acts_outside_their_scope_even_by_guessing_ids(
    cast: dict[str, User], world: dict[str, int]
) -> None:
    tianhe_street = cast["street"]
    yuexiu_case = world["other_district"]
    for action, body in [("sign", {}), ("return", {"reason": "x"}), ("escalate", {"reason": "x"}),
                         ("cancel", {"reason": "x"}), ("close", {})]:  # fmt: skip
        response = act(tianhe_street, yuexiu_case, action, **body)
        assert response.status_code == 404, (action, response.json())
    # The Yuexiu office itself may sign its own case; the leader sees but may not act.
    assert act(cast["leader"], yuexiu_case, "sign").status_code == 403
    assert act(cast["yuexiu_street"], yuexiu_case, "sign").status_code == 200
    # The department assigned a case acts on it; the city water authority cannot.
    assert act(cast["department"], world["other_street"], "sign").status_code == 404
    assert act(cast["enforcement"], world["other_street"], "sign").status_code == 200
    assert act(cast["enforcement"], 10**9, "sign").status_code == 404
