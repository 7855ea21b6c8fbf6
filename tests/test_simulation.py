"""simulate_city on the small test city: the same seed gives the same history, a stopped
run resumes where it stopped and a repeated one adds nothing, the categories follow the
catalogue's mix, and the simulated history keeps the case loop's invariants (every closed
case verified or closed directly, history in order and along the transition table,
deadlines on the working calendar)."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import random
from collections import Counter
from typing import Any

from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import transaction

from dispatch.calendar import WorkingCalendar
from dispatch.transitions import TRANSITIONS
from incidents.models import Case, CaseEvent, State
from layers.models import Area, Category
from simulation import mix
from simulation.engine import Simulator, simulate_city
from simulation.models import Plan, Run

START = dt.date(2026, 11, 23)  # a Monday
SEED = 20261123


class Rollback(Exception):
    pass


def _history() -> list[tuple[Any, ...]]:
    """The simulated history, by incident number (ids differ from one run to another)."""
    rows = []
    for plan in Plan.objects.select_related("case__category", "case__cell").order_by("number"):
        case = plan.case
        events = [
            (e.action, e.from_state, e.to_state, e.at, e.actor.username if e.actor else "")
            for e in CaseEvent.objects.filter(case=case).select_related("actor").order_by("pk")
        ]
        rows.append((plan.number, case.category.name, case.cell.code, case.source,
                     case.ticket_type, case.state, case.due_at, events))  # fmt: skip
    return rows


def test_same_seed_same_history_resumed_and_repeated(loop: dict[str, User]) -> None:
    # One whole day, rolled back afterwards: the reference.
    try:
        with transaction.atomic():
            summary = simulate_city(days=1, seed=SEED, start=START, progress=False)
            reference = _history()
            raise Rollback
    except Rollback:
        pass
    assert summary.arrived > 5 and summary.refused == 0
    assert len(reference) == summary.arrived
    assert not Plan.objects.exists() and not Run.objects.exists()

    # The same day in two goes, as if stopped after 10 hours: the same history.
    run = Run.objects.create(seed=SEED, scale=0.01, start=_midnight(START))
    Simulator(run, progress=False).simulate(10)
    assert Run.objects.get().hours_done == 10
    out = io.StringIO()
    call_command("simulate_city", "--days", "1", "--seed", str(SEED), "--start", str(START),
                 "--no-progress", stdout=out)  # fmt: skip
    assert "simulated 14 h" in out.getvalue() and "refused 0" in out.getvalue()
    assert _history() == reference

    # Again: nothing is added.
    cases, events = Case.objects.count(), CaseEvent.objects.count()
    again = simulate_city(days=1, seed=SEED, start=START, progress=False)
    assert (again.hours, again.arrived) == (0, 0)
    assert (Case.objects.count(), CaseEvent.objects.count()) == (cases, events)


def test_the_category_mix_is_the_catalogue_s(loop: dict[str, User]) -> None:
    mixture = mix.category_mix()
    # Every category with a time limit takes part; the shares add up to one.
    leaves = Category.objects.filter(active=True, time_limit__isnull=False).exclude(minor_code="")
    assert set(mixture.categories) == set(leaves.values_list("pk", flat=True))
    assert abs(sum(mixture.share.values()) - 1) < 1e-9
    # Draws follow the shares (20,000 draws: each class within 1.5 points).
    rng = random.Random(1)
    drawn = Counter(mixture.draw(rng) for _ in range(20_000))
    kinds = {c.pk: (c.kind, c.major_code) for c in leaves}
    expected: dict[tuple[str, str], float] = {}
    observed: dict[tuple[str, str], float] = {}
    for pk, share in mixture.share.items():
        expected[kinds[pk]] = expected.get(kinds[pk], 0) + share
        observed[kinds[pk]] = observed.get(kinds[pk], 0) + drawn[pk] / 20_000
    for key, share in expected.items():
        assert abs(observed[key] - share) < 0.015, (key, observed[key], share)
    # 市容环境 and 街面秩序 events lead, as in a city's grid-management statistics.
    top = sorted(expected, key=expected.__getitem__, reverse=True)[:2]
    assert {major for _, major in top} == {"01", "05"}


def test_simulated_history_keeps_the_loop_s_invariants(loop: dict[str, User]) -> None:
    summary = simulate_city(days=2, seed=SEED + 1, scale=0.025, start=START, progress=False)
    assert summary.refused == 0
    cases = list(Case.objects.select_related("category"))
    assert len(cases) == summary.arrived > 60
    states = Counter(case.state for case in cases)
    assert states[State.CLOSED] > 10 and states[State.CLOSED] < len(cases)
    # The loop's whole range happened: reworks, extensions, escalation, warnings, overdue.
    actions = Counter(CaseEvent.objects.values_list("action", flat=True))
    for action in ("file", "dispatch", "sign", "handle", "verify_pass", "close", "warning",
                   "overdue", "reply", "callback"):  # fmt: skip
        assert actions[action] > 0, action
    assert sum(summary.sla.values()) == sum(actions[a] for a in summary.sla)

    calendar = WorkingCalendar(START, START + dt.timedelta(days=200))
    for case in cases:
        history = list(CaseEvent.objects.filter(case=case).order_by("pk"))
        _in_order(case, history)
        _closed_only_when_verified(case, history)
        _on_the_calendar(case, calendar)


def _in_order(case: Case, history: list[CaseEvent]) -> None:
    assert history[0].action == "report"
    for before, after in itertools.pairwise(history):
        assert before.at <= after.at, (case.pk, before.action, after.action)
        assert after.from_state == before.to_state, (case.pk, before.action, after.action)
    for event in history:
        transition = TRANSITIONS.get(event.action)
        if transition is not None:
            assert event.from_state in transition.sources, (case.pk, event.action)
            if transition.target is not None:
                assert event.to_state == transition.target, (case.pk, event.action)
            elif event.action == "approve_extension":
                assert event.to_state in {event.from_state, State.SUSPENDED}
            else:
                assert event.to_state == event.from_state, (case.pk, event.action)
        elif event.action == "reopen":  # 重办 after a 不满意 call-back
            assert event.to_state == State.DISPATCHED
        elif event.action == "report":
            assert (event.from_state, event is history[0]) == ("", True)
        else:  # the SLA worker's entries (warning, overdue …) keep the state
            assert event.to_state == event.from_state, (case.pk, event.action)
    assert history[-1].to_state == case.state


def _closed_only_when_verified(case: Case, history: list[CaseEvent]) -> None:
    """Every 结案 follows a passed verification of the last feedback; 直接办结 needs none."""
    verified = False
    for event in history:
        if event.action in {"handle", "reopen", "verify_fail"}:
            verified = False
        elif event.action == "verify_pass":
            verified = True
        elif event.action == "close":
            assert verified, f"case {case.pk} closed without a passed verification"
        elif event.action == "close_direct":
            assert case.ticket_type == "consult"
    if case.state == State.CLOSED:
        assert case.closed_at is not None and case.closed_on_time is not None


def _on_the_calendar(case: Case, calendar: WorkingCalendar) -> None:
    """A deadline counted in working hours ends in office hours of a working day; one in
    working days at the close of a working day."""
    if case.due_at is None or case.limit_unit not in {"working_hours", "working_days"}:
        return
    day = calendar.local_date(case.due_at)
    intervals = calendar.office_intervals(day)
    assert intervals, f"case {case.pk}: deadline {case.due_at} on a day off"
    if case.limit_unit == "working_days":
        assert case.due_at == calendar.closing(day)
    else:
        assert any(opens < case.due_at <= closes for opens, closes in intervals)


def _midnight(day: dt.date) -> dt.datetime:
    from simulation.engine import start_of

    return start_of(1, day)


def test_a_run_keeps_its_seed_s_start_and_scale(loop: dict[str, User]) -> None:
    Run.objects.create(seed=1, scale=0.01, start=_midnight(START))
    other = START + dt.timedelta(days=1)
    for options in ({"start": other}, {"start": START, "scale": 0.5}):
        try:
            simulate_city(days=1, seed=1, progress=False, **options)  # type: ignore[arg-type]
        except ValueError as error:
            assert "seed 1 was simulated" in str(error)
        else:
            raise AssertionError(f"{options} accepted")


def test_incidents_happen_in_the_city_s_cells(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    """Hot spots draw their share; every incident lies in a cell of the city."""
    simulate_city(days=1, seed=SEED + 2, scale=0.02, start=START, progress=False)
    cells = Counter(Case.objects.values_list("cell__code", flat=True))
    assert set(cells) <= {code for code, area in small_city.items() if area.tier == "cell"}
    assert sum(cells.values()) > 10


def test_start_city_finishes_an_interrupted_demo_history_then_skips_it(
    loop: dict[str, User],
) -> None:
    """`make run` on a database that holds a city: a demo history that was interrupted
    goes on (to its whole days); a finished one is left alone, one query."""
    from layers.management.commands.start_city import HISTORY_SEED

    start = START - dt.timedelta(days=2)
    run = Run.objects.create(seed=HISTORY_SEED, scale=0.01, start=_midnight(start))
    Simulator(run, progress=False).simulate(6)
    out = io.StringIO()
    call_command("start_city", history_days=1, stdout=out)
    assert "history was interrupted" in out.getvalue() and "simulated 18 h" in out.getvalue()
    assert Run.objects.get().hours_done == 24
    again = io.StringIO()
    call_command("start_city", history_days=1, stdout=again)
    assert "nothing loaded" in again.getvalue() and "simulated" not in again.getvalue()
