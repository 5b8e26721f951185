"""``pursuit bench``: the performance figures of SPEC §8, as JSON, each with a baseline measured in
the same run on the same machine so it is also a ratio (the machine is shared and noisy)."""

from __future__ import annotations

import asyncio
import os
import platform
import shutil
import socket
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import redis.asyncio as aioredis

from live.engine import LiveEngine
from live.race import Race, load_race
from live.store import Store
from pursuit.redis_server import RedisServer

ROOT = Path(__file__).resolve().parent.parent
PARIS = ROOT / "races" / "paris-j1000"


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}


def _median_ms(fn: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def race_with_runners(n: int, directory: Path) -> Race:
    """The default race with ``n`` generated runners (bibs and chips unique), written to ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    for f in PARIS.iterdir():
        if f.is_file() and f.name != "participants.csv":
            shutil.copy(f, directory / f.name)
    pens = ["1", "2", "3", "4", "5"]
    lines = ["bib,chip,name,pen,sex,category,declared_s", "1,KIP001,Eliud Kipchoge,,M,Elite,865"]
    rng = np.random.default_rng(7)
    declared = rng.uniform(1000, 2700, n)
    for i in range(n):
        lines.append(
            f"{100 + i},C{i:07d},Runner {i},{pens[min(4, int((2700 - declared[i]) / 340))]},M,Senior,{declared[i]:.0f}"
        )
    (directory / "participants.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_race(directory)


def bench_tick(sizes: tuple[int, ...] = (3_600, 40_000, 100_000), repeat: int = 15) -> dict[str, Any]:
    """Time to project every runner and compute the chase, and to serialise a full snapshot."""
    import orjson

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            race = race_with_runners(n, Path(tmp) / f"r{n}")
            engine = LiveEngine(race, store=None)  # type: ignore[arg-type]  # compute() needs no I/O
            rng = np.random.default_rng(1)
            t0 = 1_700_000_000.0
            engine.guns = {f"pen:{p.id}": t0 + i * 300 for i, p in enumerate(race.pens)} | {"pursuer": t0 + 1140}
            pace = race.distance_m / rng.uniform(1000, 2700, n)
            reached = rng.integers(0, len(engine.at_m), n)
            times = t0 + engine.at_m[None, :] / pace[:, None]
            times[np.arange(len(engine.at_m))[None, :] > reached[:, None]] = np.nan
            engine.times = times
            engine.pursuer_times[:2] = t0 + 1140 + engine.at_m[:2] * 0.173
            now = t0 + 1600
            tick_ms = _median_ms(lambda e=engine, t=now: e.compute(t), repeat)
            snap = engine.compute(now)
            frame = orjson.dumps({"class": snap.margin_class.tolist(),  # type: ignore[union-attr]
                                  "distance_m": np.round(snap.distance_m).astype(int).tolist(),
                                  "speed_cm_s": np.round(np.nan_to_num(snap.speed_m_s) * 100).astype(int).tolist()})  # type: ignore[arg-type]  # fmt: skip
            frame_ms = _median_ms(
                lambda s=snap: orjson.dumps({"d": np.round(s.distance_m).astype(int).tolist()}), repeat
            )
            # baseline: the least a tick must do — read every passing once and place every runner on the map
            baseline_ms = _median_ms(
                lambda t=times, c=race.course: (np.nanmax(t, axis=1), c.lonlat_at(t[:, 0] * 0)), repeat
            )
            import gzip

            results.append({
                "runners": n, "tick_ms": round(tick_ms, 2), "baseline_ms": round(baseline_ms, 3),
                "ratio": round(tick_ms / baseline_ms, 1), "snapshot_frame_bytes": len(frame),
                "snapshot_frame_gzip_bytes": len(gzip.compress(frame)), "frame_encode_ms": round(frame_ms, 2),
            })  # fmt: skip
    return {"bench": "tick", "machine": machine(), "target": "40,000 runners in <= 50 ms", "results": results}


async def _bench_ingest(reads_n: int) -> dict[str, Any]:
    from ingest.chronotrack_server import ChronoTrackServer

    with tempfile.TemporaryDirectory() as tmp, RedisServer(Path(tmp) / "redis", appendonly=False) as server:
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
        await redis.aclose()
    return {
        "bench": "ingest", "machine": machine(), "reads": reads_n, "journaled": journal,
        "reads_per_s": round(reads_n / ingest_s), "target_reads_per_s": 100_000,
        "baseline_socket_lines_per_s": round(reads_n / socket_s),
        "baseline_redis_pipeline_reads_per_s": round(reads_n / pipeline_s),
        "ratio_to_redis_baseline": round(pipeline_s / ingest_s, 2),
    }  # fmt: skip


def bench_ingest(reads_n: int = 100_000) -> dict[str, Any]:
    """Raw reads per second through a real ChronoTrack socket into Redis, against two baselines."""
    return asyncio.run(_bench_ingest(reads_n))


def bench_fanout(
    clients: tuple[int, ...] = (1_000, 5_000), seconds: float = 20.0, speed: float = 10.0
) -> dict[str, Any]:
    """Spectators on the live feed of one web process while the default race runs (``pursuit demo``).

    The web process and the clients run as separate processes on this machine; the baseline is one
    client alone, measured in the same run.
    """
    import json
    import resource
    import subprocess
    import sys

    from pursuit.redis_server import free_port

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by the two child processes
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pursuit.cli", "demo", "--speed", str(speed), "--port", str(port)]
        demo = subprocess.Popen(cmd, cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"ws://127.0.0.1:{port}/ws/live"
            for _ in range(300):
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    time.sleep(0.1)
            time.sleep(3)  # let the race start so that ticks carry passings
            runs = []
            for n in (1, *clients):
                out = subprocess.run([sys.executable, "-m", "pursuit.fanout_clients", url, str(n), str(seconds)],
                                     capture_output=True, text=True, timeout=seconds * 4 + 120)  # fmt: skip
                runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        finally:
            demo.terminate()
            demo.wait(timeout=30)
    baseline, *results = runs
    return {"bench": "fanout", "machine": machine(), "race": "paris-j1000 (3,599 runners) simulated at "
            f"{speed:g}x", "seconds": seconds, "baseline_one_client": baseline, "results": results,
            "target": "5,000 clients at 1 Hz with p99 delivery <= 500 ms; <= 5 KB/s per spectator"}  # fmt: skip


__all__ = ["bench_fanout", "bench_ingest", "bench_tick"]
