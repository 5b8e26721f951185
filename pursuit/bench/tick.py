"""``pursuit bench tick``: the live engine's tick at several field sizes and on a real marathon, each
tick one second after the last with the passings made in that second (as the engine reads them from
Redis), and a tick with none; baselines in the same run: the same ticks from scratch (every runner
recomputed, the tick before it was incremental) and the least a tick must do."""

from __future__ import annotations

import functools
import gzip
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from live.engine.engine import LiveEngine
from pursuit.bench.common import machine, median_ms, race_with_runners

T0 = 1_700_000_000.0


def _distances_json(snap: Any) -> bytes:
    return orjson.dumps({"d": np.round(snap.distance_m).astype(int).tolist()})


def _read_and_place(times: np.ndarray, course: Any) -> object:
    """The least a tick must do: read every passing once and place every runner on the map."""
    return np.nanmax(times, axis=1), course.lonlat_at(times[:, 0] * 0)


def ticks(
    engine: LiveEngine,
    times: np.ndarray,
    pursuer: np.ndarray,
    now: float,
    repeat: int,
    new_passings: bool = True,
    incremental: bool = True,
) -> dict[str, float]:
    """Median ms of ``repeat`` ticks a second apart from ``now`` (after one tick at ``now``), each with
    the passings of ``times`` and ``pursuer`` made in its second (none if not ``new_passings``);
    ``incremental=False``: each tick from scratch. Also the passings per tick and the runners whose
    forecast was recomputed; ``cpu_ms``: the same ticks' CPU time (one BLAS thread: all of it)."""
    engine.tick.incremental = incremental
    engine.times = np.asfortranarray(np.where(times <= now, times, np.nan))  # by timing point, as load() fills it
    engine.pursuer_times = np.where(pursuer <= now, pursuer, np.nan)
    engine.classes = None
    engine.classes = engine.compute(now).margin_class
    samples, cpu, passings, recomputed = [], [], [], []
    for i in range(1, repeat + 1):
        if new_passings:
            new = (times <= now + i) & (times > now + i - 1)
            engine.times[new] = times[new]
            engine.pursuer_times = np.where(pursuer <= now + i, pursuer, np.nan)
            passings.append(int(new.sum()))
        started, started_cpu = time.perf_counter(), time.thread_time()
        engine.compute(now + i)
        samples.append((time.perf_counter() - started) * 1000)
        cpu.append((time.thread_time() - started_cpu) * 1000)  # this thread's CPU: steadier on a busy machine
        recomputed.append(engine.tick.rows.recomputed)
    return {
        "ms": statistics.median(samples),
        "cpu_ms": statistics.median(cpu),
        "passings": statistics.mean(passings) if passings else 0.0,
        "recomputed": statistics.median(recomputed),
    }


def _generated(n: int, directory: Path) -> tuple[LiveEngine, np.ndarray, np.ndarray, float]:
    """The J-1000's 5 km course with ``n`` runners, their pens released 5 minutes apart, the pursuer
    19 minutes after the first: every passing of the race, and a moment mid-race (the pursuer past
    his first mat, most runners out)."""
    race = race_with_runners(n, directory)
    engine = LiveEngine(race, store=None)  # compute() needs no I/O
    rng = np.random.default_rng(1)
    engine.guns = {f"pen:{p.id}": T0 + i * 300 for i, p in enumerate(race.pens)} | {"pursuer": T0 + 1140}
    pace = race.distance_m / rng.uniform(1000, 2700, n)
    starts = T0 + engine.runner_pen_index * 300.0 + rng.uniform(0, 60, n)
    times = starts[:, None] + engine.at_m[None, :] / pace[:, None]
    pursuer = T0 + 1140 + engine.at_m * 0.173
    return engine, times, pursuer, T0 + 1600


def _row(n: int, engine: LiveEngine, times: np.ndarray, pursuer: np.ndarray, now: float, repeat: int) -> dict[str, Any]:
    tick = ticks(engine, times, pursuer, now, repeat)
    full = ticks(engine, times, pursuer, now, repeat, incremental=False)
    baseline_ms = median_ms(functools.partial(_read_and_place, times, engine.race.course), repeat)
    return {
        "runners": n,
        "tick_ms": round(tick["ms"], 2),
        "from_scratch_ms": round(full["ms"], 2),
        "tick_cpu_ms": round(tick["cpu_ms"], 2),
        "from_scratch_cpu_ms": round(full["cpu_ms"], 2),
        "baseline_ms": round(baseline_ms, 3),
        "ratio": round(tick["ms"] / baseline_ms, 1),
        "passings_per_tick": round(tick["passings"], 1),
        "forecast_recomputed": int(tick["recomputed"]),
    }


def bench_tick(
    sizes: tuple[int, ...] = (3_600, 40_000, 100_000), repeat: int = 15, quiet_at: int = 40_000
) -> dict[str, Any]:
    """Ticks at each field size, the Berlin marathon at halfway and ticks with no new passing at
    ``quiet_at`` runners; the frame a full snapshot's serialisation makes."""
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            engine, times, pursuer, now = _generated(n, Path(tmp) / f"r{n}")
            row = _row(n, engine, times, pursuer, now, repeat)
            snap = engine.compute(now)
            frame = orjson.dumps(
                {
                    "class": snap.margin_class.tolist(),  # type: ignore[union-attr]
                    "distance_m": np.round(snap.distance_m).astype(int).tolist(),
                    "speed_dm_s": np.round(np.nan_to_num(snap.speed_m_s) * 10).astype(int).tolist(),  # type: ignore[arg-type]
                }
            )
            row |= {
                "snapshot_frame_bytes": len(frame),
                "snapshot_frame_gzip_bytes": len(gzip.compress(frame)),
                "frame_encode_ms": round(median_ms(functools.partial(_distances_json, snap), repeat), 2),
            }
            results.append(row)
            if n == quiet_at:
                quiet = ticks(engine, times, pursuer, now, repeat, new_passings=False)
                full = ticks(engine, times, pursuer, now, repeat, new_passings=False, incremental=False)
                results.append(
                    {
                        "runners": n,
                        "no_new_passings": True,
                        "tick_ms": round(quiet["ms"], 2),
                        "from_scratch_ms": round(full["ms"], 2),
                        "tick_cpu_ms": round(quiet["cpu_ms"], 2),
                        "from_scratch_cpu_ms": round(full["cpu_ms"], 2),
                        "baseline_ms": row["baseline_ms"],
                        "ratio": round(quiet["ms"] / row["baseline_ms"], 1),
                        "forecast_recomputed": int(quiet["recomputed"]),
                    }
                )
    results.append(_marathon_tick(repeat))
    return {"bench": "tick", "machine": machine(), "results": results}


def berlin() -> Any:
    """Berlin 2017's chase (39,224 runners, 11 timing points) held by an engine without Redis, its
    winner 5,880 s behind the field: a :class:`live.engine.evaluation.ChaseReplay`."""
    from live.engine.evaluation import ChaseReplay
    from live.forecast.model import MARATHON_M, default_model
    from pursuit.bench.replay import BERLIN_2017
    from simulator.evaluation import GUN, RaceFiles
    from simulator.results import chase_field, write_race

    files = RaceFiles.load(BERLIN_2017)
    chase = chase_field(files.results, files.winner_bib(), 5880.0, wire=False)
    model = default_model()
    with tempfile.TemporaryDirectory() as tmp:
        race = write_race(
            chase,
            Path(tmp) / "berlin",
            GUN,
            files.name,
            pursuer_finish_s=model.reference_finish_s * float(chase.at_m[-1]) / MARATHON_M,
        )
    return ChaseReplay(race, chase.elapsed_s, chase.pursuer_row, 5880.0, GUN, model, files.name)


def _marathon_tick(repeat: int) -> dict[str, Any]:
    """Berlin 2017's chase from the pursuer's halfway: the marathon path, where each tick also learns
    the race's slowing segment by segment from the runners who ran it."""
    from live.forecast.race_conditions import learns_live
    from simulator.evaluation import GUN

    replay = berlin()
    now = GUN + replay.moment_at(0.5)
    row = _row(len(replay.runner_times), replay.engine, replay.runner_times, replay.pursuer_times, now, repeat)
    return row | {
        "course": "marathon (Berlin 2017 from the pursuer's halfway)",
        "learns_slowing_live": learns_live(replay.engine.model, replay.engine.at_m),
    }
