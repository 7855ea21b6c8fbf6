"""A first load into an empty layer drops the layer's indexes, switches the live map's
marks trigger off and COPYs its rows, all in the import's transaction
(layers.importing.writer): if anything fails before the commit, the layer is as it was
— empty, with the same indexes, constraints and triggers, no cell marked — and takes a
first load again."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection

from layers.importing.core import import_file, rows_written
from layers.models import Area, Component
from map_ui.tiles.models import TileDirty
from tests.test_import import DIRTY_ROWS, write_csv
from tests.test_import_indexes import components_catalogue, constraints, indexes

__all__ = ["components_catalogue"]  # the fixture, used by name

TABLE = Component._meta.db_table


def triggers() -> dict[str, str]:
    """The layer's own triggers: name → pg_trigger.tgenabled ('O' on, 'D' off)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgname, tgenabled FROM pg_trigger "
            "WHERE tgrelid = %s::regclass AND NOT tgisinternal",
            [TABLE],
        )
        return {name: str(state) for name, state in cursor.fetchall()}


def component_marks() -> set[int | None]:
    return set(TileDirty.objects.filter(layer="components").values_list("cell_id", flat=True))


def test_a_failed_first_load_leaves_the_layer_as_it_was(
    transactional_db: None,
    small_city: dict[str, Area],
    components_catalogue: None,
    tmp_path: Path,
) -> None:
    before = (indexes(), constraints(), triggers())
    assert "map_ui_tile_dirty_insert" in before[2]
    marks = component_marks()

    def fail(**_: object) -> None:
        raise RuntimeError("a receiver failed")

    # rows_written is sent after the rows are written and the indexes built again.
    rows_written.connect(fail, dispatch_uid="test-fail")
    try:
        with pytest.raises(RuntimeError, match="a receiver failed"):
            import_file("components", write_csv(tmp_path / "c.csv", DIRTY_ROWS))
    finally:
        rows_written.disconnect(dispatch_uid="test-fail")

    assert not Component.objects.exists()
    assert (indexes(), constraints(), triggers()) == before
    assert component_marks() == marks
    # The layer takes a first load again.
    assert import_file("components", write_csv(tmp_path / "c.csv", DIRTY_ROWS)).inserted == 3
    assert Component.objects.count() == 3 and component_marks() != marks
