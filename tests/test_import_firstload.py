"""A first load into an empty layer switches the live map's per-cell marks trigger off for
its COPY and marks the cells it filled once (layers.importing.writer.first_load,
map_ui.tiles.counts.stand_in_for_marks): the marks are exactly the trigger's, and the
trigger is on again afterwards, also after a rollback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

from layers.importing.core import import_file
from layers.importing.writer import StandIn, first_load
from layers.models import Area, Component
from map_ui.tiles.counts import MARK_INSERTED, stand_in_for_marks
from map_ui.tiles.models import TileDirty
from tests.test_import import DIRTY_ROWS, TIANHE, YUEXIU, catalogue, write_csv

__all__ = ["catalogue"]  # the fixture, used by name

ROWS = [
    *DIRTY_ROWS,
    ["4401060101000010", "井盖十", "normal", TIANHE[0] + 0.001, TIANHE[1]],
    ["4401040302000002", "垃圾箱二", "normal", YUEXIU[0] + 0.001, YUEXIU[1] + 0.001],
]
MAP_UI_UID = "map_ui.tiles.marks"


def marks() -> set[int | None]:
    return set(TileDirty.objects.filter(layer="components").values_list("cell_id", flat=True))


def trigger_state() -> str:
    """pg_trigger.tgenabled of the marks' insert trigger: 'O' on, 'D' off."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgenabled FROM pg_trigger WHERE tgrelid = %s::regclass AND tgname = %s",
            [Component._meta.db_table, MARK_INSERTED],
        )
        return str(cursor.fetchone()[0])


@pytest.fixture
def without_map_ui_stand_in() -> Iterator[None]:
    """The layer's own trigger marks the cells, as for any other write."""
    assert first_load.disconnect(dispatch_uid=MAP_UI_UID)
    try:
        yield
    finally:
        first_load.connect(stand_in_for_marks, dispatch_uid=MAP_UI_UID)


def test_a_first_load_marks_the_cells_the_trigger_would_mark(
    small_city: dict[str, Area], catalogue: None, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "c.csv", ROWS)
    assert first_load.disconnect(dispatch_uid=MAP_UI_UID)
    try:
        assert import_file("components", path).inserted == 5
    finally:
        first_load.connect(stand_in_for_marks, dispatch_uid=MAP_UI_UID)
    by_trigger = marks()
    cells = set(Component.objects.values_list("cell_id", flat=True))
    assert by_trigger == cells and len(cells) >= 2

    Component.objects.all().delete()
    TileDirty.objects.all().delete()
    assert import_file("components", path).inserted == 5
    assert marks() == by_trigger
    assert trigger_state() == "O"


def test_the_trigger_is_off_for_the_load_and_on_again_after(
    small_city: dict[str, Area],
    catalogue: None,
    tmp_path: Path,
    without_map_ui_stand_in: None,
) -> None:
    given: list[list[int]] = []

    def record(spec: object, **_: object) -> StandIn:
        return StandIn(MARK_INSERTED, given.append)

    first_load.connect(record, dispatch_uid="test-record")
    try:
        path = write_csv(tmp_path / "c.csv", ROWS)
        assert import_file("components", path, dry_run=True).inserted == 5
        assert trigger_state() == "O"  # the dry run's rollback switched it on again
        given.clear()
        assert import_file("components", path).inserted == 5
    finally:
        first_load.disconnect(dispatch_uid="test-record")
    assert marks() == set()  # the trigger did not fire for the load
    cells = sorted(set(Component.objects.values_list("cell_id", flat=True)))
    assert given == [cells]  # the stand-in had every cell, once each, in order
    assert trigger_state() == "O"

    # Later writes are marked by the trigger again.
    row = Component.objects.first()
    assert row is not None
    Component.objects.filter(pk=row.pk).update(name="改名")
    assert marks() == {row.cell_id}


def test_a_layer_with_rows_keeps_its_trigger(
    small_city: dict[str, Area],
    catalogue: None,
    tmp_path: Path,
    without_map_ui_stand_in: None,
) -> None:
    import_file("components", write_csv(tmp_path / "a.csv", ROWS[:1]))
    TileDirty.objects.all().delete()
    asked: list[object] = []
    first_load.connect(lambda **kw: asked.append(kw["spec"]), dispatch_uid="test-ask", weak=False)
    try:
        result = import_file("components", write_csv(tmp_path / "b.csv", ROWS))
    finally:
        first_load.disconnect(dispatch_uid="test-ask")
    assert result.inserted == 4 and asked == []  # a merge, not a first load
    assert marks() == set(Component.objects.values_list("cell_id", flat=True))
