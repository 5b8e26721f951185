"""The scale-out rehearsal (pursuit/rehearse.py): Sentinel, two ingestors, two engines, three web
processes behind HAProxy, a simulated race, and the Redis master, the engine leader and a web
process each killed mid-race."""

from __future__ import annotations

import asyncio
import os

import pytest

from pursuit.rehearse import find_haproxy, rehearse


def test_the_race_survives_the_loss_of_the_redis_master_the_engine_leader_and_a_web_process(tmp_path, paris):
    if find_haproxy() is None:
        if os.environ.get("PURSUIT_REQUIRE_HAPROXY"):
            pytest.fail("haproxy is not installed but PURSUIT_REQUIRE_HAPROXY is set (CI): install Debian's haproxy")
        pytest.skip("haproxy is not installed (Debian: apt-get install haproxy)")
    report = asyncio.run(rehearse(paris, tmp_path, runners=300, speed=60.0, seed=5))
    print(report)
    assert report["same_winners_bib_for_bib"], report
    assert report["winners"] == report["true_winners"] and report["started"] == 300
    assert report["redis_failover_ticks_resume_s"] <= 10.0, report
    assert report["engine_lease_moved_s"] <= 3.0, report
    assert report["spectator_seq_backwards"] == [[], []], report
    assert sum(report["spectator_reconnections"]) >= 1, "a spectator came back through the balancer"
