"""The request-floor bench's two rungs without Django (bench/floor_bench.py), as one ASGI
app on the same uvicorn settings as the project:

- /bare/: answers a constant, touching nothing: what uvicorn and the client cost;
- /lean/: the lean SQL bound of an authenticated GET of one catalogue row: the three
  statements the project needs for it (the session row, the user with their post as
  layers.auth reads them, the row) on a pooled async connection, the row as JSON. No
  framework, no session decoding (the user's id is given), no rate limit.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from psycopg_pool import AsyncConnectionPool

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]

JSON_HEADERS = [(b"content-type", b"application/json")]
_pool: AsyncConnectionPool | None = None


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/lean/":
        body = await lean(scope)
    else:
        body = b'{"ok":true}'
    await send({"type": "http.response.start", "status": 200, "headers": JSON_HEADERS})
    await send({"type": "http.response.body", "body": body})


async def lean(scope: Scope) -> bytes:
    global _pool
    if _pool is None:
        _pool = AsyncConnectionPool(os.environ["DATABASE_URL"], min_size=1, max_size=8)
        await _pool.open()
    cookies = dict(scope["headers"]).get(b"cookie", b"").decode()
    key = next((c.split("=", 1)[1] for c in cookies.split("; ") if c.startswith("sessionid=")), "")
    async with _pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT session_data FROM django_session WHERE session_key = %s AND expire_date > %s",
            [key, dt.datetime.now(dt.UTC)],
        )
        if await cursor.fetchone() is None:
            return b'{"detail":"no session"}'
        await conn.execute(os.environ["FLOOR_USER_SQL"], [int(os.environ["FLOOR_USER_ID"])])
        cursor = await conn.execute(
            "SELECT * FROM layers_category WHERE id = %s", [int(os.environ["FLOOR_CATEGORY"])]
        )
        row = await cursor.fetchone()
        names = [column.name for column in cursor.description or []]
    return json.dumps(dict(zip(names, row or (), strict=False)), default=str).encode()
