"""``pursuit rehearse --cluster`` (pursuit/rehearse_cluster.py): a Redis Cluster of three masters and
three replicas, a World Run of six catcher-car locations (each in its own time zone), two ingestors,
an engine pool of three, three web processes behind HAProxy; mid-race the master serving most races,
the engine leading most and the web process most spectators are on are each SIGKILLed. After: every
race's results are the simulator's truth runner for runner, no passing the mats read is missing from
the store, each killed engine's race is led again within 3 s, the world leaderboard is the truth's."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from pursuit.rehearse import find_haproxy
from pursuit.rehearse_cluster import rehearse_cluster
from tests.helpers import assert_world_board_is_the_truth, world_truth

RUNNERS = 100  # per location: the command's default is 1,000, the test keeps CI short
SPEED = 200.0  # the fast car catches everyone about 1 h 30 after the gun: some 27 s here


def test_six_races_survive_the_loss_of_a_cluster_master_an_engine_and_a_web_process(tmp_path):
    if find_haproxy() is None:
        if os.environ.get("PURSUIT_REQUIRE_HAPROXY"):
            pytest.fail("haproxy is not installed but PURSUIT_REQUIRE_HAPROXY is set (CI): install Debian's haproxy")
        pytest.skip("haproxy is not installed (Debian: apt-get install haproxy)")
    outcome = asyncio.run(rehearse_cluster(tmp_path, runners=RUNNERS, speed=SPEED, seed=5))
    report = outcome.report
    print(report)
    assert report["races"] == 6 and report["runners_per_race"] == RUNNERS
    assert report["races_wrong"] == {}, "every race: the truth's runners, each caught"
    assert report["catches_within_tolerance"] >= 0.99, report["catch_error_m_p50_p99_max"]
    assert report["passings_read"] > 6 * RUNNERS and report["passings_lost"] == dict.fromkeys(
        report["passings_lost"], 0
    )
    assert report["passings_extra"] == report["passings_lost"], "nor any counted twice"
    assert report["redis_master_killed"]["races"], "the killed master served races"
    assert report["redis_replica_promoted_s"] <= 10.0, report
    takeover = report["engine_takeover_s"]
    assert takeover and set(takeover) == set(report["engine_killed"]["races"])
    assert max(takeover.values()) <= 3.0, takeover
    assert report["spectator_reconnections"] >= 1, "a spectator came back through the balancer"
    assert report["spectator_seq_backwards"] == {}, report
    event = outcome.event
    truth = world_truth(outcome.truth.caught_at_m)
    sex = {(race.id, p.bib): p.sex for race in event.races for p in race.participants}
    assert_world_board_is_the_truth(outcome.board["runners"], truth, sex)


def test_the_cluster_rehearsal_plays_its_own_world_run():
    both = subprocess.run([sys.executable, "-m", "pursuit.cli", "rehearse", "--cluster", "--race", "x"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert both.returncode == 2 and "--race does not go with it" in both.stderr, both.stderr
