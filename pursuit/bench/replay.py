"""``pursuit bench replay``: a whole real marathon through the whole system, timed (SPEC §8).

A results file with 5 km splits (default: Berlin 2017, 39,225 finishers, men and women) becomes a
chase (``simulator/results.py``): a race directory, and one emulated ChronoTrack decoder per timing
mat holding every read of that mat. The replay runs as fast as possible: the ingestor, in its own
process as in production (``pursuit ingest``), takes the decoders' lines over real TCP sockets,
journals and applies them in a private ``redis-server`` (AOF on, ``appendfsync everysec``); a live
engine in this process (as in a web process) tails the passings and ticks every second. The clock
stops once every read is counted by Redis and the engine's final state holds every passing.

Baselines in the same run, on the same machine and Redis: the same bytes drained by a bare asyncio
socket reader, and the least Redis work the replay implies written by a bare redis-py pipeline (one
passing per crossing appended to a stream, the raw lines journaled in the ingestor's batches).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import redis.asyncio as aioredis

from live.chase.snapshot import WON
from live.engine.engine import LiveEngine
from live.forecast.results import load_results
from live.store.store import Store
from pursuit.bench.common import ROOT, cpu_s, machine
from pursuit.redis_server import RedisServer, free_port
from simulator.results import (
    BERLIN_2017_GUN,
    READS_PER_CROSSING,
    ChaseField,
    build_decoders,
    chase_field,
    plan_reads,
    race_id_for,
    replay,
    replay_clock,
    write_race,
)

BERLIN_2017 = [ROOT / "data" / "results" / f"berlin_marathon_2017_{sex}.csv" for sex in ("M", "W")]
TARGET = "a whole real marathon (~40,000 runners) replayed end to end in <= 60 s"
PURSUER, DELAY_S = "2", 7200.0  # Kipchoge (2:03:32) starts two hours after the field
TICK_S = 1.0
JOURNAL_BATCH_LINES = 1300  # about what one 64 KiB read of the ingestor's socket holds


def _wait_port(port: int, process: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the ingestor exited with {process.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"the ingestor did not listen on port {port} within {timeout_s} s")


def _start_ingestor(race_dir: Path, redis_url: str, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    """``pursuit ingest`` in its own process, as in production."""
    args = [
        sys.executable,
        "-m",
        "pursuit.cli",
        "ingest",
        "--race",
        str(race_dir),
        "--host",
        "127.0.0.1",
        "--ingest-port",
        str(port),
        "--mylaps-port",
        str(free_port()),
    ]
    env = {**os.environ, "REDIS_URL": redis_url, "PYTHONPATH": str(ROOT)}
    with log_path.open("wb") as log:
        process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    _wait_port(port, process)
    return process


async def _applied_reads(store: Store) -> int:
    return sum(int(h.get("reads", 0)) for h in (await store.mat_health()).values())


async def _socket_baseline(payloads: list[bytes]) -> float:
    """Seconds for the same bytes, one connection per mat, drained by a bare asyncio reader."""
    left = len(payloads)
    done = asyncio.get_running_loop().create_future()

    async def drain(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal left
        while await reader.read(65_536):
            pass
        writer.close()
        left -= 1
        if left == 0:
            done.set_result(None)

    server = await asyncio.start_server(drain, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]

    async def send(payload: bytes) -> None:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(payload)
        await writer.drain()
        writer.close()

    t = time.perf_counter()
    await asyncio.gather(*(send(p) for p in payloads))
    await done
    elapsed = time.perf_counter() - t
    server.close()
    await server.wait_closed()
    return elapsed


async def _pipeline_baseline(redis: aioredis.Redis, passings: list[tuple[str, int, float]], lines: list[str]) -> float:
    """Seconds for a bare redis-py pipeline to write one stream entry per passing and the raw lines
    in journal batches: the least Redis work the replay implies, with none of the logic."""
    t = time.perf_counter()
    for start in range(0, len(lines), JOURNAL_BATCH_LINES * 20):
        async with redis.pipeline(transaction=False) as pipe:
            for b in range(start, min(start + JOURNAL_BATCH_LINES * 20, len(lines)), JOURNAL_BATCH_LINES):
                pipe.xadd("bench:journal", {"lines": "\n".join(lines[b : b + JOURNAL_BATCH_LINES])})
            await pipe.execute()
    for start in range(0, len(passings), 5000):
        async with redis.pipeline(transaction=False) as pipe:
            for bib, tp, time_s in passings[start : start + 5000]:
                pipe.xadd("bench:passings", {"bib": bib, "tp": tp, "t": f"{time_s:.3f}"})
            await pipe.execute()
    elapsed = time.perf_counter() - t
    await redis.delete("bench:journal", "bench:passings")
    return elapsed


def _cpu(processes: dict[str, int]) -> dict[str, float]:
    return {name: cpu_s(pid) for name, pid in processes.items()}


async def _bench(
    paths: list[Path],
    runners: int | None,
    pursuer: str,
    delay_s: float,
    reads_per_crossing: int,
    ingestors: int,
    workdir: Path,
) -> dict[str, Any]:
    t = time.perf_counter()
    chase = chase_field(load_results(paths), pursuer, delay_s, runners)
    first_gun = BERLIN_2017_GUN.timestamp()
    race = write_race(chase, workdir / "race", first_gun, race_id_for(paths))
    plan = plan_reads(chase, first_gun, reads_per_crossing)
    clock = replay_clock(plan, None)
    decoders = build_decoders(race, plan, clock)
    prepare_s = time.perf_counter() - t

    with RedisServer(workdir / "redis", appendonly=True) as server:
        redis = aioredis.Redis.from_url(server.url)
        store = Store(redis, race)
        await store.setup()
        await store.set_clock(clock)
        ports = [free_port() for _ in range(ingestors)]
        processes = [_start_ingestor(race.directory, server.url, p, workdir / f"ingest-{p}.log") for p in ports]
        pids = {f"ingestor{i + 1}": p.pid for i, p in enumerate(processes)}
        pids |= {"redis": server.process.pid, "bench": os.getpid()}  # type: ignore[union-attr]
        try:
            engine = LiveEngine(race, store)
            await engine.refresh()  # a web process is up before the race
            cpu0 = _cpu(pids)
            load_before = os.getloadavg()
            stop = asyncio.Event()
            ticks: list[float] = []

            async def tick() -> None:
                while not stop.is_set():
                    started = time.perf_counter()
                    await engine.refresh()
                    ticks.append(time.perf_counter() - started)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), TICK_S)

            t0 = time.perf_counter()
            ticker = asyncio.create_task(tick())
            # the mats are shared out among the ingestors, as a race with several ingest processes would
            sender = asyncio.create_task(replay(decoders, "127.0.0.1", ports, plan, chase))
            sent_at: list[float] = []
            sender.add_done_callback(lambda _: sent_at.append(time.perf_counter() - t0))
            progress = []
            while (n := await _applied_reads(store)) < plan.reads or len(await store.guns()) < 2:
                if sender.done() and sender.exception() is not None:
                    raise sender.exception()  # type: ignore[misc]
                if dead := [i for i, p in enumerate(processes) if p.poll() is not None]:
                    log = (workdir / f"ingest-{ports[dead[0]]}.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"an ingest process exited with {processes[dead[0]].returncode}:\n{log}")
                progress.append((round(time.perf_counter() - t0, 2), n))
                await asyncio.sleep(0.1)
            report = await sender
            ingested_s = time.perf_counter() - t0
            stop.set()
            await ticker
            t_final = time.perf_counter()
            snapshot = await engine.refresh()
            final_tick_s = time.perf_counter() - t_final
            wall_s = time.perf_counter() - t0
            cpu = {k: round(v - cpu0[k], 2) for k, v in _cpu(pids).items()}
            load_after = os.getloadavg()
        finally:
            for process in processes:
                process.terminate()
                process.wait(10)

        passings_held = int((~np.isnan(engine.times)).sum() + (~np.isnan(engine.pursuer_times)).sum())
        engine_winners = {str(b) for b in snapshot.bibs[snapshot.status == WON]}
        truth = chase.true_winners()
        flagged_rows = np.flatnonzero(engine.flagged.any(axis=1))
        expected = _expected_passings(chase, plan.first_gun)
        passings_match = _passings_match(engine, expected)

        payloads = [b"".join(f"{line}\r\n".encode() for line in d.lines) for d in decoders]
        socket_s = await _socket_baseline(payloads)
        all_lines = [line for d in decoders for line in d.lines]
        pipeline_s = await _pipeline_baseline(redis, expected, all_lines)
        await redis.aclose()

    return {
        "bench": "replay",
        "machine": machine(),
        "target": TARGET,
        "inputs": {
            "results": [str(p) for p in paths],
            "runners": chase.runners,
            "pursuer": chase.pursuer_bib,
            "delay_s": delay_s,
            "timing_points": len(race.timing_points),
            "reads_per_crossing": reads_per_crossing,
            "ingestor_processes": ingestors,
            "notes": list(chase.notes),
        },
        "prepare_s": round(prepare_s, 2),
        "wall_s": round(wall_s, 2),
        "met": wall_s <= 60.0,
        "ingested_s": round(ingested_s, 2),
        "sent_s": round(sent_at[0], 2),
        "final_tick_s": round(final_tick_s, 3),
        "reads": plan.reads,
        "lines": sum(report.lines_per_mat.values()),
        "reads_per_s": round(plan.reads / wall_s),
        "crossings": plan.crossings,
        "passings_held": passings_held,
        "passings_match_file": passings_match,
        "engine_ticks": len(ticks),
        "engine_tick_ms_max": round(max(ticks, default=0.0) * 1000, 1),
        "winners_true": len(truth),
        "winners_engine": len(engine_winners),
        "winners_disagree": sorted(engine_winners ^ truth)[:20],
        "rows_with_impossible_passings": int(len(flagged_rows)),
        "cpu_s": cpu,
        "baseline_socket_s": round(socket_s, 3),
        "baseline_redis_pipeline_s": round(pipeline_s, 2),
        "ratio_to_redis_baseline": round(wall_s / pipeline_s, 2),
        "ratio_to_socket_baseline": round(wall_s / socket_s, 1),
        "loadavg_1m": [round(load_before[0], 2), round(load_after[0], 2)],
        "progress": progress[:: max(1, len(progress) // 20)],
    }


def _expected_passings(chase: ChaseField, first_gun: float) -> list[tuple[str, int, float]]:
    """Every (bib, timing point, time) the file implies, the start at the gun."""
    starts = first_gun + chase.start_offsets_s()
    columns = np.hstack([np.zeros((len(chase.bibs), 1)), chase.elapsed_s])
    out = []
    for i, bib in enumerate(chase.bibs):
        for j in np.flatnonzero(~np.isnan(columns[i])):
            out.append((str(bib), int(j), float(starts[i] + columns[i, j])))
    return out


def _passings_match(engine: LiveEngine, expected: list[tuple[str, int, float]]) -> dict[str, int]:
    """How many of the file's passings the engine holds at the file's time (to the hundredth)."""
    same = wrong = missing = 0
    for bib, tp, t in expected:
        held = engine.passings_of(bib)[tp]
        if np.isnan(held):
            missing += 1
        elif abs(held - t) < 0.005:
            same += 1
        else:
            wrong += 1
    return {"same": same, "different": wrong, "missing": missing}


def bench_replay(
    results: list[str] | None = None,
    runners: int | None = None,
    pursuer: str = PURSUER,
    delay_s: float = DELAY_S,
    reads_per_crossing: int = READS_PER_CROSSING,
    ingestors: int = 1,
) -> dict[str, Any]:
    """Replay a whole results file end to end as fast as possible; figures with same-run baselines."""
    paths = [Path(p) for p in results] if results else BERLIN_2017
    with tempfile.TemporaryDirectory(prefix="pursuit-replay-") as tmp:
        return asyncio.run(_bench(paths, runners, pursuer, delay_s, reads_per_crossing, ingestors, Path(tmp)))
