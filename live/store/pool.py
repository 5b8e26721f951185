"""An engine pool: ``pursuit engine --event DIR`` processes sharing the races of one event.

Each race keeps its own engine lease (``live.store.leader``): whoever holds it computes that race's
ticks, and a stale holder's frames are refused by the lease's token check. The pool only decides
which leases a process *bids* for, so that the races spread:

- every member renews a heartbeat in one sorted set of the event (``HEARTBEAT_TTL_S``, on the Redis
  server's clock), every ``BEAT_S``, and learns from it how many members are alive, N;
- with M races its fair share is ⌈M/N⌉: it bids for a free lease only while it leads fewer races
  than that, and lets a lease go (a clean release, so another member takes it at its next poll)
  while it leads more; bids of one process go one at a time, so it never overshoots by racing
  itself.

A member that dies stops beating and renewing: its heartbeat lapses (``HEARTBEAT_TTL_S``) before its
leases do (``LEASE_TTL_S``), so by the time its races are free the others count one member fewer,
their fair share has grown, and their standbys (polling every ``STANDBY_POLL_S``) take them: at most
``LEASE_TTL_S + STANDBY_POLL_S`` after its last renewal. Nothing outside a member's own seat is
trusted: the leases stay the only thing that says who computes a race.
"""

from __future__ import annotations

import asyncio
import logging
import math
from importlib import resources

import redis.asyncio as aioredis

from live.store.leader import LEASE_TTL_S, Lease, process_name
from live.store.store import Store

log = logging.getLogger(__name__)

BEAT_S = 0.2  # a member renews its heartbeat this often…
HEARTBEAT_TTL_S = 1.5  # …and is counted dead this long after its last one: before its leases lapse
assert HEARTBEAT_TTL_S < LEASE_TTL_S, "a dead member must stop counting before its races are free"

_HEARTBEAT = (resources.files("live.store") / "lua" / "pool_heartbeat.lua").read_text(encoding="utf-8")


def fair_share(races: int, members: int) -> int:
    """The most races one member should lead: ⌈races / members⌉ (every race, alone)."""
    return math.ceil(races / max(1, members))


class EnginePool:
    """This process's seat in an event's engine pool: its heartbeat and the leases of its races."""

    def __init__(self, redis: aioredis.Redis, key: str, races: int, member: str | None = None) -> None:
        self.key = key
        self.races = races
        self.member = member or process_name()
        self.alive = 1  # members alive, this one included, as of the last heartbeat
        self.leases: list[PoolLease] = []
        self.bidding = asyncio.Lock()  # one bid at a time: the share is checked with the count it changes
        self._beat = redis.register_script(_HEARTBEAT)
        self._ttl_ms = int(HEARTBEAT_TTL_S * 1000)

    def lease(self, store: Store) -> PoolLease:
        """The engine lease of one of the event's races, bid for through this pool."""
        lease = PoolLease(store, self)
        self.leases.append(lease)
        return lease

    @property
    def leading(self) -> int:
        return sum(lease.held for lease in self.leases)

    @property
    def share(self) -> int:
        return fair_share(self.races, self.alive)

    async def beat(self) -> int:
        """Renew this member's heartbeat; the number of members alive."""
        self.alive = max(1, int(await self._beat(keys=[self.key], args=[self.member, self._ttl_ms])))
        return self.alive

    async def run(self, stop: asyncio.Event) -> None:
        """Beat every ``BEAT_S`` until ``stop``, then leave the pool (the others count it out at once)."""
        while not stop.is_set():
            try:
                before = self.alive
                if await self.beat() != before:
                    log.info("engine pool: %d members, share %d, leading %d", self.alive, self.share, self.leading)
            except Exception as exc:  # Redis away: the leases lapse by themselves; keep trying
                log.warning("engine pool heartbeat failed: %r", exc)
            try:
                await asyncio.wait_for(stop.wait(), timeout=BEAT_S)
            except TimeoutError:
                pass
        try:
            await self._beat(keys=[self.key], args=[self.member, 0])
        except Exception as exc:
            log.warning("could not leave the engine pool: %r", exc)


class PoolLease(Lease):
    """A race's engine lease that bids only within its pool's fair share, and sheds above it."""

    def __init__(self, store: Store, pool: EnginePool) -> None:
        super().__init__(store, holder=pool.member)
        self.pool = pool

    async def hold(self) -> bool:
        pool = self.pool
        if self.held and pool.leading > pool.share:
            log.info("engine pool: %s lets %s go (leads %d, share %d)", pool.member, self.key, pool.leading, pool.share)
            await self.release()
            return False
        if self.held:
            return await super().hold()
        async with pool.bidding:
            if pool.leading >= pool.share:
                return False
            return await super().hold()


__all__ = ["BEAT_S", "HEARTBEAT_TTL_S", "EnginePool", "PoolLease", "fair_share"]
