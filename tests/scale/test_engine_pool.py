"""The engine pool (live/store/pool.py) on a real Redis, in one process: members that bid for the
leases of an event's races as ``pursuit engine --event`` does (each race's lease held by the engine
loop's cadence: renewed every tick while held, bid for every ``STANDBY_POLL_S`` while not), joined,
killed and paused; the spread, the takeover time and the fencing of a stale leader."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
import time
from collections.abc import AsyncIterator

from live.engine.engine import TICK_S
from live.race.race import Race
from live.store.leader import STANDBY_POLL_S, FrameChannel
from live.store.pool import EnginePool, PoolLease, fair_share
from live.store.store import Store


class Member:
    """One process of the pool: a heartbeat and, per race, the engine loop's lease calls."""

    def __init__(self, redis, races: list[Race], name: str) -> None:  # type: ignore[no-untyped-def]
        self.name = name
        self.stores = [Store(redis, race) for race in races]
        self.pool = EnginePool(redis, self.stores[0].keys.engine_pool, len(races), member=name)
        self.leases = [self.pool.lease(store) for store in self.stores]
        self.stop = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    async def _engine(self, lease: PoolLease) -> None:  # LiveEngine.run's cadence, without the tick
        while not self.stop.is_set():
            held = await lease.hold()
            await asyncio.sleep(TICK_S if held else STANDBY_POLL_S)
        await lease.release()

    async def start(self) -> Member:
        await self.pool.beat()
        self.tasks = [asyncio.create_task(self.pool.run(self.stop))]
        self.tasks += [asyncio.create_task(self._engine(lease)) for lease in self.leases]
        return self

    def kill(self) -> None:
        """As SIGKILL: no release, no leaving the pool; its heartbeat and leases lapse."""
        for task in self.tasks:
            task.cancel()

    async def close(self) -> None:
        self.stop.set()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def races_of(paris: Race, count: int) -> list[Race]:
    return [dataclasses.replace(paris, id=f"loc-{i}") for i in range(count)]


async def holders(redis, races: list[Race]) -> list[str | None]:  # type: ignore[no-untyped-def]
    """The member named in each race's lease token (``member/hex``), None where free."""
    out = []
    for store in (Store(redis, race) for race in races):
        token = await redis.get(store.keys.engine_lease)
        out.append(token.decode().rsplit("/", 1)[0] if token else None)
    return out


async def until(check, timeout_s: float) -> float:  # type: ignore[no-untyped-def]
    """Seconds until ``check()`` holds (polled every 50 ms); fails after ``timeout_s``."""
    t0 = time.monotonic()
    while not await check():
        assert time.monotonic() - t0 < timeout_s, "not within the time"
        await asyncio.sleep(0.05)
    return time.monotonic() - t0


@contextlib.asynccontextmanager
async def members(redis, races: list[Race], *names: str) -> AsyncIterator[dict[str, Member]]:  # type: ignore[no-untyped-def]
    started = {n: await Member(redis, races, n).start() for n in names}
    try:
        yield started
    finally:
        for m in started.values():
            await m.close()


def test_the_fair_share():
    assert [fair_share(7, n) for n in (0, 1, 2, 3, 7, 9)] == [7, 7, 4, 3, 1, 1]


async def test_races_spread_a_joiner_gets_its_share_and_a_killed_members_races_are_led_within_3_s(redis, paris):
    races = races_of(paris, 7)
    async with members(redis, races, "a") as pool:

        async def all_led_by_a() -> bool:
            return await holders(redis, races) == ["a"] * 7

        await until(all_led_by_a, 5)  # alone: every race
        for name in ("b", "c"):
            pool[name] = await Member(redis, races, name).start()

        async def spread(n: int) -> bool:
            held = await holders(redis, races)
            counts = [held.count(m) for m in pool if not pool[m].tasks[0].cancelled()]
            return None not in held and len(counts) == n and max(counts) <= math.ceil(7 / n)

        await until(lambda: spread(3), 5)
        for _ in range(20):  # settled: every race led, nobody above ⌈M/N⌉ + 1, the pool agrees
            held = await holders(redis, races)
            assert None not in held and max(held.count(m) for m in "abc") <= math.ceil(7 / 3) + 1, held
            assert sorted(m.pool.leading for m in pool.values()) == sorted(held.count(m) for m in "abc")
            await asyncio.sleep(0.1)

        victim = max("abc", key=lambda m: held.count(m))
        orphans = [i for i, h in enumerate(held) if h == victim]
        pool[victim].kill()
        killed = time.monotonic()

        async def taken_over() -> bool:
            now = await holders(redis, races)
            return all(now[i] not in (None, victim) for i in orphans)

        await until(taken_over, 5)
        assert time.monotonic() - killed <= 3.0, "a dead member's races are led again within 3 s"
        await until(lambda: spread(2), 3)
        held = await holders(redis, races)
        assert victim not in held and max(held.count(m) for m in set("abc") - {victim}) <= math.ceil(7 / 2) + 1


async def test_a_clean_leave_hands_its_races_over_at_once(redis, paris):
    races = races_of(paris, 4)
    async with members(redis, races, "a", "b") as pool:

        async def two_each() -> bool:
            held = await holders(redis, races)
            return sorted(held, key=str) == ["a", "a", "b", "b"]

        await until(two_each, 5)
        await pool["b"].close()  # releases its leases and leaves the pool
        left = time.monotonic()

        async def all_a() -> bool:
            return await holders(redis, races) == ["a"] * 4

        await until(all_a, 3)
        assert time.monotonic() - left < 1.5, "no lease had to lapse"


async def test_a_paused_leader_is_fenced_off_and_its_race_is_never_led_twice(redis, paris):
    races = races_of(paris, 2)
    async with members(redis, races, "a") as pool:
        await until(lambda: _is(redis, races, ["a", "a"]), 3)
        a = pool["a"]
        a.kill()  # paused: it stops renewing, but keeps believing it leads
        assert all(lease.held for lease in a.leases)
        pool["b"] = await Member(redis, races, "b").start()
        await until(lambda: _is(redis, races, ["b", "b"]), 4)
        channel = FrameChannel(a.stores[0])
        assert not await channel.publish(a.leases[0], 1, b"stale", False, b"x", "e"), "its frames are refused"
        assert not a.leases[0].held and a.pool.leading == 1, "it knows it lost that race"
        b_lease = pool["b"].leases[0]
        assert await channel.publish(b_lease, 1, b"tick", False, b"x", "e")
        assert not await a.leases[1].hold(), "renewing a lapsed lease fails: it stands by"
        assert [f.body for f in await channel.after("0-0", block_ms=10)] == [b"tick"]


async def _is(redis, races: list[Race], expected: list[str]) -> bool:  # type: ignore[no-untyped-def]
    return await holders(redis, races) == expected
