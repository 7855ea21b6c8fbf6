"""The verification stage's own deadline (核查时限, issue 16 item 4): set at the unit's
feedback from the 核查 stage limit on the working calendar, chased by the SLA worker
(warning, then 核查超期, the verifier told), and counted by the evaluation's 按时核查率 —
the hand-computed example of docs/evaluation.md."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.contrib.auth.models import User

from dispatch.evaluation import By, InspectorRow, Period, evaluate
from dispatch.models import Stage, StageLimit
from dispatch.sla import run_due
from gridmgmt import clock
from incidents.models import Case
from layers.models import Area
from notifications.collect import collect
from notifications.models import Kind, Notification
from tests.loop import act, client_for, photo, report, set_up_loop

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


FRIDAY_15 = at(27, 15)  # Friday 27 November 2026, a working day
TUESDAY_9 = dt.datetime(2026, 12, 1, 9, tzinfo=SHANGHAI)


def _handled(cast: dict[str, User], city: dict[str, Area]) -> int:
    """A report filed, dispatched, signed and fed back by the street office at once."""
    case_id = int(report(cast["inspector"], city).json()["case"]["id"])
    for action in ("file", "dispatch", "sign"):
        assert act(cast["street"], case_id, action).status_code == 200
    done = act(cast["street"], case_id, "handle", note="已清理", photos=[photo()])
    assert done.status_code == 200, done.json()
    return case_id


def test_the_verification_deadline_is_chased_and_evaluated(
    cast: dict[str, User], small_city: dict[str, Area]
) -> None:
    set_up_loop()
    StageLimit.objects.update_or_create(
        stage=Stage.VERIFY, defaults={"limit": 1, "unit": "working_days"}
    )
    with clock.travel(FRIDAY_15, tick=False):
        late = _handled(cast, small_city)
        on_time = _handled(cast, small_city)
        assert run_due() == []
    case = Case.objects.get(pk=late)
    # One working day, the day of the feedback not counted: Monday's close (18:00).
    assert case.verify_due_at == at(30, 18) and case.verifier == cast["inspector"]
    detail = client_for(cast["street"]).get(f"/api/cases/{late}/").json()
    assert dt.datetime.fromisoformat(detail["verify_due_at"]) == at(30, 18)
    assert detail["verify_overdue"] is False

    with clock.travel(at(30, 10), tick=False):
        assert act(cast["inspector"], on_time, "verify", passed=True).status_code == 200
    # 80% of the office time from Friday 15:00 to Monday 18:00 (3 h + 7 h): Monday 16:00.
    with clock.travel(at(30, 15, 59), tick=False):
        assert run_due() == []
    with clock.travel(at(30, 16, 1), tick=False):
        assert run_due() == [(late, "verify_warning")]
    with clock.travel(at(30, 18, 1), tick=False):
        assert run_due() == [(late, "verify_overdue")]
        assert run_due() == []  # once
    case.refresh_from_db()
    assert case.verify_overdue and case.sla_check_at is None and case.state == "handled"
    collect()
    told = Notification.objects.filter(case_id=late).exclude(kind=Kind.ASSIGNED)
    assert sorted(told.values_list("user__username", "kind")) == [
        ("inspector", Kind.OVERDUE),
        ("inspector", Kind.VERIFY),
        ("inspector", Kind.WARNING),
    ]

    with clock.travel(TUESDAY_9, tick=False):
        assert act(cast["inspector"], late, "verify", passed=True).status_code == 200
    verdicts = {
        c: Case.objects.get(pk=c).history.get(action="verify_pass").data["on_time"]
        for c in (late, on_time)
    }
    assert verdicts == {late: False, on_time: True}

    # 核查数 2, 按时核查数 1: 按时核查率 1 ÷ 2.
    period = Period(dt.date(2026, 11, 1), dt.date(2026, 12, 2))
    later = TUESDAY_9 + dt.timedelta(hours=1)
    rows = evaluate(cast["city"], by=By.INSPECTOR, period=period, now=later).rows
    [mine] = [r for r in rows if isinstance(r, InspectorRow) and r.username == "inspector"]
    assert (mine.verifications, mine.verified_on_time, mine.verification_rate) == (2, 1, 0.5)


def test_supervision_by_hand_is_counted_per_area_and_unit(
    cast: dict[str, User], small_city: dict[str, Area]
) -> None:
    """督办 by hand (issue 16 item 4) in the evaluation: the district presses a case of the
    street office twice (督办数 2 for the street and for the unit); the SLA worker's own
    督办 of an overdue case, with no actor, is not counted."""
    set_up_loop()
    with clock.travel(FRIDAY_15, tick=False):
        case_id = int(report(cast["inspector"], small_city).json()["case"]["id"])
        for action in ("file", "dispatch"):
            assert act(cast["street"], case_id, action).status_code == 200
        for note in ("请尽快处置", "再次督办"):
            pressed = act(cast["district"], case_id, "supervise", note=note, due_at="2026-11-30")
            assert pressed.status_code == 200, pressed.json()
    # Overdue twice over: 催办, then the worker's 市级督办 (history action supervise).
    with clock.travel(TUESDAY_9 + dt.timedelta(days=7), tick=False):
        assert run_due() == [(case_id, "overdue"), (case_id, "supervise")]
    case = Case.objects.get(pk=case_id)
    assert case.history.filter(action="supervise").count() == 3
    period = Period(dt.date(2026, 11, 1), dt.date(2026, 12, 31))
    later = TUESDAY_9 + dt.timedelta(days=8)
    [street] = evaluate(cast["district"], by=By.STREET, period=period, now=later).rows[:1]
    assert street.code == "440106001" and street.supervised == 2  # type: ignore[union-attr]
    units = evaluate(cast["district"], by=By.UNIT, period=period, now=later).rows
    [unit] = [row for row in units if getattr(row, "unit_id", None) == case.unit_id]
    assert unit.supervised == 2  # type: ignore[union-attr]
