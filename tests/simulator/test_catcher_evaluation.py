"""``pursuit evaluate --catcher-car``: real splits under the World Run's car — the true catches from
the splits, runners stopping there, and the milestone forecast scored against them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from live.race.schedule import WINGS_FOR_LIFE
from simulator.catcher_evaluation import catcher_field, catcher_table, evaluate_catcher_race, true_catches
from simulator.evaluation import RaceFiles

DATA = Path(__file__).resolve().parents[2] / "data" / "results"


def test_true_catch_of_even_runners():
    at = np.array([5000.0, 10000, 15000, 20000])
    # 10 km/h from the gun: the car (15 km/h from 1800 s) meets him at 15 km (at 5400 s); 20 km/h: never
    elapsed = np.vstack([at / (10 / 3.6), at / (20 / 3.6)])
    got = true_catches(at, elapsed, 1800.0)
    assert got[0] == pytest.approx(15000.0, abs=0.01) and np.isinf(got[1])
    assert float(WINGS_FOR_LIFE.elapsed_at(got[0])) + 1800 == pytest.approx(got[0] / (10 / 3.6), abs=0.01)


@pytest.fixture(scope="module")
def berlin_women():
    return RaceFiles.load([DATA / "berlin_marathon_2017_W.csv"])


def test_runners_stop_where_the_car_passes_them(berlin_women):
    field, catches = catcher_field(berlin_women, 1800.0)
    assert field.bibs[field.pursuer_row] == "CAR" and np.isnan(field.elapsed_s[field.pursuer_row]).all()
    runners = field.elapsed_s[:-1]
    assert len(catches) == len(runners) and np.all(np.isnan(runners[field.at_m[None, :] > catches[:, None]]))
    assert 0.5 < np.mean(np.isfinite(catches)) < 1.0  # most women caught within the marathon, not all


def test_milestone_counts_are_scored_against_the_car(berlin_women):
    scores = evaluate_catcher_race(berlin_women, [0.5, 2.0])
    _, catches = catcher_field(berlin_women, 1800.0)
    for s in scores:
        assert s.truth == int(np.count_nonzero(catches > s.at_m))
        assert s.low <= s.expected <= s.high
    late = [s for s in scores if s.hours == 2.0]
    assert all(s.passed and abs(s.error_pct) < 1.0 for s in late)  # the car is past 30 km at 2 h: counted
    early = [s for s in scores if s.hours == 0.5]
    assert not any(s.passed for s in early) and all(abs(s.error_pct) < 60 for s in early)
    table = catcher_table(scores)
    assert "| berlin-marathon-2017 | 0.5 h |" in table and "band (80%) held the truth" in table
