"""The commentary/alert stream (SPEC §6): Server-Sent Events and a WebSocket over the durable events stream.

``GET /api/events/stream`` resumes after the ``Last-Event-ID`` header (what a browser's EventSource
sends when it reconnects) or ``?after=``; ``/ws/events`` after ``?after=`` or a first message
``{"after": "<id>"}`` (sent within ``HELLO_WAIT_S``; a later one starts over from that id). Without
either, from the start, but never more than the last ``REPLAY_MAX`` (1,000) events, whatever id a
client asks to resume after (``GET /api/events`` pages through all); ``$`` means only new events.
``?kind=catch,milestone`` filters.

A client first catches up from Redis (XRANGE pages, :meth:`Store.events_after`), then takes live
events from one ``XREAD BLOCK`` per process shared by all clients, each with a bounded queue. Ids are
compared, so an event is never sent twice; a client whose queue overflows catches up from Redis
again, so none is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from live.store.store import REDIS_UNAVAILABLE, Store
from web.http import api_route, is_stream_id, refuse
from web.limits import TokenBucket

log = logging.getLogger(__name__)

BLOCK_MS = 2_000  # one blocking XREAD at a time per process, well inside the client's socket timeout
PAGE = 500
QUEUE_EVENTS = 1_000  # live events a client may have waiting before it falls back to catching up
KEEPALIVE_S = 15.0  # an SSE comment when idle, so proxies keep the connection and gone clients show
REPLAY_MAX = 1_000  # events a new stream replays at most (GET /api/events pages through all of them)
WINDOW_REFRESH_S = 5.0
HELLO_WAIT_S = 0.5
RETRY_MS = 2_000
SEND_TIMEOUT_S = 10.0
T = TypeVar("T")
REDIS_RETRY_S = 1.0  # a client's catch-up waits this long between tries while Redis fails
MAX_MESSAGES_PER_S = 10.0


def stream_id(value: str) -> tuple[int, int]:
    """A Redis stream id as a comparable pair (``ms`` alone is ``ms-0``)."""
    ms, _, seq = value.partition("-")
    return int(ms), int(seq or 0)


def valid_after(value: str) -> bool:
    return value == "$" or is_stream_id(value)


def _kinds(value: str | None) -> frozenset[str] | None:
    return frozenset(k.strip() for k in value.split(",") if k.strip()) if value else None


class _Subscriber:
    """Where the shared reader leaves live events for one client."""

    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=size)
        self.overflowed = False

    def offer(self, event: dict[str, Any]) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True  # the client catches up from Redis instead

    def reset(self) -> None:
        self.queue = asyncio.Queue(maxsize=self.queue.maxsize)
        self.overflowed = False


class EventsFeed:
    """SSE and WebSocket access to one race's events, read from Redis once per process."""

    def __init__(
        self,
        store: Store,
        *,
        block_ms: int = BLOCK_MS,
        keepalive_s: float = KEEPALIVE_S,
        queue_events: int = QUEUE_EVENTS,
    ) -> None:
        self.store = store
        self.tz = store.race.timezone
        # redis-py gives up on a read after socket_timeout (5 s by default): a longer block would fail
        timeout_s = store.read_timeout_s()
        self.block_ms = min(block_ms, int(timeout_s * 500)) if timeout_s else block_ms
        self.keepalive_s = keepalive_s
        self.queue_events = queue_events
        self._subscribers: set[_Subscriber] = set()
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._floor: tuple[float, str] | None = None  # (when looked up, id) of the replay window's start

    def routes(self) -> list[BaseRoute]:
        """``/api/events/stream`` (SSE) and ``/ws/events``."""
        return [api_route("/api/events/stream", self.sse), WebSocketRoute("/ws/events", self.websocket)]

    async def close(self) -> None:
        """Stop the shared reader (before the Redis client closes)."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None

    # ---- the stream --------------------------------------------------------------------------

    async def events(
        self, after: str = "0-0", kinds: frozenset[str] | None = None
    ) -> AsyncIterator[dict[str, Any] | None]:
        """Every event after ``after`` in stream order, each once, forever; ``None`` after
        ``keepalive_s`` without one. Times are ISO 8601, as in ``GET /api/events``."""
        sub = _Subscriber(self.queue_events)
        self._subscribers.add(sub)  # before catching up: whatever the reader sees next is ours too
        try:
            asked_ms = int(time.time() * 1000)
            await _retried(self._ensure_reader)
            last = await self._start_of_now(asked_ms) if after == "$" else after
            floor = await _retried(self._window_start)
            if stream_id(last) < stream_id(floor):
                last = floor  # a new client replays the last REPLAY_MAX events, not the whole race
            while True:
                while True:  # catch up from Redis
                    page = await _retried(partial(self.store.events_after, last, count=PAGE))
                    for event in page:
                        last = str(event["id"])
                        if kinds is None or event["kind"] in kinds:
                            yield self._public(event)
                    if len(page) < PAGE:
                        break
                while not sub.overflowed:  # then live, from the shared reader
                    try:
                        event = await asyncio.wait_for(sub.queue.get(), self.keepalive_s)
                    except TimeoutError:
                        yield None
                        continue
                    if stream_id(str(event["id"])) <= stream_id(last):
                        continue  # already sent while catching up
                    last = str(event["id"])
                    if kinds is None or event["kind"] in kinds:
                        yield self._public(event)
                sub.reset()
        finally:
            self._subscribers.discard(sub)
            if not self._subscribers and self._reader is not None:
                self._reader.cancel()  # nobody listens: release the blocked Redis connection
                self._reader = None

    def _public(self, event: dict[str, Any]) -> dict[str, Any]:
        t = float(event["time"])
        return {**event, "time": datetime.fromtimestamp(t, self.tz).isoformat(timespec="milliseconds")}

    async def _window_start(self) -> str:
        """The id after which the last ``REPLAY_MAX`` events lie (``0-0`` while there are fewer),
        looked up at most every ``WINDOW_REFRESH_S`` however many clients connect."""
        now = time.monotonic()
        if self._floor is None or now - self._floor[0] > WINDOW_REFRESH_S:
            newest = await self.store.newest_event_ids(REPLAY_MAX + 1)
            floor = newest[-1] if len(newest) > REPLAY_MAX else "0-0"
            self._floor = (now, floor)
        return self._floor[1]

    async def _start_of_now(self, asked_ms: int) -> str:
        """Where ``$`` (only what comes next) starts for a client who asked at ``asked_ms``: the stream's
        last id; if Redis was away then, the last id from before he asked, once it is back (events
        appended between its return and our next try are his)."""
        try:
            return await self._stream_end()
        except REDIS_UNAVAILABLE:
            return await _retried(lambda: self._stream_end(upto=str(asked_ms)))

    async def _stream_end(self, upto: str = "+") -> str:
        return await self.store.last_event_id(upto)

    async def _ensure_reader(self) -> None:
        async with self._lock:
            if self._reader is None or self._reader.done():
                start = await self._stream_end()
                self._reader = asyncio.create_task(self._read(start), name="events-feed-read")

    async def _read(self, last: str) -> None:
        """The shared reader: block on the stream after ``last``, hand every event to every subscriber."""
        key = self.store.keys.events
        failing = False  # said once when reading fails, and once when it works again
        while self._subscribers:
            try:
                ready = await self.store.wait_for_events(last, self.block_ms)
                if failing:
                    log.warning("events feed: reading %s again", key)
                    failing = False
                if not ready:
                    continue
                page = await self.store.events_after(last, count=PAGE)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: subscribers wait, nothing is lost (they resume from ids)
                if not failing:
                    log.warning("events feed: reading %s failed (%r); retrying every 1 s", key, exc)
                    failing = True
                await asyncio.sleep(1.0)
                continue
            for event in page:
                for sub in list(self._subscribers):
                    sub.offer(event)
            if page:
                last = str(page[-1]["id"])

    # ---- Server-Sent Events ------------------------------------------------------------------

    async def sse(self, request: Request) -> Response:
        after = (request.headers.get("last-event-id") or request.query_params.get("after") or "0-0").strip()
        if not valid_after(after):
            raise refuse(
                400, f"Last-Event-ID / after must be an event id like 1700000000000-0 or $, got {after[:40]!r}"
            )
        kinds = _kinds(request.query_params.get("kind"))

        async def body() -> AsyncIterator[bytes]:
            yield b"retry: %d\n\n" % RETRY_MS
            async for event in self.events(after, kinds):
                if event is None:
                    yield b": keep-alive\n\n"
                    continue
                kind = str(event["kind"]).replace("\n", " ").replace("\r", " ")
                yield b"id: %s\nevent: %s\ndata: %s\n\n" % (
                    str(event["id"]).encode(),
                    kind.encode(),
                    orjson.dumps(event),
                )

        headers = {"cache-control": "no-cache", "x-accel-buffering": "no"}
        return StreamingResponse(body(), media_type="text/event-stream", headers=headers)

    # ---- WebSocket ---------------------------------------------------------------------------

    async def websocket(self, ws: WebSocket) -> None:
        await ws.accept()
        after = ws.query_params.get("after")
        kinds = _kinds(ws.query_params.get("kind"))
        if after is not None and not valid_after(after):
            await ws.close(1008, "after must be an event id like 1700000000000-0, or $")
            return
        limit = TokenBucket(MAX_MESSAGES_PER_S, MAX_MESSAGES_PER_S)
        sender: asyncio.Task[None] | None = None

        def restart(start: str) -> None:
            nonlocal sender
            if sender is not None:
                sender.cancel()
            sender = asyncio.create_task(self._send_events(ws, start, kinds), name="events-feed-ws")

        try:
            if after is None:  # a first {"after": id} may say where to start
                with contextlib.suppress(TimeoutError):
                    message = await asyncio.wait_for(ws.receive(), HELLO_WAIT_S)
                    if message["type"] == "websocket.disconnect":
                        return
                    limit.allow()
                    after = await self._requested_start(ws, message)
            restart(after or "0-0")
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    return
                if not limit.allow():
                    await ws.close(1008, f"more than {MAX_MESSAGES_PER_S:g} messages per second")
                    return
                if start := await self._requested_start(ws, message):
                    restart(start)
        except WebSocketDisconnect:
            return
        finally:
            if sender is not None:
                sender.cancel()
                await asyncio.gather(sender, return_exceptions=True)

    async def _requested_start(self, ws: WebSocket, message: Mapping[str, Any]) -> str | None:
        """The id in a client's ``{"after": id}``; anything else is answered with an error."""
        start = self._parse_after(message.get("text") or message.get("bytes") or b"")
        if isinstance(start, ValueError):
            await ws.send_text(orjson.dumps({"type": "error", "message": str(start)}).decode())
            return None
        return start

    @staticmethod
    def _parse_after(raw: str | bytes) -> str | ValueError:
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return ValueError('not JSON; send {"after": "<event id>"}')
        after = body.get("after") if isinstance(body, dict) else None
        if not isinstance(after, str) or not valid_after(after):
            return ValueError(f'expected {{"after": "<event id like 1700000000000-0, or $>"}}, got {str(raw)[:80]}')
        return after

    async def _send_events(self, ws: WebSocket, after: str, kinds: frozenset[str] | None) -> None:
        try:
            async for event in self.events(after, kinds):
                if event is not None:
                    frame = orjson.dumps({**event, "type": "event"}).decode()
                    await asyncio.wait_for(ws.send_text(frame), SEND_TIMEOUT_S)
        except (WebSocketDisconnect, RuntimeError, TimeoutError) as exc:  # gone, closed, or not reading
            log.debug("events feed: stopped sending to %s: %r", ws.client, exc)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(1011 if isinstance(exc, TimeoutError) else 1000), 1.0)
        except Exception:  # never silently: say why in the log and close the client (1011)
            log.exception("events feed: sending to %s failed", ws.client)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(1011), 1.0)


async def _retried(call: Callable[[], Awaitable[T]]) -> T:
    """``call()``, tried again every ``REDIS_RETRY_S`` while Redis fails (down, failing over): the
    client's stream stays open and goes on from where it was; the shared reader says it in the log."""
    while True:
        try:
            return await call()
        except REDIS_UNAVAILABLE:
            await asyncio.sleep(REDIS_RETRY_S)


def events_routes(feed: EventsFeed) -> list[BaseRoute]:
    """The events stream's routes: ``/api/events/stream`` (SSE) and ``/ws/events``."""
    return feed.routes()
