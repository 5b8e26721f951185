"""The incremental tick (live/engine/tick.py, live/forecast/win_rows.py) gives what a tick from scratch
gives, to 1e-9 on every runner, tick after tick: over a whole simulated race on the J-1000 and over a
replay of Berlin 2017 (a slice of its field, coarse steps). Each run checks that it exercised what the
incremental tick must notice: new passings, runners whose time since their last read passes the knee
where it starts to count, runners near the line (a chance strictly between 0 and 1), settled outcomes
and manual statuses, the pursuer's splits (new common nodes), runners who stop (the race's stop rate,
moving tick after tick, and the chance to finish it gives every open runner), and that it carried
most runners."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

from live.chase.snapshot import DNF, Snapshot
from live.engine.engine import LiveEngine
from live.engine.evaluation import ChaseReplay
from live.forecast.dropouts import finish_chance
from live.forecast.model import MARATHON_M, default_model
from live.forecast.runner_state import U_FLOOR
from live.race.race import Race
from pursuit.bench.common import race_with_runners
from pursuit.bench.replay import BERLIN_2017
from simulator.evaluation import GUN, RaceFiles
from simulator.results import chase_field, write_race

TOL = 1e-9


def agree(a: Snapshot, b: Snapshot) -> None:
    """Every per-runner array equal to TOL (nan where the other is nan), the counts and forecast equal."""
    for f in fields(Snapshot):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray) and x.dtype.kind in "fiub":
            assert x.shape == y.shape, f.name
            assert np.allclose(x.astype(float), y.astype(float), rtol=0.0, atol=TOL, equal_nan=True), f.name
        elif f.name not in ("index", "bibs", "pens", "lat", "lon"):
            assert x == y, f.name
    assert np.allclose(a.lat, b.lat, rtol=0, atol=TOL) and np.allclose(a.lon, b.lon, rtol=0, atol=TOL)


class Run:
    """Two engines fed the same passings: one incremental, one from scratch every tick."""

    def __init__(self, race: Race, model: object | None = None) -> None:
        self.inc = LiveEngine(race, None, model)  # type: ignore[arg-type]
        self.full = LiveEngine(race, None, model)  # type: ignore[arg-type]
        self.full.tick.incremental = False
        self.seen = {"new": 0, "knee": 0, "near": 0, "carried": 0, "ticks": 0, "rates": 0, "unsure": 0}
        self._rate = 0.0
        self._knee_before: np.ndarray | None = None

    def step(self, times: np.ndarray, pursuer: np.ndarray, guns: dict[str, float], now: float) -> Snapshot:
        for e in (self.inc, self.full):
            new = ~np.isnan(times) & np.isnan(e.times)
            e.times[new] = times[new]  # as load() fills them: in place, by timing point
            e.pursuer_times = pursuer.copy()
            e.guns = dict(guns)
        a, b = self.inc.compute(now), self.full.compute(now)
        agree(a, b)
        rows, full = self.inc.tick.rows, self.full.tick.rows
        for name in ("_mean", "_var"):  # the count's sums by pen and node, by differences or anew
            assert np.allclose(getattr(rows, name), getattr(full, name), rtol=0.0, atol=TOL), name
        self.seen["ticks"] += 1
        new_reads = self.inc.tick.used.new_reads
        self.seen["new"] += int(new_reads.any() and not new_reads.all())  # some runners, not everyone
        self.seen["near"] += int(((a.win_probability > 1e-3) & (a.win_probability < 1 - 1e-3)).sum())
        self.seen["carried"] += int(rows.recomputed < len(times))
        assert rows.rate == full.rate  # the race's, from the same passings
        self.seen["rates"] += int(rows.rate != self._rate)  # a new stop rate: every open runner's chance moves
        self._rate = rows.rate
        # runners near the line or sure to win if they finish whose chance to finish is not 1
        unsure = finish_chance(rows.rate, rows.fractions[rows._split], rows.distance) < 0.999
        self.seen["unsure"] += int((unsure & (rows._near | rows._sure)).sum())
        knee = rows._inputs[:, 1] > U_FLOOR
        if self._knee_before is not None:
            self.seen["knee"] += int((knee & ~self._knee_before).sum())
        self._knee_before = knee
        return a


def test_a_whole_simulated_race_ticks_the_same_incrementally(tmp_path):
    """600 runners on the J-1000 from before the first gun to after the pursuer's finish, every 15 s,
    with spoiled reads (holes, too fast, late), runners who stop (after 1,930 m or 4,271 m: the race's
    stop rate is learned, and moves, tick after tick) and runners put out by hand on the way."""
    race = race_with_runners(600, tmp_path / "race")
    run = Run(race)
    rng = np.random.default_rng(5)
    n, at_m = len(run.inc.bibs), run.inc.at_m
    t0 = 1_700_000_000.0
    pens = run.inc.runner_pen_index
    starts = t0 + pens * 300.0 + rng.uniform(0, 60, n)
    pace = rng.uniform(2.0, 5.5, n)
    fade = 1.0 + rng.uniform(-0.05, 0.15, n)[:, None] * (at_m / at_m[-1])[None, :]
    truth = starts[:, None] + at_m[None, :] / pace[:, None] * fade
    spoil = rng.random(truth.shape)
    truth[spoil < 0.05] = np.nan  # a mat that missed him
    truth[(spoil > 0.97) & (spoil < 0.985)] -= 200.0  # a read too fast
    truth[rng.random(n) < 0.03, 3:] = np.nan  # dropouts
    guns = {f"pen:{p.id}": t0 + i * 300.0 for i, p in enumerate(race.pens)} | {"pursuer": t0 + 1140}
    p_truth = t0 + 1140 + at_m * 0.173
    out = rng.choice(n, 12, replace=False)
    truth[rng.random(n) < 0.03, 5:] = np.nan  # dropouts later on: after 4,271 m
    for k, now in enumerate(np.arange(t0 - 60, t0 + 2400, 15.0)):
        if k == 70:
            for e in (run.inc, run.full):
                e.manual_status[out] = DNF
        snap = run.step(np.where(truth <= now, truth, np.nan), np.where(p_truth <= now, p_truth, np.nan), guns, now)
    assert snap.pursuer.finish is not None and snap.counts["won"] > 0 and snap.counts["caught"] > 0
    seen = run.seen
    assert seen["new"] > 50 and seen["knee"] > 100 and seen["near"] > 1000 and seen["carried"] > 0.8 * seen["ticks"]
    assert seen["rates"] > 20 and seen["unsure"] > 1000


@pytest.fixture(scope="module")
def berlin(tmp_path_factory) -> tuple[ChaseReplay, np.ndarray, np.ndarray]:
    files = RaceFiles.load(BERLIN_2017)
    chase = chase_field(files.results, files.winner_bib(), 5880.0, runners=1200, wire=False)
    model = default_model()
    race = write_race(
        chase, tmp_path_factory.mktemp("berlin"), GUN, "berlin",
        pursuer_finish_s=model.reference_finish_s * float(chase.at_m[-1]) / MARATHON_M,
    )  # fmt: skip
    replay = ChaseReplay(race, chase.elapsed_s, chase.pursuer_row, 5880.0, GUN, model, files.name)
    return replay, replay.runner_times, replay.pursuer_times


def test_a_berlin_replay_ticks_the_same_incrementally(berlin):
    """1,200 of Berlin 2017's runners from the gun to the pursuer's finish, every 120 s (the race's
    slowing learned live moves everyone's forecast at times), then 30 ticks a second apart."""
    replay, times, pursuer = berlin
    run = Run(replay.race, replay.engine.model)
    guns = replay.engine.guns
    end = float(pursuer[-1]) + 120
    moments = [*np.arange(GUN, end, 120.0), *(GUN + replay.moment_at(0.6) + np.arange(30.0))]
    for now in sorted(moments):
        run.step(np.where(times <= now, times, np.nan), np.where(pursuer <= now, pursuer, np.nan), guns, now)
    seen = run.seen
    assert seen["new"] > 20 and seen["knee"] > 100 and seen["near"] > 1000 and seen["carried"] > 10
