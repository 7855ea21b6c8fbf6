"""The locate endpoint's copy of the grid (layers/gridcache.py): every change of the
areas or their pieces changes the grid's stamp, and the next lean answer is of the
changed grid — a cell renamed, redrawn or deleted — still equal to Django's answer.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection, connections, transaction

from layers import gridcache
from layers.api.locate_fast import LeanLocate
from layers.models import Area, AreaPiece, Tier
from layers.placement import rebuild_pieces
from tests.cast import centre
from tests.cities import VALID_FROM, _cell_box
from tests.test_locate_fast import _call, _connections_kept, _Django, _in_process, _session

WEST, EAST = "440106001001001", "440106001001002"  # side by side, the west one lower


def _stamp() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT stamp FROM layers_gridstamp")
        (stamp,) = cursor.fetchone()
    return int(stamp)


def _lean_and_django(lean: LeanLocate, query: dict[str, Any], cookie: str) -> tuple[str, bytes]:
    """The lean path's answer, checked equal to Django's for the same request."""
    status, body = _call(lean, query, cookie)
    django = _in_process(f"lon={query['lon']!r}&lat={query['lat']!r}", cookie)
    assert (int(status.split()[0]), body) == (django[0], django[2])
    return status, body


@pytest.mark.django_db(transaction=True)
def test_the_next_lean_answer_sees_a_cell_renamed_redrawn_or_deleted(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    gridcache.forget()
    django = _Django()
    lean = LeanLocate(django)
    cookie = _session(loop["hotline"])
    point = {"lon": centre(small_city[EAST]).x, "lat": centre(small_city[EAST]).y}
    with _connections_kept():
        _call(lean, point, cookie)  # the session is not known yet: Django
        assert django.calls == 1
        status, body = _lean_and_django(lean, point, cookie)
        assert status == "200 OK" and EAST.encode() in body and django.calls == 1

        # Renamed by a queryset's update (no signal: the trigger alone tells).
        Area.objects.filter(code=EAST).update(name="改名网格")
        status, body = _lean_and_django(lean, point, cookie)
        assert "改名网格".encode() in body and django.calls == 1

        # The west cell redrawn over the east one: the point is on both, the lower
        # code wins, as the database's statement decides.
        west = Area.objects.get(code=WEST)
        west.geom = _cell_box(0, 0, 2, 1)
        west.save()
        status, body = _lean_and_django(lean, point, cookie)
        assert WEST.encode() in body and EAST.encode() not in body and django.calls == 1

        # Deleted (its pieces with it): the east cell answers again.
        Area.objects.filter(code=WEST).delete()
        status, body = _lean_and_django(lean, point, cookie)
        assert EAST.encode() in body and django.calls == 1

        # The east cell deleted too: the point is in no cell, and Django refuses it.
        Area.objects.filter(code=EAST).delete()
        status, body = _lean_and_django(lean, point, cookie)
        assert status == "400 Bad Request" and django.calls == 2


@pytest.mark.django_db(transaction=True, databases=["default", "owner"])
def test_every_writer_of_areas_changes_the_stamp(small_city: dict[str, Area]) -> None:
    seen = [_stamp()]

    def changed() -> None:
        stamp = _stamp()
        assert stamp not in seen
        seen.append(stamp)

    community = small_city["440106001001"]
    cell = Area.objects.create(
        tier=Tier.CELL,
        code="440106001001009",
        name="新网格",
        parent=community,
        geom=_cell_box(0, 0, 1, 1),
        valid_from=VALID_FROM,
    )
    changed()
    cell.name_en = "New cell"
    cell.save(update_fields=["name_en"])  # no piece touched
    changed()
    Area.objects.filter(pk=cell.pk).update(name="又一个名字")
    changed()
    cell.delete()
    changed()
    rebuild_pieces()
    changed()
    with connections["owner"].cursor() as cursor:
        cursor.execute(f"TRUNCATE {AreaPiece._meta.db_table}")
    changed()
    # A transaction rolled back leaves the stamp as it was; the next change still gets
    # a value never seen (a copy loaded inside the rolled-back transaction carries it).
    with pytest.raises(RuntimeError), transaction.atomic():
        Area.objects.filter(code=WEST).update(name="不算")
        assert _stamp() not in seen
        seen.append(_stamp())
        raise RuntimeError
    assert _stamp() == seen[-2]
    Area.objects.filter(code=WEST).update(name="算")
    changed()
    # Many statements in one transaction (an import saves area by area): one change.
    with transaction.atomic():
        for name in ("一", "二", "三"):
            Area.objects.filter(code=WEST).update(name=name)
        inside = _stamp()
        assert inside not in seen
    assert _stamp() == inside


@pytest.mark.django_db(transaction=True)
def test_a_copy_answers_as_the_placement_statement(small_city: dict[str, Area]) -> None:
    gridcache.forget()
    copy = gridcache.current(_stamp())
    assert copy is not None and copy.stamp == _stamp()
    assert len(copy.codes) == sum(1 for a in small_city.values() if a.tier == Tier.CELL)
    # A cell whose community is gone from under it: no answer, as the statement's null
    # columns give none.
    orphan = Area.objects.create(
        tier=Tier.CELL,
        code="440106001001009",
        name="孤儿网格",
        parent=None,
        geom=_cell_box(-2, 0, 1, 1),
        valid_from=VALID_FROM,
    )
    copy = gridcache.current(_stamp())
    assert copy is not None
    box = orphan.geom.extent
    assert copy.place((box[0] + box[2]) / 2, (box[1] + box[3]) / 2) is None
    assert copy.place(0.5, 0.5) is None


@pytest.mark.django_db(transaction=True)
def test_a_load_is_waited_for_then_django_answers(
    small_city: dict[str, Area], monkeypatch: pytest.MonkeyPatch
) -> None:
    gridcache.forget()
    assert gridcache.current(_stamp()) is not None
    Area.objects.filter(code=WEST).update(name="改")
    monkeypatch.setattr(gridcache, "LOAD_WAIT", 0.05)
    with gridcache._loading:  # another thread is loading, and does not finish in time
        assert gridcache.current(_stamp()) is None
    copy = gridcache.current(_stamp())
    assert copy is not None and copy.stamp == _stamp()
