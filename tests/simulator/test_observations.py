"""What each mat's reader reports and when: late and out of order, per read or per crossing."""

from __future__ import annotations

import numpy as np

from live.race.race import Race
from simulator.faults import Faults, WireFaults
from simulator.observations import mat_feeds
from simulator.trajectory import plan_race

FIRST_GUN = 1635670800.0


def test_reports_arrive_up_to_6_s_late_and_out_of_time_order(paris: Race):
    plan = plan_race(paris, FIRST_GUN, seed=5, runners=400)
    feeds = mat_feeds(paris, plan, per_crossing={"concorde"}, late_max_s=6.0, faults=Faults(), seed=5)
    finish = feeds.by_mat["finish"]
    late = np.array([o.due - o.time for o in finish])
    assert late.min() > 0 and late.max() <= 6.0 + 1e-9 and 1.0 < np.median(late) < 2.3
    times = [o.time for o in finish]
    assert [o.due for o in finish] == sorted(o.due for o in finish), "delivered in due order"
    earlier = sum(t < max(times[:i]) for i, t in enumerate(times) if i)
    assert earlier > 0.1 * len(times), "many reports carry a time earlier than one already delivered"
    assert sorted(times) == sorted(r.time for r in plan.reads if r.mat == "finish")
    # one passing per crossing at concorde: first read, every read counted, the peak RSSI
    concorde = feeds.by_mat["concorde"]
    reads = [r for r in plan.reads if r.mat == "concorde"]
    assert len(concorde) == len(plan.crossings) and sum(o.hits for o in concorde) == len(reads)
    assert sorted(o.time for o in concorde) == sorted(plan.crossings[:, 2].tolist())
    assert max(o.rssi for o in concorde) == max(r.rssi for r in reads)
    start = feeds.by_mat["start"]
    assert [o.time for o in start if o.gun] == [g.time for g in plan.guns]


def test_wire_faults_are_scheduled_per_reader():
    assert WireFaults.for_reader(Faults(), 100) == WireFaults()
    wire = WireFaults.for_reader(Faults.parse("drop,dup,garble"), 100)
    assert wire.drop_after == (30, 65)
    assert sum(map(wire.dup, range(100))) == 5 and sum(map(wire.garble, range(100))) == 4
    assert wire.dup_any(0, 17) and not wire.dup_any(0, 16)
