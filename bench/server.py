"""The server a bench loads: uvicorn on the bench's own database, started and waited for."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def start_server(
    database_url: str,
    host: str,
    port: int,
    workers: int,
    *,
    wait: float = 90,
    app: str = "gridmgmt.asgi:application",
    ready: str = "/api/schema/?format=json",
    env: dict[str, str] | None = None,
    checkout: Path | None = None,
) -> subprocess.Popen[bytes]:
    """uvicorn serving `app` (the project by default) with `workers` processes, once it
    answers `ready`; `env` adds variables to this process's environment; `checkout`
    serves another checkout's code (an earlier commit's, for a before/after comparison
    in the same run) with this one's virtualenv."""
    env = {**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING", **(env or {})}
    if checkout is not None:
        env["PYTHONPATH"] = str(checkout)
    command = [
        str(ROOT / ".venv" / "bin" / "uvicorn"), app,
        "--host", host, "--port", str(port), "--workers", str(workers),
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=checkout or ROOT, env=env)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            asyncio.run(get_status(host, port, ready))
            return server
        except OSError:
            time.sleep(0.3)
    server.kill()
    raise SystemExit(f"the server did not start within {wait:g} s")


async def get_status(host: str, port: int, path: str) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    writer.close()
    return status
