"""One spectator's connection to the live feed (``web.feed``): how each tick's frames reach him, and
when he is let go rather than waited for.

Frames are written straight to his connection's transport where the server allows it (``Wire``),
else queued for a send task of his own. A client may fall ``QUEUE_TICKS`` ticks behind (what was
written that many ticks ago still waiting to leave, or that many ticks queued); one that falls
further behind, or has more than ``MAX_BUFFERED_BYTES`` waiting, is disconnected (1013, try again
later) rather than waited for, and one that sends more than ``MAX_MESSAGES_PER_S`` messages a second
is closed with 1008. What he is sent, and what his requests get, is the feed's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.websockets import WebSocket

from web.frames import Outgoing, Wire
from web.limits import TokenBucket
from web.messages import FollowRequest, SnapshotRequest, error_message, parse_client_message

log = logging.getLogger(__name__)

QUEUE_TICKS = 4  # ticks a client may fall behind before it is dropped
MAX_BUFFERED_BYTES = 4 * 1024 * 1024  # waiting to leave for one client (a 40,000-runner snapshot: ~0.5 MB)
MAX_MESSAGES_PER_S = 10.0
CLOSE_WAIT_S = 1.0  # a stuck client cannot take a close frame; give up on the handshake after this
SLOW_CLIENT = 1013  # "try again later": reconnect and start from a snapshot
POLICY = 1008
GOING_AWAY = 1001
ENCODINGS = ("gzip",)  # what ``/ws/live?encoding=`` may ask for; without it, snapshots are JSON text

ClientRequest = SnapshotRequest | FollowRequest


@dataclass(eq=False)
class FeedClient:
    """One connected spectator: his queue of frames, what he follows, how he is to be closed."""

    ws: WebSocket
    wire: Wire | None  # direct writes; else ``queue`` and a send task
    queue: asyncio.Queue[tuple[Outgoing, ...]]
    limit: TokenBucket
    marks: deque[int]  # ``wire.written`` after each of the last ticks
    on_drop: Callable[[FeedClient, str], None]  # tells the feed he was dropped, and why
    follow: tuple[str, ...] = ()
    gzip: bool = False  # snapshots as gzip in binary messages (``?encoding=gzip``)
    needs_snapshot: bool = False
    dropped: bool = False  # disconnected for being too slow
    close_code: int | None = None
    close_reason: str = ""
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    async def accept(
        cls,
        ws: WebSocket,
        wire: Wire | None,
        queue_ticks: int,
        max_messages_per_s: float,
        on_drop: Callable[[FeedClient, str], None],
    ) -> FeedClient | None:
        """Accept the connection ``ws`` as a client who may fall ``queue_ticks`` behind and send
        ``max_messages_per_s``; None if it asked for an encoding not in ``ENCODINGS`` (closed with 1008,
        saying why)."""
        encoding = ws.query_params.get("encoding")
        await ws.accept()
        if encoding is not None and encoding not in ENCODINGS:
            reason = f"unknown encoding {ascii(encoding)[:24]}: ask for encoding=gzip, or leave it out for JSON text"
            await ws.close(POLICY, reason)
            return None
        queue: asyncio.Queue[tuple[Outgoing, ...]] = asyncio.Queue(maxsize=queue_ticks)
        limit = TokenBucket(max_messages_per_s, max_messages_per_s)
        return cls(ws, wire, queue, limit, deque(maxlen=queue_ticks), on_drop, gzip=encoding == "gzip")

    def behind(self, buffered: int) -> bool:
        """Written directly and, with ``buffered`` bytes still waiting, holding back part of what was
        written ``marks.maxlen`` ticks ago."""
        wire, marks = self.wire, self.marks
        return wire is not None and len(marks) == marks.maxlen and wire.written - buffered < marks[0]

    def offer(self, *frames: Outgoing) -> None:
        """Write (or queue) frames for him; one too far behind is dropped, never waited for."""
        if self.close_code is not None:
            return
        if self.gzip:
            frames = tuple(f.gzipped() if f.snapshot else f for f in frames)
        if self.wire is None:
            try:
                self.queue.put_nowait(frames)
            except asyncio.QueueFull:
                self.drop()
            return
        if not self.wire.open:
            return
        if self.wire.buffered > MAX_BUFFERED_BYTES:
            self.drop(f"more than {MAX_BUFFERED_BYTES // 1024**2} MB waiting")
            return
        for frame in frames:
            self.wire.write(frame.wire)

    def drop(self, why: str = "") -> None:
        """Disconnect him for being too slow (1013): ``why`` (by default, the ticks he fell behind)
        goes to the feed and into his close reason."""
        why = why or f"{self.marks.maxlen} ticks behind"
        self.dropped = True
        self.on_drop(self, why)
        log.info("live feed: dropped a client %s (%s)", why, self.ws.client)
        self.stop(SLOW_CLIENT, f"too slow: {why}; reconnect for a snapshot")

    def stop(self, code: int, reason: str) -> None:
        """End this client's send and receive loops; its endpoint then closes with ``code``."""
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
        for task in self.tasks:
            task.cancel()

    def start(self, on_request: Callable[[FeedClient, ClientRequest], None]) -> None:
        """Start his receive loop, which hands his requests to ``on_request``, and, without a wire,
        the send loop that empties his queue."""
        self.tasks = [asyncio.create_task(self._receive_loop(on_request), name="live-feed-receive")]
        if self.wire is None:
            self.tasks.append(asyncio.create_task(self._send_loop(), name="live-feed-send"))

    async def finish(self) -> None:
        """Cancel his loops, log any that failed, and close him with his ``close_code`` if he has one
        (giving up after ``CLOSE_WAIT_S``)."""
        for task in self.tasks:
            task.cancel()
        for result in await asyncio.gather(*self.tasks, return_exceptions=True):
            if isinstance(result, Exception):
                log.error("live feed: client %s failed", self.ws.client, exc_info=result)
        if self.close_code is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(self.close_code, self.close_reason), CLOSE_WAIT_S)

    async def _send_loop(self) -> None:
        try:
            while True:
                for frame in await self.queue.get():
                    if frame.binary:
                        await self.ws.send({"type": "websocket.send", "bytes": frame.payload})
                    else:
                        await self.ws.send({"type": "websocket.send", "text": frame.text})
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the client went away mid-send
            log.debug("live feed: send failed: %r", exc)

    async def _receive_loop(self, on_request: Callable[[FeedClient, ClientRequest], None]) -> None:
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            if not self.limit.allow():
                self.close_code = POLICY
                self.close_reason = f"more than {self.limit.per_s:g} messages per second"
                return
            raw = message.get("text")
            if raw is None:
                raw = message.get("bytes") or b""
            try:
                request = parse_client_message(raw)
            except ValueError as exc:
                self.offer(Outgoing(error_message(str(exc))))
                continue
            on_request(self, request)
