"""Token buckets in a real Redis, shared by every client of it (``live.store.buckets``)."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from live.store.buckets import SharedBuckets
from live.store.store import Store


@pytest.fixture
def store(redis, paris) -> Store:
    return Store(redis, paris)


async def test_a_burst_then_the_refill_and_two_processes_spend_the_same_tokens(redis_server, redis, paris, store):
    other = aioredis.Redis.from_url(redis_server.url)  # another process's connection
    try:
        here = SharedBuckets(store, "actions", burst=4, per_s=2.0)
        there = SharedBuckets(Store(other, paris), "actions", burst=4, per_s=2.0)
        waits = await asyncio.gather(*(b.take("bob") for b in (here, there, here, there, here, there)))
        assert sorted(waits)[:4] == [0.0] * 4, "the burst, once for both"
        assert all(0 < w <= 0.5 for w in sorted(waits)[4:]), f"then a token every 0.5 s: {waits}"
        assert await here.wait_s("bob") > 0 and await there.take("alice") == 0.0, "per key"
        await asyncio.sleep(0.6)
        assert await there.wait_s("bob") == 0.0 and await here.take("bob") == 0.0, "refilled"
        assert await here.take("bob") > 0
        assert await there.wait_s("nobody") == 0.0 and not await redis.exists(store.keys.bucket("actions", "nobody"))
    finally:
        await other.aclose()


async def test_a_bucket_expires_once_it_would_be_full_again(redis, store):
    bucket = SharedBuckets(store, "failed", burst=3, per_s=1 / 3)
    await bucket.take("10.0.0.1")
    ttl = await redis.pttl(store.keys.bucket("failed", "10.0.0.1"))
    assert 3_000 < ttl <= 4_000, f"one token short: 3 s to refill, plus a second: {ttl} ms"
    for _ in range(2):
        await bucket.take("10.0.0.1")
    assert 9_000 < await redis.pttl(store.keys.bucket("failed", "10.0.0.1")) <= 10_000


async def test_the_gate_bounds_how_many_keys_clients_can_make(redis, store):
    bucket = SharedBuckets(store, "failed", burst=20, per_s=1 / 3, gate=(3, 0.001))
    taken = [await bucket.take(f"10.0.0.{i}") for i in range(6)]
    assert taken == [0.0, 0.0, 0.0, None, None, None], "three new keys, then none kept"
    assert await bucket.take("10.0.0.1") == 0.0, "a key already held is not gated"
    held = [k async for k in redis.scan_iter(match=f"{store.keys.prefix}:limit:*")]
    assert len(held) == 3
    long_key = "x" * 5000
    await SharedBuckets(store, "reads", burst=5, per_s=1).take(long_key)
    assert await redis.exists(store.keys.bucket("reads", "x" * 100)), "a long key is cut"
