"""How well the usual slowing of each segment is followed across pace levels: ``python -m simulator.segment_fit``.

The race's own slowing is learned live as the excess over the usual slowing at each runner's pace
level (:mod:`live.forecast.race_conditions`). Early in a chase the segments far ahead have been run only by
the fastest, and what they show is carried to the runners near the line; an expectation that is
off for the fastest by a few tenths of a percent moves every forecast by that much over the course
left. This fits the expectation on each of the eight races' finishers, leave-one-race-out as the
forecast is fitted, both as a quadratic in pace level (before) and as the table by pace level
(:func:`live.forecast.fit.segment_curves`), and prints the mean residual per decile of pace level,
over the segments from 20 km on: the fastest decile's is the one that matters. About a minute.
"""

from __future__ import annotations

import numpy as np

from live.forecast.fit import RaceSplits, segment_curves
from live.forecast.race_conditions import segment_expected, segment_slowing
from simulator.calibration_bound import DATA, RACES
from simulator.evaluation import RaceFiles

FIRST_SEGMENT_M = 20000.0  # the segments a chase's runners near the line have still to run at halfway


def quadratic_curves(races: list[RaceSplits]) -> np.ndarray:
    """The expectation as it was: per segment, a least-squares quadratic in pace level."""
    at_m = races[0].at_m
    out = np.zeros((len(at_m) - 1, 3))
    for s in range(len(at_m) - 1):
        parts = [segment_slowing(r.elapsed_s, at_m, s, s + 1) for r in races]
        level, y = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
        ok = np.isfinite(level) & np.isfinite(y)
        out[s] = np.polyfit(level[ok], y[ok], 2)[::-1]
    return out


def residuals_by_decile(races: list[RaceSplits]) -> dict[str, np.ndarray]:
    """(segments, 10) mean residual per pace decile of the held-out race's finishers, pooled over
    the races, for each form of the expectation."""
    at_m = races[0].at_m
    segments = [s for s in range(len(at_m) - 1) if at_m[s] >= FIRST_SEGMENT_M]
    sums = {"quadratic": np.zeros((len(segments), 10)), "table": np.zeros((len(segments), 10))}
    counts = np.zeros((len(segments), 10))
    for held in races:
        others = [r for r in races if r is not held]
        quad, table = quadratic_curves(others), segment_curves(others)
        for i, s in enumerate(segments):
            level, y = segment_slowing(held.elapsed_s, at_m, s, s + 1)
            ok = np.isfinite(level) & np.isfinite(y)
            level, y = level[ok], y[ok]
            decile = np.minimum((np.argsort(np.argsort(level)) * 10) // len(level), 9)
            q = quad[s]
            fitted = {"quadratic": q[0] + q[1] * level + q[2] * level**2, "table": segment_expected(table[s], level)}
            for name, f in fitted.items():
                sums[name][i] += np.bincount(decile, weights=y - f, minlength=10)
            counts[i] += np.bincount(decile, minlength=10)
    return {name: total / counts for name, total in sums.items()}


def main() -> None:
    races = [RaceFiles.load(sorted(DATA.glob(f"{name}_*"))).splits() for name in RACES]
    print("mean residual (observed minus expected log slowing) by pace decile, segments from 20 km,")
    print("each race against an expectation fitted on the seven others; min..max over the segments")
    print("decile  " + "".join(f"{name:>22}" for name in ("quadratic", "table")))
    result = residuals_by_decile(races)
    for d in range(10):
        cells = "".join(f"{result[n][:, d].min():+10.4f}..{result[n][:, d].max():+.4f}" for n in result)
        print(f"{d + 1:>6}  {cells}")


if __name__ == "__main__":
    main()
