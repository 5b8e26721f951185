"""``pursuit bench tick``: the live engine's tick (project every runner, compute the chase) and a full
snapshot's serialisation, at several field sizes, against the least a tick must do."""

from __future__ import annotations

import functools
import gzip
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from live.engine.engine import LiveEngine
from pursuit.bench.common import machine, median_ms, race_with_runners


def _distances_json(snap: Any) -> bytes:
    return orjson.dumps({"d": np.round(snap.distance_m).astype(int).tolist()})


def _read_and_place(times: np.ndarray, course: Any) -> object:
    """The least a tick must do: read every passing once and place every runner on the map."""
    return np.nanmax(times, axis=1), course.lonlat_at(times[:, 0] * 0)


def bench_tick(sizes: tuple[int, ...] = (3_600, 40_000, 100_000), repeat: int = 15) -> dict[str, Any]:
    """Time to project every runner and compute the chase, and to serialise a full snapshot."""
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            race = race_with_runners(n, Path(tmp) / f"r{n}")
            engine = LiveEngine(race, store=None)  # compute() needs no I/O
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
            tick_ms = median_ms(functools.partial(engine.compute, now), repeat)
            snap = engine.compute(now)
            frame = orjson.dumps(
                {
                    "class": snap.margin_class.tolist(),  # type: ignore[union-attr]
                    "distance_m": np.round(snap.distance_m).astype(int).tolist(),
                    "speed_dm_s": np.round(np.nan_to_num(snap.speed_m_s) * 10).astype(int).tolist(),  # type: ignore[arg-type]
                }
            )
            frame_ms = median_ms(functools.partial(_distances_json, snap), repeat)
            # baseline: the least a tick must do — read every passing once and place every runner on the map
            baseline_ms = median_ms(functools.partial(_read_and_place, times, race.course), repeat)
            results.append(
                {
                    "runners": n,
                    "tick_ms": round(tick_ms, 2),
                    "baseline_ms": round(baseline_ms, 3),
                    "ratio": round(tick_ms / baseline_ms, 1),
                    "snapshot_frame_bytes": len(frame),
                    "snapshot_frame_gzip_bytes": len(gzip.compress(frame)),
                    "frame_encode_ms": round(frame_ms, 2),
                }
            )
    results.append(_marathon_tick(repeat))
    return {"bench": "tick", "machine": machine(), "target": "40,000 runners in <= 50 ms", "results": results}


def _marathon_tick(repeat: int) -> dict[str, Any]:
    """Berlin 2017's chase (39,224 runners, 11 timing points) at the pursuer's halfway: the marathon
    path, where each tick also learns the race's slowing segment by segment from the runners who
    ran it. Same baseline: read every passing once, place every runner."""
    from live.engine.evaluation import ChaseReplay
    from live.forecast.model import MARATHON_M, default_model
    from live.forecast.race_conditions import learns_live
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
    replay = ChaseReplay(race, chase.elapsed_s, chase.pursuer_row, 5880.0, GUN, model, files.name)
    moment = replay.moment_at(0.5)
    replay.snapshot_at(moment)  # the passings made by then
    now = GUN + moment
    tick_ms = median_ms(functools.partial(replay.engine.compute, now), repeat)
    baseline_ms = median_ms(functools.partial(_read_and_place, replay.engine.times, race.course), repeat)
    return {
        "runners": len(replay.runner_times),
        "course": "marathon (Berlin 2017 at the pursuer's halfway)",
        "tick_ms": round(tick_ms, 2),
        "baseline_ms": round(baseline_ms, 3),
        "ratio": round(tick_ms / baseline_ms, 1),
        "learns_slowing_live": learns_live(model, replay.engine.at_m),
    }
