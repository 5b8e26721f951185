"""Win probabilities: every runner's predictive distribution of his finish against the pursuer's.

A runner at his last timing point has run ``elapsed_s`` over a fraction ``f`` of the course; his
even-pace projection is ``E = elapsed_s / f``. The model gives the distribution of
``log(finish / E)`` from where he is (the fraction reached), how fast he is (pace level), whether
his last segment was slower than his average (trend) and how long ago he was last read against how
long the next segment should take (a runner not read for a while is slower than his average says),
plus what this race's conditions add on the course he has left: on each segment, how much more
(or less) than usual the runners who already ran it slowed, learned live (:mod:`live.forecast.race_conditions`),
weighted by the segment's share of the course. What the passings say of each runner is
:mod:`live.forecast.runner_state`; the fitted model, :mod:`live.forecast.model`.
The shape of that distribution (skewed: runners fade more often than they speed up) is kept as an
empirical table of standardised residuals, not assumed normal, one per pace band: how often a
runner beats his projection by a wide margin depends on his pace (in units of his spread, the
slower the runner, the heavier his speed-up tail), and one table for all, dominated by the many
slow runners, would lend their tail to the runners near the line, who need exactly that tail to
win.

The pursuer's own finish is uncertain too and common to every runner: a heavy-tailed (Student t)
distribution around his planned finish, or around a projection from his splits once he has some.
A runner's win probability is the chance his finish comes first, averaged over the pursuer's
distribution and over a race-wide shift (heat, wind: every runner's remaining time moves the same
way); the forecast count of winners is the sum of the probabilities, and its band comes from the same
mixture (the common terms, plus the runners' own independent spread).

The coefficients are fitted offline on real marathons (:mod:`live.forecast.fit`, ``pursuit fit``)
and shipped as ``live/forecast/model.json``; nothing here reads a finish time that is not yet known.
"""

from __future__ import annotations

import numpy as np

from live.forecast.distributions import (
    COVERAGE,
    DECIDED,
    PursuerForecast,
    WinForecast,
    distance_factor,
    median_finish_s,
    pursuer_band_z,
    runner_distributions,
    shift_nodes,
    win_cdf,
)
from live.forecast.model import ForecastModel
from live.forecast.win_rows import ForecastRows


def pursuer_forecast(
    model: ForecastModel,
    elapsed_s: np.ndarray,
    at_m: np.ndarray,
    start: float,
    planned_finish_s: float,
    now: float,
) -> PursuerForecast:
    """The pursuer's finish distribution from his passings (durations since his gun) and his plan.

    Before his first split: around his plan, heavy-tailed. After: his even-pace projection, moved
    by what elite runners at the same point with the same pace against plan did (a slow first half
    tends to be followed by a faster second), with a Student t spread that narrows as he nears the
    finish."""
    distance = float(at_m[-1])
    kappa = distance_factor(distance)
    t = model.pursuer_quantiles
    with np.errstate(invalid="ignore"):
        read = ~np.isnan(elapsed_s) & (at_m > 0) & (elapsed_s > 0)  # a read before his gun: not his pace
    if read[-1]:
        f = start + float(elapsed_s[-1])
        return PursuerForecast(np.array([f]), f, f, f, f, "finished")
    if not read.any():
        centre, scale, basis = np.log(planned_finish_s), model.pursuer_prior_scale * kappa, "plan"
        planned = start + planned_finish_s
    else:
        j = int(np.flatnonzero(read)[-1])
        frac = at_m[j] / distance
        e = float(elapsed_s[j]) / frac
        row = int(np.abs(model.fractions - frac).argmin())
        a, b = model.pursuer_coef[row]
        centre = np.log(e) + (a + b * np.log(e / planned_finish_s)) * kappa
        scale, basis = float(model.pursuer_scale[row]) * kappa, "splits"
        planned = start + float(elapsed_s[j]) + planned_finish_s * (1.0 - frac)
    nodes = start + np.exp(centre + scale * t)
    # the pursuer cannot finish before now: nodes in the past are moved to now
    nodes = np.maximum(nodes, now)
    z_band = pursuer_band_z(model)
    low, high = (max(start + float(np.exp(centre + scale * z)), now) for z in z_band)
    return PursuerForecast(nodes, max(start + float(np.exp(centre)), now), low, high, max(planned, now), basis)


def forecast(
    model: ForecastModel,
    elapsed_s: np.ndarray,
    at_m: np.ndarray,
    start: np.ndarray,
    since_s: np.ndarray,
    prior_finish_s: np.ndarray,
    settled: np.ndarray,
    pursuer: PursuerForecast,
    groups: np.ndarray,
    n_groups: int,
    last_read: np.ndarray | None = None,
) -> WinForecast:
    """Every runner's chance to beat the pursuer, and the count of winners with its band.

    ``start`` (n,): each runner's start (unix); ``settled`` (n,): 1.0 for a runner who has won, 0.0
    for one caught, out (DNF, DQ) or otherwise decided, nan for one still open; ``groups`` (n,) in
    0..n_groups-1 (pens)."""
    rows = ForecastRows(model, at_m, groups, n_groups)
    return rows.update(elapsed_s, start, since_s, prior_finish_s, settled, pursuer, last_read)


# the forecast's public names, wherever they live
__all__ = [
    "COVERAGE",
    "DECIDED",
    "PursuerForecast",
    "WinForecast",
    "distance_factor",
    "forecast",
    "median_finish_s",
    "pursuer_band_z",
    "pursuer_forecast",
    "runner_distributions",
    "shift_nodes",
    "win_cdf",
]
