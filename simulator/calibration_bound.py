"""How close to calibrated, race by race, the forecast could be: ``python -m simulator.calibration_bound``.

Issue 12 asks that, at the pursuer's halfway, every decile of win probability holding 200 runners
or more be won within 5 points of its mean probability, in every race. Within one race every
runner shares the race's conditions and its pursuer, so a race whose count is off moves all its
middle deciles together. This measures what is left when those common terms are given away: for
each of the eight races (each scored by a model fitted on the seven others), the worst decile's
gap (a) as forecast, and (b) with the pursuer's true finish, no race-wide spread, and every
runner's mean moved by the one common shift (per unit of course left) that makes the count exact.
If (b) is still above 5 points, no better estimate of the race's conditions alone meets it.
(c) Then also every runner's spread multiplied by the one factor (of ``SPREADS``) that suits the race
best: what is left once a race's own dispersion is given too. Last, the dispersion the race shows
live at that moment (the median over the segments learned of the interquartile range of the
excess slowing of :func:`live.forecast.race_conditions.segment_excess`): whether the factor (c) wants could be
read from it.

The forecast here is :func:`live.forecast.forecast.forecast` on the splits directly (no engine, no Redis),
the way :mod:`live.forecast.fit` samples races; it agrees with ``pursuit evaluate`` within 0.1 %
of the count. About five minutes.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from live.forecast import forecast as fc
from live.forecast import win_rows
from live.forecast.distributions import PursuerForecast, RunnerDistributions, WinForecast
from live.forecast.fit import DELAY_S, RaceSplits, chase_moment, fit, seen_splits
from live.forecast.model import ForecastModel
from live.forecast.race_conditions import segment_excess
from live.forecast.runner_state import RunnerState
from simulator.evaluation import RaceFiles

RACES = (
    "berlin_marathon_2014",
    "berlin_marathon_2017",
    "chicago_marathon_2014",
    "chicago_marathon_2016",
    "chicago_marathon_2017",
    "london_marathon_2014",
    "london_marathon_2015",
    "london_marathon_2016",
)
DATA = Path(__file__).resolve().parents[1] / "data" / "results"
MIN_RUNNERS = 200  # a decile with fewer runners in the race is not judged (the rule)
SPREADS = (0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.4)  # factors on every runner's spread tried in (c)


def chase_forecast(
    model: ForecastModel, race: RaceSplits, fraction: float, oracle: bool = False
) -> tuple[WinForecast, np.ndarray, np.ndarray]:
    """The forecast at the pursuer's ``fraction``: (forecast, true wins, still open) over the field."""
    now = chase_moment(race, fraction)
    rows = np.flatnonzero(np.arange(len(race.elapsed_s)) != race.winner_row)
    e = race.elapsed_s[rows]
    seen, since, _ = seen_splits(race, now, rows)
    w = race.elapsed_s[race.winner_row]
    truth = float(w[-1] + DELAY_S)
    if oracle:
        pursuer = PursuerForecast(np.array([truth]), truth, truth, truth, truth, "finished")
    else:
        his = np.where(w + DELAY_S <= now, w, np.nan)
        pursuer = fc.pursuer_forecast(model, his, race.at_m, DELAY_S, model.reference_finish_s, now)
    finish = e[:, -1]
    settled = np.where(finish <= now, 1.0, np.nan)  # finished before the pursuer (not finished yet): won
    n = len(e)
    win = fc.forecast(
        model,
        seen,
        race.at_m,
        np.zeros(n),
        since,
        np.full(n, np.nan),
        settled,
        pursuer,
        np.zeros(n, dtype=np.intp),
        1,
    )
    return win, finish < truth, finish > now


def worst_decile_gap(p: np.ndarray, won: np.ndarray) -> float:
    """The largest |observed − predicted| win rate, in points, over deciles holding MIN_RUNNERS."""
    decile = np.minimum((p * 10).astype(int), 9)
    gaps = [
        100.0 * abs(float(won[decile == d].mean()) - float(p[decile == d].mean()))
        for d in range(10)
        if int((decile == d).sum()) >= MIN_RUNNERS
    ]
    return max(gaps, default=0.0)


def with_common_shift(
    model: ForecastModel, race: RaceSplits, fraction: float, spread: float = 1.0
) -> tuple[float, float]:
    """The common shift per unit of course left that makes the count exact (pursuer known, no race
    spread, every runner's spread times ``spread``), found by bisection; and the worst decile gap then."""
    model = dataclasses.replace(model, race_shift_sd=np.zeros_like(model.race_shift_sd))
    original = win_rows.runner_distributions  # what the forecast calls
    lo, hi = -0.1, 0.1
    gap = 0.0
    try:
        for _ in range(16):
            delta = (lo + hi) / 2

            def moved(m: ForecastModel, s: RunnerState, d: float, shift: float = delta) -> RunnerDistributions:
                dist = original(m, s, d)
                return dataclasses.replace(dist, mu=dist.mu + shift * (1.0 - s.fraction), scale=dist.scale * spread)

            win_rows.runner_distributions = moved  # type: ignore[assignment]
            win, won, open_ = chase_forecast(model, race, fraction, oracle=True)
            lo, hi = (delta, hi) if win.expected > won.sum() else (lo, delta)
            gap = worst_decile_gap(win.win_probability[open_], won[open_])
    finally:
        win_rows.runner_distributions = original
    return (lo + hi) / 2, gap


def live_dispersion(model: ForecastModel, race: RaceSplits, fraction: float) -> float:
    """The median over the segments learned by then of the interquartile range of their excess slowing."""
    rows = np.flatnonzero(np.arange(len(race.elapsed_s)) != race.winner_row)
    seen, since, last = seen_splits(race, chase_moment(race, fraction), rows)
    ranges = [
        float(np.subtract(*np.quantile(excess, [0.75, 0.25])))
        for _, excess in segment_excess(model.segment_coef, seen, race.at_m, since, last)
    ]
    return float(np.median(ranges)) if ranges else float("nan")


def main(fraction: float = 0.5) -> None:
    races = [RaceFiles.load(sorted(DATA.glob(f"{name}_*"))).splits() for name in RACES]
    print(f"at the pursuer's {fraction:.0%}: worst decile gap (points; deciles of >= {MIN_RUNNERS} runners)")
    print(
        f"{'race':24}{'count':>8}{'as forecast':>13}{'shift':>9}{'common terms given':>20}"
        f"{'best spread':>13}{'then':>6}{'live IQR':>10}"
    )
    for i, race in enumerate(races):
        model = fit([r for j, r in enumerate(races) if j != i])
        win, won, open_ = chase_forecast(model, race, fraction)
        error = 100.0 * (win.expected - won.sum()) / won.sum()
        as_is = worst_decile_gap(win.win_probability[open_], won[open_])
        shift, given = with_common_shift(model, race, fraction)
        spread, best = min(((k, with_common_shift(model, race, fraction, k)[1]) for k in SPREADS), key=lambda kg: kg[1])
        print(
            f"{race.name:24}{error:>+7.1f}%{as_is:>13.1f}{shift:>+9.4f}{given:>20.1f}"
            f"{spread:>12.2f}x{best:>6.1f}{live_dispersion(model, race, fraction):>10.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
