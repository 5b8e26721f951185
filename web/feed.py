"""The live feed (SPEC §6) over WebSocket at ``/ws/live``: a snapshot on connect, then one sparse tick
a second, each serialised once for every client; ``follow`` messages for the bibs a client asks for;
gzip snapshots on ``?encoding=gzip``; a reconnecting client resumes with ``?after=SEQ&epoch=E``.

This module builds the messages and answers clients; which runners a tick carries is
``web.feed_rows``, seq and the resume buffer ``web.feed_sequence``, the write pass ``web.fanout``,
a connection's queue, rate and close codes ``web.feed_client``. Why it is built so: docs/ARCHITECTURE.md,
"From mat to screen" (the tick, its rows and gzip) and "One engine" (seq across processes, resuming).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket

from live.chase.projection import estimate_speed
from live.chase.snapshot import Snapshot
from live.chase.snapshot import encode as encode_snapshot
from live.engine.engine import LiveEngine
from live.store.leader import Frame, FrameChannel, Lease
from web.fanout import Fanout
from web.feed_client import CLOSE_WAIT_S, GOING_AWAY, MAX_MESSAGES_PER_S, QUEUE_TICKS, FeedClient
from web.feed_rows import MARGIN_RESEND_S, WIN_PCT_RESEND, ChangedRows
from web.feed_sequence import MAX_SEQ_DIGITS, RESUME_TICKS, TickSequence
from web.frames import FanoutTimes, Outgoing, Wire, WireEndpoint
from web.messages import (
    FollowRequest,
    SnapshotRequest,
    error_message,
    follow_message,
    snapshot_message,
    tick_message,
)
from web.messages import runner_detail as runner_detail_of

log = logging.getLogger(__name__)

__all__ = ["MARGIN_RESEND_S", "MAX_SEQ_DIGITS", "RESUME_TICKS", "WIN_PCT_RESEND", "LiveFeed", "Publisher"]

RunnerDetail = Callable[[str], "dict[str, Any] | None"]


@dataclass(frozen=True)
class Publisher:
    """Where the engine leader publishes its ticks for the relays, and the lease it must hold to."""

    channel: FrameChannel
    lease: Lease


class LiveFeed:
    """The engine's ticks to WebSocket clients; registers itself as a tick listener. Three parts do the
    work: ``rows`` (which runners a tick carries, ``web.feed_rows``), ``sequence`` (seq, epoch and the
    ticks kept for a resume, ``web.feed_sequence``) and ``fanout`` (the clients and the writes,
    ``web.fanout``); this class builds the messages and answers the clients.

    ``runner_detail`` (bib → the object ``GET /api/runners/{bib}`` returns, None if unknown) fills
    ``follow`` messages; by default :func:`web.messages.runner_detail`, what the API answers.
    """

    def __init__(
        self,
        engine: LiveEngine,
        runner_detail: RunnerDetail | None = None,
        *,
        queue_ticks: int = QUEUE_TICKS,
        max_messages_per_s: float = MAX_MESSAGES_PER_S,
        direct: bool = True,
        publisher: Publisher | None = None,
    ) -> None:
        self.engine = engine
        self.race = engine.race
        self.detail = runner_detail or functools.partial(runner_detail_of, engine)
        self.queue_ticks = queue_ticks
        self.max_messages_per_s = max_messages_per_s
        self.direct = direct  # write frames straight to the transports where the server allows it
        self.rows = ChangedRows(self.race.distance_m, tuple(tp.at_m for tp in self.race.timing_points))
        self.sequence = TickSequence()
        self.fanout = Fanout()
        self.snapshot: Snapshot | None = None  # the state at ``snapshot_seq``
        self.speed_m_s: np.ndarray = np.zeros(0)  # runners' projection speed at ``snapshot_seq``
        self.classes: np.ndarray | None = None  # codes into ``live.chase.chase.CLASSES``
        self.tick_frame = Outgoing(b"")  # the last tick's message (or snapshot), serialised once for everyone
        self._snapshot_frame: tuple[int, Outgoing] | None = None
        self._details: dict[str, bytes] = {}
        self.snapshot_seq = 0  # the seq ``snapshot`` is the state at
        self.publisher = publisher  # the engine leader's channel to the relays, with its lease
        self._term = 0  # the lease term the seq was taken in
        self.resumed = 0  # clients that reconnected with ``?after=`` and continued without a snapshot
        self._in_flight = False  # a tick's state is taken but not yet sent (its publication awaited)
        engine.listeners.append(self.on_tick)

    # the parts' state, by the names the metrics, the status page and the tests read
    @property
    def seq(self) -> int:
        return self.sequence.seq

    @property
    def epoch(self) -> str:
        return self.sequence.epoch

    @property
    def recent(self) -> deque[tuple[int, Outgoing]]:
        return self.sequence.recent

    @property
    def clients(self) -> set[FeedClient]:
        return self.fanout.clients

    @property
    def dropped(self) -> int:
        return self.fanout.dropped

    @property
    def last_drop_reason(self) -> str:
        return self.fanout.last_drop_reason

    @property
    def times(self) -> FanoutTimes:
        return self.fanout.times

    def routes(self) -> list[BaseRoute]:
        """The live feed's route: ``/ws/live``."""
        return [WebSocketRoute("/ws/live", WireEndpoint(self.endpoint))]

    # ---- ticks -------------------------------------------------------------------------------

    async def on_tick(self, snap: Snapshot) -> None:
        """Engine listener: build this tick's frame once and queue it for every client (never waits)."""
        started = time.perf_counter()
        times = self.engine.used_times
        speed = snap.speed_m_s
        if speed is None:  # a snapshot built without the projection's speeds
            speed = estimate_speed(times, self.engine.at_m, self.engine.prior_m_s)
        classes = snap.margin_class
        sequence = self.sequence
        new_term = self.publisher is not None and self.publisher.lease.term != self._term
        if new_term:  # this process has just become the engine leader: it numbers the ticks from now on
            assert self.publisher is not None
            self._term = self.publisher.lease.term
            sequence.seq = await self.publisher.channel.take_seq(sequence.seq)
            self._set_epoch(await self.publisher.channel.epoch())
            self.rows.forget()
        rows = self.rows(snap, times, speed, classes)
        sequence.seq += 1
        self.snapshot, self.speed_m_s, self.classes = snap, speed, classes
        self.snapshot_seq = sequence.seq
        self._snapshot_frame = None
        self._details = {}
        message = tick_message(sequence.seq, snap, rows, time.time(), speed, classes)
        tick = Outgoing(orjson.dumps(message))
        if (new_term and sequence.seq > 1) or (
            len(rows.changed) * 2 > len(snap.bibs) and len(self.snapshot_frame().payload) < len(tick.payload)
        ):  # clients hold an earlier leader's state; or most of the field at once (the pursuer's gun)
            tick = self.snapshot_frame()
        if self.publisher is not None:  # relays send the same bytes; a leader fenced off sends nothing
            state = encode_snapshot(snap, sequence.seq, self.engine.tick_ms)
            # while the publication is awaited, a client who joins (or asks for a snapshot) must not
            # get the state at this seq now and this seq's tick again at the fan-out: he waits for it
            self._in_flight = True
            try:
                published = await self.publisher.channel.publish(
                    self.publisher.lease, sequence.seq, tick.payload, tick.snapshot, state, sequence.epoch
                )
            finally:
                self._in_flight = False
            if not published:
                return
        self._fan_out(tick, started)

    def relay(self, frame: Frame, state: tuple[Snapshot, int] | None) -> None:
        """A tick the engine leader published, for this process's clients: the same bytes; ``state``, the
        leader's last snapshot and its seq, gives new clients theirs. Ticks older than the last sent
        are skipped; after a gap, clients get the next snapshot instead."""
        sequence = self.sequence
        if frame.seq <= sequence.seq:
            return
        self._set_epoch(frame.epoch)
        gap = sequence.seq > 0 and frame.seq != sequence.seq + 1 and not frame.snapshot
        sequence.seq = frame.seq
        self._details = {}
        if state is not None and state[1] != self.snapshot_seq:
            snap = state[0]
            self.snapshot, self.snapshot_seq, self.classes = snap, state[1], snap.margin_class
            self.speed_m_s = snap.speed_m_s if snap.speed_m_s is not None else np.zeros(len(snap.bibs))
            self._snapshot_frame = None
        if gap:
            self.fanout.resync_all()
        self._fan_out(Outgoing(frame.body, snapshot=frame.snapshot), time.perf_counter())

    def _set_epoch(self, epoch: str) -> None:
        """Number the ticks in ``epoch`` from now on: the ticks kept from another cannot be resumed."""
        if self.sequence.set_epoch(epoch):
            self._snapshot_frame = None

    def _fan_out(self, tick: Outgoing, started: float) -> None:
        """``tick`` as this seq's, kept for a resume and written (or queued) for every client."""
        self.tick_frame = tick
        self.sequence.sent(tick)
        self.fanout.write(tick, started, self._current_snapshot, self.follow_frame)

    def _current_snapshot(self) -> Outgoing | None:
        return self.snapshot_frame() if self.has_snapshot else None

    # ---- messages ----------------------------------------------------------------------------

    @property
    def has_snapshot(self) -> bool:
        """Whether this process holds the state at ``seq`` (a relay may hold an older one for a moment)
        and that seq's tick has gone out (else a client given the state now would get the tick too)."""
        return self.snapshot is not None and self.snapshot_seq == self.seq and not self._in_flight

    def snapshot_frame(self) -> Outgoing:
        """The full state at ``seq`` as parallel arrays in roster order, serialised once per tick."""
        snap, seq = self.snapshot, self.seq
        assert snap is not None and self.snapshot_seq == seq, "no state at this seq yet"
        if self._snapshot_frame is None or self._snapshot_frame[0] != seq:
            body = snapshot_message(seq, self.race.id, snap, self.speed_m_s, self.classes, self.epoch)
            self._snapshot_frame = (seq, Outgoing(orjson.dumps(body), snapshot=True))
        return self._snapshot_frame[1]

    def follow_frame(self, bibs: tuple[str, ...]) -> Outgoing:
        """Full detail of the followed bibs at ``seq`` (each runner's detail built once per tick)."""
        parts = []
        for bib in bibs:
            if (part := self._details.get(bib)) is None:
                detail = self.detail(bib)
                part = self._details[bib] = orjson.dumps(detail, option=orjson.OPT_SERIALIZE_NUMPY) if detail else b""
            if part:
                parts.append(part)
        return Outgoing(follow_message(self.seq, parts))

    # ---- connections -------------------------------------------------------------------------

    async def endpoint(self, ws: WebSocket, wire: Wire | None) -> None:
        """One spectator: a snapshot first (at the first tick if none yet), or the ticks he missed if
        he reconnects with ``?after=`` and this process has them all, then every tick; written straight
        to ``wire`` where there is one and ``direct`` allows it."""
        wire = wire if self.direct else None
        fanout = self.fanout
        client = await FeedClient.accept(ws, wire, self.queue_ticks, self.max_messages_per_s, fanout.on_drop)
        if client is None:
            return  # refused: an encoding we do not speak
        missed = self.missed_ticks(ws.query_params.get("after"), ws.query_params.get("epoch"))
        if missed is not None:
            self.resumed += 1
            if missed:
                client.offer(*missed)
        elif not self.has_snapshot:
            client.needs_snapshot = True
        else:
            client.offer(self.snapshot_frame())
        client.start(self._request)
        fanout.clients.add(client)
        try:
            await asyncio.wait(client.tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            fanout.clients.discard(client)
            await client.finish()

    def missed_ticks(self, after: str | None, epoch: str | None) -> list[Outgoing] | None:
        """What a client reconnecting with ``?after=`` gets instead of a snapshot (``TickSequence.missed``)."""
        return self.sequence.missed(after, epoch)

    def _request(self, client: FeedClient, request: SnapshotRequest | FollowRequest) -> None:
        """What a client asked for: bibs to follow, or a snapshot (at the next tick if none yet)."""
        if isinstance(request, FollowRequest):
            self._follow(client, request.bibs)
        elif not self.has_snapshot:
            client.needs_snapshot = True
        else:
            client.offer(self.snapshot_frame())

    def _follow(self, client: FeedClient, bibs: tuple[str, ...]) -> None:
        known = tuple(b for b in bibs if self.race.participant(b) is not None)
        client.follow = known
        frames = []
        if unknown := [b for b in bibs if b not in known]:
            message = f"no such bib in race {self.race.id}: {', '.join(unknown[:10])}; following the others"
            frames.append(Outgoing(error_message(message)))
        if known and self.snapshot is not None:
            frames.append(self.follow_frame(known))  # the detail now, not at the next tick
        if frames:
            client.offer(*frames)

    async def close(self) -> None:
        """Stop listening to the engine and disconnect every client (1001, going away)."""
        with contextlib.suppress(ValueError):
            self.engine.listeners.remove(self.on_tick)
        for client in list(self.clients):
            client.stop(GOING_AWAY, "server shutting down")
        for _ in range(int(2 * CLOSE_WAIT_S / 0.05)):
            if not self.clients:
                break
            await asyncio.sleep(0.05)


def feed_routes(feed: LiveFeed) -> list[BaseRoute]:
    """The live feed's route: ``/ws/live``."""
    return feed.routes()
