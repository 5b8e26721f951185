"""Pre-race handicap planning: how many runners of each pen will beat the pursuer, and which
head starts would meet the race's quota with a fair share for every pen.

A runner's time is uncertain around his declared time (log-normal, ``sigma``); he wins if it is
shorter than his pen's head start plus the pursuer's time. Expected winners are the sum of the
runners' win probabilities; the band adds ±2 standard deviations of that sum.

Instead of the declared times, last year's results can stand for the field (``field_times``): this
year's pens, slowest released first, are filled by last year's times ranked slowest first in
proportion to their sizes (the field seeded by ability, as pens are meant to be), and each runner's
time is uncertain around that by ``sigma`` as from one year to the next.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from live.forecast.results import Results
from live.race.race import Race

DECLARED_SIGMA = 0.06  # spread of actual vs declared 5 km time (log scale)


@dataclass(frozen=True)
class PenPlan:
    pen: str
    runners: int
    head_start_s: float
    expected: float
    low: int
    high: int
    proposed_head_start_s: float
    proposed_expected: float
    fair_share: float


def _win_probability(declared_s: np.ndarray, deadline_s: float, sigma: float) -> np.ndarray:
    z = (math.log(max(deadline_s, 1.0)) - np.log(declared_s)) / sigma
    p: np.ndarray = 0.5 * (1.0 + np.vectorize(math.erf)(z / math.sqrt(2.0)))
    return p


def expected_winners(
    declared_s: np.ndarray, head_start_s: float, pursuer_s: float, sigma: float
) -> tuple[float, float]:
    """Expected winners and the standard deviation of that count."""
    if len(declared_s) == 0:
        return 0.0, 0.0
    p = _win_probability(declared_s, head_start_s + pursuer_s, sigma)
    return float(p.sum()), float(np.sqrt((p * (1 - p)).sum()))


def head_start_for(declared_s: np.ndarray, target: float, pursuer_s: float, sigma: float) -> float:
    """The head start (s) at which ``target`` runners of the pen are expected to win."""
    lo, hi = 0.0, 4 * 3600.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if expected_winners(declared_s, mid, pursuer_s, sigma)[0] < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def field_times(results: Results, distance_m: float) -> tuple[np.ndarray, str]:
    """Last year's times for a race of ``distance_m``: the split column at that distance if the file
    has one (a 5 km split for a 5 km race), else its finish column (last year's edition of this
    race). Returns the times and the column's name."""
    at = np.flatnonzero(np.abs(results.at_m - distance_m) < 1.0)
    column = int(at[0]) if len(at) else len(results.split_names) - 1
    return results.elapsed_s[:, column], results.split_names[column]


def times_by_pen(race: Race, field_times_s: np.ndarray) -> dict[str, np.ndarray]:
    """Last year's times dealt to this year's pens: the pen released first (the slowest) takes the
    slowest times, each pen as many as it has runners, at evenly spaced quantiles of last year's field."""
    times = np.asarray(field_times_s, dtype=float)
    times = np.sort(times[np.isfinite(times) & (times > 0)])[::-1]  # a missing split: NaN, or 0 in some files
    if len(times) == 0:
        raise ValueError("no runner's time in the results")
    runners = race.runners
    sizes = {pen.id: sum(1 for p in runners if p.pen == pen.id) for pen in race.pens}
    total = sum(sizes.values())
    if total == 0:
        raise ValueError("no runners in participants.csv")
    # the slowest first: the quantile of last year's (descending) times each of this year's runners takes
    positions = (np.arange(total) + 0.5) / total * (len(times) - 1)
    ranked = np.interp(positions, np.arange(len(times)), times)
    out, start = {}, 0
    for pen in race.pens:  # in release order
        out[pen.id] = ranked[start : start + sizes[pen.id]]
        start += sizes[pen.id]
    return out


def plan_race(
    race: Race, quota: int | None = None, sigma: float = DECLARED_SIGMA, field_times_s: np.ndarray | None = None
) -> list[PenPlan]:
    """Expected winners per pen with the race's head starts, and head starts that meet ``quota``;
    from the declared times, or from last year's times for the race's distance (``field_times_s``)."""
    quota = quota if quota is not None else race.quota
    if quota is None:
        raise ValueError("no quota: give one, or set race.quota in race.toml")
    pursuer_s = race.require_pursuer("a handicap plan").pace_s_per_km * race.distance_m / 1000.0
    runners = race.runners
    by_pen = times_by_pen(race, field_times_s) if field_times_s is not None else None
    total = len(runners)
    if quota >= total:  # no head start gives it: the search would stop at its bound and propose that
        raise ValueError(f"quota {quota:,} is not below the field of {total:,} runners: no head starts can meet it")
    plans = []
    for pen in race.pens:
        head_start_s = pen.head_start_s or 0.0  # a race with a pursuer: every pen has one
        if by_pen is not None:
            declared = by_pen[pen.id]
        else:
            declared = np.array([p.declared_s for p in runners if p.pen == pen.id and p.declared_s], dtype=float)
        expected, sd = expected_winners(declared, head_start_s, pursuer_s, sigma)
        share = quota * len(declared) / total if total else 0.0
        proposed = head_start_for(declared, share, pursuer_s, sigma) if len(declared) else head_start_s
        plans.append(
            PenPlan(
                pen=pen.id,
                runners=len(declared),
                head_start_s=head_start_s,
                expected=expected,
                low=max(0, math.floor(expected - 2 * sd)),
                high=math.ceil(expected + 2 * sd),
                proposed_head_start_s=round(proposed),
                proposed_expected=expected_winners(declared, round(proposed), pursuer_s, sigma)[0],
                fair_share=share,
            )
        )
    return plans
