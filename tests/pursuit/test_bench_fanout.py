"""``pursuit bench fanout``'s plumbing: a real demo process, real client processes, one measured window.

What is checked is that the figures are gathered and merged right, not how fast anything is.
"""

from __future__ import annotations

import math

import orjson
import pytest

from live.engine.engine import LiveEngine
from pursuit.bench.common import race_with_runners
from pursuit.bench.fanout import bench_fanout, race_traffic


def test_clients_in_two_processes_are_measured_over_one_window():
    result = bench_fanout(clients=(6,), seconds=3.0, procs=2, traffic_runners=0)
    baseline, (run,) = result["baseline_one_client"], result["results"]
    assert baseline["clients"] == baseline["held_to_the_end"] == 1 and baseline["client_processes"] == 1
    assert run["clients"] == run["connected"] == run["held_to_the_end"] == 6 and run["failed"] == 0
    assert run["client_processes"] == 2
    assert run["ticks_in_window"] >= 2, "ticks reached every client of both processes"
    for delay in ("delay_from_first_arrival", "delay_from_server_send"):
        assert 0 <= run[delay]["p50_ms"] <= run[delay]["p99_ms"] <= run[delay]["max_ms"]
    assert run["frames_delivered_per_s"] > 0 and run["bytes_per_client_per_s"] > 0
    assert set(run["cpu_s_per_s"]) == {"server", "clients", "whole_machine"}
    assert len(run["loadavg_1m"]) == 2
    server = run["server_fanout_per_tick"]  # the web process's own time per tick, from its /metrics
    assert server["ticks"] >= 2 and server["build_mean_ms"] > 0 and server["write_mean_ms"] > 0
    assert server["write_mean_ms"] <= server["write_p99_ms_at_most"]
    assert server["write_per_client_us"] * 6 / 1000 == pytest.approx(server["write_mean_ms"], abs=0.006)  # rounded
    assert baseline["snapshot"]["largest_gzip_bytes"] < baseline["snapshot"]["largest_bytes"], "one client probes it"
    (floor,) = result["bare_server"]["results"]  # the same clients on a bare server: the machine's floor
    assert floor["clients"] == floor["held_to_the_end"] == 6 and floor["ticks_in_window"] >= 2
    assert floor["server_fanout_per_tick"]["ticks"] >= 2 and floor["server_fanout_per_tick"]["write_mean_ms"] > 0
    ticks_per_client = run["frames_delivered_per_s"] / run["held_to_the_end"]
    assert floor["tick_bytes"] == round(run["bytes_per_client_per_s"] / ticks_per_client), "the ticks' mean size"
    assert set(run["ratio_to_bare_server"]) == {"delay_from_server_send_p99", "server_write_mean"}
    assert "traffic" not in result


@pytest.fixture(scope="module")
def small_race(tmp_path_factory):
    return race_with_runners(300, tmp_path_factory.mktemp("race"))


def test_real_time_traffic_counts_every_tick_of_the_race(small_race):
    traffic = race_traffic(small_race, tick_s=30.0, after_pursuer_s=60.0)
    engine = LiveEngine(small_race, store=None)  # type: ignore[arg-type]
    assert traffic["ticks"] == math.ceil(traffic["race_seconds"] / 30.0)
    assert traffic["race_seconds"] > small_race.pursuer.pace_s_per_km * small_race.distance_m / 1000
    assert traffic["tick_bytes"]["p50"] <= traffic["tick_bytes"]["p99"] <= traffic["tick_bytes"]["max"]
    ticks = traffic["tick_bytes"]
    assert traffic["bytes_per_client_per_s"] * traffic["race_seconds"] <= ticks["max"] * traffic["ticks"]
    assert traffic["final_snapshot_gzip_bytes"] < traffic["final_snapshot_bytes"]
    # the last snapshot carries every runner: roughly a dozen bytes each at the least
    assert traffic["final_snapshot_bytes"] > 12 * len(engine.bibs)
    assert orjson.dumps(traffic)  # JSON as printed by the command


def test_feed_bytes_compares_the_rule_as_served_with_the_baseline_in_the_same_run():
    from pursuit.bench.feedbytes import TARGET_RUNNERS, bench_feedbytes, feedbytes_targets

    result = bench_feedbytes((150,), tick_s=30.0)
    (row,) = result["results"]
    assert not result["failures"] and result["targets"] == {}, "targets are checked at 40,000 runners only"
    for rule in ("served", "baseline_every_passing"):
        assert row[rule]["bytes_per_client_per_s"] > 0 and row[rule]["snapshot_gzip_bytes"]["max"] > 0
        assert set(row[rule]["least_compressible_snapshot_gzip_by_array"]) >= {"distance_m", "speed_dm_s"}
    assert row["ratio_to_baseline"]["bytes_per_client_per_s"] == round(
        row["served"]["bytes_per_client_per_s"] / row["baseline_every_passing"]["bytes_per_client_per_s"], 2
    )
    over = {**row, "runners": TARGET_RUNNERS, "served": {**row["served"], "bytes_per_client_per_s": 2_001}}
    targets = feedbytes_targets([over])
    assert not targets["bytes_per_spectator"]["met"] and targets["snapshot_gzip"]["met"]
