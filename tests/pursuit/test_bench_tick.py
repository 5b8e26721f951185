"""``pursuit bench tick`` measures the tick on the 5 km course and on a real marathon's field, where
the engine also learns the race's slowing live (the costlier path)."""

from __future__ import annotations

from pursuit.bench.tick import bench_tick


def test_the_tick_bench_times_the_5km_course_and_the_marathon_path() -> None:
    result = bench_tick(sizes=(300,), repeat=1)
    short, marathon = result["results"]
    assert short["runners"] == 300 and short["tick_ms"] > 0 and short["baseline_ms"] > 0
    assert marathon["runners"] == 39_224  # Berlin 2017's field, the winner playing the pursuer
    assert marathon["learns_slowing_live"] is True
    assert marathon["tick_ms"] > 0 and marathon["ratio"] > 0
