"""The commentary/alert stream, from the durable events stream in Redis (SPEC §6).

``GET /api/events/stream`` is Server-Sent Events and honours ``Last-Event-ID`` (or ``?after=``),
so a commentator whose connection drops misses nothing and sees nothing twice; ``/ws/events`` is
the same over a WebSocket (``?after=``). Both read with a blocking ``XREAD`` from the last id sent.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime

import orjson
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from live.api import error
from live.store import Store

BLOCK_MS = 10_000
BATCH = 200
_ID = re.compile(r"^\d{1,20}-\d{1,20}$|^0$|^\$$")


class EventsFeed:
    """SSE and WebSocket access to one race's events."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.tz = store.race.timezone

    def routes(self) -> list[Route | WebSocketRoute]:
        return [Route("/api/events/stream", self.sse), WebSocketRoute("/ws/events", self.websocket)]

    async def _follow(self, after: str) -> AsyncIterator[tuple[str, dict]]:
        """Events after ``after`` (``$``: only new ones), forever; a heartbeat ``("", {})`` when idle."""
        last = after
        redis = self.store.redis
        while True:
            reply = await redis.xread({self.store.keys.events: last}, count=BATCH, block=BLOCK_MS)
            if not reply:
                yield "", {}
                continue
            for entry_id, f in reply[0][1]:
                last = entry_id.decode()
                event = {
                    "id": last,
                    "kind": f[b"kind"].decode(),
                    "time": datetime.fromtimestamp(float(f[b"time"]), self.tz).isoformat(timespec="milliseconds"),
                    "text": f[b"text"].decode(),
                    **orjson.loads(f[b"data"]),
                }
                yield last, event

    @staticmethod
    def _start(value: str | None) -> str | None:
        value = (value or "0").strip()
        return value if _ID.match(value) else None

    async def sse(self, request: Request) -> StreamingResponse:
        after = self._start(request.headers.get("last-event-id") or request.query_params.get("after"))
        if after is None:
            return error(400, "Last-Event-ID / after must be an event id like 1700000000000-0, or $")  # type: ignore[return-value]

        async def body() -> AsyncIterator[bytes]:
            yield b"retry: 2000\n\n"
            async for event_id, event in self._follow(after):
                if await request.is_disconnected():
                    return
                if not event_id:
                    yield b": keep-alive\n\n"
                    continue
                yield b"id: %s\nevent: %s\ndata: %s\n\n" % (
                    event_id.encode(),
                    event["kind"].encode(),
                    orjson.dumps(event),
                )

        headers = {"cache-control": "no-cache", "x-accel-buffering": "no"}
        return StreamingResponse(body(), media_type="text/event-stream", headers=headers)

    async def websocket(self, ws: WebSocket) -> None:
        after = self._start(ws.query_params.get("after"))
        if after is None:
            await ws.close(code=1008, reason="after must be an event id or $")
            return
        await ws.accept()
        try:
            async for event_id, event in self._follow(after):
                if event_id:
                    await ws.send_text(orjson.dumps(event).decode())
        except (WebSocketDisconnect, RuntimeError):
            return
