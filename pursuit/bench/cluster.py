"""``pursuit bench tick --cluster``: what a Redis Cluster (3 masters, 3 replicas) changes for the races'
store work, against one ``redis-server`` in the same run (the baseline). Several races at once, each
of ``runners`` runners in its own slot, through the store's own code:

* ``apply_reads_per_s``: raw reads applied (``Store.journal_and_apply``: journal, bursts, crossings,
  passings), every race's readers at once;
* ``takeover_load_ms``: a new engine reading a race's every passing (what an engine that takes over a
  race's lease does before its first tick);
* ``memory_per_race_mb``: what a race's keys take in Redis once its runners are read at three
  timing points (``MEMORY USAGE``);
* ``tick_round_ms``: one tick of every race at once (``LiveEngine.refresh``: new passings, guns,
  clock, then the compute) and its frame published (``FrameChannel.publish``, the lease's Lua);
* ``relay``: how long a published frame takes to reach a relay, through the per-race frames stream
  (``XADD`` in the Lua, ``XREAD BLOCK``: what ``web/relay.py`` does) and through sharded pub/sub
  (``SPUBLISH``/``SSUBSCRIBE``), on the cluster.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from live.clock import RaceClock
from live.engine.engine import LiveEngine
from live.race.race import Race
from live.race.race_file import load_race
from live.reads import RawRead
from live.store.connection import redis_client
from live.store.leader import FrameChannel, Lease
from live.store.store import Store
from pursuit.bench.common import machine, race_with_runners
from pursuit.redis_server import ClusterServers, RedisServer

FRAME_BYTES = 2_000  # about a tick's delta frame of a busy race
BATCH = 200  # reads per journal entry, as a busy mat's ingestor batches them


def _races(tmp: Path, count: int, runners: int) -> list[Race]:
    """``count`` copies of the default race with ``runners`` runners, ids ``race-0``…: one slot each."""
    base = race_with_runners(runners, tmp / "base")
    races = []
    for i in range(count):
        directory = tmp / f"race-{i}"
        directory.mkdir()
        for f in base.directory.iterdir():
            text = f.read_bytes()
            if f.name == "race.toml":
                text = text.replace(f'id = "{base.id}"'.encode(), f'id = "race-{i}"'.encode())
            (directory / f.name).write_bytes(text)
        races.append(load_race(directory))
    return races


def _reads(race: Race, tps: range, t0: float) -> list[RawRead]:
    """A read of every runner at each timing point of ``tps`` (its first mat), in time order."""
    rng = np.random.default_rng(3)
    pace = rng.uniform(2.5, 5.5, len(race.runners))
    out = []
    for tp in (race.timing_points[i] for i in tps):
        for runner, speed in zip(race.runners, pace, strict=True):
            out.append(RawRead(tp.mat, runner.chips[0], t0 + 60 + tp.at_m / speed, None))
    out.sort(key=lambda r: r.time)
    return out


async def _layout(url: str, races: list[Race], rounds: int) -> dict[str, Any]:
    redis = redis_client(url)
    await redis.flushall()
    stores = [Store(redis, race) for race in races]
    t0 = time.time() - 3_600
    try:
        for store in stores:
            await store.setup()
            await store.set_clock(RaceClock(origin_wall=time.time(), origin_race=time.time(), speed=1.0))
            for i, pen in enumerate(store.race.pens):
                await store.redis.hset(store.keys.guns, f"pen:{pen.id}", t0 + 60 * i)
        # every race's readers at once: the first two timing points of every runner
        reads = [_reads(store.race, range(min(2, len(store.race.timing_points))), t0) for store in stores]

        async def ingest(store: Store, batch: list[RawRead]) -> None:
            for i in range(0, len(batch), BATCH):
                part = batch[i : i + BATCH]
                await store.journal_and_apply("bench", "bench", time.time(), [r.chip for r in part], part, {"m": i})

        started = time.perf_counter()
        await asyncio.gather(*(ingest(s, r) for s, r in zip(stores, reads, strict=True)))
        ingest_s = time.perf_counter() - started
        # an engine taking a race over reads every passing
        loads = []
        engines = []
        for store in stores:
            engine = LiveEngine(store.race, store)
            started = time.perf_counter()
            await engine.load()
            loads.append((time.perf_counter() - started) * 1000)
            engines.append(engine)
        await asyncio.gather(*(e.refresh() for e in engines))
        # ticks of every race at once, each published under its lease
        leases = [Lease(store, "bench") for store in stores]
        channels = [FrameChannel(store) for store in stores]
        for lease in leases:
            await lease.hold()
        later = [_reads(store.race, range(2, 3), t0) for store in stores]
        body = b"x" * FRAME_BYTES
        rounds_ms = []
        for k in range(rounds):
            share = [r[k * len(r) // rounds : (k + 1) * len(r) // rounds] for r in later]
            await asyncio.gather(*(s.apply_reads(p, time.time()) for s, p in zip(stores, share, strict=True)))
            started = time.perf_counter()

            async def tick(engine: LiveEngine, channel: FrameChannel, lease: Lease, seq: int = k + 1) -> None:
                await engine.refresh()
                await channel.publish(lease, seq, body, False, b"state", "bench")

            await asyncio.gather(*(tick(*parts) for parts in zip(engines, channels, leases, strict=True)))
            rounds_ms.append((time.perf_counter() - started) * 1000)
        memory = [await _memory(store) for store in stores]
        return {
            "apply_reads_per_s": round(sum(len(r) for r in reads) / ingest_s),
            "reads_per_race": len(reads[0]) + len(later[0]),
            "memory_per_race_mb": round(statistics.median(memory) / 1e6, 1),
            "takeover_load_ms": {"median": round(statistics.median(loads), 1), "max": round(max(loads), 1)},
            "tick_round_ms": {"median": round(statistics.median(rounds_ms), 1), "max": round(max(rounds_ms), 1)},
        }
    finally:
        await redis.aclose()


async def _memory(store: Store) -> int:
    """Bytes of Redis memory the race's keys take (``MEMORY USAGE`` of each, every element counted)."""
    total = 0
    async for key in store.redis.scan_iter(match=store.keys.pattern, count=1000):
        total += int(await store.redis.memory_usage(key, samples=0) or 0)
    return total


def _spread(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(ordered[len(ordered) // 2], 3),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 3),
    }


async def _relay(url: str, race: Race, frames: int) -> dict[str, Any]:
    """Latency of a frame from the leader to a relay: the frames stream against sharded pub/sub."""
    redis = redis_client(url)
    reader = redis_client(url)  # its own connections: XREAD BLOCK holds one
    store = Store(redis, race)
    channel, relay = FrameChannel(store), FrameChannel(Store(reader, race))
    lease = Lease(store, "bench")
    await redis.delete(store.keys.engine_lease)  # the layout's run left its lease
    if not await lease.hold():
        raise RuntimeError("the bench could not take the race's engine lease")
    body = b"x" * FRAME_BYTES
    try:
        stream = []
        newest = await redis.xrevrange(store.keys.frames, count=1)
        last = newest[0][0].decode() if newest else "0-0"
        first = await channel.last_seq() + 1
        for seq in range(first, first + frames):
            waiting = asyncio.create_task(relay.after(last, 2_000))
            await asyncio.sleep(0.005)  # the relay is blocked on its XREAD before the frame goes out
            started = time.perf_counter()
            if not await channel.publish(lease, seq, body, False, b"state", "bench"):
                raise RuntimeError(f"frame {seq} was not published")
            got = await waiting
            stream.append((time.perf_counter() - started) * 1000)
            last = got[-1].id
        pubsub = reader.pubsub()
        name = f"{store.keys.prefix}:frames-channel"
        await pubsub.ssubscribe(name)
        await pubsub.get_sharded_message(timeout=1.0)  # the subscription's confirmation
        sharded = []
        for _ in range(frames):
            started = time.perf_counter()
            await redis.spublish(name, body)
            message = None
            while message is None:
                message = await pubsub.get_sharded_message(ignore_subscribe_messages=True, timeout=2.0)
            sharded.append((time.perf_counter() - started) * 1000)
        await pubsub.aclose()
        return {"frames_stream": _spread(stream), "sharded_pubsub": _spread(sharded), "frames": frames}
    finally:
        await redis.aclose()
        await reader.aclose()


def bench_tick_cluster(races: int = 6, runners: int = 5_000, rounds: int = 10, frames: int = 300) -> dict[str, Any]:
    """The store's work of ``races`` races at once on one redis-server, then on a 3+3 Redis Cluster."""
    out: dict[str, Any] = {
        "bench": "tick --cluster",
        "machine": machine(),
        "layouts": {"single": "one redis-server", "cluster": "Redis Cluster, 3 masters + 3 replicas (AOF)"},
        "races": races,
        "runners_per_race": runners,
    }
    with tempfile.TemporaryDirectory() as tmp:
        field = _races(Path(tmp), races, runners)
        with RedisServer(Path(tmp) / "single", appendonly=True) as single:
            out["single"] = asyncio.run(_layout(single.url, field, rounds))
        with ClusterServers(Path(tmp) / "cluster") as cluster:
            out["cluster"] = asyncio.run(_layout(cluster.url, field, rounds))
            out["relay_on_the_cluster"] = asyncio.run(_relay(cluster.url, field[0], frames))
    single_, cluster_ = out["single"], out["cluster"]
    out["ratio_cluster_to_single"] = {
        "apply_reads_per_s": round(cluster_["apply_reads_per_s"] / single_["apply_reads_per_s"], 2),
        "takeover_load_ms": round(cluster_["takeover_load_ms"]["median"] / single_["takeover_load_ms"]["median"], 2),
        "tick_round_ms": round(cluster_["tick_round_ms"]["median"] / single_["tick_round_ms"]["median"], 2),
    }
    return out
