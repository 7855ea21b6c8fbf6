"""The server a bench loads: uvicorn on the bench's own database, started and waited for."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def start_server(
    database_url: str, host: str, port: int, workers: int, *, wait: float = 90
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"}
    command = [
        str(ROOT / ".venv" / "bin" / "uvicorn"), "gridmgmt.asgi:application",
        "--host", host, "--port", str(port), "--workers", str(workers),
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            asyncio.run(get_status(host, port, "/api/schema/?format=json"))
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
