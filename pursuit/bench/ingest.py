"""``pursuit bench ingest``: raw reads per second through a real ChronoTrack socket into Redis,
against three baselines measured in the same run (a bare socket reader, a bare redis-py pipeline,
the same writes as pre-encoded RESP on a raw socket); then the latency of a read at steady rates,
read → state (its passing on the passings stream) and read → feed (its runner in a ``/ws/live``
tick), through ``pursuit serve`` in a process of its own, against a bare Redis write → read."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import redis.asyncio as aioredis

from live.race.race import Race
from live.store.store import Store
from pursuit.bench.common import Server, cpu_s, machine, percentiles_ms, race_with_runners
from pursuit.bench.ingest_parts import (
    DRAIN_TIMEOUT_S,
    FEED_WAIT_S,
    LATENCY_RATES,
    LATENCY_SECONDS,
    READS_PER_CROSSING,
    REPEAT_GAP_S,
    Phase,
    Plan,
    get_json,
    latencies,
    pace,
    ratio,
    serving,
    settle,
    watch_feed,
    watch_stream,
)
from pursuit.redis_server import RedisServer, free_port


async def _bench_ingest(
    reads_n: int, aof: bool, rates: tuple[int, ...], seconds: float, layouts: tuple[str, ...], runners: int
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        race = race_with_runners(runners, Path(tmp) / "race")
        out = await _throughput(race, Path(tmp), reads_n, aof)
        if rates:
            out["latency"] = await _latency(race, Path(tmp), aof, rates, seconds, layouts)
    return out


async def _throughput(race: Race, tmp: Path, reads_n: int, aof: bool) -> dict[str, Any]:
    from ingest.chronotrack_server import ChronoTrackServer

    with RedisServer(tmp / "redis", appendonly=aof) as server:
        redis = aioredis.Redis.from_url(server.url)
        store = Store(redis, race)
        await store.setup()
        now = time.time()
        chips = [p.chips[0] for p in race.participants[1:]]
        rng = np.random.default_rng(3)
        picks = rng.integers(0, len(chips), reads_n)
        hms = time.strftime("%H:%M:%S", time.localtime(now))
        lines = [
            f"CT01_33~{i + 1}~marbeuf~{chips[c]}~{hms}.{i % 100:02d}~0~BENCH1~1\r\n".encode()
            for i, c in enumerate(picks)
        ]
        payload = b"".join(lines)

        # baseline 1: the same bytes drained by a bare asyncio socket reader
        async def drain(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            n = 0
            while chunk := await reader.read(65536):
                n += chunk.count(b"\n")
            writer.close()
            done.set_result(n)

        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        bare = await asyncio.start_server(drain, "127.0.0.1", 0)
        t = time.perf_counter()
        _, w = await asyncio.open_connection("127.0.0.1", bare.sockets[0].getsockname()[1])
        w.write(payload)
        await w.drain()
        w.close()
        await done
        socket_s = time.perf_counter() - t
        bare.close()

        # baseline 2: the same number of Redis writes issued by a bare pipeline (one XADD + one HSET per read)
        t = time.perf_counter()
        for start in range(0, reads_n, 5000):
            async with redis.pipeline(transaction=False) as pipe:
                for i in range(start, min(start + 5000, reads_n)):
                    pipe.xadd("bench:journal", {"line": "x"})
                    pipe.hset("bench:h", str(i % 40000), "1")
                await pipe.execute()
        pipeline_s = time.perf_counter() - t

        # baseline 3: the same writes pre-encoded as RESP over a raw socket, replies parsed by hiredis:
        # what Redis and the socket absorb with no client library at all (an upper bound)
        raw_s = await _raw_pipeline_s(server.port, reads_n)

        # the real thing: ChronoTrack over TCP, journaled, applied by the Lua script
        ingest = ChronoTrackServer(race, store, host="127.0.0.1", port=0)
        await ingest.start()
        t = time.perf_counter()
        reader, writer = await asyncio.open_connection("127.0.0.1", ingest.port)
        await reader.readline()
        writer.write(b"BenchClient~1~0\r\n")
        writer.write(payload)
        await writer.drain()
        while int((await store.mat_health())["marbeuf"].get("reads", 0)) < reads_n:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        ingest_s = time.perf_counter() - t
        writer.close()
        await ingest.close()
        journal = sum(int(f.get(b"n", 1)) for _, f in await redis.xrange(store.keys.journal))
        passings = int((await store.mat_health())["marbeuf"].get("passings", 0))
        stream_entries = await redis.xlen(store.keys.passings)
        await redis.aclose()
    return {
        "bench": "ingest",
        "machine": machine(),
        "redis_aof": "everysec" if aof else "off",
        "reads": reads_n,
        "journaled": journal,
        "reads_per_s": round(reads_n / ingest_s),
        "target_reads_per_s": 100_000,
        "passings": passings,
        "passings_expected": len(set(picks.tolist())),
        "passings_per_s": round(passings / ingest_s),
        "passing_stream_entries_per_s": round(stream_entries / ingest_s),
        "baseline_socket_lines_per_s": round(reads_n / socket_s),
        "baseline_redis_pipeline_reads_per_s": round(reads_n / pipeline_s),
        "baseline_redis_raw_resp_reads_per_s": round(reads_n / raw_s),
        "ratio_to_redis_baseline": round(pipeline_s / ingest_s, 2),
        "ratio_to_redis_raw_resp_baseline": round(raw_s / ingest_s, 2),
    }


async def _raw_pipeline_s(port: int, reads_n: int, batch: int = 5000) -> float:
    """Seconds to issue one XADD and one HSET per read as pre-encoded RESP, ``batch`` reads a round trip."""
    import hiredis

    def resp(*args: str) -> bytes:
        return f"*{len(args)}\r\n".encode() + b"".join(f"${len(a)}\r\n{a}\r\n".encode() for a in args)

    chunks = [
        b"".join(
            resp("XADD", "bench:raw-journal", "*", "line", "x") + resp("HSET", "bench:raw-h", str(i % 40000), "1")
            for i in range(start, min(start + batch, reads_n))
        )
        for start in range(0, reads_n, batch)
    ]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    t = time.perf_counter()
    for start, chunk in zip(range(0, reads_n, batch), chunks, strict=True):
        writer.write(chunk)
        expected, parser = 2 * (min(start + batch, reads_n) - start), hiredis.Reader()
        while expected:
            parser.feed(await reader.read(65536))
            while expected and parser.gets() is not False:
                expected -= 1
    elapsed = time.perf_counter() - t
    writer.close()
    return elapsed


LAYOUTS = {
    "serve": "pursuit serve: the ingestor and the web app (live engine, feed) in one process, one event loop",
    "split": "pursuit ingest and pursuit web: the ingestor and the web app in two processes",
}


class _Processes:
    """The ingestor and the web app of ``layout`` against ``redis_url``, each in a process of its own."""

    def __init__(self, layout: str, race: Race, redis_url: str, workdir: Path) -> None:
        self.web_port, self.ingest_port = free_port(), free_port()
        env = {**os.environ, "REDIS_URL": redis_url}
        common = [sys.executable, "-m", "pursuit.cli"]
        args = ["--race", str(race.directory), "--host", "127.0.0.1"]
        web = ["--port", str(self.web_port)]
        readers = ["--ingest-port", str(self.ingest_port), "--mylaps-port", str(free_port())]
        self.servers: dict[str, Server] = {}
        try:
            if layout == "serve":
                self.servers["serve"] = Server(
                    [*common, "serve", *args, *web, *readers], workdir / "serve", "web:", env
                )
            else:
                self.servers["ingest"] = Server(
                    [*common, "ingest", *args, *readers], workdir / "ingest", "ingest:", env
                )
                self.servers["web"] = Server([*common, "web", *args, *web], workdir / "web", "web:", env)
        except BaseException:
            self.close()
            raise

    def cpu_s(self) -> dict[str, float]:
        return {name: cpu_s(server.process.pid) for name, server in self.servers.items()}

    def close(self) -> None:
        for server in self.servers.values():
            server.close()


async def _bare_floor(redis: aioredis.Redis, watcher: aioredis.Redis, port: int, plan: Plan) -> dict[str, Any]:
    """``plan``'s reads at its pace as bare pre-encoded ``XADD``s on a raw socket, each first read's
    entry seen by XREAD BLOCK from another connection: writing to Redis and seeing it there, no more."""
    key = "bench:latency"
    phase = Phase.of(plan)
    stop = asyncio.Event()
    after = (await redis.xadd(key, {"c": "-1"})).decode()
    watch = asyncio.create_task(
        watch_stream(watcher, key, after, lambda f, at: phase.saw(phase.state, int(f[b"c"]), at), stop)
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    discard = asyncio.create_task(_discard(reader))
    try:
        await pace(phase, plan.bare_xadds(key), writer.write)
        await settle(phase.state, ~np.isnan(phase.written), DRAIN_TIMEOUT_S)
    finally:
        stop.set()
        writer.close()
        await asyncio.gather(watch, discard, return_exceptions=True)
        await redis.delete(key)
    return latencies(phase, phase.state)


async def _layout_latency(
    layout: str, race: Race, server: RedisServer, tmp: Path, plans: dict[int, Plan], floors: dict[int, Any]
) -> dict[str, Any]:
    """Each plan's reads over one ChronoTrack connection into ``layout``'s processes, on a fresh Redis."""
    redis = aioredis.Redis.from_url(server.url)
    await redis.flushall()
    watcher = aioredis.Redis.from_url(server.url)  # its own connections: XREAD BLOCK holds one
    processes = _Processes(layout, race, server.url, tmp / layout)
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    try:
        base = f"http://127.0.0.1:{processes.web_port}"
        await serving(base)
        bibs = (await asyncio.to_thread(get_json, f"{base}/api/roster"))["bibs"]
        store = Store(redis, race)
        tp_mat = [tp.mat for tp in race.timing_points]
        phase: Phase | None = None
        key_of: dict[tuple[str, str], int] = {}
        first_of_bib: dict[str, int] = {}  # crossing of the phase that is the bib's first passing ever
        crossed: set[str] = set()
        unexplained = 0

        def on_passing(fields: dict[bytes, bytes], at: float) -> None:
            c = key_of.get((fields[b"bib"].decode(), tp_mat[int(fields[b"tp"])]))
            if phase is not None and c is not None:
                phase.saw(phase.state, c, at)

        def on_row(bib: str, at: float) -> None:
            nonlocal unexplained
            c = first_of_bib.get(bib)
            if phase is not None and c is not None:
                phase.saw(phase.feed, c, at)
            elif bib not in crossed:
                unexplained += 1

        feed_counts: dict[str, int] = {}
        url = f"ws://127.0.0.1:{processes.web_port}/ws/live"
        tasks.append(asyncio.create_task(watch_feed(url, bibs, on_row, feed_counts, stop)))
        tasks.append(asyncio.create_task(watch_stream(watcher, store.keys.passings, "0-0", on_passing, stop)))
        mats = [m.id for m in race.mats]
        reader, writer = await asyncio.open_connection("127.0.0.1", processes.ingest_port)
        await reader.readline()
        writer.write(b"BenchClient~1~0\r\n")
        # every mat announced once (a read of an unknown chip: no passing) before anything is measured
        writer.write(
            b"".join(
                f"CT01_33~{i + 1}~{mat}~BENCHWARM~00:00:00.00~0~BENCH1~1\r\n".encode() for i, mat in enumerate(mats)
            )
        )
        seq = len(mats) + 1
        tasks.append(asyncio.create_task(_discard(reader)))
        await asyncio.sleep(2.0)  # the warm-up applied, and a tick or two
        results = []
        for rate, plan in plans.items():
            phase = Phase.of(plan)
            key_of = {(bib, mat): c for c, (_, bib, mat) in enumerate(plan.crossings)}
            first_of_bib = {}
            for c, (_, bib, _) in enumerate(plan.crossings):
                if bib not in crossed:
                    first_of_bib.setdefault(bib, c)
            feed_tracked = np.zeros(len(plan.crossings), dtype=bool)
            feed_tracked[list(first_of_bib.values())] = True
            lines = plan.chronotrack_lines(race, time.time(), seq)
            seq += len(lines)
            load, redis_pid = os.getloadavg()[0], server.process.pid if server.process else os.getpid()
            cpu, redis_cpu, own_cpu = processes.cpu_s(), cpu_s(redis_pid), cpu_s(os.getpid())
            sent_s = await pace(phase, lines, writer.write)
            cpu = {name: round((s - cpu[name]) / sent_s, 2) for name, s in processes.cpu_s().items()}
            cpu |= {
                "redis": round((cpu_s(redis_pid) - redis_cpu) / sent_s, 2),
                "bench": round((cpu_s(os.getpid()) - own_cpu) / sent_s, 2),
            }
            await settle(phase.state, ~np.isnan(phase.written), DRAIN_TIMEOUT_S)
            await settle(phase.feed, feed_tracked, FEED_WAIT_S)
            crossed.update(bib for _, bib, _ in plan.crossings)
            health = await asyncio.to_thread(get_json, f"{base}/healthz")
            state, feed = latencies(phase, phase.state), latencies(phase, phase.feed, feed_tracked)
            floor = floors[rate]
            results.append(
                {
                    "reads_per_s": rate,
                    "reads": len(lines),
                    "crossings": len(plan.crossings),
                    "seconds": round(sent_s, 2),
                    "send_lag_ms": {
                        "p99": round(float(np.percentile(phase.lag_s, 99)) * 1000, 1),
                        "max": round(max(phase.lag_s) * 1000, 1),
                    },
                    "read_to_state": state,
                    "read_to_feed": {"crossings_tracked": int(feed_tracked.sum()), **feed},
                    "ratio_read_to_state_to_bare": {
                        "p50": ratio(state["p50_ms"], floor["p50_ms"]),
                        "p99": ratio(state["p99_ms"], floor["p99_ms"]),
                    },
                    "cpu_s_per_s": cpu,
                    "loadavg_1m": [round(load, 2), round(os.getloadavg()[0], 2)],
                    "tick_ms": health.get("tick_ms"),
                }
            )
            phase = None
        writer.close()
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await redis.aclose()
        await watcher.aclose()
        processes.close()
    return {
        "layout": LAYOUTS[layout],
        "feed_messages": feed_counts,
        "feed_rows_without_a_read": unexplained,
        "results": results,
    }


async def _latency(
    race: Race, tmp: Path, aof: bool, rates: tuple[int, ...], seconds: float, layouts: tuple[str, ...]
) -> dict[str, Any]:
    """Reads at each of ``rates`` for ``seconds`` over a real ChronoTrack socket into each of ``layouts``;
    per crossing, its first read written → its passing on the passings stream (XREAD BLOCK from another
    connection) and → its runner's row in a ``/ws/live`` tick (a runner with no passing yet is in no
    tick until his first). Baselines in the same run, with only Redis running: a PING round trip, and
    the same reads at the same pace as bare ``XADD``s seen by XREAD BLOCK."""
    runners = list(race.runners)
    order = np.random.default_rng(11).permutation(len(runners)).tolist()
    # the start mat first, so that a crossing is a runner's first passing for as long as there are runners
    pool = [(runners[i].chips[0], runners[i].bib, m.id) for m in race.mats for i in order]
    plans: dict[int, Plan] = {}
    for rate in rates:
        n = max(1, int(rate * seconds / READS_PER_CROSSING))
        if len(pool) < n:
            raise ValueError(
                f"{rate:,} reads/s for {seconds:g} s needs {n:,} crossings, more than "
                f"{len(runners):,} runners × {len(race.mats)} mats left: fewer seconds or a "
                "lower rate"
            )
        plans[rate], pool = Plan.steady(pool[:n], rate), pool[n:]
    with RedisServer(tmp / "redis-latency", appendonly=aof) as server:
        redis = aioredis.Redis.from_url(server.url)
        watcher = aioredis.Redis.from_url(server.url)
        try:
            ping = []
            for _ in range(2000):
                t = time.perf_counter()
                await redis.ping()
                ping.append(time.perf_counter() - t)
            floors = {rate: await _bare_floor(redis, watcher, server.port, plan) for rate, plan in plans.items()}
        finally:
            await redis.aclose()
            await watcher.aclose()
        runs = {layout: await _layout_latency(layout, race, server, tmp, plans, floors) for layout in layouts}
    return {
        "reads_per_crossing": READS_PER_CROSSING,
        "repeat_gap_s": REPEAT_GAP_S,
        "measured": "per crossing: its first read written to the ChronoTrack socket -> its passing on the passings "
        "stream (read_to_state) -> its runner's row in a /ws/live tick (read_to_feed, only where it is "
        "the runner's first passing); the repeat reads make no passing and are not timed",
        "baseline_redis_ping_rtt": percentiles_ms(ping),
        "baseline_bare_xadd_to_xread": {str(rate): floor for rate, floor in floors.items()},
        **runs,
    }


async def _discard(reader: asyncio.StreamReader) -> None:
    while await reader.read(65_536):
        pass


def bench_ingest(
    reads_n: int = 100_000,
    aof: bool = False,
    rates: tuple[int, ...] = LATENCY_RATES,
    seconds: float = LATENCY_SECONDS,
    layouts: tuple[str, ...] = tuple(LAYOUTS),
    runners: int = 40_000,
) -> dict[str, Any]:
    """Raw reads per second through a real ChronoTrack socket into Redis, against three baselines; then
    read → state and read → feed latency at each of ``rates`` reads/s for ``seconds`` (none if empty), into
    each of ``layouts`` (``LAYOUTS``);
    ``aof``: Redis appends to its AOF (``appendfsync everysec``, the production setting)."""
    return asyncio.run(_bench_ingest(reads_n, aof, rates, seconds, layouts, runners))
