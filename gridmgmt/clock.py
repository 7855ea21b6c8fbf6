"""One clock for every service.

Every service reads the time from here, never from ``timezone.now()`` or the
database's ``now()``, so that the real services can run at a past or accelerated
time with consistent history, deadlines and SLA-worker ticks: the simulator
(``simulate_city``) replays a month in minutes, a worker can be started on a
shifted clock, and tests set the time without freezing the process clock.

Sign-in, sessions, API keys and the audit trail keep real time (Django's own
session machinery does, and an audit records when a person really acted); the
case loop and everything it schedules read this clock.

The setting is process-wide (a live-server thread in a test sees the same
time as the test) and is changed only through ``travel``, ``run_from`` or ``advance``.

>>> import datetime as dt
>>> moment = dt.datetime(2030, 1, 7, 9, 0, tzinfo=dt.UTC)
>>> with travel(moment):
...     now() == moment
True
>>> with travel(moment, rate=60.0):
...     now() >= moment
True
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.utils import timezone


@dataclass(frozen=True)
class _Shift:
    """The clock reads ``start + (monotonic() - began) * rate``."""

    start: dt.datetime
    began: float
    rate: float

    def now(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=(time.monotonic() - self.began) * self.rate)


_shift: _Shift | None = None
_lock = threading.Lock()


def now() -> dt.datetime:
    """The current time, aware (UTC), as every service must read it."""
    shift = _shift
    return timezone.now() if shift is None else shift.now()


def localtime(value: dt.datetime | None = None) -> dt.datetime:
    return timezone.localtime(value if value is not None else now())


def localdate() -> dt.date:
    return localtime().date()


def _aware(moment: dt.datetime | str) -> dt.datetime:
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def run_from(moment: dt.datetime | str | None, *, rate: float = 0.0) -> None:
    """Run the clock from ``moment`` at ``rate`` × real time (0: stopped);
    ``None`` returns it to real time."""
    global _shift
    with _lock:
        _shift = None if moment is None else _Shift(_aware(moment), time.monotonic(), rate)


@contextmanager
def travel(moment: dt.datetime | str, *, rate: float = 0.0, tick: bool = False) -> Iterator[None]:
    """Within the block the clock reads ``moment`` (stopped, or running at
    ``rate``; ``tick=True`` is ``rate=1``); afterwards it reads what it read before."""
    global _shift
    before = _shift
    run_from(moment, rate=1.0 if tick else rate)
    try:
        yield
    finally:
        with _lock:
            _shift = before


def advance(delta: dt.timedelta) -> None:
    """Move a set clock forward (the simulator's step); the real clock cannot be moved."""
    shift = _shift
    if shift is None:
        raise RuntimeError("advance() needs a clock set by travel() or run_from()")
    run_from(shift.now() + delta, rate=shift.rate)
