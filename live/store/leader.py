"""Who runs the live engine, and the channel its frames go out on.

One process at a time runs the live engine: the holder of a lease in Redis, a key with an expiry
(``LEASE_TTL_S``) holding that process's token. The holder renews it every tick, and every frame it
publishes renews it too, in the same Lua script that checks the token, so a leader that lost its
lease (paused, cut off, or outlived by its key) can publish nothing more. A standby tries to take it
every ``STANDBY_POLL_S``: at most ``LEASE_TTL_S + STANDBY_POLL_S`` (2.2 s) after the leader's last
renewal, someone else leads.

The leader publishes each tick's live-feed message to a short stream (``FRAMES_MAXLEN`` entries),
exactly as its own clients get it, with a ``seq`` that never goes down (the script refuses a stale
one); other web processes relay those bytes to their clients, so every spectator sees the same
``seq`` and the same tick whichever process serves him. With each tick it stores the snapshot it
was computed from, encoded: a relay's API, dashboard and new clients use that state.

Each frame also carries the feed's ``epoch``, a token made once in the race's Redis data and kept
by every later leader: ``seq`` is comparable across leaders within an epoch (it never goes down),
so a spectator who reconnects to another process can continue from his ``seq``
(``/ws/live?after=``); a Redis that lost everything starts a new epoch, and his ``seq`` from
before, which may now name another tick, is answered with a snapshot.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from dataclasses import dataclass
from importlib import resources

from live.store.store import Store

log = logging.getLogger(__name__)

LEASE_TTL_S = 2.0  # a dead leader's lease lapses this long after its last renewal…
STANDBY_POLL_S = 0.2  # …and a standby notices within this much more
FRAMES_MAXLEN = 32  # frames kept: enough for a relay that blinked, short enough to hold snapshots
TERM_SEQ_STEP = 10  # a new leader's first seq is this far past the last one it can see (see take_seq)


def _lua(name: str) -> str:
    return (resources.files("live.store") / "lua" / f"{name}.lua").read_text(encoding="utf-8")


_RENEW = _lua("lease_renew")
_RELEASE = _lua("lease_release")
_PUBLISH = _lua("publish_frame")


def process_name() -> str:
    """This process as the lease shows it: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Lease:
    """The engine lease of one race, as seen by one process."""

    def __init__(self, store: Store, holder: str | None = None, ttl_s: float = LEASE_TTL_S) -> None:
        self.redis = store.redis
        self.key = store.keys.engine_lease
        self.token = f"{holder or process_name()}/{secrets.token_hex(6)}"
        self.ttl_ms = int(ttl_s * 1000)
        self.held = False
        self.term = 0  # how many times this process has taken the lease
        self._renew = self.redis.register_script(_RENEW)
        self._release = self.redis.register_script(_RELEASE)

    async def hold(self) -> bool:
        """Renew the lease if this process holds it, else try to take it; True while it is ours."""
        if self.held and not await self._renew(keys=[self.key], args=[self.token, self.ttl_ms]):
            self.lost("it was no longer ours when renewed")
        if not self.held and await self.redis.set(self.key, self.token, nx=True, px=self.ttl_ms):
            self.held = True
            self.term += 1
            log.info("engine lease taken by %s (term %d)", self.token, self.term)
        return self.held

    def lost(self, why: str) -> None:
        if self.held:
            log.warning("engine lease lost by %s: %s", self.token, why)
        self.held = False

    async def holder(self) -> str | None:
        """The token of the process that holds the lease, if any."""
        value = await self.redis.get(self.key)
        return value.decode() if isinstance(value, bytes) else value

    async def release(self) -> None:
        """Let the lease go (a clean shutdown), so a standby need not wait for it to lapse."""
        if self.held:
            self.held = False
            await self._release(keys=[self.key], args=[self.token])


@dataclass(frozen=True)
class Frame:
    """One tick of the live feed as the leader published it."""

    id: str  # the stream entry's id
    seq: int
    body: bytes  # the message, exactly as the leader's own clients got it
    snapshot: bool  # the tick is a snapshot message (most of the field changed, or a new leader)
    epoch: str  # the numbering ``seq`` belongs to (``FrameChannel.epoch``)


class FrameChannel:
    """The stream the engine leader publishes the live feed on, and what relays read from it."""

    def __init__(self, store: Store) -> None:
        self.redis = store.redis
        self.keys = store.keys
        self._publish = self.redis.register_script(_PUBLISH)

    async def publish(self, lease: Lease, seq: int, body: bytes, snapshot: bool, state: bytes, epoch: str) -> bool:
        """Append a tick of ``epoch`` if ``lease`` is held (renewing it), with ``state``, the snapshot at
        ``seq`` encoded for the relays' API and new clients. False if not appended (the lease is lost,
        or a later ``seq`` was published)."""
        keys = self.keys
        result = await self._publish(
            keys=[keys.engine_lease, keys.feed_seq, keys.frames, keys.feed_state],
            args=[lease.token, lease.ttl_ms, seq, body, int(snapshot), FRAMES_MAXLEN, state, epoch],
        )
        if result == 0:
            lease.lost("another process holds it (a frame was refused)")
        elif result == -1:
            log.warning("frame seq %d refused: a later seq was already published", seq)
        return bool(result == 1)

    async def last_seq(self) -> int:
        """The last seq published by any leader (0 before the first)."""
        value = await self.redis.get(self.keys.feed_seq)
        return int(value) if value else 0

    async def take_seq(self, seen: int) -> int:
        """The seq a new leader starts after: past the last published and past ``seen`` (what this
        process last sent), by ``TERM_SEQ_STEP`` if anything was, so that a Redis failover that lost the
        last second of frames cannot make it repeat a seq a spectator already has (0 on a fresh race)."""
        last = max(await self.last_seq(), seen)
        return last + TERM_SEQ_STEP if last else 0

    async def epoch(self) -> str:
        """The feed's epoch, made now if the race's Redis data has none (a new leader asks, with
        ``take_seq``): the same for every leader as long as Redis keeps its data."""
        key = self.keys.feed_epoch
        await self.redis.set(key, secrets.token_hex(8), nx=True)
        value = await self.redis.get(key)
        return value.decode() if isinstance(value, bytes) else str(value)

    async def after(self, last_id: str, block_ms: int) -> list[Frame]:
        """Ticks after the entry ``last_id`` (``$``: only new ones), waiting up to ``block_ms`` for one."""
        raw = await self.redis.xread({self.keys.frames: last_id}, block=block_ms)
        out = []
        for _, entries in raw or ():
            for entry_id, fields in entries:
                eid = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
                epoch = fields.get(b"epoch", b"").decode(errors="replace")
                out.append(Frame(eid, int(fields[b"seq"]), fields[b"body"], fields[b"snapshot"] == b"1", epoch))
        return out

    async def state(self) -> bytes | None:
        """The leader's last snapshot and its seq, encoded (``live.chase.snapshot.encode``)."""
        value = await self.redis.get(self.keys.feed_state)
        return bytes(value) if value is not None else None
