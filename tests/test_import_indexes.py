"""A first load drops the layer's indexes and builds them again at the end
(layers.importing.writer): afterwards every index exists again, as the migrations made
it, valid and ready, whether the import is its own transaction or inside a caller's."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection, transaction

from layers.importing.core import import_file
from layers.models import Area, Category, CategoryKind, Component
from tests.test_import import DIRTY_ROWS, write_csv

TABLE = Component._meta.db_table


def indexes() -> dict[str, tuple[str, bool, bool]]:
    """The table's indexes: name → (definition, valid, ready)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, pg_get_indexdef(i.indexrelid), i.indisvalid, i.indisready
            FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid = %s::regclass
            """,
            [TABLE],
        )
        return {name: (definition, valid, ready) for name, definition, valid, ready in cursor}


def constraints() -> set[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass",
            [TABLE],
        )
        return set(cursor.fetchall())


@pytest.fixture
def components_catalogue(transactional_db: None) -> None:
    Category.objects.create(kind=CategoryKind.COMPONENT, major_code="01", name="公用设施")
    Category.objects.create(
        kind=CategoryKind.COMPONENT, major_code="01", minor_code="01", name="上水井盖"
    )
    Category.objects.create(
        kind=CategoryKind.COMPONENT, major_code="03", minor_code="02", name="垃圾箱"
    )


def test_a_first_load_builds_every_index_again(
    transactional_db: None,
    small_city: dict[str, Area],
    components_catalogue: None,
    tmp_path: Path,
) -> None:
    before, before_constraints = indexes(), constraints()
    assert len(before) >= 5 and all(valid and ready for _, valid, ready in before.values())

    result = import_file("components", write_csv(tmp_path / "c.csv", DIRTY_ROWS))

    assert result.inserted == 3
    assert indexes() == before  # the same names and definitions, each valid and ready
    assert constraints() == before_constraints  # the unique key is a constraint again
    assert Component.objects.filter(code="4401060101000001").exists()


def test_inside_a_callers_transaction_the_indexes_are_built_in_it(
    transactional_db: None,
    small_city: dict[str, Area],
    components_catalogue: None,
    tmp_path: Path,
) -> None:
    before = indexes()
    with transaction.atomic():
        result = import_file("components", write_csv(tmp_path / "c.csv", DIRTY_ROWS))
        assert indexes() == before  # already there before the caller commits
    assert result.inserted == 3
    assert indexes() == before
