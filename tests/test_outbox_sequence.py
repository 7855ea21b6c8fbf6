"""Event numbering without a lock held through commit (incidents.outbox.sequence): many
writers on real PostgreSQL, committed for real (transactional_db). Every committed event
gets a number, the numbers have no gaps, events of one case are numbered in the order
their transactions committed, a rolled-back event never gets one, and a reader that
resumes from any number sees every later event exactly once, in order."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction
from pytest_django.fixtures import Settings

from incidents.models import Case, Outbox
from incidents.outbox import emit, last_seq, sequence
from layers.models import Area
from tests.loop import INSPECTOR2_CELL, INSPECTOR_CELL, report

# With the reader and the test's own, within the connections a process's pool holds
# (DATABASE_POOL_SIZE, 8).
WRITERS = 5
TRANSACTIONS_EACH = 50


@pytest.fixture(autouse=True)
def own_channel_layer(settings: Settings) -> None:
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [settings.REDIS_URL], "prefix": f"test-{uuid.uuid4().hex}"},
        }
    }


def new_cases(loop: dict[str, User], city: dict[str, Area], n: int) -> list[int]:
    ids = []
    for i in range(n):
        who, cell = ("inspector", INSPECTOR_CELL) if i % 2 else ("inspector2", INSPECTOR2_CELL)
        response = report(loop[who], city, cell=cell)
        assert response.status_code == 201, response.json()
        ids.append(int(response.json()["case"]["id"]))
    return ids


def touch(case_id: int, *, events: int, fail: bool) -> None:
    """One writer's transaction: lock the case, emit `events` events named by the case's
    version (how many of its events were committed before, + 1), commit or roll back."""

    class Abandoned(Exception):
        pass

    try:
        with transaction.atomic():
            case = Case.objects.select_for_update().get(pk=case_id)
            version = Outbox.objects.filter(case_id=case_id).count()
            for k in range(events):
                emit(case, f"t.{version + k + 1}")
            if fail:
                raise Abandoned
    except Abandoned:
        pass


def read_all(after: int) -> list[tuple[int, int, str]]:
    """What a client resuming from `after` is given: the counter first, then the rows up to
    it, in order (incidents.outbox.replay's rule)."""
    upto = last_seq()
    rows = Outbox.objects.filter(seq__gt=after, seq__lte=upto).order_by("seq")
    return [(r.seq, r.case_id or 0, r.kind) for r in rows]


def in_thread(
    errors: list[BaseException], work: Callable[..., None], *args: Any
) -> threading.Thread:
    """A thread that runs `work` on a database connection of its own; what it raises is
    added to `errors`, for the main thread to report."""

    def run() -> None:
        try:
            work(*args)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    return threading.Thread(target=run)


def test_many_writers_get_gap_free_numbers_in_commit_order_and_readers_miss_nothing(
    transactional_db: None, loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    cases = new_cases(loop, small_city, 4)  # shared by the writers: they queue on the rows
    start = last_seq()
    assert start == Outbox.objects.count() >= 4  # the reports' events, numbered at commit
    rolled_back = 0
    plans: list[list[tuple[int, int, bool]]] = []
    rng = random.Random(18)
    for _ in range(WRITERS):
        plan = []
        for _ in range(TRANSACTIONS_EACH):
            fail = rng.random() < 0.1
            plan.append((rng.choice(cases), rng.randint(1, 3), fail))
        plans.append(plan)
    rolled_back = sum(events for plan in plans for _, events, fail in plan if fail)
    committed = sum(events for plan in plans for _, events, fail in plan if not fail)

    errors: list[BaseException] = []
    done = threading.Event()
    seen: list[tuple[int, int, str]] = []

    def writer(plan: list[tuple[int, int, bool]]) -> None:
        for case_id, events, fail in plan:
            touch(case_id, events=events, fail=fail)

    def reader() -> None:
        # A client that keeps resuming from the last number it saw while writers run.
        position = start
        while True:
            finished = done.is_set()
            batch = read_all(position)
            assert [s for s, _, _ in batch] == list(range(position + 1, position + 1 + len(batch)))
            seen.extend(batch)
            position += len(batch)
            if finished and not batch:
                return

    threads = [in_thread(errors, writer, plan) for plan in plans]
    watcher = in_thread(errors, reader)
    watcher.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    done.set()
    watcher.join(120)
    assert not errors, errors

    # Every committed event was numbered after its commit, none rolled back was.
    assert rolled_back > 0
    assert Outbox.objects.filter(seq__isnull=True).count() == 0
    assert Outbox.objects.count() == start + committed == last_seq()
    # The reader saw every event once, in order, without gaps.
    assert [s for s, _, _ in seen] == list(range(start + 1, start + committed + 1))
    # Events of one case are numbered in the order their transactions committed: its
    # versions, read in number order, count up from 1 without gaps.
    versions: dict[int, list[int]] = defaultdict(list)
    for _, case_id, kind in seen:
        versions[case_id].append(int(kind.removeprefix("t.")))
    for case_id, numbers in versions.items():
        assert numbers == list(range(2, len(numbers) + 2)), case_id  # 1: the report
    # A client resuming from any number gets exactly the events after it, in order.
    everything = read_all(0)
    for after in rng.sample(range(start, start + committed), 25):
        assert read_all(after) == everything[after:]
    # Numbers and the payloads' copies agree.
    assert all(o.payload["seq"] == o.seq for o in Outbox.objects.all())


def test_an_open_transaction_does_not_hold_up_other_writers_commit_or_numbering(
    transactional_db: None, loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    slow_case, fast_case = new_cases(loop, small_city, 2)
    before = last_seq()
    emitted, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def slow_writer() -> None:
        with transaction.atomic():
            emit(Case.objects.get(pk=slow_case), "t.slow")
            emitted.set()
            assert release.wait(30)

    slow = in_thread(errors, slow_writer)
    slow.start()
    assert emitted.wait(30)
    # With the event of an open transaction in the table, another writer commits and its
    # event is numbered at once (with a counter row locked through commit it would wait).
    finished = threading.Event()

    def fast_writer() -> None:
        with transaction.atomic():
            emit(Case.objects.get(pk=fast_case), "t.fast")
        finished.set()

    fast = in_thread(errors, fast_writer)
    fast.start()
    assert finished.wait(10), "the second writer waited for the first one's transaction"
    fast.join(10)
    assert last_seq() == before + 1
    assert read_all(before) == [(before + 1, fast_case, "t.fast")]
    release.set()
    slow.join(30)
    assert not errors, errors
    assert read_all(before) == [
        (before + 1, fast_case, "t.fast"),
        (before + 2, slow_case, "t.slow"),
    ]
    assert sequence() == []  # nothing left to number


def test_events_left_unnumbered_by_a_dead_process_are_numbered_by_the_next_pass(
    transactional_db: None, loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    [case_id] = new_cases(loop, small_city, 1)
    before = last_seq()
    # A process that committed and died before its after-commit numbering: the callback
    # is dropped here by committing outside Django's atomic bookkeeping.
    with transaction.atomic():
        emit(Case.objects.get(pk=case_id), "t.orphan")
        connection.run_on_commit.clear()
    assert Outbox.objects.filter(kind="t.orphan", seq__isnull=True).count() == 1
    assert last_seq() == before  # invisible to readers until numbered
    from notifications.collect import collect

    collect()  # the delivery worker's pass numbers it first
    assert read_all(before) == [(before + 1, case_id, "t.orphan")]


def test_a_writer_that_finds_a_pass_under_way_leaves_its_events_to_it(
    transactional_db: None, loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    """The holder of the sequencer's lock is kept in its pass (its counter update waits
    for a row lock the test holds); a writer that commits meanwhile does not wait for
    the lock, and the holder numbers the writer's event when it looks again."""
    [case_id] = new_cases(loop, small_city, 1)
    before = last_seq()
    counter_held, let_go, holder_done = threading.Event(), threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def blocker() -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT last_seq FROM incidents_outboxcounter FOR UPDATE")
            counter_held.set()
            assert let_go.wait(30)

    def holder() -> None:
        with transaction.atomic():  # its numbering after commit waits on the counter
            emit(Case.objects.get(pk=case_id), "t.holder")
        holder_done.set()

    threads = [in_thread(errors, blocker), in_thread(errors, holder)]
    threads[0].start()
    assert counter_held.wait(10)
    threads[1].start()
    with connection.cursor() as cursor:  # the holder has the sequencer's lock
        for _ in range(100):
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
            if cursor.fetchone()[0]:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the holder's pass never took the lock")
    with transaction.atomic():  # the writer: its commit returns at once
        emit(Case.objects.get(pk=case_id), "t.writer")
    assert not holder_done.is_set()
    assert Outbox.objects.get(kind="t.writer").seq is None  # left to the holder
    let_go.set()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    assert read_all(before) == [
        (before + 1, case_id, "t.holder"),
        (before + 2, case_id, "t.writer"),
    ]
    assert sequence() == []  # nothing left to number
