"""``pursuit bench tick --cluster``'s parts, on the session's cluster and a small field: the store's work
of two races at once, and a frame's relay through the frames stream and through sharded pub/sub."""

from __future__ import annotations

from pathlib import Path

from pursuit.bench.cluster import _layout, _races, _relay


async def test_the_cluster_bench_measures_the_races_store_work_and_the_relay(cluster, tmp_path: Path):
    races = _races(tmp_path, 2, 150)
    assert [r.id for r in races] == ["race-0", "race-1"]
    layout = await _layout(cluster.url, races, rounds=2)
    assert layout["apply_reads_per_s"] > 0
    assert 0 < layout["takeover_load_ms"]["median"] <= layout["takeover_load_ms"]["max"]
    assert 0 < layout["tick_round_ms"]["median"] <= layout["tick_round_ms"]["max"]
    relay = await _relay(cluster.url, races[0], frames=5)
    for way in ("frames_stream", "sharded_pubsub"):
        assert 0 < relay[way]["p50_ms"] <= relay[way]["p99_ms"] < 2_000, way
