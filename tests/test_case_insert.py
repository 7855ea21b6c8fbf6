"""A new case's INSERT with its text kept per process (incidents.case_insert).

insert() must write what Model.save() writes: the same row, column for column, for a
case with many NULL columns (a report), with nearly all of them set (a ticket further
on), and with a point in another SRID (the ORM transforms it in the statement); the same
signals with the same arguments; the same state of the instance after; and after a
failed INSERT (a client UUID taken) the same mark on the enclosing transaction. Through
the API, a report's INSERT has few enough parameters for psycopg to keep its parsed form.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.db.models import Model
from django.db.models.signals import post_save, pre_save
from psycopg._queries import MAX_CACHED_STATEMENT_PARAMS

from incidents.case_insert import insert
from incidents.models import Case, Channel, ReplyTerm, Source, State, TicketType
from layers.models import Area, Unit
from tests.cast import centre
from tests.loop import INSPECTOR_CELL, client_for, event_category, report

AT = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)


def _reported(city: dict[str, Area], reporter: User, srid: int = 4326) -> Case:
    """A case as an inspector's report makes it: most columns NULL or their default."""
    point = centre(city[INSPECTOR_CELL])
    if srid != 4326:
        point.transform(srid)
    return Case(
        source=Source.INSPECTOR, channel=Channel.APP, client_uuid=uuid.uuid4(),
        body_hash="ab" * 32, category=event_category("0101"), urgent=False,
        description="路边有一堆暴露垃圾", geom=point, datum="gcj02", accuracy_m=12.5,
        cell=city[INSPECTOR_CELL], community=city[INSPECTOR_CELL].parent,
        street=city[INSPECTOR_CELL].parent.parent,  # type: ignore[union-attr]
        district=city[INSPECTOR_CELL].parent.parent.parent,  # type: ignore[union-attr]
        reporter=reporter, state=State.REPORTED, created_at=AT, updated_at=AT,
        file_due_at=AT + dt.timedelta(hours=2),
    )  # fmt: skip


def _everything_set(city: dict[str, Area], reporter: User) -> Case:
    """A case with nearly every nullable column set and no column at its default."""
    case = _reported(city, reporter)
    unit = Unit.objects.order_by("pk").first()
    for name in ("filed_at", "dispatched_at", "handled_at", "closed_at", "due_at", "warn_at",
                 "sla_check_at", "verify_due_at", "reply_due_at", "replied_at",
                 "callback_due_at", "callback_at", "hotline_check_at"):  # fmt: skip
        setattr(case, name, AT + dt.timedelta(minutes=len(name)))
    case.source, case.channel = Source.HOTLINE, Channel.PHONE
    case.attributes = {"notify_on_close": ["true"], "缘由": "测试"}
    case.address_text, case.media_url = "华景路", "https://example.org/p.jpg"
    case.component_code, case.caller_name, case.caller_phone = "0101", "张三", "13800138000"
    case.unit = case.supervising_unit = unit
    case.verifier = case.handled_by = reporter
    case.paused_remaining_s, case.limit_unit = 3600, "working_hours"
    case.urgent = case.warned = case.overdue = case.suspended = True
    case.verify_overdue = case.reply_overdue = case.callback_overdue = True
    case.closed_on_time = case.callback_reached = False
    case.escalation_level, case.extensions, case.reworks = 2, 1, 3
    case.callback_tries, case.reopens = 2, 1
    case.ticket_no = f"20261123-{uuid.uuid4().int % 10**7:07d}"
    case.ticket_type, case.reply_term = TicketType.COMPLAINT, ReplyTerm.GENERAL
    case.reply, case.satisfaction = "已处理", "satisfied"
    return case


def _row(pk: int) -> dict[str, Any]:
    """The stored row, every column as PostgreSQL renders it as JSON (the point as its
    EWKB: exact, not rounded to a text form)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT row_to_json(c)::jsonb - 'geom' || jsonb_build_object("
            "'geom', encode(ST_AsEWKB(c.geom), 'hex')) FROM incidents_case c WHERE id = %s",
            [pk],
        )
        return dict(json.loads(cursor.fetchone()[0]))  # Django reads JSON as text


@pytest.fixture
def signals() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """The pre_save and post_save signals sent for cases: their arguments, and the pk
    the instance had when each was sent."""
    sent: list[tuple[str, dict[str, Any]]] = []

    def receiver(name: str) -> Callable[..., None]:
        def receive(sender: type, instance: Case, **kwargs: Any) -> None:
            kwargs.pop("signal")
            sent.append((name, {**kwargs, "sender": sender, "pk": instance.pk}))

        return receive

    before, after = receiver("pre_save"), receiver("post_save")
    pre_save.connect(before, sender=Case)
    post_save.connect(after, sender=Case)
    yield sent
    pre_save.disconnect(before, sender=Case)
    post_save.disconnect(after, sender=Case)


@pytest.mark.parametrize("shape", ["reported", "everything set", "another srid"])
def test_the_row_signals_and_instance_are_the_orms(
    loop: dict[str, User],
    small_city: dict[str, Area],
    signals: list[tuple[str, dict[str, Any]]],
    shape: str,
) -> None:
    def make() -> Case:
        reporter = loop["inspector"]
        if shape == "everything set":
            return _everything_set(small_city, reporter)
        return _reported(small_city, reporter, srid=3857 if shape == "another srid" else 4326)

    # insert() stands for Model.save(): an override of Case.save would be passed by.
    assert Case.save is Model.save
    by_orm, by_insert = make(), make()
    by_orm.save()
    orm_signals = [(name, {**args, "pk": args["pk"] and "set"}) for name, args in signals]
    signals.clear()
    insert(by_insert)
    insert_signals = [(name, {**args, "pk": args["pk"] and "set"}) for name, args in signals]

    orm_row, insert_row = _row(by_orm.pk), _row(by_insert.pk)
    unique = ("id", "client_uuid", "ticket_no")  # the two cases' own, by constraint
    assert {k: v for k, v in insert_row.items() if k not in unique} == {
        k: v for k, v in orm_row.items() if k not in unique
    }
    assert insert_row["client_uuid"] == str(by_insert.client_uuid)
    assert insert_row["ticket_no"] == by_insert.ticket_no
    assert len(insert_row) == len(Case._meta.concrete_fields)
    # Nothing left to its default by the test's own making: the comparison covers them.
    if shape == "everything set":
        nulls = {k for k, v in insert_row.items() if v is None}
        assert nulls == {"address_id", "entity_id", "merged_into_id", "parent_id"}
    # The same signals, with the same arguments; the pk not set before, set after.
    assert insert_signals == orm_signals
    assert [name for name, _ in insert_signals] == ["pre_save", "post_save"]
    assert [args["pk"] for _, args in insert_signals] == [None, "set"]
    assert insert_signals[1][1]["created"] is True
    # The instance: its pk read back, saved to the default database, no longer new.
    assert by_insert.pk == insert_row["id"] > by_orm.pk
    assert (by_insert._state.db, by_insert._state.adding) == (by_orm._state.db, False)


def test_a_taken_client_uuid_fails_and_marks_the_block_as_save_does(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    first = _reported(small_city, loop["inspector"])
    insert(first)
    for write in (Case.save, insert):
        again = _reported(small_city, loop["inspector"])
        again.client_uuid = first.client_uuid
        with transaction.atomic():
            with pytest.raises(IntegrityError):
                write(again)
            assert connection.needs_rollback  # the block cannot go on, as after save()
        assert again.pk is None and again._state.adding
    assert Case.objects.filter(client_uuid=first.client_uuid).count() == 1


def test_a_reports_insert_is_one_kept_text_of_few_enough_parameters(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    inserts: list[tuple[str, int]] = []

    def capture(execute: Callable[..., Any], sql: str, params: Any, *args: Any) -> Any:
        if sql.startswith('INSERT INTO "incidents_case"'):
            inserts.append((sql, len(params)))
        return execute(sql, params, *args)

    with connection.execute_wrapper(capture):
        for _ in range(2):
            assert report(loop["inspector"], small_city).status_code == 201
    (first, n), (second, _) = inserts
    # The same text both times, its NULL columns written in it: psycopg splits a
    # statement of more parameters than this anew on every run.
    assert first == second
    assert n <= MAX_CACHED_STATEMENT_PARAMS
    assert n + first.count("NULL") == len(Case._meta.concrete_fields) - 1  # all but the pk


def test_a_tickets_number_is_written_alone_after_its_insert(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    statements: list[str] = []

    def capture(execute: Callable[..., Any], sql: str, *args: Any) -> Any:
        if '"incidents_case"' in sql and not sql.startswith("SELECT"):
            statements.append(sql)
        return execute(sql, *args)

    point = centre(small_city[INSPECTOR_CELL])
    body = {
        "channel": "phone", "category": event_category("0101").pk, "description": "垃圾堆积",
        "address_text": "华景路", "lon": point.x, "lat": point.y, "datum": "wgs84",
        "caller_name": "张三", "caller_phone": "13800138000", "ticket_type": "complaint",
    }  # fmt: skip
    with connection.execute_wrapper(capture):
        response = client_for(loop["hotline"]).post("/api/cases/tickets/", body, format="json")
    assert response.status_code == 201, response.json()
    insert_sql, update_sql = statements
    assert insert_sql.startswith('INSERT INTO "incidents_case"')
    # The number and the time: not the row's ~70 columns again.
    assert update_sql.startswith('UPDATE "incidents_case" SET ')
    assigned = update_sql.split(" SET ")[1].split(" WHERE ")[0]
    assert sorted(part.split(" = ")[0] for part in assigned.split(", ")) == [
        '"ticket_no"',
        '"updated_at"',
    ]
    case = Case.objects.get(pk=response.json()["case"]["id"])
    assert case.ticket_no == response.json()["case"]["ticket_no"]
    assert str(case.ticket_no).endswith(f"-{case.pk:07d}")
    assert case.updated_at >= case.created_at
