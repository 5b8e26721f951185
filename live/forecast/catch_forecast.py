"""The catcher-car forecast: where the car will pass each runner still running, with a band, and how
many runners will still be running at each milestone, with a band (SPEC §2, §3).

The same predictive machinery as the win probabilities (:mod:`live.forecast.forecast`): a runner's
time to reach a distance ``d`` is his finish on a course ending at ``d`` (what the passings say of him,
:mod:`live.forecast.runner_state`, with his fraction and even-pace projection taken against ``d``),
from the fitted model's distribution for that fraction, with its residual tables, pace bands and the
race-wide shift. The car is deterministic: its schedule from its gun. So ``P(he reaches d before the
car)`` is his model CDF at the car's time there; over a grid of distances that is the survival
function of his catch distance, whose median and ``COVERAGE`` band are his predicted catch. The
expected count still running at a milestone is the sum of those probabilities (plus the runners
already settled past it), and its band the mixture of the race-wide shift's nodes, as the winners'.

An assumption, measured and found wanting (README, ``pursuit evaluate --catcher-car``): the model is
fitted on marathons' finishes (fractions 0.12–0.95); a course ending at ``d`` gets a marathon's fade
squeezed into it, too much for a distance inside a marathon (most of the fade comes after 30 km), so
the counts at 21.1 and 30 km come out 3–18 % low an hour after the car's start while the spread is
right. Beyond a marathon the spread stays a marathon's (``distance_factor``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from live.forecast.distributions import COVERAGE, Z_STEP, _cdf_tables, _mixture_band, distance_factor
from live.forecast.model import ForecastModel
from live.forecast.runner_state import RunnerState, design
from live.race.schedule import SpeedSchedule

GRID_STEP_M = 500.0  # catch distances are found on a grid this fine, then interpolated
SHIFTS = np.array([-np.sqrt(3.0), 0.0, np.sqrt(3.0)])  # race-wide shift nodes (3-point Gauss-Hermite), in sds
SHIFT_W = np.array([1 / 6, 2 / 3, 1 / 6])


@dataclass(frozen=True)
class CatchForecast:
    """Per open runner the median catch distance and its band (nan for the others); per milestone
    ``(at_m, expected, low, high)``; the band's level."""

    median_m: np.ndarray
    low_m: np.ndarray
    high_m: np.ndarray
    milestones: list[tuple[float, float, int, int]]
    level: float


def reach_probability(
    model: ForecastModel,
    state: RunnerState,
    d_last: np.ndarray,
    pace_s_m: np.ndarray,
    start: np.ndarray,
    d: np.ndarray,
    car_at: np.ndarray,
    shift: float = 0.0,
) -> np.ndarray:
    """(runners, distances): the chance each runner reaches each distance ``d`` before the car (which
    gets there at unix ``car_at``), for a race-wide shift of ``shift`` sds. ``d_last``: where each was
    last read (0 if not); ``pace_s_m``: his even pace so far (or his prior's), seconds a metre;
    ``start``: his start (unix)."""
    read = state.read[:, None]
    frac = np.where(read, np.clip(d_last[:, None] / d[None, :], 0.0, 1.0), 0.0)
    row = np.searchsorted((model.fractions[1:] + model.fractions[:-1]) / 2, frac)  # (n, g)
    kappa = np.array([distance_factor(float(x)) for x in d])[None, :]
    mean_by_row = design(state) @ model.coef.T  # (n, model rows)
    log_scale_by_row = model.scale_coef[None, :, 0] + model.scale_coef[None, :, 1] * state.pace_level[:, None]
    mu = np.take_along_axis(mean_by_row, row, axis=1) * kappa
    scale = np.exp(np.take_along_axis(log_scale_by_row, row, axis=1)) * kappa
    shift_sd = model.race_shift_sd[row] * kappa * (1.0 - frac)
    mu = np.where(read, mu, 0.0) + shift * shift_sd
    scale = np.where(read, scale, model.prior_scale * kappa)
    with np.errstate(invalid="ignore", divide="ignore"):
        log_e = np.log(pace_s_m[:, None] * d[None, :])
        room = np.log(np.maximum(car_at[None, :] - start[:, None], 1e-3))
    z = (room - log_e - mu) / scale
    tables = _cdf_tables(model)
    n_rows, n_grid = tables.values.shape
    band = np.searchsorted(model.level_edges, state.pace_level)[:, None]
    table = np.where(read, row * model.residual_quantiles.shape[1] + band, n_rows - 1)
    pos = np.clip(np.nan_to_num((z - tables.z0) / Z_STEP, nan=0.0), 0.0, n_grid - 1.001)
    i = pos.astype(np.intp)
    flat = tables.values.ravel()
    lo = np.take(flat, i + table * n_grid)
    p: np.ndarray = lo + (np.take(flat, i + 1 + table * n_grid) - lo) * (pos - i)
    return np.where(d[None, :] <= d_last[:, None], 1.0, p)


def _quantile(s: np.ndarray, grid: np.ndarray, q: float, floor: np.ndarray) -> np.ndarray:
    """Per row, the distance where the survival ``s`` (decreasing along ``grid``) falls to ``q``;
    never short of ``floor``; the grid's end if it never does."""
    below = s < q
    idx = np.where(below.any(axis=1), np.argmax(below, axis=1), len(grid) - 1)
    rows = np.arange(len(s))
    prev = np.maximum(idx - 1, 0)
    s0, s1 = s[rows, prev], s[rows, idx]
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.clip((s0 - q) / (s0 - s1), 0.0, 1.0)
    at = np.where(idx > 0, grid[prev] + w * (grid[idx] - grid[prev]), grid[0])
    at = np.where(below.any(axis=1), at, grid[-1])
    out: np.ndarray = np.maximum(at, floor)
    return out


def catch_forecast(
    model: ForecastModel,
    state: RunnerState,
    course_m: float,
    d_last: np.ndarray,
    start: np.ndarray,
    open_: np.ndarray,
    car_m: float,
    schedule: SpeedSchedule,
    gun: float,
    milestones: tuple[float, ...],
    settled_m: np.ndarray,
) -> CatchForecast:
    """Predicted catch distances of the ``open_`` runners (still running, or not started before the
    car's gun) and the milestone counts. ``settled_m``: for the others, how far they got before the car
    passed them or they stopped (nan: never started; they count nowhere). ``car_m``: where the car is."""
    n = len(open_)
    rows = np.flatnonzero(open_)
    pace = state.projection_s[rows] / course_m  # s per metre on his form so far, or his prior
    sub = RunnerState(**{f.name: _take(getattr(state, f.name), rows, n) for f in fields(RunnerState)})
    grid = np.arange(max(GRID_STEP_M, np.ceil(max(car_m, 0.0) / GRID_STEP_M) * GRID_STEP_M), course_m, GRID_STEP_M)
    median, low, high = (np.full(n, np.nan) for _ in range(3))
    if len(rows) and len(grid):
        car_at = gun + np.asarray(schedule.elapsed_at(grid), dtype=float)
        s = reach_probability(model, sub, d_last[rows], pace, start[rows], grid, car_at, 0.0)
        s = np.minimum.accumulate(s, axis=1)  # surviving further never more likely than nearer
        lo_m = np.full(len(rows), max(car_m, 0.0))
        median[rows] = _quantile(s, grid, 0.5, np.maximum(lo_m, d_last[rows]))
        low[rows] = _quantile(s, grid, (1 + COVERAGE) / 2, np.maximum(lo_m, d_last[rows]))
        high[rows] = _quantile(s, grid, (1 - COVERAGE) / 2, np.maximum(lo_m, d_last[rows]))
    counts = []
    for m in milestones:
        past = float(np.count_nonzero(settled_m[~open_] > m))
        if not len(rows) or m <= car_m:  # the car is past it: every runner still out is beyond it
            exact = past + len(rows) if m <= car_m else past
            counts.append((m, exact, round(exact), round(exact)))
            continue
        car_at = np.array([gun + float(schedule.elapsed_at(m))])
        p = np.column_stack(
            [
                reach_probability(model, sub, d_last[rows], pace, start[rows], np.array([m]), car_at, s)[:, 0]
                for s in SHIFTS
            ]
        )
        mean, var = p.sum(axis=0) + past, (p * (1 - p)).sum(axis=0)
        lo_c, hi_c = _mixture_band(mean, var, SHIFT_W)
        counts.append((m, float(mean @ SHIFT_W), lo_c, hi_c))
    return CatchForecast(median, low, high, counts, COVERAGE)


def _take(values: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    """``values[rows]`` for a per-runner array; anything else (the race's per-segment table) as it is."""
    return values[rows] if values.shape[:1] == (n,) else values
