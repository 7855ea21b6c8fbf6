"""Benchmark: the authenticated GET of bench/floor_bench.py, this tree against an earlier
checkout, served in turn (A/B alternated, several rounds) with the minimal Django view
under Django's ASGI handler beside them, so that each figure has its same-minute
counterpart on a shared machine.

    .venv/bin/python bench/floor_ab.py --before DIR [--rounds 2] [--seconds 8]

DIR is a checkout of the earlier commit (`git archive <commit> | tar -x -C DIR`).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.floor_bench import (
    BENCH_DB,
    HOST,
    PORT,
    PROJECT,
    Result,
    Rung,
    Server,
    django_server,
    measure,
    setup,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--connections", type=lambda s: [int(c) for c in s.split(",")],
                        default=[8, 32])  # fmt: skip
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    session, _, category, _ = setup()
    from bench.server import start_server

    row = f"/api/layers/categories/{category}/"
    env = {"DJANGO_SETTINGS_MODULE": "bench.floor_settings"}
    now = Server("now", PROJECT, env)
    before = Server("before", PROJECT, env, checkout=args.before.resolve())
    minimal = django_server("minimal-asgi", "asgi", minimal=True)
    os.environ["API_THROTTLE_USER"] = "100000000/min"  # checked, never reached
    results: list[Result] = []
    for round_ in range(args.rounds):
        order = [now, before] if round_ % 2 == 0 else [before, now]
        for server_def in [*order, minimal]:
            path, label = (row, f"GET ({server_def.name})") if server_def is not minimal else (
                "/floor/plain/", "minimal Django view (asgi)")  # fmt: skip
            server = start_server(BENCH_DB, HOST, PORT, args.workers, app=server_def.app,
                                  ready=server_def.ready, env=server_def.env,
                                  checkout=server_def.checkout)  # fmt: skip
            try:
                time.sleep(1)
                rung = Rung(label, server_def, path, authenticated=server_def is not minimal)
                results += measure([rung], server, args, session)
            finally:
                server.terminate()
                server.wait(timeout=30)
    print(f"\n{'round/rung':<34} {'conn':>4} {'req/s':>7} {'p99 ms':>7} {'CPU ms/req':>10} "
          f"{'non-2xx':>7} {'load':>5}")  # fmt: skip
    for r in results:
        print(f"{r.rung.label:<34} {r.connections:>4} {r.rate:>7,.0f} {r.p99:>7.1f} "
              f"{r.cpu_ms:>10.3f} {r.errors:>7} {r.load:>5}")  # fmt: skip


if __name__ == "__main__":
    main()
