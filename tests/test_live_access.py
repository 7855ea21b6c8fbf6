"""Who receives which live event: the groups a user's WebSocket joins and the outbox rows a
resume replays agree with visible_cases() for the whole cast (tests/test_case_scope.py's
world), including a unit that had the case before and still sees it."""

from __future__ import annotations

from django.contrib.auth.models import User

from incidents.access import live_audience, live_groups, visible_cases
from incidents.models import Case, Outbox
from incidents.outbox import CITY_GROUP, groups, sequence
from layers.models import Unit
from tests.loop import act
from tests.test_case_scope import SEES, world  # noqa: F401 -- `world` is a fixture


def test_live_groups_and_replay_reach_exactly_the_visible_cases(
    cast: dict[str, User],
    world: dict[str, int],  # noqa: F811 -- the fixture imported above
) -> None:
    # The department sends its case back: no longer its unit's, but it keeps seeing it
    # (assigned earlier), so it must keep receiving its events.
    back = act(cast["enforcement"], world["other_street"], "return", reason="不属本单位职责")
    assert back.status_code == 200, back.json()
    assert Case.objects.get(pk=world["other_street"]).unit_id is None
    sequence()  # the numbering after commit (the test's transaction never commits)
    enforcement = Unit.objects.get(name="天河区城市管理和综合执法局")
    last = Outbox.objects.filter(case_id=world["other_street"]).latest("seq")
    assert last.kind == "case.return" and enforcement.pk in last.unit_ids

    expected = {**SEES, "admin": set(world)}
    events = list(Outbox.objects.order_by("seq"))
    assert len(events) >= 3 * 2
    for username, places in expected.items():
        user = cast[username]
        joined = set(live_groups(user))
        visible = set(visible_cases(user).values_list("id", flat=True))
        assert visible == {world[p] for p in places}, username
        for place, case_id in world.items():
            latest = Outbox.objects.filter(case_id=case_id).latest("seq")
            reaches = bool(joined & set(groups(latest)))
            assert reaches == (case_id in visible), (username, place)
        # The replay filter is the same rule as the groups, row by row.
        replayed = set(live_audience(user).events().values_list("seq", flat=True))
        live = {e.seq for e in events if joined & set(groups(e))}
        assert replayed == live, username


def test_groups_by_role(
    cast: dict[str, User],
    world: dict[str, int],  # noqa: F811 -- the fixture imported above
) -> None:
    inspector = cast["inspector"]
    cells = sorted(inspector.staff.cells.values_list("pk", flat=True))
    assert len(cells) == 3
    assert live_groups(inspector) == [
        *(f"cases.area.{c}" for c in cells),
        f"cases.user.{inspector.pk}",
    ]
    assert live_groups(cast["city"]) == [CITY_GROUP]
    assert live_groups(cast["hotline"]) == [CITY_GROUP]
    assert live_groups(cast["admin"]) == [CITY_GROUP]
    street = cast["street"].staff
    assert live_groups(cast["street"]) == [
        f"cases.area.{street.unit.area_id}",
        f"cases.unit.{street.unit_id}",
    ]
    assert live_groups(cast["department"]) == [f"cases.unit.{cast['department'].staff.unit_id}"]
    assert live_groups(cast["data_admin"]) == []
    assert live_groups(cast["nobody"]) == []
    assert not live_audience(cast["nobody"]).events().exists()
