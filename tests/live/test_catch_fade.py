"""The catcher-car forecast's time to a distance inside a marathon (live/forecast/catch_forecast.py,
:func:`split_fade`): the usual slowing of the segments on the way, not a marathon's whole fade."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from live.forecast.catch_forecast import split_fade
from live.forecast.model import default_model
from live.forecast.results import load_results

DATA = Path(__file__).resolve().parents[2] / "data" / "results"


def test_the_time_to_a_split_is_the_segments_fade_on_the_way():
    """Berlin 2017's men read at 15 km: their mean log(time to 21.1 / 30 km over their even pace so
    far) is what the segments to there add, within 0.005 (a marathon's finish rows, asked for a
    course ending at 30 km, said about +0.046 for Berlin's women against +0.025); nothing is added
    to reach where he is, and further costs more."""
    model = default_model()
    results = load_results([DATA / "berlin_marathon_2017_M.csv"]).finishers()
    e, at = results.elapsed_s, results.at_m
    i15 = int(np.flatnonzero(at == 15000.0)[0])
    for target in (21097.5, 30000.0):
        j = int(np.flatnonzero(np.isclose(at, target))[0])
        ok = np.isfinite(e[:, i15]) & np.isfinite(e[:, j])
        pace = e[ok, i15] / 15000.0
        observed = np.log(e[ok, j] / (pace * target))
        predicted = split_fade(model, pace, np.full(len(pace), 15000.0), np.array([target]))[:, 0]
        assert float(predicted.mean()) == pytest.approx(float(observed.mean()), abs=0.005)
    pace = np.array([0.25, 0.34, 0.45])  # 2:56, 3:59, 5:16 marathons
    fade = split_fade(model, pace, np.full(3, 15000.0), np.array([15000.0, 21097.5, 30000.0, 42195.0]))
    assert fade[:, 0] == pytest.approx(0.0)
    assert (np.diff(fade, axis=1) > 0).all()
