"""Resends of a report under its client UUID: the same report is the same case even when
its coordinates come back with other last digits (compared at 1e-7°, about 1 cm), and a
UUID conflict names the earlier case only to whom may see it. The check reads the earlier
case as the ORM's only() query did (one kept statement)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.contrib.auth.models import User

from incidents.models import Case
from incidents.services import COORDINATE_TOLERANCE, Location, _earlier
from layers.datum import Datum
from layers.models import Area
from tests.cast import centre
from tests.loop import INSPECTOR2_CELL, INSPECTOR_CELL, client_for, event_category, report


@pytest.fixture(autouse=True)
def no_rate_limits(settings: Any) -> None:
    """Without rates: these tests send more requests from one address than a minute's
    allowance (a scope without a rate is not limited, accounts.throttling)."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {}}


def test_a_resend_whose_longitude_differs_by_1e_13_is_the_same_case(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    sent = uuid.uuid4()
    point = centre(small_city[INSPECTOR_CELL])
    first = report(loop["inspector"], small_city, client_uuid=sent, lon=point.x, lat=point.y)
    assert first.status_code == 201
    again = report(
        loop["inspector"], small_city, client_uuid=sent, lon=point.x + 1e-13, lat=point.y - 1e-13
    )
    assert again.status_code == 200, again.json()
    assert again.json()["case"]["id"] == first.json()["case"]["id"]
    assert again.json()["created"] is False
    assert Case.objects.count() == 1


def test_a_report_a_metre_away_under_a_used_uuid_is_a_conflict(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    sent = uuid.uuid4()
    point = centre(small_city[INSPECTOR_CELL])
    first = report(loop["inspector"], small_city, client_uuid=sent, lon=point.x, lat=point.y)
    moved = report(
        loop["inspector"],
        small_city,
        client_uuid=sent,
        lon=point.x + 10 * COORDINATE_TOLERANCE,  # ~10 cm
        lat=point.y,
    )
    assert moved.status_code == 409
    body = moved.json()
    assert body["code"] == "conflict" and body["field"] == "client_uuid"
    # The reporter sees their own case: it is named.
    assert f"#{first.json()['case']['id']}" in body["detail"]
    assert Case.objects.count() == 1


def test_a_ticket_resent_with_other_last_digits_is_the_same_case(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    point = centre(small_city[INSPECTOR_CELL])
    body = {
        "client_uuid": str(uuid.uuid4()),
        "channel": "phone",
        "category": event_category("0101").pk,
        "description": "路口有垃圾",
        "address_text": "天河路口",
        "lon": point.x,
        "lat": point.y,
    }
    hotline = client_for(loop["hotline"])
    first = hotline.post("/api/cases/tickets/", body, format="json")
    assert first.status_code == 201
    again = hotline.post("/api/cases/tickets/", {**body, "lon": point.x - 3e-13}, format="json")
    assert again.status_code == 200, again.json()
    assert again.json()["case"]["id"] == first.json()["case"]["id"]


def test_a_uuid_conflict_does_not_name_a_case_outside_the_callers_scope(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    sent = uuid.uuid4()
    theirs = report(loop["inspector"], small_city, client_uuid=sent).json()["case"]["id"]
    # inspector2 works other cells and cannot see the first inspector's report.
    clash = report(loop["inspector2"], small_city, cell=INSPECTOR2_CELL, client_uuid=sent)
    assert clash.status_code == 409
    detail = clash.json()["detail"]
    assert str(sent) in detail
    assert f"#{theirs}" not in detail and str(theirs) not in detail.replace(str(sent), "")
    assert client_for(loop["inspector2"]).get(f"/api/cases/{theirs}/").status_code == 404
    assert Case.objects.count() == 1


def test_the_earlier_case_is_read_as_the_orms_only_reads_it(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    """The resend check's one kept statement reads the columns, values and point of
    Case.objects.only(...) and defers the rest, as the ORM's query did."""
    sent = uuid.uuid4()
    assert report(loop["inspector"], small_city, client_uuid=sent).status_code == 201
    orm = Case.objects.only("body_hash", "reporter_id", "address_id", "geom").get(client_uuid=sent)
    where = Location(orm.geom.x, orm.geom.y, Datum.WGS84)
    earlier = _earlier(sent, orm.body_hash, loop["inspector"], where)
    assert earlier is not None and earlier.created is False
    ours = earlier.case
    assert ours.get_deferred_fields() == orm.get_deferred_fields()
    assert len(ours.get_deferred_fields()) == len(Case._meta.concrete_fields) - 5
    loaded = ("id", "body_hash", "reporter_id", "address_id")
    assert [getattr(ours, name) for name in loaded] == [getattr(orm, name) for name in loaded]
    assert (ours.geom.ewkb, ours.geom.srid) == (orm.geom.ewkb, orm.geom.srid)
    assert not ours._state.adding and ours._state.db == orm._state.db
    assert ours.description == "路边有一堆暴露垃圾"  # a deferred field loads when read
    assert _earlier(uuid.uuid4(), orm.body_hash, loop["inspector"], where) is None
