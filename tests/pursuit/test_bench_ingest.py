"""``pursuit bench ingest``'s plumbing: a few thousand ChronoTrack lines through the real server into a
real Redis, with the three baselines. What is checked is that every line was journaled and applied
and the figures are gathered, not how fast anything is."""

from __future__ import annotations

from pursuit.bench_ingest import bench_ingest


def test_every_read_is_journaled_and_each_chip_read_is_one_passing():
    result = bench_ingest(3000)
    assert result["reads"] == 3000 and result["journaled"] == 3000 + 1, "and the reader's greeting"
    assert result["passings"] == result["passings_expected"] > 0
    assert result["reads_per_s"] > 0 and result["passings_per_s"] > 0 and result["passing_stream_entries_per_s"] > 0
    for baseline in ("socket_lines", "redis_pipeline_reads", "redis_raw_resp_reads"):
        assert result[f"baseline_{baseline}_per_s"] > 0
    assert result["ratio_to_redis_baseline"] > 0 and result["ratio_to_redis_raw_resp_baseline"] > 0
