"""Selectors of the command centres' and street offices' boards: the live counters and
the cases that need chasing. They read a queryset the caller has scoped already
(incidents.access.visible_cases), so they never decide who sees what."""

from __future__ import annotations

import datetime as dt
from typing import TypedDict
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Q, QuerySet

from incidents.models import FINAL_STATES, Case, State

# How many cases the overdue/escalated panel lists: a board is read by a person; past a
# screenful the counters and the evaluation say the rest.
ATTENTION_LIMIT = 100


class Counters(TypedDict):
    new_today: int
    open: int
    overdue: int
    closed_on_time: int


def start_of_day(now: dt.datetime) -> dt.datetime:
    """Midnight of `now`'s local day (settings.TIME_ZONE): "today" for the counters."""
    local = now.astimezone(ZoneInfo(settings.TIME_ZONE))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def case_counters(cases: QuerySet[Case], *, now: dt.datetime) -> Counters:
    """新增 (received today), 在办 (open), 超期 (open and overdue), 按期结案 (closed
    today by its deadline) among `cases`, in one query."""
    today = start_of_day(now)
    is_open = ~Q(state__in=FINAL_STATES)
    figures = cases.aggregate(
        new_today=Count("pk", filter=Q(created_at__gte=today)),
        open=Count("pk", filter=is_open),
        overdue=Count("pk", filter=is_open & Q(overdue=True)),
        closed_on_time=Count(
            "pk", filter=Q(state=State.CLOSED, closed_at__gte=today, closed_on_time=True)
        ),
    )
    return Counters(
        new_today=figures["new_today"],
        open=figures["open"],
        overdue=figures["overdue"],
        closed_on_time=figures["closed_on_time"],
    )


def needing_attention(cases: QuerySet[Case]) -> QuerySet[Case]:
    """Open cases past their deadline or under 催办/督办, the most urgent first."""
    chased = Q(overdue=True) | Q(escalation_level__gt=0)
    return (
        cases.exclude(state__in=FINAL_STATES)
        .filter(chased)
        .order_by("-escalation_level", "due_at", "id")[:ATTENTION_LIMIT]
    )
