"""Signing in: Django's ModelBackend, loading the user together with their post.

Nearly every request reads the post (layers.access.staff_of: the role, the unit, the
unit's area) right after the user; loading both in one query saves a round trip on
each, which matters most where requests come in bursts (a map's tiles). The area's
geometry is left out: access rules work with codes and ids, and the pages that draw an
outline load it when they do.

The query is written once, from the models' fields, and its rows are turned into model
instances here: building the same query through the ORM (select_related over three
joins) took 1.3 ms of every request, the statement itself 0.35 ms
(docs/performance.md, vector tiles).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.gis.db.models import GeometryField
from django.db import connection, models

from gridmgmt.sessions import preloaded_user
from layers.access import keep_post
from layers.models import Area, Staff, Unit


class UserAndPostBackend(ModelBackend):
    def get_user(self, user_id: Any) -> Any:
        try:
            user_id = int(user_id)
        except (TypeError, ValueError):
            return None
        # Read with the session, in its statement, when the session knew its user.
        user = preloaded_user(user_id) or load_user_and_post(user_id)
        if user is None or not self.user_can_authenticate(user):
            return None
        return user


# The user, the post, its unit, the unit's area: their aliases in the query.
ALIASES = ("u", "s", "n", "a")


def _models() -> tuple[type[models.Model], ...]:
    return (get_user_model(), Staff, Unit, Area)


@cache
def _columns(model: type[models.Model]) -> list[Any]:
    # Geometries are outlines to draw, not facts to decide access with.
    return [f for f in model._meta.concrete_fields if not isinstance(f, GeometryField)]


@cache
def user_columns_and_joins() -> tuple[str, str]:
    """The select list of the user with their post, its unit and the unit's area, and
    the joins from the user (alias u) that bring the three others: for a statement that
    reads the user beside something else (the session, gridmgmt/sessions.py)."""
    columns = ", ".join(
        f'{alias}."{field.column}"'
        for model, alias in zip(_models(), ALIASES, strict=True)
        for field in _columns(model)
    )
    _, staff, units, areas = (model._meta.db_table for model in _models())
    joins = (
        f"LEFT JOIN {staff} s ON s.user_id = u.id "
        f"LEFT JOIN {units} n ON n.id = s.unit_id "
        f"LEFT JOIN {areas} a ON a.id = n.area_id"
    )
    return columns, joins


@cache
def _statement() -> str:
    columns, joins = user_columns_and_joins()
    return f"SELECT {columns} FROM {get_user_model()._meta.db_table} u {joins} WHERE u.id = %s"


def _instance(model: type[models.Model], values: list[Any]) -> Any:
    """`model` from its columns' values in the row (None for a missing join)."""
    fields = _columns(model)
    if values[fields.index(model._meta.pk)] is None:
        return None
    for i, field in enumerate(fields):
        for convert in field.get_db_converters(connection):
            values[i] = convert(values[i], field, connection)
    return model.from_db(connection.alias, [f.attname for f in fields], values)


def load_user_and_post(user_id: int) -> Any:
    """The user `user_id` with their post, its unit and the unit's area (geometry
    deferred) in one query; the post is remembered for staff_of(). None if no such user."""
    with connection.cursor() as cursor:
        cursor.execute(_statement(), [user_id])
        row = cursor.fetchone()
    return user_from_row(row) if row is not None else None


def user_from_row(row: Sequence[Any]) -> Any:
    """The user with their post from the columns of user_columns_and_joins() in `row`
    (None if the user's columns are null: no such user); the post is remembered for
    staff_of()."""
    loaded, start = [], 0
    for model in _models():
        end = start + len(_columns(model))
        loaded.append(_instance(model, list(row[start:end])))
        start = end
    user, staff, unit, area = loaded
    if user is None:
        return None
    if staff is not None:
        Unit.area.field.set_cached_value(unit, area)
        Staff.unit.field.set_cached_value(staff, unit)
        Staff.user.field.set_cached_value(staff, user)
    # user.staff answers from this, query-free, even when there is no post.
    get_user_model().staff.related.set_cached_value(user, staff)
    keep_post(user, staff)
    return user
