"""Win probabilities and the forecast count (live/forecast/forecast.py): the maths on hand-built fields,
the fit, and that ``pursuit evaluate`` sees neither more nor less than the live engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from live.forecast.fit import RaceSplits, fit
from live.forecast.forecast import (
    COVERAGE,
    PursuerForecast,
    distance_factor,
    forecast,
    median_finish_s,
    pursuer_forecast,
    runner_distributions,
)
from live.forecast.model import default_model
from live.forecast.race_conditions import segment_expected
from live.forecast.runner_state import runner_state
from tests.helpers.forecast import MARATHON, fixed_pursuer

DATA = Path(__file__).resolve().parents[2] / "data" / "results"


def one_runner(elapsed_at_last: float, last: int, now: float, pursuer: PursuerForecast, race_shift: bool = True):
    """A runner even-paced to split ``last`` (elapsed there), started at 0."""
    model = default_model()
    if not race_shift:
        model = type(model)(**{**model.__dict__, "race_shift_sd": np.zeros(len(model.fractions))})
    elapsed = np.full((1, len(MARATHON)), np.nan)
    elapsed[0, : last + 1] = elapsed_at_last * MARATHON[: last + 1] / MARATHON[last]
    return forecast(
        model, elapsed, MARATHON, np.zeros(1), np.array([now - elapsed_at_last]), np.array([14400.0]),
        np.array([np.nan]), pursuer, np.zeros(1, dtype=int), 1,
    )  # fmt: skip


def median_of(elapsed_at_last: float, last: int) -> float:
    """The model's median finish for a runner even-paced to split ``last``, read just now."""
    model = default_model()
    elapsed = np.where(np.arange(10) <= last, elapsed_at_last * MARATHON / MARATHON[last], np.nan)[None, :]
    state = runner_state(elapsed, MARATHON, np.array([1.0]), np.array([np.nan]))
    return float(median_finish_s(model, state, runner_distributions(model, state, MARATHON[-1]))[0])


def test_a_runner_exactly_on_the_pursuers_finish_is_near_even():
    """A runner whose predicted median finish equals the pursuer's: about 50 %."""
    elapsed = 12000.0 * MARATHON[8] / MARATHON[-1]
    w = one_runner(elapsed, 8, elapsed + 1.0, fixed_pursuer(median_of(elapsed, 8)), race_shift=False)
    assert w.win_probability[0] == pytest.approx(0.5, abs=0.02)


def test_the_spread_shrinks_as_the_finish_nears():
    """Predicted 2 % ahead of the pursuer: a surer thing at 40 km than at 10 km."""
    at_10k, at_40k = 3300.0, 13000.0
    far = one_runner(at_10k, 1, at_10k + 1.0, fixed_pursuer(1.02 * median_of(at_10k, 1)), race_shift=False)
    near = one_runner(at_40k, 8, at_40k + 1.0, fixed_pursuer(1.02 * median_of(at_40k, 8)), race_shift=False)
    assert 0.5 < far.win_probability[0] < near.win_probability[0] < 1.0


def test_the_count_is_the_sum_of_the_probabilities_with_a_band_around_it():
    model = default_model()
    rng = np.random.default_rng(4)
    n = 2000
    finish = rng.uniform(9000, 20000, n)
    last = 5  # everyone read at 25 km
    elapsed = np.where(np.arange(10)[None, :] <= last, finish[:, None] * MARATHON[None, :] / MARATHON[-1], np.nan)
    now = float(np.max(elapsed[:, last])) + 10.0
    since = now - elapsed[:, last]
    pursuer = pursuer_forecast(model, MARATHON * np.nan, MARATHON, 5880.0, 7400.0, now)
    w = forecast(
        model, elapsed, MARATHON, np.zeros(n), since, np.full(n, 14400.0), np.full(n, np.nan), pursuer,
        (np.arange(n) % 2).astype(int), 2,
    )  # fmt: skip
    assert w.expected == pytest.approx(float(w.win_probability.sum()), rel=1e-5)
    assert w.low <= w.expected <= w.high and w.coverage == COVERAGE
    assert w.by_group[:, 0].sum() == pytest.approx(w.expected, rel=1e-6)
    assert np.all(np.diff(w.win_probability[np.argsort(finish)]) <= 1e-12), "faster runners are likelier"


def test_settled_runners_count_as_they_stand():
    model = default_model()
    elapsed = np.full((3, 10), np.nan)
    pursuer = fixed_pursuer(13000.0)
    w = forecast(
        model, elapsed, MARATHON, np.zeros(3), np.zeros(3), np.full(3, 14400.0), np.array([1.0, 0.0, np.nan]),
        pursuer, np.zeros(3, dtype=int), 1,
    )  # fmt: skip
    assert w.win_probability[0] == 1.0 and w.win_probability[1] == 0.0
    assert 0.0 < w.win_probability[2] < 0.5, "a 4-hour declared time against a 3:37 pursuer"


def test_the_pursuer_is_heavy_tailed_around_his_plan_then_his_splits():
    model = default_model()
    none = np.full(10, np.nan)
    plan = pursuer_forecast(model, none, MARATHON, 0.0, 7400.0, 0.0)
    assert plan.basis == "plan" and plan.median == pytest.approx(7400.0)
    assert plan.low < 7400.0 < plan.high
    t = model.pursuer_quantiles
    levels = (np.arange(len(t)) + 0.5) / len(t)
    q75, q95 = np.interp([0.75, 0.95], levels, t)
    assert q95 / q75 > 1.645 / 0.6745, "heavier tails than a normal of the same interquartile range"
    halfway = np.where(np.arange(10) <= 4, 3700.0 * MARATHON / MARATHON[4], np.nan)
    split = pursuer_forecast(model, halfway, MARATHON, 0.0, 7400.0, 3800.0)
    assert split.basis == "splits" and split.high - split.low < plan.high - plan.low
    done = pursuer_forecast(model, np.append(halfway[:-1], 7390.0), MARATHON, 0.0, 7400.0, 7400.0)
    assert done.basis == "finished" and done.median == 7390.0


def test_a_short_course_is_given_less_fade_and_spread_than_a_marathon():
    assert distance_factor(42195.0) == 1.0
    assert distance_factor(5000.0) == pytest.approx((5000 / 42195) ** 0.5)


def test_fit_recovers_a_field_that_fades_evenly():
    """Runners who all slow by 10 % after halfway: the fitted mean at halfway says so."""
    rng = np.random.default_rng(1)

    def race(name: str) -> RaceSplits:
        pace = rng.uniform(0.17, 0.4, 3000)  # s/m
        d = MARATHON
        e = np.where(d <= 21097.5, pace[:, None] * d, pace[:, None] * (21097.5 + 1.1 * (d - 21097.5)))
        e = e * np.exp(rng.normal(0, 0.002, e.shape))
        e[0] = 0.15 * d  # the winner
        return RaceSplits(name, MARATHON, e, 0)

    model = fit([race("a"), race("b")])
    half = 4
    # an even runner at halfway: E = 2 x his half; true finish = half + 1.1 x half
    assert model.coef[half, 0] + model.coef[half, 1] * 0 == pytest.approx(np.log(1.05), abs=0.01)
    assert model.trained_on == ("a", "b")


def test_a_field_with_nobody_near_the_line_still_has_a_forecast():
    """Everyone far ahead or far behind: no runner needs the node grid, the count is exact."""
    model = default_model()
    elapsed = np.full((2, 10), np.nan)
    elapsed[:, :9] = np.array([[8000.0], [30000.0]]) * MARATHON[:9] / MARATHON[-1]
    w = forecast(
        model, elapsed, MARATHON, np.zeros(2), np.ones(2), np.full(2, 14400.0), np.full(2, np.nan),
        fixed_pursuer(14000.0), np.zeros(2, dtype=int), 1,
    )  # fmt: skip
    assert list(w.win_probability) == [1.0, 0.0] and w.expected == pytest.approx(1.0) and (w.low, w.high) == (1, 1)


def test_reads_before_a_gun_entered_late_never_make_a_nan():
    """Race control enters a pen's gun (or the pursuer's) after his first reads, with no start-mat
    read: the elapsed times are negative. The forecast falls back on the prior, and every number is
    finite (an API answer or a tick must never fail on it)."""
    model = default_model()
    elapsed = np.full((3, 10), np.nan)
    elapsed[0, :3] = [-200.0, 100.0, 1500.0]  # first read before the gun
    elapsed[1, :2] = [-300.0, -10.0]  # every read before it
    elapsed[2, :2] = [1500.0, 3000.0]
    starts = np.array([0.0, np.nan, 0.0])
    pursuer = pursuer_forecast(model, np.array([-50.0, 400.0, *[np.nan] * 8]), MARATHON, 5880.0, 7400.0, 6500.0)
    w = forecast(
        model, elapsed, MARATHON, starts, np.ones(3), np.full(3, 14400.0), np.full(3, np.nan), pursuer,
        np.zeros(3, dtype=int), 1,
    )  # fmt: skip
    assert np.isfinite(w.win_probability).all() and np.isfinite([w.expected, w.at_plan, w.low, w.high]).all()
    assert np.isfinite(pursuer.finish_nodes).all()


def _field_through_segment(extra: float, n: int = 600) -> tuple[np.ndarray, np.ndarray]:
    """``n`` runners read at 25 and 30 km, their 25→30 km slowing ``extra`` (log) above the
    model's expectation for their pace; and each one's last read column."""
    model = default_model()
    rng = np.random.default_rng(7)
    level = rng.uniform(-0.2, 0.2, n)  # pace levels around a 4-hour marathon
    pace = np.exp(level) * 14400.0 / MARATHON[-1]  # s per m
    expected = segment_expected(model.segment_coef[5], level)
    elapsed = np.full((n, len(MARATHON)), np.nan)
    elapsed[:, :6] = pace[:, None] * MARATHON[None, :6]
    elapsed[:, 6] = elapsed[:, 5] + 5000.0 * pace * np.exp(expected + extra)
    return elapsed, np.full(n, 6)


def test_the_race_slowing_is_learned_live_from_those_who_ran_the_segment():
    """A field that slows 4 % more than usual from 25 to 30 km: the engine learns +0.04 on that
    segment, nothing on segments nobody has finished, and a runner still to run it moves later."""
    from live.forecast.race_conditions import learns_live, live_slowing

    model = default_model()
    assert learns_live(model, MARATHON) and learns_live(model, np.concatenate([[0.0], MARATHON]))
    assert not learns_live(model, np.array([1000.0, 2500.0, 5000.0]))  # a 5 km course: not a marathon's
    elapsed, last = _field_through_segment(0.04)
    slowing = live_slowing(model.segment_coef, elapsed, MARATHON, np.full(len(last), 600.0), last)
    assert slowing[5] == pytest.approx(0.04, abs=0.002)
    assert np.isnan(slowing[6:]).all()  # 30 km onwards: nobody has run them yet
    # a runner at 25 km, read just now: his median finish is later in the slow race than in a usual one
    me = np.where(np.arange(10) <= 5, 7200.0 * MARATHON / MARATHON[5], np.nan)[None, :]
    medians = []
    for extra in (0.0, 0.04):
        field, lasts = _field_through_segment(extra)
        everyone = np.vstack([field, me])
        since = np.concatenate([np.full(len(lasts), 600.0), [1.0]])
        state = runner_state(everyone, MARATHON, since, np.full(len(everyone), np.nan), None, model.segment_coef)
        medians.append(median_finish_s(model, state, runner_distributions(model, state, MARATHON[-1]))[-1])
    assert medians[1] > medians[0] * 1.002


def test_runners_who_stopped_long_ago_do_not_make_the_race_look_slow():
    """Issue 26, part 4: 40 runners read at 25 km, then never again (they dropped out), do not count
    as slowed 1.4x for ever: past STOPPED_AFTER times the segment they leave the cohort; before that,
    between 1.4x and 3x, they are still counted as slow (they may be)."""
    from live.forecast.race_conditions import live_slowing

    model = default_model()
    field, last = _field_through_segment(0.04)
    out = field[:40].copy()
    out[:, 6:] = np.nan
    elapsed = np.vstack([field, out])
    lasts = np.concatenate([last, np.full(40, 5)])
    at_25 = out[:, 5]
    segment = out[:, 5] * (5000.0 / 25000.0)  # what 25 -> 30 km takes at each one's pace
    for after, learned in ((3.5, "clean"), (2.0, "censored")):
        # the field's clock: each dropout's 25 km read plus ``after`` segments ago
        since = np.concatenate([np.full(len(last), 600.0), after * segment])
        now = at_25 + after * segment
        assert (now > at_25).all()
        slowing = live_slowing(model.segment_coef, elapsed, MARATHON, since, lasts)
        if learned == "clean":
            assert slowing[5] == pytest.approx(0.04, abs=0.003)
        else:
            assert slowing[5] > 0.04 + 0.01


def test_a_segment_is_not_judged_before_its_runners_are_due():
    """Runners read at 25 km a moment ago are not yet a cohort: nothing is learned from them."""
    from live.forecast.race_conditions import live_slowing

    model = default_model()
    elapsed, _ = _field_through_segment(0.04)
    elapsed[:, 6] = np.nan
    last = np.full(len(elapsed), 5)
    slowing = live_slowing(model.segment_coef, elapsed, MARATHON, np.full(len(last), 30.0), last)
    assert np.isnan(slowing[5])  # 25→30 km: not due yet (30 s after 25 km)
    assert np.isfinite(slowing[:4]).all()  # the segments they ran long ago are learned


def test_the_race_slowing_lengthens_a_finish_by_each_segments_share_of_the_course_left():
    """What a runner's finish is moved by: each learned segment's excess times its share of the
    course, over the segments he has still to run; an unlearned one takes the nearest earlier."""
    from live.forecast.race_conditions import live_offset

    slowing = np.full(9, np.nan)
    slowing[1], slowing[4] = 0.02, 0.05  # learned: 10→15 km and 21.1→25 km
    last = np.array([1, 6, 0, -1])  # last read at 10 km, at 30 km, at 5 km; not read
    d, half = MARATHON[-1], 21097.5
    out = live_offset(slowing, last, MARATHON)
    assert out[0] == pytest.approx(0.02 * (half - 10000) / d + 0.05 * (d - half) / d)
    assert out[1] == pytest.approx(0.05 * (d - 30000) / d)  # 30 km on: 21.1→25 km's, the nearest earlier
    assert out[2] == pytest.approx(0.02 * (half - 5000) / d + 0.05 * (d - half) / d)  # 5→10 km: the first learned
    assert out[3] == 0.0
    assert (live_offset(np.full(9, np.nan), last, MARATHON) == 0.0).all()


def test_a_runners_speed_up_tail_comes_from_his_own_pace_band():
    """Fast runners who speed up as often as they fade, slow ones who only ever fade: the fitted
    tables give the slow band a far lighter speed-up tail, and a slow runner is read with his."""
    rng = np.random.default_rng(3)

    def race(name: str) -> RaceSplits:
        fast = rng.uniform(0.20, 0.24, 3000)  # s/m: 2:21–2:49 marathons (the fastest band)
        slow = rng.uniform(0.40, 0.44, 3000)  # 4:41–5:09 (the slowest)
        pace = np.concatenate([fast, slow])
        fade = np.concatenate([rng.normal(0, 0.05, 3000), np.abs(rng.normal(0, 0.05, 3000))])
        d = MARATHON
        e = np.where(d <= 21097.5, pace[:, None] * d, pace[:, None] * (21097.5 + (1 + fade[:, None]) * (d - 21097.5)))
        e[0] = 0.15 * d  # the winner
        return RaceSplits(name, MARATHON, e, 0)

    model = fit([race("a"), race("b")])
    at = 5  # 25 km: both groups are out there at some of the moments sampled
    fast_band, slow_band = model.residual_quantiles[at, 0], model.residual_quantiles[at, -1]
    two_percent = int(np.searchsorted(model.levels, 0.02))
    assert slow_band[two_percent] > fast_band[two_percent] + 0.5
    elapsed = np.where(np.arange(10) <= at, 0.42 * MARATHON, np.nan)[None, :]
    state = runner_state(elapsed, MARATHON, np.array([1.0]), np.array([np.nan]))
    bands = model.residual_quantiles.shape[1]
    assert runner_distributions(model, state, MARATHON[-1]).row[0] == at * bands + bands - 1


def test_the_usual_slowing_of_a_segment_follows_each_pace_level_not_a_curve_through_them_all():
    """Runners under 3:10 who fade 4 % from 30 to 35 km and everyone slower who holds pace: a kink a
    quadratic cannot follow (it would leave the fastest slowing more than it says, and early in a
    chase the race's slowing is learned from them). The table follows it on both sides."""
    from live.forecast.fit import segment_curves

    rng = np.random.default_rng(3)
    level = rng.uniform(-0.55, 0.5, 20_000)
    pace = np.exp(level) * 14400.0 / MARATHON[-1]
    fade = np.where(level < np.log(11400 / 14400), 0.04, 0.0)  # a 3:10 marathon
    e = pace[:, None] * MARATHON[None, :]
    e[:, 7:] += (np.expm1(fade) * pace * 5000.0)[:, None]  # the 30→35 km segment, then even again
    table = segment_curves([RaceSplits("kink", MARATHON, e, 0)])[6]
    assert segment_expected(table, np.array([-0.55, -0.45, -0.35])) == pytest.approx(0.04, abs=0.003)
    assert segment_expected(table, np.array([-0.05, 0.05, 0.25, 0.45])) == pytest.approx(0.0, abs=0.003)


def test_a_model_file_from_before_the_segment_table_still_loads():
    """A quadratic per segment (models fitted before the table) is read onto the table's levels."""
    from live.forecast.model import SEGMENT_LEVELS

    model = default_model()
    old = model.to_dict()
    old["segment_coef"] = [[0.01, 0.02, -0.03]] * len(model.fractions)
    loaded = type(model).from_dict(old)
    x = np.array([-0.5, 0.0, 0.3])
    assert segment_expected(loaded.segment_coef[4], x) == pytest.approx(0.01 + 0.02 * x - 0.03 * x * x, abs=0.002)
    assert loaded.segment_coef.shape == (len(model.fractions), len(SEGMENT_LEVELS))
    old["segment_coef"] = [[0.01] * 5] * len(model.fractions)  # neither: said, not misread
    with pytest.raises(ValueError, match="5 values per segment.*pursuit fit"):
        type(model).from_dict(old)


def test_a_model_file_from_before_the_pace_bands_still_loads():
    model = default_model()
    old = model.to_dict()
    old["residual_quantiles"] = np.asarray(old["residual_quantiles"])[:, 2, :].tolist()
    del old["level_edges"]
    old["race_shift_sd"] = 0.026  # one for every split point, as it was
    loaded = type(model).from_dict(old)
    assert loaded.residual_quantiles.shape == (len(model.fractions), 1, len(model.levels))
    assert (loaded.race_shift_sd == 0.026).all() and loaded.race_shift_sd.shape == model.fractions.shape
    elapsed = np.where(np.arange(10) <= 6, 9000.0 * MARATHON / MARATHON[6], np.nan)[None, :]
    state = runner_state(elapsed, MARATHON, np.array([1.0]), np.array([np.nan]))
    assert np.isfinite(median_finish_s(loaded, state, runner_distributions(loaded, state, MARATHON[-1]))).all()


def test_the_race_wide_shift_weighs_on_each_runner_by_where_he_is_and_what_is_left():
    """The common shift's sd is the model's at the runner's split point, times the course he has
    left: a runner at 35 km carries less of it than one at 10 km, and none once at the finish."""
    model = default_model()
    elapsed = np.full((2, 10), np.nan)
    elapsed[0, :2] = 3000.0 * MARATHON[:2] / MARATHON[1]  # read at 10 km
    elapsed[1, :8] = 10500.0 * MARATHON[:8] / MARATHON[7]  # read at 35 km
    state = runner_state(elapsed, MARATHON, np.ones(2), np.full(2, np.nan))
    dist = runner_distributions(model, state, MARATHON[-1])
    rows = [int(np.abs(model.fractions - f).argmin()) for f in (10000 / MARATHON[-1], 35000 / MARATHON[-1])]
    expected = model.race_shift_sd[rows] * (1.0 - np.array([10000.0, 35000.0]) / MARATHON[-1])
    assert dist.shift_sd == pytest.approx(expected)
    assert dist.shift_sd[1] < dist.shift_sd[0]


def test_the_calibration_bound_judges_only_deciles_with_enough_runners():
    from simulator.calibration_bound import worst_decile_gap

    p = np.concatenate([np.full(300, 0.55), np.full(100, 0.15)])
    won = np.concatenate([np.arange(300) < 195, np.zeros(100, dtype=bool)])  # 65 % won at 55 %; 0 % at 15 %
    assert worst_decile_gap(p, won) == pytest.approx(10.0)  # the 0.1–0.2 decile has too few to judge


def test_the_segment_fit_diagnostic_shows_what_a_quadratic_leaves_at_the_ends():
    """``python -m simulator.segment_fit`` on races whose fastest runners fade more than a curve
    through the rest says: the quadratic leaves the fastest decile's residual, the table does not."""
    from simulator.segment_fit import residuals_by_decile

    rng = np.random.default_rng(11)

    def race(name: str) -> RaceSplits:
        level = rng.uniform(-0.55, 0.5, 6000)
        pace = np.exp(level) * 14400.0 / MARATHON[-1]
        fade = np.where(level < -0.4, 0.03, 0.0)  # the fastest fade 3 % on every segment from 20 km
        seg = np.diff(np.concatenate([[0.0], MARATHON]))
        grow = np.where(MARATHON > 21097.5, np.exp(fade)[:, None], 1.0)
        e = np.cumsum(pace[:, None] * seg[None, :] * grow, axis=1)
        return RaceSplits(name, MARATHON, e * np.exp(rng.normal(0, 0.001, e.shape)), 0)

    result = residuals_by_decile([race("a"), race("b"), race("c")])
    assert np.abs(result["quadratic"][:, 0]).max() > 0.004
    assert np.abs(result["table"][:, 0]).max() < 0.002
