"""Runners who will stop (live/forecast/dropouts.py, issue 26 part 4): the race's stop rate learned
live from the runners who have stopped, and the forecast counting only those who can finish."""

from __future__ import annotations

import numpy as np
import pytest

from live.forecast.dropouts import PRIOR_RUNNERS, finish_chance, stop_rate
from live.forecast.forecast import forecast
from live.forecast.model import default_model
from tests.live.test_forecast import MARATHON, fixed_pursuer


def field(n: int, stop_share: float, now_s: float, seed: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` even-paced runners (3:00–5:00 marathons) seen at ``now_s`` after their start, a share
    ``stop_share`` of them stopping after a split drawn at random (never the finish); durations since
    each one's start, each one's time since his last read, and who stops."""
    rng = np.random.default_rng(seed)
    pace = rng.uniform(10800.0, 18000.0, n) / MARATHON[-1]
    full = pace[:, None] * MARATHON[None, :]
    stops = rng.random(n) < stop_share
    after = rng.integers(0, len(MARATHON) - 1, n)
    full[stops] = np.where(np.arange(len(MARATHON))[None, :] > after[stops, None], np.nan, full[stops])
    elapsed = np.where(full <= now_s, full, np.nan)
    last = np.nanmax(np.where(np.isnan(elapsed), -np.inf, elapsed), axis=1)
    return elapsed, now_s - np.where(np.isfinite(last), last, 0.0), stops


def test_the_stop_rate_is_learned_from_runners_not_read_again_and_is_zero_without_stops():
    """30,000 runners, 3 % of them stopping after a random split, seen 3:20 into the race: the
    rate learned per metre, over the segments judged by then, is the true one on those segments
    (one stop per segment in 300 runners) within its noise; with no stops it is exactly 0."""
    elapsed, since, _ = field(30000, 0.03, 12000.0)
    rate = stop_rate(elapsed, MARATHON, since)
    per_segment = 0.03 / (len(MARATHON) - 1)
    # the segments judged by 3:20 are the first four (5 to 21.1 km, 16.1 km in all) for most runners
    true_rate = 4 * per_segment / (MARATHON[4] - MARATHON[0])
    assert rate == pytest.approx(true_rate, rel=0.25)
    clean, since_clean, _ = field(30000, 0.0, 12000.0)
    assert stop_rate(clean, MARATHON, since_clean) == 0.0
    assert (finish_chance(0.0, np.array([0.0, 0.5, 1.0]), MARATHON[-1]) == 1.0).all()


def test_a_stop_rate_needs_the_stops_to_be_due_and_a_mat_down_is_not_a_stop():
    """Runners read at 25 km a minute ago are not stops yet; a segment where nobody is read at its
    end (its mat down) says nothing; one read further on past a mat that missed him is no stop; and
    a handful of stops in a small field is shrunk towards none (PRIOR_RUNNERS)."""
    n = 1000
    pace = np.linspace(0.26, 0.40, n)
    elapsed = pace[:, None] * MARATHON[None, :]
    elapsed[:, 6:] = np.nan  # everyone read at 25 km and not since
    just_now = np.full(n, 60.0)
    assert stop_rate(elapsed, MARATHON, just_now) == 0.0  # not due: not judged
    long_ago = pace * 5000.0 * 4.0  # four times the 25 -> 30 km segment since: due, but all of them
    assert stop_rate(elapsed, MARATHON, long_ago) == 0.0  # the 30 km mat is down
    missed = pace[:, None] * MARATHON[None, :]
    missed[:10, 6] = np.nan  # the 30 km mat missed ten, read at 35 km
    missed[:, 8:] = np.nan
    since = pace * 5000.0 * 4.0
    assert stop_rate(missed, MARATHON, since) == 0.0
    missed[10:20, 7:] = np.nan  # ten others stopped after 30 km, long ago
    since[10:20] = pace[10:20] * 5000.0 * 9.0
    judged_m = n * (MARATHON[7] - MARATHON[6]) + n * (MARATHON[6] - MARATHON[0])  # 30 -> 35 km, and 5 -> 30
    assert stop_rate(missed, MARATHON, since) == pytest.approx(10 / (judged_m + PRIOR_RUNNERS * MARATHON[-1]), rel=0.05)


def test_the_forecast_counts_only_those_who_can_finish():
    """A field where runners have been stopping: every open runner's chance is his chance of beating
    the pursuer times his chance to finish at the race's stop rate over the course he has left
    (one sure to win if he finishes included), and the count is their sum; with no stops, the
    forecast is the one it was."""
    model = default_model()
    now = 9000.0
    pursuer = fixed_pursuer(13500.0)  # runners who can finish under 3:45 win

    def run(stop_share: float) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
        elapsed, since, stops = field(4000, stop_share, now, seed=11)
        n = len(elapsed)
        w = forecast(
            model, elapsed, MARATHON, np.zeros(n), since, np.full(n, 14400.0), np.full(n, np.nan), pursuer,
            np.zeros(n, dtype=int), 1,
        )  # fmt: skip
        rate = stop_rate(elapsed, MARATHON, since)
        has = ~np.isnan(elapsed)
        last = np.where(has.any(axis=1), len(MARATHON) - 1 - np.argmax(has[:, ::-1], axis=1), 0)
        chance = finish_chance(rate, MARATHON[last] / MARATHON[-1], MARATHON[-1])
        return w.win_probability, chance, w.expected, stops

    p_clean, chance_clean, expected_clean, _ = run(0.0)
    assert (chance_clean == 1.0).all()
    p, chance, expected, stops = run(0.10)
    assert chance.min() < 0.97  # the rate is learned: those far from the finish are less likely to get there
    sure = p_clean > 0.999
    assert sure.sum() > 100
    # the same runners (the draw of paces is the same): those who did not stop carry their chance to finish
    going = ~stops
    both = going & sure
    assert (p[both] <= chance[both] + 1e-6).all() and (p[both] > chance[both] - 0.01).all()
    near = going & (p_clean > 0.05) & (p_clean < 0.95)
    assert (p[near] < p_clean[near]).all()
    assert expected == pytest.approx(float(p.sum()), rel=1e-4)
    assert expected < expected_clean
