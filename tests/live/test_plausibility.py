"""Plausibility of passings: the right crossing of a twice-crossed mat, and impossible reads."""

from __future__ import annotations

import time

import numpy as np
import pytest

from live.chase.projection import plausible_passings
from live.clock import RaceClock
from live.engine.engine import LiveEngine
from live.engine.events import EventDetector
from live.store.store import RawRead, Store

AT = np.array([0.0, 400, 1930, 3400, 4271, 4560, 5000])
MATS = ["start", "marbeuf", "concorde", "george-v", "marbeuf", "george-v", "finish"]
NAN = np.nan


def test_a_read_at_a_twice_crossed_mat_after_a_later_point_is_its_second_crossing():
    # read at concorde (1930 m) at 600 s, then at marbeuf at 1500 s: that is marbeuf's 2nd crossing
    times = np.array([[0, 1500, 600, 1150, NAN, NAN, NAN]])
    used, flagged = plausible_passings(times, AT, MATS, 7.5)
    assert np.isnan(used[0, 1]) and used[0, 4] == 1500
    assert not flagged.any()


def test_a_read_faster_than_anyone_or_backwards_is_flagged_and_not_used():
    times = np.array([[0, 100, 150, 1000, 1300, 1400, 1500], [0, 100, 600, 590, 1300, 1400, 1500]])
    used, flagged = plausible_passings(times, AT, MATS, 7.5)
    assert flagged[0].tolist() == [False, False, True, False, False, False, False]  # 1,530 m in 50 s
    assert flagged[1].tolist() == [False, False, False, True, False, False, False]  # before the previous read
    assert np.isnan(used[0, 2]) and used[0, 3] == 1000


async def test_the_engine_uses_plausible_passings_and_alerts_on_the_rest(redis, paris):
    store = Store(redis, paris)
    await store.setup()
    now = time.time()
    await store.set_clock(RaceClock(origin_wall=now, origin_race=now, speed=1.0))
    await store.record_gun(now - 2000)
    a, b = paris.participants[500], paris.participants[501]
    t0 = now - 1900
    await store.apply_reads(
        [
            RawRead("start", a.chips[0], t0), RawRead("concorde", a.chips[0], t0 + 600),
            RawRead("marbeuf", a.chips[0], t0 + 1500),  # the first marbeuf crossing was missed
            RawRead("start", b.chips[0], t0), RawRead("marbeuf", b.chips[0], t0 + 20),  # 400 m in 20 s
        ],
        wall_s=now,
    )  # fmt: skip
    engine = LiveEngine(paris, store)
    engine.listeners.append(EventDetector(engine))
    snap = await engine.refresh()
    row_a, row_b = snap.index[a.bib], snap.index[b.bib]
    assert engine.used_times[row_a, 4] == pytest.approx(t0 + 1500, abs=0.001) and np.isnan(engine.used_times[row_a, 1])
    assert snap.distance_m[row_a] > 4271
    assert engine.flagged[row_b, 1] and snap.distance_m[row_b] < 400
    events = await store.events_after()
    assert [e["bib"] for e in events if e["kind"] == "impossible_passing"] == [b.bib]
    missed = {(e["bib"], e["mat"]) for e in events if e["kind"] == "runner_missed_mat"}
    assert missed == {(a.bib, "marbeuf"), (a.bib, "george-v")}
