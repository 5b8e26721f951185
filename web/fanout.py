"""The live feed's fan-out: one tick's frame to every connected client, written straight to each
transport in one synchronous pass where the server allows it (like ``websockets.broadcast()``), else
offered to the client's queue; a client behind is dropped rather than waited for (``web.feed_client``).
What a tick says and where it comes from is ``web.feed``'s; the why is docs/ARCHITECTURE.md, "Live feed"."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from websockets.protocol import State

from web.feed_client import MAX_BUFFERED_BYTES, FeedClient
from web.frames import FanoutTimes, Outgoing

log = logging.getLogger(__name__)

SnapshotFrame = Callable[[], "Outgoing | None"]  # the state at this seq, None where there is none yet
FollowFrame = Callable[[tuple[str, ...]], Outgoing]  # the detail of these bibs at this seq


class Fanout:
    """The connected clients and how the ticks reached them: dropped clients, the time per tick."""

    def __init__(self) -> None:
        self.clients: set[FeedClient] = set()
        self.dropped = 0  # clients disconnected for being too slow
        self.last_drop_reason = ""
        self.times = FanoutTimes()  # per tick: build the frame, then write or queue it for every client

    def on_drop(self, client: FeedClient, why: str) -> None:
        """A client let go for being too slow: counted, and sent nothing more."""
        self.dropped += 1
        self.last_drop_reason = why
        self.clients.discard(client)

    def resync_all(self) -> None:
        """Every client gets the next snapshot instead of the next tick (after a gap in the ticks)."""
        for client in self.clients:
            client.needs_snapshot = True

    def write(self, tick: Outgoing, started: float, snapshot: SnapshotFrame, follow: FollowFrame) -> None:
        """Write (or queue) ``tick`` for every client: straight to the transport in the common case.
        ``started``: when the tick began to be built (``time.perf_counter``), for ``times``."""
        frame = tick.wire  # framed once, here, for every client
        gzipped = tick.snapshot and any(c.gzip for c in self.clients)
        if gzipped:
            tick.gzipped().wire  # noqa: B018  # compressed and framed once too, before the writes
        built = time.perf_counter()
        size, opened = len(frame), State.OPEN
        for client in list(self.clients):
            wire = client.wire
            if (
                wire is None
                or client.needs_snapshot
                or client.follow
                or client.close_code is not None
                or (gzipped and client.gzip)
            ):
                try:
                    self.send(client, tick, snapshot, follow)
                except Exception:  # one client's follow list must not cost the others their tick
                    log.exception("live feed: the tick for %s failed; closing that connection", client.ws.client)
                    self.clients.discard(client)
                    client.stop(1011, "internal error building this connection's tick; reconnect")
                continue
            # the common case, inlined: at 5,000 clients each step here is ~1 % of the tick's fan-out
            transport = wire.transport
            if transport.is_closing() or wire.conn.state is not opened:
                continue  # closing: its endpoint is on its way out
            buffered = transport.get_write_buffer_size()
            if buffered:  # with nothing waiting nobody is behind: the usual case skips both tests
                if client.behind(buffered):
                    client.drop()
                    continue
                if buffered > MAX_BUFFERED_BYTES:
                    client.drop(f"more than {MAX_BUFFERED_BYTES // 1024**2} MB waiting")
                    continue
            transport.write(frame)
            written = wire.written + size
            wire.written = written
            client.marks.append(written)
        self.times.add(built - started, time.perf_counter() - built)

    @staticmethod
    def send(client: FeedClient, tick: Outgoing, snapshot: SnapshotFrame, follow: FollowFrame) -> None:
        """The tick for one client, preceded by the snapshot if he needs one, followed by what he follows."""
        wire = client.wire
        if wire is not None:
            if not wire.open:
                return  # closing: its endpoint is on its way out
            if client.behind(wire.buffered):
                client.drop()
                return
        if client.needs_snapshot:
            state = snapshot()
            if state is None:
                return  # a relay without the state at this seq yet: the client waits for the next
            client.needs_snapshot = False
            tick = state
        client.offer(tick, *((follow(client.follow),) if client.follow else ()))
        if wire is not None:
            client.marks.append(wire.written)
