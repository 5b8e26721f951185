"""``pursuit bench tick`` measures the tick, incremental and from scratch, on the 5 km course (with and
without new passings) and on a real marathon's field, where the engine also learns the race's slowing
live (the costlier path)."""

from __future__ import annotations

from pursuit.bench.tick import bench_tick


def test_the_tick_bench_times_the_5km_course_and_the_marathon_path() -> None:
    result = bench_tick(sizes=(300,), repeat=2, quiet_at=300)
    short, quiet, marathon = result["results"]
    assert short["runners"] == 300 and short["tick_ms"] > 0 and short["baseline_ms"] > 0
    assert short["from_scratch_ms"] > 0 and short["passings_per_tick"] > 0
    assert 0 < short["forecast_recomputed"] < 300  # the incremental tick carried runners
    assert quiet["no_new_passings"] and quiet["tick_ms"] > 0 and quiet["from_scratch_ms"] > 0
    assert marathon["runners"] == 39_224  # Berlin 2017's field, the winner playing the pursuer
    assert marathon["learns_slowing_live"] is True
    assert marathon["tick_ms"] > 0 and marathon["ratio"] > 0 and marathon["passings_per_tick"] > 0
