"""The kit's clients, on loopback only: an HTTP client (httpx, a bounded number of
connections) that can also send a request and hang up without reading the answer, and
live-map clients (websockets) that reconnect and resume as docs/websocket.md tells a
client to, remembering every event they got and when.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

CSRF = "k" * 32  # a CSRF secret of the accepted form, sent as cookie and header
RETRYABLE = {429, 502, 503, 504}


@dataclass
class Attempt:
    status: int  # 0: no answer (connection refused, reset, timed out, or hung up by us)
    seconds: float
    started: float  # time.monotonic() when it was sent
    body: dict[str, Any] | None = None
    retry_after: float = 0.0


def headers(session: str) -> dict[str, str]:
    return {
        "Cookie": f"sessionid={session}; csrftoken={CSRF}",
        "X-CSRFToken": CSRF,
        "Content-Type": "application/json",
        "Accept": "application/json",
    }


class Api:
    """At most `concurrency` requests in flight; each waits at most `timeout` seconds."""

    def __init__(self, base_url: str, concurrency: int, timeout: float = 15.0) -> None:
        self.base_url = base_url
        self.host, self.port = base_url.removeprefix("http://").split(":")
        self.slots = asyncio.Semaphore(concurrency)
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        self.client = httpx.AsyncClient(base_url=base_url, limits=limits, timeout=timeout)

    async def close(self) -> None:
        await self.client.aclose()

    async def request(
        self, method: str, path: str, session: str, body: dict[str, Any] | None = None
    ) -> Attempt:
        async with self.slots:
            started = time.monotonic()
            try:
                response = await self.client.request(
                    method, path, headers=headers(session), json=body
                )
            except httpx.HTTPError:
                return Attempt(0, time.monotonic() - started, started)
            seconds = time.monotonic() - started
            try:
                data = response.json()
            except ValueError:
                data = None
            retry = response.headers.get("Retry-After", "")
            wait = float(retry) if retry.replace(".", "", 1).isdigit() else 0.0
            return Attempt(response.status_code, seconds, started, data, wait)

    async def post_and_hang_up(self, path: str, session: str, body: dict[str, Any]) -> Attempt:
        """Send the whole request, then close the connection without reading a byte of
        the answer: a phone whose network dropped just after sending."""
        raw = json.dumps(body).encode()
        lines = [f"POST {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers(session).items()]
        lines += [f"Content-Length: {len(raw)}", "Connection: close", "", ""]
        async with self.slots:
            started = time.monotonic()
            try:
                _reader, writer = await asyncio.open_connection(self.host, int(self.port))
                writer.write("\r\n".join(lines).encode() + raw)
                await writer.drain()
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
            except OSError:
                pass
            return Attempt(0, time.monotonic() - started, started)


@dataclass
class LiveClient:
    """One map client of `username`, connected with its session cookie."""

    username: str
    session: str
    since: int | None = None  # hello.last_seq of its first connection
    last_seq: int | None = None
    arrivals: dict[int, float] = field(default_factory=dict)  # seq → monotonic arrival
    cases: dict[int, int] = field(default_factory=dict)  # seq → case id
    repeats: int = 0
    reloads: int = 0
    told: list[bool] = field(default_factory=list)  # {"type": "status", "live": …} received
    connections: int = 0
    closes: list[int] = field(default_factory=list)
    connected: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, base_url: str, stop: asyncio.Event) -> None:
        url = base_url.replace("http://", "ws://") + "/ws/live/"
        pause = 0.2
        while not stop.is_set():
            try:
                async with connect(
                    url,
                    origin=base_url,  # type: ignore[arg-type]
                    additional_headers={"Cookie": f"sessionid={self.session}"},
                    open_timeout=5,
                    close_timeout=2,
                    ping_interval=None,
                ) as ws:
                    await self._session(ws, stop)
                    pause = 0.2
            except ConnectionClosed as closed:
                self.closes.append(closed.rcvd.code if closed.rcvd else 1006)
            except (OSError, InvalidHandshake, TimeoutError):
                self.closes.append(0)
            self.connected.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)
            pause = min(pause * 2, 2.0)  # back off, as live.js does

    async def _session(self, ws: Any, stop: asyncio.Event) -> None:
        hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if hello.get("type") != "hello":
            return
        self.connections += 1
        if self.since is None:
            self.since = self.last_seq = int(hello["last_seq"])
        await ws.send(json.dumps({"type": "resume", "last_seq": self.last_seq}))
        self.connected.set()
        receiving = asyncio.ensure_future(self._receive(ws))
        stopping = asyncio.ensure_future(stop.wait())
        done, _pending = await asyncio.wait(
            {receiving, stopping}, return_when=asyncio.FIRST_COMPLETED
        )
        stopping.cancel()
        if receiving in done:
            receiving.result()  # raises ConnectionClosed: reconnect
        else:
            receiving.cancel()
            await ws.close()

    async def _receive(self, ws: Any) -> None:
        async for raw in ws:
            message = json.loads(raw)
            if message.get("type") == "reload":
                self.reloads += 1
            if message.get("type") == "status":
                self.told.append(bool(message.get("live")))
            if message.get("type") != "event":
                continue
            seq = int(message["seq"])
            if seq in self.arrivals:
                self.repeats += 1
                continue
            self.arrivals[seq] = time.monotonic()
            self.cases[seq] = int(message["case"]["id"])
            self.last_seq = max(self.last_seq or 0, seq)
