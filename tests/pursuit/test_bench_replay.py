"""``pursuit bench replay``'s plumbing: a slice of Berlin 2017 through an ingest process, Redis and the
live engine, with both baselines. What is checked is that the figures are gathered right and that
the run really ended in the file's passings and winners, not how fast anything is."""

from __future__ import annotations

from pursuit.bench.replay import bench_replay
from pursuit.cli import build_parser


def test_a_slice_of_berlin_replays_end_to_end_with_baselines():
    result = bench_replay(runners=150, reads_per_crossing=2, ingestors=2)
    assert result["inputs"]["runners"] == 150 and result["inputs"]["ingestor_processes"] == 2
    assert result["inputs"]["timing_points"] == 11
    assert result["reads"] == 2 * result["crossings"] and result["lines"] == result["reads"] + 2, "and two guns"
    assert result["passings_held"] == result["crossings"]
    assert result["passings_match_file"] == {"same": result["crossings"], "different": 0, "missing": 0}
    assert result["winners_engine"] == result["winners_true"] > 0 and result["winners_disagree"] == []
    assert 0 < result["ingested_s"] <= result["wall_s"] and result["reads_per_s"] > 0
    assert result["baseline_socket_s"] > 0 and result["baseline_redis_pipeline_s"] > 0
    assert result["ratio_to_redis_baseline"] > 0
    assert set(result["cpu_s"]) == {"ingestor1", "ingestor2", "redis", "bench"}
    assert result["cpu_s"]["ingestor1"] > 0 and result["cpu_s"]["ingestor2"] > 0, "both ingestors took mats"
    assert len(result["loadavg_1m"]) == 2 and result["machine"]["cpus"]


def test_bench_replay_takes_one_runner_count_and_results_files():
    args = build_parser().parse_args(["bench", "replay", "--runners", "500", "--results", "a.csv", "b.csv"])
    assert args.what == "replay" and args.runners == [500] and args.results == ["a.csv", "b.csv"]
    assert build_parser().parse_args(["bench", "replay"]).reads_per_crossing == 2
