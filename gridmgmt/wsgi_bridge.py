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

How many requests run at once (RequestThreads): few. A process runs Python on one core
at a time (the interpreter's lock), and a small API request waits on PostgreSQL or
Redis for only a third of its time, so two or three requests keep that core busy.
Every request beyond them only added sleeps and wake-ups on the interpreter's lock:
with 16 requests running in a process, an authenticated GET cost 1.8-2.0 ms of CPU
and 38 context switches, with 2 running 1.44-1.52 ms and 11, and it served more
(docs/performance.md, "Request floor"). A request that has run `long_after` seconds
(an import, an evaluation table, a download to a slow phone) stops counting, so the
next request starts beside it in another thread, up to `threads` at once; and one that
finds no thread within `queue_wait` seconds is answered 503 at once (overload fails
fast, never a hang) by `busy`, on the loop.
"""

from __future__ import annotations

import asyncio
import queue
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from concurrent.futures import Future
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
    """ASGI app for "http" scopes: `app` (a WSGI application) in `threads`; `busy` (a
    WSGI application run on the loop, without the database) answers a request that no
    thread took within `queue_wait` seconds."""

    def __init__(
        self, app: WSGIApp, threads: RequestThreads, busy: WSGIApp, queue_wait: float
    ) -> None:
        self.app = app
        self.threads = threads
        self.busy = busy
        self.queue_wait = queue_wait

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await _read_body(receive)
        if body is None:
            return  # the client went away (or BodySizeGuard answered and stopped it)
        loop = asyncio.get_running_loop()
        exchange = _Exchange(loop, send)
        request = environ(scope, body)
        work = self.threads.submit(exchange.run, self.app, request)
        # Cancelled only if no thread has taken it yet (Future.cancel of a waiting one).
        too_long = loop.call_later(self.queue_wait, work.cancel)
        try:
            await asyncio.wrap_future(work)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not work.cancelled() or (task is not None and task.cancelling()):
                raise  # the request's own task was cancelled
            exchange.run(self.busy, request)
        finally:
            too_long.cancel()
            body.close()
        await exchange.finish()


class RequestThreads:
    """Up to `threads` threads for requests, of which at most `running` run at once: a
    request that has run `long_after` seconds stops counting and the next starts beside
    it. Requests start in the order they came."""

    def __init__(self, threads: int, running: int, long_after: float) -> None:
        self.threads = threads
        self.running = running
        self.long_after = long_after
        self._waiting: queue.SimpleQueue[_Work] = queue.SimpleQueue()
        self._slots = threading.Semaphore(running)  # the requests that count
        self._lock = threading.Lock()  # _running, and each _Work's `long`
        self._running: set[_Work] = set()
        self._started = False

    def submit(self, fn: Callable[..., None], *args: Any) -> Future[None]:
        if not self._started:
            self._start()
        work = _Work(fn, args)
        self._waiting.put(work)
        return work.future

    def _start(self) -> None:
        with self._lock:
            if self._started:
                return
            for n in range(self.threads):
                threading.Thread(target=self._serve, name=f"http-{n}", daemon=True).start()
            threading.Thread(target=self._watch, name="http-watch", daemon=True).start()
            self._started = True

    def _serve(self) -> None:
        """A thread: takes requests one after the other while it holds a slot, and waits
        for a slot again after a request that stopped counting (its slot went on)."""
        while True:
            self._slots.acquire()
            while True:
                work = self._waiting.get()
                if not work.future.set_running_or_notify_cancel():
                    continue  # answered 503 while it waited
                work.started = time.monotonic()
                with self._lock:
                    self._running.add(work)
                try:
                    work.fn(*work.args)
                except BaseException as error:  # handed to the waiting loop
                    work.future.set_exception(error)
                else:
                    work.future.set_result(None)
                with self._lock:
                    self._running.discard(work)
                if work.long:
                    break

    def _watch(self) -> None:
        """Gives a long request's slot to the next request."""
        while True:
            time.sleep(self.long_after / 2)
            now = time.monotonic()
            with self._lock:
                for work in self._running:
                    if not work.long and now - work.started >= self.long_after:
                        work.long = True
                        self._slots.release()


class _Work:
    __slots__ = ("args", "fn", "future", "long", "started")

    def __init__(self, fn: Callable[..., None], args: tuple[Any, ...]) -> None:
        self.fn = fn
        self.args = args
        self.future: Future[None] = Future()
        self.started = 0.0
        self.long = False  # it stopped counting: its slot was released for it


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
