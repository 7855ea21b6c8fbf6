"""simulate_city's engine: a city's incidents, hour by hour, through the real services.

Each simulated hour is one transaction: the incidents that arrive in it (inspectors'
reports and 12345 tickets, drawn by simulation.mix), the steps of earlier incidents that
fall due in it (filing, dispatch, signing, handling, replies, verification, closing,
call-backs …, each taken by its actor through dispatch.services at its own moment on the
one clock), and the SLA worker's passes every SLA_PASS minutes (dispatch.sla.run_due:
warnings, overdue, 督办, the 12345 reply and call-back deadlines). Nothing writes a case
table but the services.

Deterministic: every draw comes from a random.Random named by the seed and what it is
for (an hour's arrivals, an incident's step), and everything is taken in time order,
ties by incident number. Resumable and idempotent: simulation.models.Run counts the hours
committed and Plan keeps each incident's next step, so a run that stopped goes on where
it stopped, and running the same days again adds nothing.
"""

from __future__ import annotations

import datetime as dt
import heapq
import logging
import math
import random
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from tqdm import tqdm

from dispatch import services
from dispatch.models import ExtensionRequest
from dispatch.sla import run_due
from gridmgmt import clock
from incidents.errors import CaseError
from incidents.models import Case, Channel, State
from incidents.services import Location, Report, Ticket
from layers.datum import Datum
from layers.models import Area, Category, Role, Staff, Tier, Unit, UnitKind
from simulation import mix
from simulation.actors import Cast
from simulation.models import Plan, Run

log = logging.getLogger(__name__)

HOUR = dt.timedelta(hours=1)
SLA_PASS = 10  # minutes between the SLA worker's passes
# A one-pixel-free PNG: the services check a photo's signature, not its picture.
PHOTO = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
NAMES = ["张", "王", "李", "赵", "陈", "杨", "黄", "周", "吴", "刘"]
# The part of the day units work on cases (local hours): a step due outside waits.
WORK_FROM, WORK_TO = 8, 20


@dataclass
class Summary:
    hours: int = 0
    arrived: int = 0
    steps: Counter[str] = field(default_factory=Counter)
    sla: Counter[str] = field(default_factory=Counter)
    refused: int = 0
    until: dt.datetime | None = None


@dataclass(frozen=True)
class City:
    """The places incidents happen: every current cell, the hot spots and their problems."""

    cells: list[tuple[int, int]]  # (cell id, street id), by code
    hot: list[tuple[int, int]]
    hot_category: dict[int, int]  # hot cell id → its chronic category
    focus: list[tuple[int, int]]  # the cells of the demo inspectors' streets


def load_city(seed: int, category_mix: mix.Mix) -> City:
    rows = (
        Area.objects.current()
        .filter(tier=Tier.CELL, parent__parent__tier=Tier.STREET)
        .order_by("code")
        .values_list("pk", "parent__parent_id")
    )
    cells = [(pk, street) for pk, street in rows if street is not None]
    if not cells:
        raise LookupError("the city has no cells: load a city first (start_city)")
    rng = stream(seed, "hot")
    count = min(len(cells), max(mix.MIN_HOT_CELLS, len(cells) // mix.HOT_CELL_EVERY))
    hot = rng.sample(cells, count)
    # The demo inspectors' own cells are watched closely: they count as hot spots too.
    owned = set(
        Staff.objects.filter(role=Role.INSPECTOR)
        .exclude(user__username__startswith="sim-")
        .values_list("cells__id", flat=True)
    )
    hot += [cell for cell in cells if cell[0] in owned and cell not in hot]
    streets = {street for cell, street in cells if cell in owned}
    focus = [cell for cell in cells if cell[1] in streets]
    return City(cells, hot, {cell: category_mix.draw(rng) for cell, _ in hot}, focus)


class Simulator:
    def __init__(self, run: Run, *, progress: bool = True, out: Callable[[str], Any] = print):
        self.run = run
        self.progress = progress
        self.out = out
        self.mix = mix.category_mix()
        self.city = load_city(run.seed, self.mix)
        self.cast = Cast()
        self.categories = {c.pk: c for c in Category.objects.filter(pk__in=self.mix.categories)}
        self.summary = Summary()
        self._departments: dict[tuple[int | None, str], int | None] = {}

    # ---- the hours -------------------------------------------------------------------

    def simulate(self, hours: int) -> Summary:
        """Simulate up to `hours` hours from the run's start (those done are skipped)."""
        todo = range(self.run.hours_done, hours)
        bar = tqdm(todo, unit=" h", desc="simulate_city", disable=not self.progress)
        for hour in bar:
            with transaction.atomic():
                self._hour(hour)
                self.run.hours_done = hour + 1
                self.run.save(update_fields=["hours_done"])
            self.summary.hours += 1
            bar.set_postfix(incidents=self.summary.arrived, refresh=False)
        bar.close()
        self.summary.until = self.run.start + self.run.hours_done * HOUR
        return self.summary

    def _hour(self, hour: int) -> None:
        begin = self.run.start + hour * HOUR
        end = begin + HOUR
        queue: list[tuple[dt.datetime, int, int, Any]] = []  # (at, kind, number, payload)
        for number, at, who in self._arrivals(hour, begin):
            queue.append((at, 1, number, who))
        for minute in range(0, 60, SLA_PASS):
            queue.append((begin + dt.timedelta(minutes=minute), 0, 0, None))
        due = Plan.objects.filter(run=self.run, due_at__lt=end).order_by("due_at", "number")
        for waiting in due.select_related("case"):
            queue.append((waiting.due_at, 2, waiting.number, waiting))  # type: ignore[arg-type]
        heapq.heapify(queue)
        while queue:
            at, kind, number, payload = heapq.heappop(queue)
            with clock.travel(at):
                if kind == 0:
                    self._sla_pass(full=at == begin)
                    continue
                if kind == 1:
                    plan = self._arrive(number, payload)
                else:
                    plan = payload
                    self._step(payload)
            if plan is not None and plan.due_at is not None and plan.due_at < end:
                heapq.heappush(queue, (plan.due_at, 2, plan.number, plan))

    def _sla_pass(self, *, full: bool) -> None:
        """One pass of the SLA worker (dispatch.sla.run_due). Between the hourly passes,
        only when a deadline timer is due: a pass that finds nothing costs as much as one
        that does, and most find nothing."""
        now = clock.now()
        due = Q(sla_check_at__lte=now) | Q(hotline_check_at__lte=now)
        if not full and not Case.objects.filter(due).exists():
            return
        for _, what in run_due():
            self.summary.sla[what] += 1

    def _arrivals(self, hour: int, begin: dt.datetime) -> list[tuple[int, dt.datetime, str]]:
        rng = stream(self.run.seed, "arrivals", hour)
        local = timezone.localtime(begin)
        rest = not _workday(local.date())
        times = []
        for who in ("inspector", "hotline"):
            rate = mix.hourly_rate(self.run.scale, local.hour, rest, who)
            times += [(begin + dt.timedelta(seconds=rng.uniform(0, 3600)), who)
                      for _ in range(mix.poisson(rng, rate))]  # fmt: skip
        times.sort()
        return [(hour * 10_000 + k, at, who) for k, (at, who) in enumerate(times)]

    # ---- an incident arrives ---------------------------------------------------------

    def _arrive(self, number: int, who: str) -> Plan | None:
        rng = stream(self.run.seed, number, "arrive")
        cell, street = self._cell(rng)
        category_id = self._category(rng, cell)
        category = self.categories[category_id]
        lon, lat = _point_in(cell, rng.randrange(1, 2**31))
        location = Location(lon, lat, Datum.WGS84, accuracy_m=round(rng.uniform(3, 15), 1))
        client_uuid = uuid.UUID(int=rng.getrandbits(128), version=4)
        try:
            if who == "inspector":
                report = Report(
                    client_uuid=client_uuid, category_id=category_id,
                    description=f"巡查发现：{category.name}", location=location,
                )  # fmt: skip
                user = self.cast.reporter(cell, street)
                intake = services.case_take_report(user=user, report=report)
            else:
                ticket = Ticket(
                    channel=Channel(mix.pick(rng, mix.CHANNELS)),
                    category_id=category_id,
                    description=f"市民反映：{category.name}",
                    address_text=_place_name(cell),
                    caller_name=f"{rng.choice(NAMES)}{rng.choice(['先生', '女士'])}",
                    caller_phone=f"13{rng.randrange(10**9):09d}",
                    location=location,
                    client_uuid=client_uuid,
                    ticket_type=mix.pick(rng, mix.TICKET_TYPES),
                )
                intake = services.case_take_ticket(user=self.cast.hotline(), ticket=ticket)
        except CaseError as error:
            self._refused(None, f"intake {number}", error)
            return None
        self.summary.arrived += 1
        plan, _ = Plan.objects.get_or_create(
            run=self.run, number=number, defaults={"case": intake.case}
        )
        plan.case = intake.case
        self._plan_next(plan)
        return plan

    def _cell(self, rng: random.Random) -> tuple[int, int]:
        draw = rng.random()
        if draw < mix.HOT_SHARE:
            return rng.choice(self.city.hot)
        if draw < mix.HOT_SHARE + mix.FOCUS_SHARE and self.city.focus:
            return rng.choice(self.city.focus)
        return rng.choice(self.city.cells)

    def _category(self, rng: random.Random, cell: int) -> int:
        chronic = self.city.hot_category.get(cell)
        if chronic is not None and rng.random() < mix.HOT_CATEGORY_SHARE:
            return chronic
        return self.mix.draw(rng)

    # ---- an incident's next step -----------------------------------------------------

    def _step(self, plan: Plan) -> None:
        case = Case.objects.select_related("category", "unit").get(pk=plan.case_id)
        plan.case = case
        action = plan.action
        try:
            self._take(action, case, plan)
            self.summary.steps[action] += 1
        except CaseError as error:
            self._refused(plan, action, error)
            plan.action, plan.due_at = "", None
            plan.save(update_fields=["action", "due_at", "refused"])
            return
        plan.steps += 1
        plan.case = Case.objects.select_related("category", "unit").get(pk=case.pk)
        self._plan_next(plan)

    def _rng(self, plan: Plan, what: str = "") -> random.Random:
        return stream(self.run.seed, plan.number, plan.steps, what)

    def _fate(self, plan: Plan) -> float:
        """How long the unit takes, as a share of its time limit, drawn once per incident:
        lognormal around 0.45 — most on time, a fifth past the warning, an eighth
        overdue, a few past twice the limit (督办 by the city)."""
        rng = stream(self.run.seed, plan.number, "fate")
        return math.exp(rng.gauss(math.log(0.45), 0.7))

    def _take(self, action: str, case: Case, plan: Plan) -> None:
        rng = self._rng(plan, ":act")
        cast = self.cast
        on: dict[str, Any] = {"case_id": case.pk, "expected_state": case.state}
        if action == "file":
            services.case_file(user=cast.commander(case), **on)
        elif action == "cancel":
            services.case_cancel(user=cast.commander(case), reason="经核实不属于受理范围", **on)
        elif action == "dispatch":
            services.case_dispatch(user=cast.commander(case), **on)
        elif action == "redispatch":  # a returned case, to the street office of its place
            office = cast.territorial(case.street_id)
            note = "退回后由属地街道处置"
            services.case_dispatch(user=cast.commander(case), unit_id=office.pk, note=note, **on)
        elif action == "dispatch_down":  # an escalated (or night duty) case, to a department
            unit = self._department(case)
            services.case_dispatch(user=cast.handler(case), unit_id=unit, **on)
        elif action == "sign":
            services.case_sign(user=cast.handler(case), **on)
        elif action == "return":
            services.case_return(user=cast.handler(case), reason="不属于本单位职责", **on)
        elif action == "escalate":
            reason = "超出街道处置能力，提请区级协调"
            services.case_escalate(user=cast.commander(case), reason=reason, **on)
        elif action in ("extend", "suspend"):
            hours = (
                (8 if case.limit_unit == "working_hours" else 24) if action == "extend" else None
            )
            reason = "需协调多个部门" if action == "extend" else "待天气好转后施工"
            services.case_request_extension(
                user=cast.handler(case), kind=action, hours=hours, reason=reason, **on
            )
        elif action == "decide":
            approve = rng.random() < 0.8
            services.case_decide_extension(user=cast.approver(case), approve=approve, **on)
        elif action == "resume":
            services.case_resume(user=cast.handler(case), **on)
        elif action == "handle":
            photo = SimpleUploadedFile("site.png", PHOTO, content_type="image/png")
            note = "已按要求处置完毕"
            services.case_handle(user=cast.handler(case), note=note, photos=[photo], **on)
        elif action == "reply":
            reply = "您反映的问题已处理，感谢您的监督。"
            services.case_reply(user=cast.handler(case), reply=reply, **on)
        elif action == "verify":
            assert case.verifier_id is not None
            passed = rng.random() >= (0.08 if case.reworks == 0 else 0.03)
            note = "" if passed else "现场仍有问题，需返工"
            verifier = cast.user(case.verifier_id)
            services.case_verify(user=verifier, passed=passed, note=note, **on)
        elif action == "close":
            services.case_close(user=cast.commander(case), **on)
        elif action == "close_direct":
            reply = "已在电话中答复市民咨询。"
            services.case_close_direct(user=cast.hotline(), reply=reply, **on)
        elif action == "callback":
            reached = rng.random() < 0.85
            unhappy = 0.08 if case.reopens == 0 else 0.0  # 重办 once at most
            shares = {"satisfied": 0.7, "basic": 0.22, "dissatisfied": unhappy}
            satisfaction = mix.pick(rng, shares) if reached else ""
            services.case_callback(
                user=cast.hotline(), reached=reached, satisfaction=satisfaction, **on
            )
        else:
            raise ValueError(f"unknown simulated step {action!r}")

    def _department(self, case: Case) -> int | None:
        """The district's department for the case's category; None: there is none, and
        the command centre that has the case handles it itself."""
        unit_type = case.category.default_unit_type
        if not unit_type:
            return None
        key = (case.district_id, unit_type)
        if key not in self._departments:
            found = Unit.objects.filter(
                area_id=case.district_id, kind=UnitKind.DEPARTMENT, unit_type=unit_type
            ).order_by("pk")
            self._departments[key] = found.values_list("pk", flat=True).first()
        return self._departments[key]

    def _plan_next(self, plan: Plan) -> None:
        """Decide the incident's next step and its moment from the case's state."""
        case = plan.case
        now = clock.now()
        rng = self._rng(plan)
        action, at = self._next(case, plan, rng, now)
        plan.action, plan.due_at = action, at
        if plan.pk is None:
            plan.save()
        else:
            plan.save(update_fields=["action", "due_at", "steps"])

    def _next(
        self, case: Case, plan: Plan, rng: random.Random, now: dt.datetime
    ) -> tuple[str, dt.datetime | None]:
        state = case.state
        ticket = bool(case.ticket_type)
        minutes = _minutes(rng)
        if state == State.REPORTED:
            if case.ticket_type == "consult":
                return "close_direct", now + minutes(2, 10)
            action = "cancel" if rng.random() < 0.04 else "file"
            return action, _office(now + minutes(5, 90), rng)
        if state == State.FILED:
            return "dispatch", now + minutes(2, 20)
        if state == State.RETURNED:
            return "redispatch", _office(now + minutes(10, 90), rng)
        if state == State.DISPATCHED:
            unit = case.unit
            command = unit is not None and unit.kind == UnitKind.TERRITORIAL
            if command and unit is not None and unit.tier != Tier.STREET and self._department(case):
                return "dispatch_down", now + minutes(10, 60)
            first = plan.steps <= 3 and unit is not None and unit.kind == UnitKind.DEPARTMENT
            if first and rng.random() < 0.03:
                return "return", _office(now + minutes(20, 240), rng)
            return "sign", _office(now + _lognormal(rng, 40, 0.8), rng)
        if state == State.REWORK:
            return "sign", _office(now + minutes(30, 240), rng)
        if state == State.SUSPENDED:
            return "resume", _office(now + dt.timedelta(days=rng.uniform(1, 3)), rng)
        if state == State.SIGNED:
            return self._in_hand(case, plan, rng, now)
        if state == State.HANDLED:
            if ticket and case.replied_at is None:
                return "reply", now + minutes(10, 240)
            return "verify", _office(now + _lognormal(rng, 150, 0.7), rng)
        if state == State.VERIFIED:
            if ticket and case.replied_at is None:
                return "reply", now + minutes(10, 240)
            return "close", _office(now + minutes(15, 180), rng)
        called = case.callback_at is not None or case.replied_at is None
        if state == State.CLOSED and ticket and case.ticket_type != "consult" and not called:
            # The first call within a day or so; after a call nobody answered, the next day.
            hours = rng.uniform(2, 30) if case.callback_tries == 0 else rng.uniform(20, 28)
            return "callback", _office(now + dt.timedelta(hours=hours), rng, until=21)
        return "", None

    def _in_hand(
        self, case: Case, plan: Plan, rng: random.Random, now: dt.datetime
    ) -> tuple[str, dt.datetime | None]:
        """A signed case: handled when its fate says; one that will run late may first be
        escalated by its street or ask for more time (延期) or a pause (缓办)."""
        fate = self._fate(plan)
        dispatched = case.dispatched_at or now
        due = case.due_at or now + dt.timedelta(days=1)
        target = dispatched + (due - dispatched) * fate
        asked = ExtensionRequest.objects.filter(case=case)
        if asked.filter(approved__isnull=True).exists():
            return "decide", _office(now + _lognormal(rng, 120, 0.6), rng)
        street_office = case.unit is not None and case.unit.tier == Tier.STREET
        first_round = case.reopens == 0 and case.reworks == 0
        if first_round and not asked.exists() and fate > 1.2 and target > now:
            pick = rng.random()
            before_due = min(target, dispatched + (due - dispatched) * 0.7)
            if pick < 0.1 and street_office and case.escalation_level == 0:
                return "escalate", max(now, before_due)
            if pick < 0.45:
                return "extend", max(now, before_due)
            if pick < 0.5:
                return "suspend", max(now, before_due)
        if case.reworks or target <= now:
            return "handle", _office(now + _lognormal(rng, 180, 0.8), rng)
        return "handle", target

    def _refused(self, plan: Plan | None, what: str, error: CaseError) -> None:
        self.summary.refused += 1
        if plan is not None:
            plan.refused += 1
        log.warning("simulate_city: %s of case %s refused: %s", what,
                    plan.case_id if plan else "-", error.message)  # fmt: skip


# ---- helpers ----------------------------------------------------------------------------


def stream(*name: object) -> random.Random:
    """The random stream of one purpose, named by the seed and what it is for: a history
    to replay, not a secret (hence not the secrets module)."""
    return random.Random(":".join(map(str, name)))  # noqa: S311


def _workday(day: dt.date) -> bool:
    from dispatch.calendar import WorkingCalendar

    return WorkingCalendar(day, day).is_workday(day)


def _minutes(rng: random.Random) -> Callable[[float, float], dt.timedelta]:
    return lambda low, high: dt.timedelta(minutes=rng.uniform(low, high))


def _lognormal(rng: random.Random, median_minutes: float, sigma: float) -> dt.timedelta:
    return dt.timedelta(minutes=median_minutes * math.exp(rng.gauss(0, sigma)))


def _office(at: dt.datetime, rng: random.Random, *, until: int = WORK_TO) -> dt.datetime:
    """`at`, or when the units' working day next begins if `at` falls outside it."""
    local = timezone.localtime(at)
    if WORK_FROM <= local.hour < until:
        return at
    day = local.date() + dt.timedelta(days=1 if local.hour >= until else 0)
    opening = dt.datetime.combine(day, dt.time(WORK_FROM), tzinfo=local.tzinfo)
    return opening + dt.timedelta(minutes=rng.uniform(0, 90))


def _point_in(cell_id: int, seed: int) -> tuple[float, float]:
    """A random point inside the cell (PostGIS draws it, from `seed`: repeatable)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ST_X(p.geom), ST_Y(p.geom) FROM layers_area a, "
            "ST_Dump(ST_GeneratePoints(a.geom, 1, %s)) p WHERE a.id = %s",
            [seed, cell_id],
        )
        row = cursor.fetchone()
    return round(row[0], 7), round(row[1], 7)


def _place_name(cell_id: int) -> str:
    cell = Area.objects.select_related("parent").defer("geom", "parent__geom").get(pk=cell_id)
    return f"{cell.parent.name if cell.parent else ''}{cell.name}附近"


# ---- the run ------------------------------------------------------------------------------


def start_of(days: int, start: dt.date | None) -> dt.datetime:
    """A new run's first hour: midnight of `start`, else `days` before this hour."""
    if start is not None:
        return dt.datetime.combine(start, dt.time(), tzinfo=timezone.get_current_timezone())
    now = timezone.localtime(clock.now()).replace(minute=0, second=0, microsecond=0)
    return now - dt.timedelta(days=days)


def simulate_city(
    *,
    days: int,
    seed: int,
    scale: float = 0.01,
    start: dt.date | None = None,
    progress: bool = True,
    out: Callable[[str], Any] = print,
) -> Summary:
    """Simulate `days` days of the city from the run's start (see the module's notes)."""
    run = Run.objects.filter(seed=seed).first()
    if run is None:
        run = Run.objects.create(seed=seed, scale=scale, start=start_of(days, start))
    elif start is not None and run.start != start_of(days, start):
        raise ValueError(f"seed {seed} was simulated from {run.start:%Y-%m-%d}, not {start}")
    elif run.scale != scale:
        raise ValueError(f"seed {seed} was simulated at scale {run.scale:g}, not {scale:g}")
    # Never beyond the present hour: the simulated history ends where real time goes on.
    hours = days * 24
    present = (clock.now() - run.start) // HOUR
    hours = min(hours, int(present))
    simulator = Simulator(run, progress=progress, out=out)
    return simulator.simulate(hours)
