"""Positions resent only past what the browser extrapolates (web/feed_rows.py): a model of
``pursuit.js`` (its state and ``runnerDistance``, written again here from the messages on the wire)
follows every message of a whole simulated race, and at every tick draws every runner within
``POSITION_RESEND_M`` of the engine's position, while the ticks carry far fewer rows than when every
passing was resent."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from live.chase.chase import CLASSES
from live.chase.snapshot import STATUSES, Snapshot
from pursuit.bench.common import race_with_runners
from pursuit.bench.fanout import race_traffic
from web.feed import LiveFeed
from web.feed_rows import HOLD_SHORT_M, POSITION_RESEND_M

RUNNING = {"started", "safe", "at_risk", "doomed", "caught"}  # pursuit.js RUNNING


class Browser:
    """What pursuit.js holds of every runner, and where it draws him (``setRows``, ``runnerDistance``)."""

    def __init__(self, timing_at_m: list[float], distance_m: float) -> None:
        self.at = sorted(set(timing_at_m))
        self.distance_m = distance_m
        self.worst_m = 0.0  # the farthest a runner was drawn from the engine's position, at a tick
        self.rows = 0  # rows received in ticks
        self.corrections = 0  # of which the dot moved more than POSITION_RESEND_M

    def cap(self, d: float) -> float:
        return next((p - HOLD_SHORT_M for p in self.at if p > d + 0.5), self.distance_m)

    def drawn(self, r: int, now: float) -> float:
        d, v = self.dist[r], self.speed[r]
        if CLASSES[self.cls[r]] not in RUNNING or v <= 0:
            return d
        return min(d + v * max(0.0, now - self.t0[r]), max(self.capped[r], d))

    def set_rows(self, rows: list[int], body: dict, now: float, tick: bool) -> None:
        for j, r in enumerate(rows):
            d = body["distance_m"][j] or 0
            if tick:
                self.rows += 1
                self.corrections += abs(d - self.drawn(r, now)) > POSITION_RESEND_M
            self.cls[r] = body["class"][j]
            self.dist[r], self.speed[r] = d, (body["speed_dm_s"][j] or 0) / 10
            self.t0[r], self.capped[r] = now, self.cap(d)

    def __call__(self, feed: LiveFeed, snap: Snapshot) -> None:
        joined = not hasattr(self, "dist")  # the first tick: he joins, with the snapshot at its seq
        m = orjson.loads((feed.snapshot_frame() if joined else feed.tick_frame).payload)
        if m["type"] == "snapshot":
            n = len(m["status"])
            self.cls, self.dist, self.speed, self.t0, self.capped = [0] * n, [0.0] * n, [0.0] * n, [0.0] * n, [0.0] * n
            self.set_rows(list(range(n)), m, m["now"], tick=False)
        else:
            self.set_rows(m["changed"]["index"], m["changed"], m["now"], tick=True)
        truth = np.nan_to_num(np.asarray(snap.distance_m, dtype=float))
        drawn = np.array([self.drawn(r, m["now"]) for r in range(len(truth))])
        self.worst_m = max(self.worst_m, float(np.abs(drawn - truth).max()))


@pytest.fixture(scope="module")
def race(tmp_path_factory):
    return race_with_runners(150, tmp_path_factory.mktemp("race"))


def test_every_runner_is_drawn_within_the_threshold_with_fewer_rows_sent(race):
    at = [tp.at_m for tp in race.timing_points]
    served, baseline = Browser(at, race.distance_m), Browser(at, race.distance_m)
    race_traffic(race, tick_s=15.0, after_pursuer_s=60.0, watch=served)
    race_traffic(race, tick_s=15.0, after_pursuer_s=60.0, position_resend_m=None, watch=baseline)
    assert statuses_known(), "the model reads the same status names as the server sends"
    assert served.worst_m <= POSITION_RESEND_M + 0.01, "nobody drawn farther than the threshold, at any tick"
    assert baseline.worst_m > POSITION_RESEND_M, "the race has runners whose pace the extrapolation gets wrong"
    assert served.corrections > 0, "and they are corrected"
    assert served.rows < 0.7 * baseline.rows, ("whole rows in ticks", served.rows, baseline.rows)


def statuses_known() -> bool:
    return {"ahead" if s == "safe" else s for s in RUNNING} <= {*STATUSES, "at_risk", "doomed"}
