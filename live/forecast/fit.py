"""Fitting the forecast model (:mod:`live.forecast.forecast`) on real races with splits.

Each race is replayed as a chase: every runner starts at 0, the race's winner ``delay_s`` later. At
moments spread over the pursuer's race, every runner still out gives one sample: his features from
the splits seen by then, and the log of his true finish over his even-pace projection. A least
squares fit per split point gives the mean; the residuals, scaled by a pace-dependent spread, give
the shape. The fastest runners of each race give the pursuer's term. Pure NumPy, offline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from live.forecast.model import SEGMENT_LEVELS, ForecastModel, node_levels, student_t_quantiles
from live.forecast.race_conditions import segment_slowing
from live.forecast.runner_state import N_FEATURES, RunnerState, design, runner_state

DELAY_S = 5880.0  # the chase of SPEC §6 and issue 12: the winner starts 1 h 38 min after the field
MOMENTS = np.round(np.arange(0.10, 0.951, 0.05), 2)  # pursuer fractions at which samples are drawn
LEVELS = np.linspace(0.0025, 0.9975, 200)
PURSUER_QUANTILE_BINS = 10
PURSUER_NU = 3.0
PURSUER_SCALE_FLOOR = 0.006  # with fewer than 4 races: a winner's finish known to ~0.6 % from his splits
PURSUER_SCALE_MIN = 0.001  # the small-sample scale's floor (a regression on 4+ winners that fits exactly)
ELITES = 1  # the fastest runners of each race train the pursuer's term
MIN_SAMPLES = 50  # a split point with fewer samples borrows its neighbour's fit
# pace bands of the residual tables, as pace levels: 2:58, 3:27, 3:48, 4:12 and 4:39 marathons between them
LEVEL_EDGES = np.array([-0.3, -0.15, -0.05, 0.05, 0.15])
MIN_BAND = 2000  # a pace band with fewer samples at a split point takes the point's pooled table
PRIOR_SCALE = 0.10  # a declared time is a guess: ~10 % either way before the first split


@dataclass(frozen=True)
class RaceSplits:
    """One race: split distances, every finisher's elapsed splits (nan where missing), its winner."""

    name: str
    at_m: np.ndarray  # (k,) distances of the split columns, the finish last
    elapsed_s: np.ndarray  # (n, k)
    winner_row: int


def chase_moment(race: RaceSplits, fraction: float, delay_s: float = DELAY_S) -> float:
    """Race time (from the field's start) when the winner, started ``delay_s`` late, has run
    ``fraction`` of the course."""
    at = np.concatenate([[0.0], race.at_m])
    w = np.concatenate([[0.0], race.elapsed_s[race.winner_row]])
    ok = ~np.isnan(w)
    return float(np.interp(fraction * at[-1], at[ok], w[ok]) + delay_s)


def seen_splits(
    race: RaceSplits, now: float, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the runners (``rows``, default all) have run by race time ``now``: their splits made by
    then (nan after), the time since each one's last (0 if none) and its column (-1: none)."""
    e = race.elapsed_s if rows is None else race.elapsed_s[rows]
    seen = np.where(e <= now, e, np.nan)
    has = ~np.isnan(seen)
    k = e.shape[1]
    last = np.where(has.any(axis=1), k - 1 - np.argmax(has[:, ::-1], axis=1), -1)
    t_last = np.where(last >= 0, seen[np.arange(len(e)), np.maximum(last, 0)], np.nan)
    return seen, np.where(last >= 0, now - t_last, 0.0), last


def seen_state(
    race: RaceSplits, now: float, rows: np.ndarray | None = None, segment_coef: np.ndarray | None = None
) -> tuple[RunnerState, np.ndarray]:
    """Features of the runners (``rows``, default all) from the splits before race time ``now``
    (with the race's slowing learned live from them if ``segment_coef`` is given)."""
    seen, since, last = seen_splits(race, now, rows)
    prior = np.full(len(seen), np.nan)
    return runner_state(seen, race.at_m, since, prior, None, segment_coef), last


SEGMENT_SMOOTHING = 1.0  # weight of the table's second differences: fills a level with no runners, moves no other


def segment_curves(races: list[RaceSplits]) -> np.ndarray:
    """Per segment (split to next split), the usual slowing log(segment pace / pace before it) at each
    of :data:`SEGMENT_LEVELS`, linear between them, fitted over every finisher of ``races`` (clipped as
    :func:`live_slowing` does).

    A table, not a curve with few parameters: a quadratic left the fastest decile slowing up to 1 %
    more per segment than it said (``python -m simulator.segment_fit``), and early in a chase the
    race's slowing is learned from exactly them, then carried to the slower runners near the line."""
    at_m = races[0].at_m
    knots = SEGMENT_LEVELS
    second = np.diff(np.eye(len(knots)), n=2, axis=0)  # second differences of the table
    out = np.zeros((len(at_m) - 1, len(knots)))
    for s in range(len(at_m) - 1):
        parts = [segment_slowing(r.elapsed_s, at_m, s, s + 1) for r in races]
        level = np.concatenate([p[0] for p in parts])
        y = np.concatenate([p[1] for p in parts])
        ok = np.isfinite(level) & np.isfinite(y)
        a = _hat_basis(level[ok], knots)
        lhs = a.T @ a + SEGMENT_SMOOTHING * second.T @ second
        out[s] = np.linalg.solve(lhs, a.T @ y[ok])
    return out


def _hat_basis(x: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """(n, L) weights of linear interpolation between ``knots`` (flat beyond them): row i @ table is
    ``np.interp(x[i], knots, table)``."""
    x = np.clip(x, knots[0], knots[-1])
    i = np.clip(np.searchsorted(knots, x, side="right") - 1, 0, len(knots) - 2)
    w = (x - knots[i]) / (knots[i + 1] - knots[i])
    out = np.zeros((len(x), len(knots)))
    rows = np.arange(len(x))
    out[rows, i] = 1.0 - w
    out[rows, i + 1] = w
    return out


def _samples(races: list[RaceSplits]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Design rows, targets, split index, pace level and race index of every training sample."""
    xs, ys, js, ls, rs = [], [], [], [], []
    for ri, race in enumerate(races):
        # the race's live slowing is judged against expectations it did not shape (as a new race's is)
        curves = segment_curves([r for r in races if r is not race]) if len(races) > 1 else segment_curves(races)
        others = np.flatnonzero(np.arange(len(race.elapsed_s)) != race.winner_row)
        finish = race.elapsed_s[others, -1]
        k = len(race.at_m)
        for f in MOMENTS:
            now = chase_moment(race, float(f))
            state, last = seen_state(race, now, others, curves)
            ok = (last >= 0) & (last < k - 1)
            y = np.log(finish / state.projection_s) - state.live  # the live offset is added, not fitted
            xs.append(design(state)[ok])
            ys.append(y[ok])
            js.append(last[ok])
            ls.append(state.pace_level[ok])
            rs.append(np.full(int(ok.sum()), ri))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(js), np.concatenate(ls), np.concatenate(rs)


def _band_quantiles(z: np.ndarray, level: np.ndarray) -> np.ndarray:
    """The standardised residuals' quantiles in each pace band (the pooled ones where a band is thin)."""
    pooled = np.quantile(z, LEVELS)
    band = np.searchsorted(LEVEL_EDGES, level)
    out = np.tile(pooled, (len(LEVEL_EDGES) + 1, 1))
    for g in range(len(LEVEL_EDGES) + 1):
        mine = band == g
        if int(mine.sum()) >= MIN_BAND:
            out[g] = np.quantile(z[mine], LEVELS)
    return out


def _student_t_quantiles(nu: float, bins: int) -> np.ndarray:
    """Quantiles of the standard Student t at the midpoints of ``bins`` equal-probability bins."""
    return student_t_quantiles(nu, tuple(node_levels(bins).tolist()))


def race_shift_spread(race_shift: np.ndarray) -> tuple[np.ndarray, float]:
    """The predictive spread of a new race's shift from the training races' (races × split points):
    the sample sd (n − 1), times sqrt(1 + 1/n) for the mean estimated from the same n races, as the
    scale of a Student t with n − 1 degrees of freedom (the sd itself is estimated from n races).
    Returns the scale per split point and the degrees of freedom (0: normal, fewer than 3 races)."""
    n = len(race_shift)
    if n < 3:
        return np.full(race_shift.shape[1], 0.02), 0.0
    return np.std(race_shift, axis=0, ddof=1) * np.sqrt(1.0 + 1.0 / n), float(n - 1)


def fit_pursuer(races: list[RaceSplits], reference: float) -> tuple[np.ndarray, np.ndarray, float]:
    """The pursuer's term from each race's winner: per split point, log(finish / E) = a + b log(E / plan)
    (the training winners' plan is the reference winner time: the regressor is the same quantity the
    forecast applies to a live pursuer's own plan), and the scale of a Student t predictive for a new
    winner: the residual sd (n − 2) times sqrt(1 + 2/n), with n − 2 degrees of freedom. Returns the
    coefficients, the scales and the degrees of freedom (3, the floor's scale, with fewer than 4 races)."""
    at_m = races[0].at_m
    distance = float(at_m[-1])
    m = len(at_m) - 1
    p_coef = np.zeros((m, 2))
    p_scale = np.zeros(m)
    counts = []
    for s in range(m):
        zs, ts = [], []
        for race in races:
            fastest = np.argsort(race.elapsed_s[:, -1])[:ELITES]
            e = race.elapsed_s[fastest]
            ok = ~np.isnan(e[:, s])
            proj = e[ok, s] / (at_m[s] / distance)
            zs.append(np.log(proj / reference))
            ts.append(np.log(e[ok, -1] / proj))
        zv, tv = np.concatenate(zs), np.concatenate(ts)
        a = np.column_stack([np.ones_like(zv), zv])
        b, *_ = np.linalg.lstsq(a, tv, rcond=None)
        res = tv - a @ b
        p_coef[s] = b
        n = len(tv)
        counts.append(n)
        if n >= 4:
            p_scale[s] = max(float(np.sqrt(res @ res / (n - 2) * (1.0 + 2.0 / n))), PURSUER_SCALE_MIN)
        else:
            p_scale[s] = PURSUER_SCALE_FLOOR
    n_min = min(counts) if counts else 0
    return p_coef, p_scale, float(n_min - 2) if n_min >= 4 else PURSUER_NU


def fit(races: list[RaceSplits]) -> ForecastModel:
    """Fit the forecast model on ``races`` (all must share their split distances)."""
    at_m = races[0].at_m
    distance = float(at_m[-1])
    x, y, j, level, race_of = _samples(races)
    m = len(at_m) - 1
    coef = np.zeros((m, N_FEATURES))
    scale_coef = np.zeros((m, 2))
    quantiles = np.zeros((m, len(LEVEL_EDGES) + 1, len(LEVELS)))
    race_shift = np.zeros((len(races), m))
    fitted = [s for s in range(m) if int((j == s).sum()) >= MIN_SAMPLES]
    if not fitted:
        raise ValueError("too few runners out on the course at the sampled moments to fit the forecast")
    for s in range(m):
        sel = j == (s if s in fitted else min(fitted, key=lambda f: abs(f - s)))  # borrow the nearest split's
        b, *_ = np.linalg.lstsq(x[sel], y[sel], rcond=None)
        res = y[sel] - x[sel] @ b
        # the race-wide part of the residuals is the forecast's common race shift; the table keeps
        # what is left, each runner's own spread within his race (else it would be counted twice)
        within = res.copy()
        pooled = float(np.median(res))
        for ri in range(len(races)):
            mine = race_of[sel] == ri
            if mine.any():
                shift = float(np.median(res[mine])) - pooled
                race_shift[ri, s] = shift / (1.0 - at_m[s] / distance)
                within[mine] -= shift
        a = np.column_stack([np.ones(int(sel.sum())), level[sel]])
        c, *_ = np.linalg.lstsq(a, np.log(np.abs(within) + 1e-4), rcond=None)
        z = within / np.exp(a @ c)
        coef[s], scale_coef[s] = b, c
        quantiles[s] = _band_quantiles(z, level[sel])
    # the sd over races of their median shift per unit of course left, at each split point: early on
    # the races differ most, later the live slowing has taken up much of what made them differ
    shift_sd, shift_nu = race_shift_spread(race_shift)

    # the pursuer's term, from the fastest runner of each race
    reference = float(np.mean([r.elapsed_s[r.winner_row, -1] for r in races]))
    p_coef, p_scale, p_nu = fit_pursuer(races, reference)
    winners = np.array([r.elapsed_s[r.winner_row, -1] for r in races])
    prior_scale = max(float(np.std(np.log(winners / reference))) * 1.5, 0.01)
    return ForecastModel(
        fractions=at_m[:-1] / distance,
        coef=coef,
        scale_coef=scale_coef,
        levels=LEVELS,
        residual_quantiles=quantiles,
        level_edges=LEVEL_EDGES,
        pursuer_coef=p_coef,
        pursuer_scale=p_scale,
        pursuer_prior_scale=prior_scale,
        pursuer_nu=p_nu,
        pursuer_quantiles=_student_t_quantiles(p_nu, PURSUER_QUANTILE_BINS),
        race_shift_sd=shift_sd,
        segment_coef=segment_curves(races),
        prior_scale=PRIOR_SCALE,
        reference_finish_s=reference,
        trained_on=tuple(r.name for r in races),
        race_shift_nu=shift_nu,
    )


def race_splits(name: str, elapsed_s: np.ndarray, at_m: np.ndarray) -> RaceSplits:
    """A race from its finishers' splits; its winner (the fastest finish) plays the pursuer."""
    return RaceSplits(name=name, at_m=at_m, elapsed_s=elapsed_s, winner_row=int(np.nanargmin(elapsed_s[:, -1])))
