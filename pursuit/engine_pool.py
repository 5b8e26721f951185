"""``pursuit engine --event DIR``: this process's seat in the event's engine pool (``live.store.pool``).

Every race of the event gets an engine here that stands for its lease through the pool, so that
several such processes share the races (at most ⌈M/N⌉ each, a dead member's races taken over within
3 s); a race's engine computes only while this process holds that race's lease.
"""

from __future__ import annotations

import asyncio

from live.race.event import Event
from live.store.connection import redis_client
from live.store.pool import EnginePool
from live.store.store import Store
from pursuit.serve import run_engine


async def run_pool(event: Event, redis_url: str, stop: asyncio.Event | None = None) -> int:
    """Beat in the event's pool and run an engine per race, each bidding through it, until ``stop``."""
    stop = stop or asyncio.Event()
    redis = redis_client(redis_url)
    pool = EnginePool(redis, Store(redis, event.races[0]).keys.engine_pool, len(event.races))
    print(f"engine pool: event {event.id}, {len(event.races)} races, member {pool.member}", flush=True)
    try:
        await pool.beat()  # counted before bidding: members started together share from the first poll
        await asyncio.gather(pool.run(stop), *(run_engine(race, redis_url, stop, pool.lease) for race in event.races))
    finally:
        await redis.aclose()
    return 0
