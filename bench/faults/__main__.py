"""Run the fault kit: `make faults`, or `.venv/bin/python -m bench.faults [options]`.

Starts its own PostgreSQL cluster, Redis, server (uvicorn, 2 workers) and SLA worker in a
temporary directory, loads the small test city, connects live-map clients of eleven
users, runs the six scenarios, prints one row each, stops everything it started (also on
Ctrl-C or a failure) and exits 1 if anything was lost, duplicated or leaked.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import os
import random
import signal
import sys
import time
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # the kit reads back between loads

from bench.faults import city, scenarios  # noqa: E402
from bench.faults.clients import Api, LiveClient  # noqa: E402
from bench.faults.scenarios import Kit, Row  # noqa: E402
from bench.faults.stack import Stack  # noqa: E402

SCENARIOS = ["storm", "drop", "race", "redis-kill", "redis-stop", "postgres"]


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--reports", type=int, default=1000, help="reports of the storm")
    parser.add_argument("--concurrency", type=int, default=20, help="requests at once")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument(
        "--live-grace", type=float, default=30.0,
        help="seconds live clients get to catch up after each scenario",
    )  # fmt: skip
    parser.add_argument("--only", default=",".join(SCENARIOS), help="scenarios to run")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--keep", action="store_true", help="keep the logs' directory")
    return parser.parse_args()


def quiet_clients() -> None:
    # httpx logs every request at INFO; the kit prints its own table.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # unwinds through every `finally`: everything is stopped


async def run(
    stack: Stack, args: argparse.Namespace, accounts: dict[str, city.Account]
) -> list[Row]:
    assert stack.server is not None
    api = Api(stack.server.url, args.concurrency)
    stop = asyncio.Event()
    live = [LiveClient(name, accounts[name].session) for name in city.LIVE_USERS]
    tasks = [asyncio.ensure_future(c.run(stack.server.url, stop)) for c in live]
    waiting, _dispatched_at_once = city.categories()
    kit = Kit(stack, api, accounts, live, random.Random(args.seed), waiting,
              args.live_grace, deadline=60.0)  # fmt: skip
    rows: list[Row] = []
    try:
        await asyncio.wait_for(asyncio.gather(*(c.connected.wait() for c in live)), 20)
        chosen = args.only.split(",")
        steps = {
            "storm": lambda: scenarios.resend_storm(kit, args.reports),
            "drop": lambda: scenarios.dropped_answers(kit),
            "race": lambda: scenarios.racing_transitions(kit),
            "redis-kill": lambda: scenarios.redis_killed(kit),
            "redis-stop": lambda: scenarios.redis_hung(kit),
            "postgres": lambda: scenarios.postgres_stopped(kit),
        }
        for name in SCENARIOS:
            if name in chosen:
                began = time.monotonic()
                print(f"… {name}", flush=True)
                row = await steps[name]()
                row.notes.append(f"{time.monotonic() - began:.0f} s")
                rows.append(row)
                print(line(row), flush=True)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await api.close()
    return rows


HEADER = (
    "| scenario | sent | acknowledged | stored | duplicated | lost | longest request | "
    "time to recover (HTTP / live) | live events committed / received | leaks | notes |"
)


def line(row: Row) -> str:
    def seconds(value: float | None) -> str:
        return "–" if value is None else f"{value:.1f} s"

    recover = f"{seconds(row.recover_http)} / {seconds(row.recover_live)}"
    if row.recover_http is None and row.recover_live is None:
        recover = "–"
    return (
        f"| {row.scenario} | {row.sent} | {row.acknowledged} | {row.stored} | "
        f"{row.duplicated} | {row.lost} | {row.longest:.2f} s | {recover} | "
        f"{row.live_committed} / {row.live_received} | {row.leaks} | {'; '.join(row.notes)} |"
    )


def main() -> int:
    args = parse()
    signal.signal(signal.SIGTERM, terminate)
    stack = Stack()
    started = dt.datetime.now(dt.UTC)
    rows: list[Row] = []
    worker_alive = True
    try:
        print(f"fault kit: own PostgreSQL, Redis and server under {stack.directory}", flush=True)
        stack.start_services()
        env = stack.env()
        city.migrate(env)
        city.setup_django(env)
        quiet_clients()
        accounts = city.build()
        city.reconnect()
        server = stack.start_server(env, args.workers)
        rows = asyncio.run(run(stack, args, accounts))
        worker_alive = server.worker_alive()
    except KeyboardInterrupt:
        print("interrupted: stopping everything the kit started", file=sys.stderr)
        return 130
    finally:
        stack.close(keep_logs=args.keep)
    print()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print(f"{started:%Y-%m-%d %H:%M} UTC; {os.cpu_count()} cores, {memory:.0f} GB; uvicorn × "
          f"{args.workers}, {args.concurrency} requests at once, {len(city.LIVE_USERS)} live "
          "clients")  # fmt: skip
    print(HEADER)
    print("| --- " * 11 + "|")
    for row in rows:
        print(line(row))
    failures = [f"{row.scenario}: {', '.join(row.failures())}" for row in rows if row.failures()]
    if not worker_alive:
        failures.append("the SLA worker exited during the run")
    print(f"SLA worker still running at the end: {'yes' if worker_alive else 'no'}")
    for failure in failures:
        print(f"FAIL {failure}")
    print("PASS" if not failures else f"{len(failures)} scenario(s) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
