"""End to end: emulated ChronoTrack mats → ingestor (TCP) → Redis → live engine → HTTP API (the run
is in tests/helpers/end_to_end.py; tests/cluster/ runs it on a Redis Cluster)."""

from __future__ import annotations

from tests.helpers.end_to_end import race_reaches_the_api_with_the_true_outcome


async def test_simulated_race_reaches_the_api_with_the_true_outcome(redis_server, redis, paris):
    await race_reaches_the_api_with_the_true_outcome(redis_server, redis, paris)
