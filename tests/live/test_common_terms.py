"""The forecast's common terms (issue 26, part 1): the pursuer's stated interval is what it says, his
plan moves the forecast the right way, and the race shift carries small-sample uncertainty."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from live.forecast.fit import RaceSplits, fit_pursuer, race_shift_spread
from live.forecast.forecast import COVERAGE, pursuer_band_z, pursuer_forecast, shift_nodes
from live.forecast.model import default_model, node_levels, student_t_quantiles
from simulator.evaluation import RaceFiles

DATA = Path(__file__).resolve().parents[2] / "data" / "results"
RACES = ("berlin_marathon_2014", "berlin_marathon_2017", "chicago_marathon_2014", "chicago_marathon_2016",
         "chicago_marathon_2017", "london_marathon_2014", "london_marathon_2015", "london_marathon_2016")  # fmt: skip
AT = np.array([5000, 10000, 15000, 20000, 21097.5, 25000, 30000, 35000, 40000, 42195.0])


def test_student_t_quantiles_are_the_known_ones() -> None:
    # tables: t3 0.9 → 1.638, t5 0.9 → 1.476, t6 0.975 → 2.447; a huge nu is the normal's 1.2816
    assert student_t_quantiles(3.0, (0.1, 0.9)) == pytest.approx([-1.6377, 1.6377], abs=2e-3)
    assert student_t_quantiles(5.0, (0.9,))[0] == pytest.approx(1.4759, abs=2e-3)
    assert student_t_quantiles(6.0, (0.975,))[0] == pytest.approx(2.4469, abs=3e-3)
    assert student_t_quantiles(1e6, (0.9,))[0] == pytest.approx(1.2816, abs=2e-3)
    assert list(node_levels(10)) == pytest.approx([0.05 + 0.1 * k for k in range(10)])


def test_the_pursuers_band_is_his_t_at_the_stated_level_not_the_nodes_at_k_over_k_plus_one() -> None:
    model = default_model()
    z = pursuer_band_z(model)
    assert z == pytest.approx(student_t_quantiles(model.pursuer_nu, (0.1, 0.9)), abs=1e-9)
    # the levels the nodes stand for: (k + ½)/K; read at k/(K + 1) the "80 %" band was about 89 %
    k = len(model.pursuer_quantiles)
    assert model.pursuer_quantiles == pytest.approx(
        student_t_quantiles(model.pursuer_nu, tuple(node_levels(k).tolist())), abs=2e-3
    )
    none = np.full(10, np.nan)
    plan = pursuer_forecast(model, none, AT, 0.0, 7400.0, 0.0)
    expect = 7400.0 * np.exp(model.pursuer_prior_scale * z)
    assert (plan.low, plan.high) == pytest.approx(tuple(expect), rel=1e-9)


def test_race_shift_spread_is_small_sample_corrected_and_t_distributed() -> None:
    shifts = np.array([[0.01], [-0.02], [0.015], [0.0], [-0.005], [0.03], [-0.01]])
    scale, nu = race_shift_spread(shifts)
    assert nu == 6.0
    assert scale[0] == pytest.approx(np.std(shifts, ddof=1) * np.sqrt(1 + 1 / 7))
    assert scale[0] > np.std(shifts) * 1.1, "more than the population sd of seven races"
    z, w = shift_nodes(nu)
    assert w.sum() == pytest.approx(1.0) and float(w @ z) == pytest.approx(0.0, abs=1e-6)
    assert float(w @ z**2) == pytest.approx(6.0 / 4.0), "the nodes carry the t's variance"
    gh, _ = shift_nodes(0.0)
    assert z.max() > gh.max(), "heavier-tailed than the normal's nodes"
    scale2, nu2 = race_shift_spread(shifts[:2])
    assert nu2 == 0.0 and scale2[0] == 0.02


def _on_pace(finish_s: float, upto_m: float) -> np.ndarray:
    return np.where(AT <= upto_m, finish_s * AT / AT[-1], np.nan)


@pytest.mark.parametrize("plan_s", [7380.0, 7800.0, 8400.0])  # 2:03, 2:10, 2:20
def test_a_pursuer_on_his_own_plan_is_not_pulled_to_the_reference_winner(plan_s: float) -> None:
    """The slope acts on log(projection / his plan): on plan, his forecast is his plan times the
    fitted mean ratio, whatever the plan; a 2:20 pursuer is not expected to speed up to a 2:05."""
    model = default_model()
    f = pursuer_forecast(model, _on_pace(plan_s, 21097.5), AT, 0.0, plan_s, plan_s / 2)
    a = model.pursuer_coef[4, 0]
    assert f.basis == "splits" and f.median == pytest.approx(plan_s * np.exp(a), rel=1e-9)
    assert f.low < plan_s * np.exp(a) < f.high


def test_with_the_same_splits_a_faster_plan_means_an_earlier_pursuer_and_fewer_winners() -> None:
    """Splits on a 2:10 pace to halfway: a 2:03 plan says he is behind it and will speed up, a 2:20
    plan that he is ahead and will slow; the forecast moves that way, and more at 25 % than at 75 %."""
    model = default_model()
    medians = {}
    for upto in (10000.0, 30000.0):
        seen = _on_pace(7800.0, upto)
        now = float(np.nanmax(seen))
        medians[upto] = [pursuer_forecast(model, seen, AT, 0.0, p, now).median for p in (7380.0, 7800.0, 8400.0)]
        assert medians[upto][0] < medians[upto][1] < medians[upto][2]
    assert medians[10000.0][2] - medians[10000.0][0] > medians[30000.0][2] - medians[30000.0][0]


@pytest.mark.timeout(600)
def test_the_pursuers_stated_interval_holds_the_winners_finish_as_often_as_it_says() -> None:
    """Leave-one-race-out over the eight winners at 25, 50 and 75 % of their race: the 80 % interval
    holds the true finish in a share of the 24 cases within binomial noise of 80 % (and each winner's
    own term never saw his race)."""
    winners = []
    for name in RACES:
        r = RaceFiles.load(sorted(DATA.glob(f"{name}_*"))).splits()
        top = np.argsort(r.elapsed_s[:, -1])[:5]
        winners.append(RaceSplits(r.name, r.at_m, r.elapsed_s[top], 0))
    base = default_model()
    held = 0
    cases = 0
    for i, race in enumerate(winners):
        train = [w for j, w in enumerate(winners) if j != i]
        reference = float(np.mean([w.elapsed_s[0, -1] for w in train]))
        coef, scale, nu = fit_pursuer(train, reference)
        assert nu == 5.0  # seven winners, two coefficients
        model = dataclasses.replace(
            base, pursuer_coef=coef, pursuer_scale=scale, pursuer_nu=nu, reference_finish_s=reference,
            pursuer_quantiles=student_t_quantiles(nu, tuple(node_levels(10).tolist())),
        )  # fmt: skip
        e = race.elapsed_s[0]
        for fraction in (0.25, 0.5, 0.75):
            seen = np.where(race.at_m <= fraction * race.at_m[-1] + 1e-6, e, np.nan)
            f = pursuer_forecast(model, seen, race.at_m, 0.0, reference, float(np.nanmax(seen)))
            held += int(f.low <= e[-1] <= f.high)
            cases += 1
    # 24 cases at 80 %: mean 19.2, sd 1.96; two sd either way
    assert cases == 24 and 15 <= held <= 23, f"{held} of 24 held, stated {COVERAGE:.0%}"
