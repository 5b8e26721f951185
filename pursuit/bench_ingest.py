"""``pursuit bench ingest``: raw reads per second through a real ChronoTrack socket into Redis,
against three baselines measured in the same run (a bare socket reader, a bare redis-py pipeline,
the same writes as pre-encoded RESP on a raw socket)."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import redis.asyncio as aioredis

from live.store import Store
from pursuit.bench import machine, race_with_runners
from pursuit.redis_server import RedisServer


async def _bench_ingest(reads_n: int, aof: bool) -> dict[str, Any]:
    from ingest.chronotrack_server import ChronoTrackServer

    with tempfile.TemporaryDirectory() as tmp, RedisServer(Path(tmp) / "redis", appendonly=aof) as server:
        race = race_with_runners(40_000, Path(tmp) / "race")
        redis = aioredis.Redis.from_url(server.url)
        store = Store(redis, race)
        await store.setup()
        now = time.time()
        chips = [p.chips[0] for p in race.participants[1:]]
        rng = np.random.default_rng(3)
        picks = rng.integers(0, len(chips), reads_n)
        hms = time.strftime("%H:%M:%S", time.localtime(now))
        lines = [f"CT01_33~{i + 1}~marbeuf~{chips[c]}~{hms}.{i % 100:02d}~0~BENCH1~1\r\n".encode()
                 for i, c in enumerate(picks)]  # fmt: skip
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
        "bench": "ingest", "machine": machine(), "redis_aof": "everysec" if aof else "off",
        "reads": reads_n, "journaled": journal,
        "reads_per_s": round(reads_n / ingest_s), "target_reads_per_s": 100_000,
        "passings": passings, "passings_expected": len(set(picks.tolist())),
        "passings_per_s": round(passings / ingest_s),
        "passing_stream_entries_per_s": round(stream_entries / ingest_s),
        "baseline_socket_lines_per_s": round(reads_n / socket_s),
        "baseline_redis_pipeline_reads_per_s": round(reads_n / pipeline_s),
        "baseline_redis_raw_resp_reads_per_s": round(reads_n / raw_s),
        "ratio_to_redis_baseline": round(pipeline_s / ingest_s, 2),
        "ratio_to_redis_raw_resp_baseline": round(raw_s / ingest_s, 2),
    }  # fmt: skip


async def _raw_pipeline_s(port: int, reads_n: int, batch: int = 5000) -> float:
    """Seconds to issue one XADD and one HSET per read as pre-encoded RESP, ``batch`` reads a round trip."""
    import hiredis

    def resp(*args: str) -> bytes:
        return f"*{len(args)}\r\n".encode() + b"".join(f"${len(a)}\r\n{a}\r\n".encode() for a in args)

    chunks = [
        b"".join(resp("XADD", "bench:raw-journal", "*", "line", "x") + resp("HSET", "bench:raw-h", str(i % 40000), "1")
                 for i in range(start, min(start + batch, reads_n)))
        for start in range(0, reads_n, batch)
    ]  # fmt: skip
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


def bench_ingest(reads_n: int = 100_000, aof: bool = False) -> dict[str, Any]:
    """Raw reads per second through a real ChronoTrack socket into Redis, against three baselines;
    ``aof``: Redis appends to its AOF (``appendfsync everysec``, the production setting)."""
    return asyncio.run(_bench_ingest(reads_n, aof))
