"""A web process that is not the engine leader relays the leader's ticks to its own clients.

It reads the frames stream (``live.store.leader.FrameChannel``) with one blocking read per process, hands
each tick to the live feed as published (same ``seq``, same bytes), and takes the leader's last
snapshot as its engine's state, so its API, dashboard, followed runners and new clients show the
leader's numbers. While this process holds the lease itself, its engine ticks and the feed sends
directly; the relay only keeps its place in the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from live.chase.snapshot import Snapshot, decode
from live.engine.engine import LiveEngine
from live.store.leader import Frame, FrameChannel
from web.feed import LiveFeed

log = logging.getLogger(__name__)

BLOCK_MS = 1_000  # one blocking read at a time, well inside redis-py's socket timeout


class FrameRelay:
    """Relays the engine leader's ticks to one process's live-feed clients."""

    def __init__(self, engine: LiveEngine, feed: LiveFeed, channel: FrameChannel, block_ms: int = BLOCK_MS) -> None:
        self.engine = engine
        self.feed = feed
        self.channel = channel
        self.block_ms = block_ms
        self.relayed = 0  # ticks handed to the feed
        self.state_seq = 0  # seq of the leader's snapshot this process's engine holds
        self._task: asyncio.Task[None] | None = None

    @property
    def leading(self) -> bool:
        lease = self.engine.lease
        return lease is None or lease.held

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="frame-relay")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run(self) -> None:
        """Read the stream until cancelled; Redis away or a failover: retry, resuming after the last
        entry seen (a lost entry is a gap in ``seq``: the clients get the next snapshot)."""
        last_id = "$"
        failing = False  # said once when reading fails, and once when it works again
        while True:
            try:
                frames = await self.channel.after(last_id, self.block_ms)
                if failing:
                    log.warning("relay: reading the engine leader's ticks again")
                    failing = False
                if frames:
                    last_id = frames[-1].id
                    if not self.leading:
                        await self.relay(frames)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not failing:
                    log.warning("relay: reading the engine leader's ticks failed (%r); retrying every 0.5 s", exc)
                    failing = True
                await asyncio.sleep(0.5)

    async def relay(self, frames: list[Frame]) -> None:
        """Take the leader's last state, then hand the ticks to the feed, oldest first."""
        state = await self._state()
        for frame in frames:
            self.feed.relay(frame, state)
            self.relayed += 1

    async def _state(self) -> tuple[Snapshot, int] | None:
        blob = await self.channel.state()
        if blob is None:
            return None
        engine = self.engine
        try:
            snap, seq, tick_ms = decode(blob, engine.bibs, engine.pens, engine.row)
        except ValueError as exc:
            log.error("relay: the leader's state is unreadable (%s); keeping the last", exc)
            return None
        if seq != self.state_seq:
            await engine.load()  # this process's passings and guns, for the API's runner details
            engine.mirror(snap, tick_ms)
            self.state_seq = seq
        return snap, seq
