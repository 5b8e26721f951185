"""The Redis store of a race: journal, passings, guns, clock and mat health — the one door to Redis.

Applying a read is one Lua script with every key passed explicitly (Redis Cluster safe with the
race's hash tag). A burst of reads of one chip at one mat collapses onto its earliest read, and
repeated, resent or out-of-order reads end in the same passings as one clean in-order delivery.
``Store`` is the sum of one class per caller (``ingest.py``, ``control.py``, ``stream.py``,
``health.py``, over ``base.py``), and adds what the engine reads.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from live.clock import RaceClock
from live.race.race import Race
from live.reads import RawRead as RawRead
from live.store.base import REDIS_UNAVAILABLE as REDIS_UNAVAILABLE
from live.store.base import StoreError as StoreError
from live.store.connection import redis_client
from live.store.control import ControlStore
from live.store.health import MatHealth
from live.store.ingest import IngestStore
from live.store.stream import EventStream


def attached(store: Store | None) -> Store:
    """The store of an engine that runs against Redis; an engine computed by hand (``pursuit evaluate``)
    has none, and whatever needs Redis cannot run on it."""
    if store is None:
        raise RuntimeError("this live engine has no store: it is computed by hand, not run against Redis")
    return store


@dataclass(frozen=True)
class PassingRecord:
    """A passing as the store holds it: runner ``bib`` at timing point ``tp`` at ``time``."""

    id: str
    bib: str
    tp: int
    time: float


class Store(IngestStore, ControlStore, EventStream, MatHealth):
    """Async access to one race's state in Redis: every caller's part, and the engine's reads."""

    async def gun_store(self, time_s: float, mat: str | None = None) -> Store:
        """The store of the race a gun marker from the wire at ``time_s`` is for: this one (an event's
        store chooses among its races)."""
        return self

    async def passings_after(self, after_id: str = "0-0", count: int = 50_000) -> list[PassingRecord]:
        """Passings appended to the stream after ``after_id``, oldest first."""
        raw = await self.redis.xrange(self.keys.passings, min=f"({after_id}" if after_id != "0-0" else "-", count=count)
        out = []
        for entry_id, fields in raw:
            out.append(
                PassingRecord(
                    id=entry_id.decode(),
                    bib=fields[b"bib"].decode(),
                    tp=int(fields[b"tp"]),
                    time=float(fields[b"t"]),
                )
            )
        return out

    async def pursuer_gps(self) -> tuple[float, float, float] | None:
        raw = await self.redis.hmget(self.keys.pursuer_gps, ["lat", "lon", "t"])
        if any(v is None for v in raw):
            return None
        return float(raw[0]), float(raw[1]), float(raw[2])


async def write_clock(redis_url: str, races: Iterable[Race], clock: RaceClock) -> None:
    """Write ``clock`` as the race clock of every race in ``races`` to the Redis at ``redis_url`` (a
    simulated race's clock, for the engine and the ingestor to follow)."""
    redis = redis_client(redis_url)
    try:
        for race in races:
            await Store(redis, race).set_clock(clock)
    finally:
        await redis.aclose()
