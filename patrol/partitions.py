"""The track's daily partitions (patrol_position, migrations/0001).

A day is a calendar day in settings.TIME_ZONE (Asia/Shanghai): coverage and figures are
per local day, and a day's partition is what the retention purge drops whole, without
a DELETE scanning the track. A partition is created when the first position of its day
arrives (ingest checks the batch's days with one query); the application role owns the
table (audit.roles.APP_OWNED_TABLES), so it may add partitions, and the purge, run as the
owner (a member of that role), may drop them."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction

TABLE = "patrol_position"
_NAME = re.compile(rf"^{TABLE}_p(\d{{8}})$")


def zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def local_day(at: dt.datetime) -> dt.date:
    return at.astimezone(zone()).date()


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a local day as aware datetimes (23 or 25 hours where DST exists)."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=zone())
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone())
    return start, end


def partition_name(day: dt.date) -> str:
    return f"{TABLE}_p{day:%Y%m%d}"


def ensure_partitions(days: Iterable[dt.date], *, using: str = DEFAULT_DB_ALIAS) -> list[str]:
    """Create the partitions of `days` that do not exist yet; returns those created."""
    names = {partition_name(day): day for day in set(days)}
    if not names:
        return []
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT n FROM unnest(%s::text[]) n WHERE to_regclass(n) IS NULL", [list(names)]
        )
        missing = [row[0] for row in cursor.fetchall()]
    created = []
    for name in sorted(missing):
        start, end = day_bounds(names[name])
        with transaction.atomic(using=using), connections[using].cursor() as cursor:
            # Creators take turns on the parent table (ONLY: not its partitions; inserts go
            # on). Unlike an advisory lock, taking a table's lock makes this session read
            # what other sessions changed in the catalogue meanwhile, so the check below
            # sees a partition that the one before created (an advisory lock left the
            # first look's "missing" cached, and CREATE failed with "already exists").
            cursor.execute(f"LOCK TABLE ONLY {TABLE} IN SHARE UPDATE EXCLUSIVE MODE")
            cursor.execute("SELECT to_regclass(%s) IS NULL", [name])
            row = cursor.fetchone()
            if row and row[0]:
                # Bounds are our own datetimes, formatted here: DDL takes no parameters.
                cursor.execute(
                    f"CREATE TABLE {name} PARTITION OF {TABLE} "
                    f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
                )
                created.append(name)
    return created


def partitions(*, using: str = DEFAULT_DB_ALIAS) -> dict[dt.date, str]:
    """The existing daily partitions, by day."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass",
            [TABLE],
        )
        found = {}
        for (name,) in cursor.fetchall():
            if match := _NAME.match(name):
                found[dt.date.fromisoformat(match.group(1))] = name
    return found


def drop_before(day: dt.date, *, using: str = DEFAULT_DB_ALIAS, dry_run: bool = False) -> list[str]:
    """Drop the partitions of the days before `day`; returns their names."""
    old = sorted(name for d, name in partitions(using=using).items() if d < day)
    if not dry_run:
        with transaction.atomic(using=using), connections[using].cursor() as cursor:
            for name in old:
                cursor.execute(f"DROP TABLE {name}")
    return old
