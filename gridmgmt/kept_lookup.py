"""One object by its lookup field, the statement compiled once per model and field.

DRF's get_object builds `queryset.filter(field=value)` and compiles it through the ORM on
every request: a quarter of the CPU of an authenticated GET of one catalogue row
(docs/performance.md, "Request floor"). When the view's queryset is the whole table (no
condition, join, annotation, limit or other shape of its own: `plain()`), the statement
is the same every time but for the value, so it is compiled once, by the ORM itself
(same columns, same SQL, same converters of the values read), and kept; each request
runs it and builds the instance as the ORM does (Model.from_db). Any other queryset (one
filtered for the user, none(), select_related ...) goes through the ORM as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import connections, models
from django.db.models.query import ModelIterable
from django.http import Http404
from rest_framework.generics import get_object_or_404


@dataclass(frozen=True)
class _Kept:
    sql: str
    attnames: list[str]
    # Column index → (converters, expression) of the compiled query (SQLCompiler.get_converters).
    converters: dict[int, tuple[list[Any], Any]]


def plain(queryset: models.QuerySet[Any]) -> bool:
    """Whether `queryset` reads every row of its model's table as the ORM's default
    does: all concrete fields, nothing filtered, joined, annotated, limited or locked."""
    query = queryset.query
    return (
        queryset._iterable_class is ModelIterable  # type: ignore[attr-defined]
        and not queryset._prefetch_related_lookups  # type: ignore[attr-defined]
        and not query.where
        and not query.is_empty()
        and not query.annotations
        and not query.extra
        and not query.extra_tables
        and query.group_by is None
        and query.select_related is False
        and query.deferred_loading == (frozenset(), True)
        and not query.distinct
        and query.low_mark == 0
        and query.high_mark is None
        and not query.select_for_update
        and query.combinator is None
        and not query.values_select
        and len(query.alias_map) <= 1
    )


@cache
def _kept(model: type[models.Model], field_name: str, alias: str) -> _Kept | None:
    """The statement of `model` by `field_name`, compiled by the ORM; None when the
    compiled statement does not take the value as its one parameter."""
    field = _field(model, field_name)
    try:
        sample = field.to_python("0")  # any valid value: only the statement's shape is kept
    except ValidationError:
        return None
    queryset = model._default_manager.db_manager(alias).filter(**{field_name: sample})
    compiler = queryset.query.get_compiler(alias)
    sql, params = compiler.as_sql()
    if len(params) != 1:
        return None
    columns = [column for column, _, _ in compiler.select[: compiler.col_count]]
    if any(getattr(column, "target", None) is None for column in columns):
        return None
    attnames = [column.target.attname for column in columns]
    return _Kept(sql, attnames, compiler.get_converters(columns))


def _field(model: type[models.Model], name: str) -> Any:
    if name == "pk":
        return model._meta.pk
    try:
        return model._meta.get_field(name)
    except FieldDoesNotExist:
        return None


def get_by_field(queryset: models.QuerySet[Any], field_name: str, value: Any) -> Any:
    """The object of `queryset` whose `field_name` is `value` (a URL's text), or Http404
    — as DRF's get_object_or_404, through the kept statement when the queryset is
    plain()."""
    model: type[models.Model] = queryset.model
    kept = None
    if "__" not in field_name and plain(queryset):
        field = _field(model, field_name)
        if field is not None and field.concrete and not field.is_relation:
            kept = _kept(model, field_name, queryset.db)
    if kept is None:
        return get_object_or_404(queryset, **{field_name: value})
    connection = connections[queryset.db]
    try:
        param = field.get_db_prep_value(field.to_python(value), connection)
    except (TypeError, ValueError, ValidationError):
        raise Http404 from None
    with connection.cursor() as cursor:
        cursor.execute(kept.sql, [param])
        rows = cursor.fetchmany(2)
    if not rows:
        raise Http404
    if len(rows) > 1:
        raise model.MultipleObjectsReturned(  # type: ignore[attr-defined]
            f"more than one {model.__name__} with {field_name}"
        )
    values = list(rows[0])
    for index, (converters, expression) in kept.converters.items():
        for convert in converters:
            values[index] = convert(values[index], expression, connection)
    return model.from_db(queryset.db, kept.attnames, values)


class KeptLookupMixin:
    """For a DRF GenericAPIView: get_object() through get_by_field()."""

    def get_object(self) -> Any:
        view: Any = self
        queryset = view.filter_queryset(view.get_queryset())
        value = view.kwargs[view.lookup_url_kwarg or view.lookup_field]
        obj = get_by_field(queryset, view.lookup_field, value)
        view.check_object_permissions(view.request, obj)
        return obj
