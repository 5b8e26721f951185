"""``pursuit bench ingest``'s plumbing: a few thousand ChronoTrack lines through the real server into a
real Redis, with the three baselines; then paced reads into ``pursuit serve`` and into ``pursuit
ingest`` + ``pursuit web`` with their latency. What is checked is that every line was journaled and
applied and the figures are gathered and consistent, not how fast anything is."""

from __future__ import annotations

from pursuit.bench.ingest import bench_ingest


def test_every_read_is_journaled_and_each_chip_read_is_one_passing():
    result = bench_ingest(3000, rates=())
    assert result["reads"] == 3000 and result["journaled"] == 3000 + 1, "and the reader's greeting"
    assert result["passings"] == result["passings_expected"] > 0
    assert result["reads_per_s"] > 0 and result["passings_per_s"] > 0 and result["passing_stream_entries_per_s"] > 0
    for baseline in ("socket_lines", "redis_pipeline_reads", "redis_raw_resp_reads"):
        assert result[f"baseline_{baseline}_per_s"] > 0
    assert result["ratio_to_redis_baseline"] > 0 and result["ratio_to_redis_raw_resp_baseline"] > 0


def test_latency_is_reported_for_every_layout_with_sane_percentiles():
    result = bench_ingest(500, rates=(300,), seconds=1.0, runners=2_000)
    latency = result["latency"]
    assert latency["baseline_redis_ping_rtt"]["p50_ms"] <= latency["baseline_redis_ping_rtt"]["p99_ms"]
    floor = latency["baseline_bare_xadd_to_xread"]["300"]
    assert floor["count"] == 100 and floor["missing"] == 0 and floor["p50_ms"] <= floor["p99_ms"]
    for layout in ("serve", "split"):
        (run,) = latency[layout]["results"]
        assert run["reads"] == 300 and run["crossings"] == 100
        assert latency[layout]["feed_rows_without_a_read"] == 0, "a tick carried a runner nobody read"
        for figure in ("read_to_state", "read_to_feed"):
            measured = run[figure]
            assert measured["count"] > 0 and measured["p50_ms"] <= measured["p99_ms"] <= measured["max_ms"]
        assert run["read_to_state"]["count"] == 100 and run["read_to_state"]["missing"] == 0
        assert run["read_to_feed"]["crossings_tracked"] == 100, "each crossing is its runner's first passing"
        assert run["ratio_read_to_state_to_bare"]["p50"] is not None
