"""Intake: inspector reports and hotline tickets — idempotency, placement, photos,
duplicates and the errors a person can act on."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.contrib.auth.models import User

from dispatch import calendar, deadlines, services
from dispatch.models import CalendarDay
from gridmgmt import clock
from incidents.models import Case, CaseEvent, Outbox, State
from incidents.services import Location, Report
from layers.datum import Datum, from_storage
from layers.models import Area
from tests.cast import centre
from tests.loop import (
    INSPECTOR_CELL,
    OTHER_STREET_CELL,
    SHANGHAI,
    act,
    client_for,
    event_category,
    photo,
    report,
)


def test_it_returns_the_same_case_when_a_report_is_resent(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    client_uuid = uuid.uuid4()
    first = report(loop["inspector"], small_city, client_uuid=client_uuid, photos=[photo()])
    again = report(loop["inspector"], small_city, client_uuid=client_uuid, photos=[photo()])
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["case"]["id"] == first.json()["case"]["id"]
    assert again.json()["created"] is False
    assert Case.objects.count() == 1
    assert CaseEvent.objects.count() == 1 and Outbox.objects.count() == 1


def test_it_refuses_a_different_report_under_a_used_uuid(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    client_uuid = uuid.uuid4()
    report(loop["inspector"], small_city, client_uuid=client_uuid)
    other = report(loop["inspector"], small_city, client_uuid=client_uuid, description="另一件事")
    assert other.status_code == 409
    assert other.json()["field"] == "client_uuid"
    assert str(client_uuid) in other.json()["detail"]
    assert Case.objects.count() == 1


def test_it_converts_a_gcj02_point_and_places_it(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    point = centre(small_city[INSPECTOR_CELL])
    lon, lat = from_storage([point.x], [point.y], Datum.GCJ02)
    response = report(loop["inspector"], small_city, lon=float(lon[0]), lat=float(lat[0]),
                      datum="gcj02", accuracy_m=8)  # fmt: skip
    assert response.status_code == 201, response.json()
    case = Case.objects.get()
    assert case.cell.code == INSPECTOR_CELL and case.datum == "gcj02"
    assert case.geom.distance(point) < 1e-7
    # Read back in GCJ-02, the point is what the phone sent.
    body = client_for(loop["inspector"]).get(f"/api/cases/{case.pk}/?datum=gcj02").json()
    assert body["point"] == pytest.approx([lon[0], lat[0]], abs=1e-6)


def test_it_refuses_points_outside_the_city_or_the_inspectors_cells(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    outside = report(loop["inspector"], small_city, lon=120.0, lat=30.0)
    assert outside.status_code == 400
    assert outside.json()["field"] == "location" and "不在本市" in outside.json()["detail"]
    elsewhere = report(loop["inspector"], small_city, cell=OTHER_STREET_CELL)
    assert elsewhere.status_code == 400
    assert OTHER_STREET_CELL in elsewhere.json()["detail"]
    # Just over the border of an own cell (within the 100 m tolerance) is accepted.
    _west, south, east, north = small_city[INSPECTOR_CELL].geom.extent
    near = report(loop["inspector"], small_city, lon=east + 0.0005, lat=(south + north) / 2)
    assert near.status_code == 201, near.json()
    assert Case.objects.count() == 1


def test_it_checks_photos_by_their_bytes(
    loop: dict[str, User], small_city: dict[str, Area], settings: object
) -> None:
    fake = report(loop["inspector"], small_city, photos=[photo("x.png", b"<html>not an image")])
    assert fake.status_code == 400
    assert fake.json()["field"] == "photos" and "x.png" in fake.json()["detail"]
    too_many = report(loop["inspector"], small_city, photos=[photo() for _ in range(7)])
    assert too_many.status_code == 400 and "6" in too_many.json()["detail"]
    assert Case.objects.count() == 0


def test_it_refuses_a_major_class_and_names_the_field(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    from layers.models import Category

    major = Category.objects.get(kind="event", major_code="01", minor_code="")
    response = report(loop["inspector"], small_city, category="0101")
    assert response.status_code == 201
    response = client_for(loop["inspector"]).post(
        "/api/cases/reports/",
        {"client_uuid": str(uuid.uuid4()), "category": major.pk, "description": "x",
         "lon": 113.305, "lat": 23.105},
        format="json",
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json()["field"] == "category" and "大类" in response.json()["detail"]


def test_only_inspectors_report_and_only_the_hotline_files_tickets(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    assert report(loop["street"], small_city).status_code == 403
    ticket = client_for(loop["inspector"]).post(
        "/api/cases/tickets/",
        {"channel": "phone", "category": event_category("0101").pk, "description": "垃圾",
         "address_text": "某路", "lon": 113.305, "lat": 23.105},
        format="json",
    )  # fmt: skip
    assert ticket.status_code == 403
    assert Case.objects.count() == 0


def test_a_ticket_needs_a_confirmed_address_or_a_point(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    body = {"channel": "wechat", "category": event_category("0101").pk, "description": "垃圾",
            "address_text": "天河区某路", "caller_phone": "12345"}  # fmt: skip
    response = client_for(loop["hotline"]).post("/api/cases/tickets/", body, format="json")
    assert response.status_code == 400 and response.json()["field"] == "address_id"
    body |= {"lon": 113.305, "lat": 23.105}
    response = client_for(loop["hotline"]).post("/api/cases/tickets/", body, format="json")
    assert response.status_code == 400 and response.json()["field"] == "caller_phone"
    body["caller_phone"] = "020-87654321"
    response = client_for(loop["hotline"]).post("/api/cases/tickets/", body, format="json")
    assert response.status_code == 201, response.json()
    assert Case.objects.get().caller_phone == "020-87654321"


def test_it_offers_and_merges_a_likely_duplicate(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    first = report(loop["inspector"], small_city).json()["case"]["id"]
    # The hotline takes the same problem 20 m away: offered as a likely duplicate.
    point = centre(small_city[INSPECTOR_CELL])
    ticket = client_for(loop["hotline"]).post(
        "/api/cases/tickets/",
        {"channel": "phone", "category": event_category("0101").pk, "description": "有垃圾",
         "address_text": "路口", "lon": point.x + 0.0002, "lat": point.y},
        format="json",
    ).json()  # fmt: skip
    assert [c["id"] for c in ticket["likely_duplicates"]] == [first]
    # Another category, or far away, is not a duplicate.
    other = report(loop["inspector"], small_city, category="0102").json()
    assert other["likely_duplicates"] == []

    merged = act(loop["hotline"], ticket["case"]["id"], "merge", into=first)
    assert merged.status_code == 200, merged.json()
    assert merged.json()["state"] == State.MERGED and merged.json()["merged_into"] == first
    # The hotline operator follows the merged-into case from now on: its events reach them.
    latest = Outbox.objects.filter(case_id=first).order_by("-id").first()
    assert latest is not None and latest.kind == "case.merge_in"
    assert loop["hotline"].pk in latest.user_ids and loop["inspector"].pk in latest.user_ids


def test_an_auto_dispatched_report_gets_both_deadlines_from_one_calendar(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    # Friday 17:30, and Monday a public holiday: the intake and 自动立案派遣 share one
    # read of the calendar, which must hold the holiday for both deadlines.
    CalendarDay.objects.create(date=dt.date(2026, 11, 30), is_workday=False, name="假日")
    friday = dt.datetime(2026, 11, 27, 17, 30, tzinfo=SHANGHAI)
    with clock.travel(friday, tick=False):
        body = report(loop["inspector"], small_city, category="0501").json()["case"]
    assert body["state"] == State.DISPATCHED
    case = Case.objects.select_related("category").get(pk=body["id"])
    # 立案: one working hour, half of it on Friday, the rest from Tuesday's opening.
    assert case.file_due_at == dt.datetime(2026, 12, 1, 9, 30, tzinfo=SHANGHAI)
    # The dispatch deadline and warning: as a calendar read for them alone gives.
    limit = deadlines.limit_of(case)
    assert limit is not None and case.dispatched_at == friday
    amount, unit = limit
    assert case.due_at == calendar.deadline(friday, amount, unit)
    assert case.due_at.astimezone(SHANGHAI).date() >= dt.date(2026, 12, 1)
    assert case.warn_at == calendar.warning_time(friday, case.due_at, unit)


def test_an_auto_dispatched_case_is_saved_as_the_service_left_it(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    # 自动立案派遣 updates only the columns it changed (dispatch.services._Taking.then):
    # every column of the row must still be what the service's copy of the case holds.
    point = centre(small_city[INSPECTOR_CELL])
    location = Location(point.x, point.y, Datum.WGS84, accuracy_m=5.0)
    report_in = Report(
        client_uuid=uuid.uuid4(), category_id=event_category("0501").pk,
        description="占道经营", location=location,
    )  # fmt: skip
    case = services.case_take_report(user=loop["inspector"], report=report_in).case
    assert case.state == State.DISPATCHED and case.unit_id is not None
    assert case.due_at is not None and case.file_due_at is not None
    saved = Case.objects.get(pk=case.pk)
    for column in Case._meta.concrete_fields:
        assert getattr(saved, column.attname) == getattr(case, column.attname), column.attname
    # One UPDATE of the row after its INSERT: that the row holds the dispatch proves it.
    assert saved.filed_at == saved.dispatched_at == case.dispatched_at
