"""The live feed (SPEC §6) over WebSocket at ``/ws/live``: a snapshot on connect, then one tick a second.

Every tick is serialised once and the same frame goes to every client (docs/SOURCES.md §4): under
uvicorn's websockets sans-I/O implementation (our default) the WebSocket frame itself is built once and
written straight to every connection's transport in one pass, like ``websockets.broadcast()``, with no
task, queue or await per client; under another server each client falls back to a queue and a send
task of its own. Runners are addressed by row: ``GET /api/roster`` gives bibs, names and pens in
that order, once. A tick is sparse: only rows whose status or class changed, who got a new or
corrected passing, or whose margin moved by more than its own uncertainty (``live.chase.chase.margin_sigma``:
±3 % of the time the runner has left) and at least ``MARGIN_RESEND_S`` since it was last sent, or
whose win probability (``win_pct``, whole percent) moved ``WIN_PCT_RESEND`` points.
Distances are whole metres, speeds decimetres a second (``speed_dm_s``; 5 cm in a second, less than a
dot) and margins whole seconds within ``MARGIN_FINE_S`` of zero, else multiples of ``MARGIN_STEP_S``
(a margin is only resent past ``MARGIN_RESEND_S`` anyway): what keeps a 40,000-runner snapshot under
200 KB gzipped. The browser moves everyone else itself (``distance_m + speed_dm_s / 10 × (t − now)``,
held 3 m short of the next timing point until read). A tick that would be bigger than
the state itself (most of the field changed at once: the pursuer's gun turns every started runner
``ahead``) goes out as the snapshot of its seq instead; a client applies a snapshot whenever it comes.

Every message carries ``seq``; ticks are consecutive. A client that sees a gap sends
``{"resync": true}`` (or ``{"snapshot": true}``) and gets a fresh snapshot. ``{"follow": ["123", …]}``
(at most ``MAX_FOLLOW`` bibs, ``[]`` to stop) adds a ``follow`` message with full detail for those
bibs after every tick. A client that falls too far behind is disconnected (1013, try again later)
rather than waited for, and one that floods the server is closed with 1008 (``web.feed_client``: each
connection, its queue or direct writes, and when it is let go). Each tick carries ``sent``, the
server's wall clock (unix seconds) when it was sent, so a client can tell how late it is.

A client that connects as ``/ws/live?encoding=gzip`` gets every snapshot (on connect, asked for, or
sent instead of a tick) as a binary message holding the gzip of exactly the JSON text another client
gets; ticks, follow and error messages stay text. Each snapshot is compressed once, for everyone who
gets it, and only when a gzip client needs it (at 40,000 runners mid-race 674 KB of JSON is 191 KB
gzipped at ``web.frames.SNAPSHOT_GZIP_LEVEL``). Any other ``encoding`` is refused (closed with 1008, saying why).

A client that reconnects, to this process or another, may continue where it was instead of taking a
new snapshot: ``/ws/live?after=SEQ&epoch=E`` (``epoch`` from its last snapshot; optional, but without
it a ``seq`` from before a Redis that lost everything could be taken for another tick). If this
process sent every tick from ``SEQ + 1`` to now in that epoch (it keeps the last ``RESUME_TICKS``
as sent, the same objects every client got, so nothing grows per client), the client gets those
ticks, in order, then the live ones, and no snapshot. Otherwise — ``SEQ`` too old, ahead of this
process, not a number, another epoch, or a gap in between — it gets the snapshot as any new client
does; a bad ``after`` is never an error. Ticks across a change of leader resume too: ``seq`` keeps
rising, and a new leader's first tick is a snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket
from websockets.protocol import State

from live.chase.chase import margin_sigma
from live.chase.projection import estimate_speed
from live.chase.snapshot import AHEAD, STARTED, Snapshot
from live.chase.snapshot import encode as encode_snapshot
from live.engine.engine import LiveEngine
from live.store.leader import FRAMES_MAXLEN, Frame, FrameChannel, Lease
from web.feed_client import CLOSE_WAIT_S, GOING_AWAY, MAX_BUFFERED_BYTES, MAX_MESSAGES_PER_S, QUEUE_TICKS, FeedClient
from web.frames import FanoutTimes, Outgoing, Wire, WireEndpoint
from web.messages import (
    FollowRequest,
    SnapshotRequest,
    error_message,
    follow_message,
    snapshot_message,
    tick_message,
    win_percent,
)
from web.messages import runner_detail as runner_detail_of

log = logging.getLogger(__name__)

WIN_PCT_RESEND = 5  # a runner's win probability is resent when it moves this many points
MARGIN_RESEND_S = 5.0  # the least move of a predicted margin that resends the runner (else his uncertainty)
RESUME_TICKS = FRAMES_MAXLEN  # ticks kept for a client that reconnects with ``?after=`` (as long as a relay's)
MAX_SEQ_DIGITS = 18  # an ``after`` longer than this is no seq of ours

RunnerDetail = Callable[[str], "dict[str, Any] | None"]


@dataclass(frozen=True)
class Publisher:
    """Where the engine leader publishes its ticks for the relays, and the lease it must hold to."""

    channel: FrameChannel
    lease: Lease


class LiveFeed:
    """Fan-out of the engine's ticks to WebSocket clients; registers itself as a tick listener.

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
        self.seq = 0
        self.snapshot: Snapshot | None = None  # the state at ``seq``
        self.speed_m_s: np.ndarray = np.zeros(0)  # runners' projection speed at ``seq``
        self.classes: np.ndarray | None = None  # codes into ``live.chase.chase.CLASSES``
        self.tick_frame = Outgoing(b"")  # the last tick's message (or snapshot), serialised once for everyone
        self.clients: set[FeedClient] = set()
        self.dropped = 0  # clients disconnected for being too slow
        self.last_drop_reason = ""
        self.times = FanoutTimes()  # per tick: build the frame, then write or queue it for every client
        self._times: np.ndarray | None = None
        self._status: np.ndarray | None = None
        self._class: np.ndarray | None = None
        self._sent_margin = np.zeros(0)
        self._sent_pct = np.zeros(0, dtype=np.int16)
        self._snapshot_frame: tuple[int, Outgoing] | None = None
        self._details: dict[str, bytes] = {}
        self.snapshot_seq = 0  # the seq ``snapshot`` is the state at
        self.publisher = publisher  # the engine leader's channel to the relays, with its lease
        self._term = 0  # the lease term the seq was taken in
        self.epoch = secrets.token_hex(8)  # what ``seq`` counts in; the leader's, once there is one
        self.recent: deque[tuple[int, Outgoing]] = deque(maxlen=RESUME_TICKS)  # (seq, tick) as sent, oldest first
        self.resumed = 0  # clients that reconnected with ``?after=`` and continued without a snapshot
        self._in_flight = False  # a tick's state is taken but not yet sent (its publication awaited)
        engine.listeners.append(self.on_tick)

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
        new_term = self.publisher is not None and self.publisher.lease.term != self._term
        if new_term:  # this process has just become the engine leader: it numbers the ticks from now on
            assert self.publisher is not None
            self._term = self.publisher.lease.term
            self.seq = await self.publisher.channel.take_seq(self.seq)
            self._set_epoch(await self.publisher.channel.epoch())
            self._times = None
        changed, win_only = self._changed_rows(snap, times, speed, classes)
        self.seq += 1
        self.snapshot, self.speed_m_s, self.classes = snap, speed, classes
        self.snapshot_seq = self.seq
        self._snapshot_frame = None
        self._details = {}
        tick = Outgoing(orjson.dumps(tick_message(self.seq, snap, changed, time.time(), speed, classes, win_only)))
        if (new_term and self.seq > 1) or (
            len(changed) * 2 > len(snap.bibs) and len(self.snapshot_frame().payload) < len(tick.payload)
        ):  # clients hold an earlier leader's state; or most of the field at once (the pursuer's gun)
            tick = self.snapshot_frame()
        if self.publisher is not None:  # relays send the same bytes; a leader fenced off sends nothing
            state = encode_snapshot(snap, self.seq, self.engine.tick_ms)
            # while the publication is awaited, a client who joins (or asks for a snapshot) must not
            # get the state at this seq now and this seq's tick again at the fan-out: he waits for it
            self._in_flight = True
            try:
                published = await self.publisher.channel.publish(
                    self.publisher.lease, self.seq, tick.payload, tick.snapshot, state, self.epoch
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
        if frame.seq <= self.seq:
            return
        self._set_epoch(frame.epoch)
        gap = self.seq > 0 and frame.seq != self.seq + 1 and not frame.snapshot
        self.seq = frame.seq
        self._details = {}
        if state is not None and state[1] != self.snapshot_seq:
            snap = state[0]
            self.snapshot, self.snapshot_seq, self.classes = snap, state[1], snap.margin_class
            self.speed_m_s = snap.speed_m_s if snap.speed_m_s is not None else np.zeros(len(snap.bibs))
            self._snapshot_frame = None
        if gap:
            for client in self.clients:
                client.needs_snapshot = True
        self._fan_out(Outgoing(frame.body, snapshot=frame.snapshot), time.perf_counter())

    def _set_epoch(self, epoch: str) -> None:
        """Number the ticks in ``epoch`` from now on: the ticks kept from another cannot be resumed."""
        if epoch != self.epoch:
            self.epoch = epoch
            self.recent.clear()
            self._snapshot_frame = None

    def _fan_out(self, tick: Outgoing, started: float) -> None:
        """Write (or queue) ``tick`` for every client: straight to the transport in the common case."""
        self.tick_frame = tick
        self.recent.append((self.seq, tick))
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
                    self._send_tick(client, tick)
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

    def _send_tick(self, client: FeedClient, tick: Outgoing) -> None:
        """The tick for one client, preceded by the snapshot if he needs one, followed by what he follows."""
        wire = client.wire
        if wire is not None:
            if not wire.open:
                return  # closing: its endpoint is on its way out
            if client.behind(wire.buffered):
                client.drop()
                return
        if client.needs_snapshot:
            if not self.has_snapshot:
                return  # a relay without the state at this seq yet: the client waits for the next
            client.needs_snapshot = False
            client.offer(self.snapshot_frame(), *self._follow_frames(client))
        else:
            client.offer(tick, *self._follow_frames(client))
        if wire is not None:
            client.marks.append(wire.written)

    def _follow_frames(self, client: FeedClient) -> tuple[Outgoing, ...]:
        return (self.follow_frame(client.follow),) if client.follow else ()

    def _changed_rows(
        self, snap: Snapshot, times: np.ndarray, speed_m_s: np.ndarray, classes: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows with a new or corrected passing, a new status or class, or (out on the course) a margin
        moved since it was last sent by more than its uncertainty and at least ``MARGIN_RESEND_S``.

        The margin is shown only as a number beside a dot (its class is sent exactly), and with a
        resend at every 5 s of drift, common shifts (the pursuer's or the field's predicted pace)
        resent most of a 40,000-runner field every few ticks: about half of all rows sent.

        Second, the rows whose win percent alone moved ``WIN_PCT_RESEND`` points: sent as the tick's
        ``win`` (index and percent, ~8 bytes a runner instead of a whole row's ~30)."""
        margin = np.asarray(snap.margin_s, dtype=float)
        pct = win_percent(snap.win_probability, len(snap.bibs))
        if self._times is None or self._times.shape != times.shape or self._status is None:
            changed = np.zeros(len(snap.bibs), dtype=bool)  # nobody can hold an older state yet
            win_only = changed
            self._sent_margin = margin.copy()
            self._sent_pct = pct
        else:
            same = (times == self._times) | (np.isnan(times) & np.isnan(self._times))
            with np.errstate(invalid="ignore"):
                remaining_s = (self.race.distance_m - snap.distance_m) / speed_m_s
                threshold = np.maximum(MARGIN_RESEND_S, margin_sigma(snap.now + remaining_s, snap.now))
                drift = (np.isnan(margin) != np.isnan(self._sent_margin)) | (
                    np.abs(margin - self._sent_margin) > threshold
                )
            drift &= (snap.status == STARTED) | (snap.status == AHEAD)  # the others' margins show nothing
            changed = ~same.all(axis=1) | (snap.status != self._status) | drift
            if classes is not None and self._class is not None:
                changed |= classes != self._class
            win_moved = np.abs(pct.astype(np.int32) - self._sent_pct) >= WIN_PCT_RESEND
            win_only = win_moved & ~changed
            self._sent_margin[changed] = margin[changed]
            self._sent_pct[changed | win_only] = pct[changed | win_only]
        self._times = times.copy(order="K")  # as laid out: the engine keeps its passings by timing point
        self._status = snap.status.copy()
        self._class = None if classes is None else classes.copy()
        return np.flatnonzero(changed), np.flatnonzero(win_only)

    def _dropped(self, client: FeedClient, why: str) -> None:
        """A client let go for being too slow: counted, and sent nothing more."""
        self.dropped += 1
        self.last_drop_reason = why
        self.clients.discard(client)

    # ---- messages ----------------------------------------------------------------------------

    @property
    def has_snapshot(self) -> bool:
        """Whether this process holds the state at ``seq`` (a relay may hold an older one for a moment)
        and that seq's tick has gone out (else a client given the state now would get the tick too)."""
        return self.snapshot is not None and self.snapshot_seq == self.seq and not self._in_flight

    def snapshot_frame(self) -> Outgoing:
        """The full state at ``seq`` as parallel arrays in roster order, serialised once per tick."""
        snap = self.snapshot
        assert snap is not None and self.snapshot_seq == self.seq, "no state at this seq yet"
        if self._snapshot_frame is None or self._snapshot_frame[0] != self.seq:
            body = snapshot_message(self.seq, self.race.id, snap, self.speed_m_s, self.classes, self.epoch)
            self._snapshot_frame = (self.seq, Outgoing(orjson.dumps(body), snapshot=True))
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
        client = await FeedClient.accept(ws, wire, self.queue_ticks, self.max_messages_per_s, self._dropped)
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
        self.clients.add(client)
        try:
            await asyncio.wait(client.tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.clients.discard(client)
            await client.finish()

    def missed_ticks(self, after: str | None, epoch: str | None) -> list[Outgoing] | None:
        """The ticks after ``after`` (a reconnecting client's last ``seq``, as the query gave it) up to
        now, oldest first, if this process sent every one of them in ``epoch`` (if given): ``[]`` if he
        is up to date. None, and he gets a snapshot, if ``after`` is no seq, too old, ahead of this
        process, of another epoch, or a tick in between is missing (a relay that missed a frame)."""
        if after is None or not after.isascii() or not after.isdigit() or len(after) > MAX_SEQ_DIGITS:
            return None
        seq = int(after)
        recent = self.recent
        if seq < 1 or not recent or (epoch is not None and epoch != self.epoch):
            return None  # seq 0 is no state at all
        if seq == recent[-1][0]:
            return []  # up to date with every tick sent (one in flight comes with the fan-out)
        start = next((i for i, (at, _) in enumerate(recent) if at == seq + 1), None)
        if start is None:
            return None
        missed, last = [], seq
        for at, tick in itertools.islice(recent, start, None):
            if at != last + 1 and not tick.snapshot:
                return None  # he would see the gap and ask for a snapshot anyway
            missed.append(tick)
            last = at
        return missed

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
