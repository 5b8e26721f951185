"""What every part of a race's store shares: the connection, the race, its keys and scripts, its clock.

The store (``live/store/store.py``) is the only door to Redis; it is made of one class per caller,
each in its own module: the readers' writes (``ingest.py``), race control's (``control.py``), the
events stream (``stream.py``) and mat health (``health.py``), over this base.
"""

from __future__ import annotations

import re
from importlib import resources

import redis.asyncio as aioredis
from redis.exceptions import (
    BusyLoadingError,
    MasterDownError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from live.clock import RaceClock
from live.race.race import Race
from live.store.connection import node_client
from live.store.keys import RaceKeys

# Redis away or not taking writes: down, restarting, failing over (a demoted master), at maxmemory.
# What a caller may wait out or answer 503 for; any other Redis error is a bug and is raised as one.
REDIS_UNAVAILABLE: tuple[type[Exception], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    BusyLoadingError,
    ReadOnlyError,
    MasterDownError,
    OutOfMemoryError,
)


# Any error of Redis (away, refusing, or a bug): what code outside the store catches, by this name.
StoreError = RedisError


def _lua(name: str) -> str:
    """A Lua script of the store, shipped as package data in ``live/store/lua/``."""
    return (resources.files("live.store") / "lua" / f"{name}.lua").read_text(encoding="utf-8")


BURST_WINDOW_S = 30.0  # reads of one chip at one mat closer than this are one crossing
MAX_ERROR_SOURCES = 256  # source addresses whose refused input is counted apart, per process
# Journal entries kept (XADD MAXLEN ~): an entry is a batch of lines, so a 40,000-runner race's
# ~600,000 reads take far fewer; rebuild needs every entry since the race began, so the cap is there
# only against a flood, and the journal_full alert fires at 80 % of it (docs/OPERATIONS.md).
JOURNAL_MAXLEN = 5_000_000
REPLICA_WAIT_MS = 1_000  # how long a MYLAPS ack or a JSON answer waits for a replica (else the reader resends)

CROSSING_TIME = re.compile(r"\d+(?:\.\d+)?")  # the time a crossing list starts with ("…250r-61b")

# each script's KEYS and ARGV are described at the top of its file
APPLY_READS = _lua("apply_reads")  # a batch of reads of several mats: bursts, crossings, passings
RECORD_GUN = _lua("record_gun")  # a gun marker from the wire starts the next pen, then the pursuer
MAX_SEQ = _lua("max_seq")  # the highest sequence number per reader location
VOID_CROSSING = _lua("void_crossing")  # race control removes a crossing
ASSIGN_CHIP = _lua("assign_chip")  # race control gives a chip to a bib, back-filling its passings
NEWER_GPS = _lua("newer_gps")  # the pursuer's GPS fix, never older than the one held
EMIT_ONCE = _lua("emit_once")  # an event appended once, whichever process detects it first


class StoreBase:
    """Async access to one race's state in Redis: the connection, the race and its keys."""

    def __init__(self, redis: aioredis.Redis, race: Race) -> None:
        self.redis = redis
        self.race = race
        self.keys = RaceKeys(race.id)
        self._error_sources: set[str] = set()
        self.journal_maxlen = JOURNAL_MAXLEN  # entries the journal stream keeps (a test may lower it)
        self.wait_replicas = 0  # replicas a write must reach before a reader is told it is kept (Sentinel: 1)
        self._gun = redis.register_script(RECORD_GUN)
        self._void = redis.register_script(VOID_CROSSING)
        self._assign = redis.register_script(ASSIGN_CHIP)
        self._gps = redis.register_script(NEWER_GPS)
        self._tps_of_mat = {m.id: ",".join(str(tp.index) for tp in race.timing_points_of(m.id)) for m in race.mats}
        self._main_of = {m.id: race.main_mat(m.id) for m in race.mats}
        self._peak_mats = {m.id for m in race.mats if m.pick == "peak_rssi"}
        # what APPLY_READS needs of a mat: main mat, timing points, backup?, peak RSSI?
        self._spec_of_mat = {
            m.id: (
                self._main_of[m.id],
                self._tps_of_mat[m.id],
                self._main_of[m.id] != m.id,
                self._main_of[m.id] in self._peak_mats,
            )
            for m in race.mats
        }

    async def replicated(self, mat: str | None) -> bool:
        """Whether everything this process wrote so far is on ``wait_replicas`` replicas (True if none
        is asked for). ``WAIT`` counts a connection's own writes: a write on the same connection, issued
        after the others completed, stands for them all (replication keeps the order). The write counts
        on ``mat``'s health (the ingest totals for a reader of no mat, the pursuer's GPS). In a Redis
        Cluster it is sent to the master of this race's slot, where the race's writes went."""
        if self.wait_replicas <= 0:
            return True
        key = self.keys.mat(mat) if mat else self.keys.ingest
        async with node_client(self.redis, key).pipeline(transaction=False) as pipe:
            pipe.hincrby(key, "replicated", 1)
            pipe.wait(self.wait_replicas, REPLICA_WAIT_MS)
            _, acked = await pipe.execute()
        return int(acked) >= self.wait_replicas

    async def setup(self) -> None:
        """Write the chip → bib map of the race (idempotent)."""
        chips = self.race.chip_map()
        if chips:
            await self.redis.hset(self.keys.chips, mapping=chips)

    async def reset(self) -> int:
        """Delete every key of this race (a fresh demo or test); returns how many were removed."""
        removed = 0
        async for key in self.redis.scan_iter(match=self.keys.pattern, count=1000):
            removed += await self.redis.unlink(key)
        return removed

    async def set_clock(self, clock: RaceClock) -> None:
        await self.redis.hset(self.keys.clock, mapping=clock.as_fields())

    async def clock(self) -> RaceClock:
        """The race clock; real time when none is set."""
        raw = await self.redis.hgetall(self.keys.clock)
        return RaceClock.from_fields(raw) if raw else RaceClock.real_time()

    def read_timeout_s(self) -> float | None:
        """How long the client waits on a read before giving up (redis-py's ``socket_timeout``)."""
        timeout: float | None = self.redis.connection_pool.connection_kwargs.get("socket_timeout")
        return timeout
