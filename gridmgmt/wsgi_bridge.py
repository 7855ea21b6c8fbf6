"""HTTP through Django's WSGI handler, in a pool of threads of the ASGI server's process.

uvicorn serves one port: WebSockets go to the live map's consumers (Channels, ASGI),
HTTP requests come here. Each request is read on the event loop, then handed to one
thread, where Django serves it as it would under a WSGI server: its whole middleware
chain, the view and the response in that one thread, with no hop between threads.

Why not Django's own ASGI handler: it runs every request in a new thread-sensitive
context, and each middleware step that is not async (Django's MiddlewareMixin runs
process_request and process_response through sync_to_async) hops between the event loop
and a worker thread; with our middleware that was ~13 hops per request and most of the
CPU a small API request cost (docs/performance.md, "Request floor": 2.1-2.9 ms for the
middleware chain under ASGI against 0.3-0.45 ms the same chain as WSGI).

A body is read whole before the thread starts (as Django's ASGI handler does), so
Django sees its length even when it came chunked; BodySizeGuard (outside) refuses an
oversized one first. A small response goes back to the loop in one piece; a streamed
one (a file, an export) is sent on as it is produced.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

Scope = dict[str, Any]
Message = Mapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# A body up to this size stays in memory; a larger one (photos) goes to a temporary file.
BODY_IN_MEMORY = 2 * 1024 * 1024
# A streamed response is passed to the loop in pieces of about this size.
SEND_CHUNK = 64 * 1024


class WsgiBridge:
    """ASGI app for "http" scopes: `app` (a WSGI application) in `threads` threads."""

    def __init__(self, app: WSGIApp, threads: int) -> None:
        self.app = app
        self.threads = threads
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="http")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await _read_body(receive)
        if body is None:
            return  # the client went away (or BodySizeGuard answered and stopped it)
        loop = asyncio.get_running_loop()
        exchange = _Exchange(loop, send)
        try:
            await loop.run_in_executor(self.pool, exchange.run, self.app, environ(scope, body))
        finally:
            body.close()
        await exchange.finish()


class _Exchange:
    """One request's response, produced in a pool thread and sent from the loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, send: Send) -> None:
        self.loop = loop
        self.send = send
        self.start: dict[str, Any] | None = None
        self.started = False  # the start message has gone out (a streamed response)
        self.rest = b""

    def run(self, app: WSGIApp, environ: dict[str, Any]) -> None:
        """In a pool thread: Django's whole request, its response iterated and closed
        here (closing sends request_finished, which returns the thread's database
        connection to the pool)."""

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            code = int(status.split(" ", 1)[0])
            encoded = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
            self.start = {"type": "http.response.start", "status": code, "headers": encoded}
            return lambda data: None  # the legacy write() callable; Django does not use it

        result = app(environ, start_response)
        pending: list[bytes] = []
        size = 0
        try:
            for chunk in result:
                if not chunk:
                    continue
                pending.append(chunk)
                size += len(chunk)
                if size >= SEND_CHUNK:  # streamed: pass it on, do not hold it all
                    self._send_from_thread(b"".join(pending), more=True)
                    pending, size = [], 0
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        self.rest = b"".join(pending)

    def _send_from_thread(self, body: bytes, *, more: bool) -> None:
        async def send() -> None:
            if not self.started:
                assert self.start is not None
                await self.send(self.start)
                self.started = True
            await self.send({"type": "http.response.body", "body": body, "more_body": more})

        asyncio.run_coroutine_threadsafe(send(), self.loop).result()

    async def finish(self) -> None:
        if not self.started:
            assert self.start is not None, "the WSGI application did not start a response"
            await self.send(self.start)
        await self.send({"type": "http.response.body", "body": self.rest})


async def _read_body(receive: Receive) -> Any:
    """The request's body as a file positioned at 0, or None if the client left."""
    body = tempfile.SpooledTemporaryFile(max_size=BODY_IN_MEMORY, mode="w+b")  # noqa: SIM115
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            body.close()
            return None
        if chunk := message.get("body"):
            body.write(chunk)
        if not message.get("more_body", False):
            break
    body.seek(0)
    return body


def environ(scope: Scope, body: Any) -> dict[str, Any]:
    """PEP 3333's environ for an ASGI HTTP scope (as Django's ASGIRequest reads it)."""
    length = body.seek(0, 2)
    body.seek(0)
    root = scope.get("root_path", "")
    path = scope["path"]
    if root and path.startswith(root):
        path = path[len(root) :]
    server = scope.get("server") or ("localhost", 80)
    env: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        # WSGI carries the path's bytes as latin-1 text; Django decodes them as UTF-8.
        "SCRIPT_NAME": root.encode().decode("latin-1"),
        "PATH_INFO": path.encode().decode("latin-1"),
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1] or 80),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": body,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if client := scope.get("client"):
        env["REMOTE_ADDR"], env["REMOTE_PORT"] = str(client[0]), str(client[1])
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        value = raw_value.decode("latin-1")
        key = name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{name}"
        if key in env and key != "CONTENT_LENGTH":
            separator = "; " if key == "HTTP_COOKIE" else ","
            value = f"{env[key]}{separator}{value}"
        env[key] = value
    # The body was read whole: its length is known even if it came chunked.
    env["CONTENT_LENGTH"] = str(length) if length else env.get("CONTENT_LENGTH", "")
    env.pop("HTTP_TRANSFER_ENCODING", None)
    return env
