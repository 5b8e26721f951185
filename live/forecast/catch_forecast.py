"""The catcher-car forecast: where the car will pass each runner still running, with a band, and how
many runners will still be running at each milestone, with a band (SPEC §2, §3).

The same predictive machinery as the win probabilities (:mod:`live.forecast.forecast`): the fitted
model's distribution of a runner's time to a distance ``d``, with its residual tables, pace bands and
the race-wide shift. Up to a marathon's distance his time to ``d`` is composed from the usual slowing
of each segment on the way (:func:`split_fade`), and his spread is a marathon runner's with as far
still to go; beyond it, his finish on a course ending at ``d``. The car is deterministic: its
schedule from its gun. So ``P(he reaches d before the car)`` is his model CDF at the car's time
there; over a grid of distances that is the survival function of his catch distance, whose median
and ``COVERAGE`` band are his predicted catch. The expected count still running at a milestone is the
sum of those probabilities (plus the runners already settled past it), and its band the mixture of
the race-wide shift's nodes, as the winners'.

Measured on real marathons under the car (README, ``pursuit evaluate --catcher-car``): a marathon's
finish fade squeezed into a course ending at ``d`` counted 3–18 % low at 21.1 and 30 km; the
segment by segment time to ``d`` leaves an RMS of 2.0 and 4.7 %. Beyond a marathon the spread stays
a marathon's (``distance_factor``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from live.forecast.distributions import COVERAGE, Z_STEP, _cdf_tables, _mixture_band, distance_factor
from live.forecast.model import MARATHON_M, PACE_REFERENCE_S, ForecastModel
from live.forecast.race_conditions import segment_expected
from live.forecast.runner_state import U_FLOOR, U_KNEE, RunnerState, design
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
    # inside a marathon, a runner going from d_last to d is read as a marathon runner with as far
    # still to go (his spread, residual table and share of the race's shift are that row's, with no
    # distance factor), and his time to d is composed from the segments on the way (split_fade)
    within = d[None, :] <= MARATHON_M
    ahead = np.maximum(d[None, :] - d_last[:, None], 0.0)
    frac = np.where(read, np.clip(d_last[:, None] / d[None, :], 0.0, 1.0), 0.0)
    frac = np.where(read & within, 1.0 - ahead / MARATHON_M, frac)
    row = np.searchsorted((model.fractions[1:] + model.fractions[:-1]) / 2, frac)  # (n, g)
    kappa = np.array([distance_factor(float(x)) for x in d])[None, :]
    kappa = np.where(read & within, 1.0, kappa)
    mean_by_row = design(state) @ model.coef.T  # (n, model rows)
    log_scale_by_row = model.scale_coef[None, :, 0] + model.scale_coef[None, :, 1] * state.pace_level[:, None]
    mu = np.take_along_axis(mean_by_row, row, axis=1) * kappa
    form = np.take_along_axis(_form(model, state), row, axis=1)
    mu = np.where(within, split_fade(model, pace_s_m, d_last, np.minimum(d, MARATHON_M)) + form, mu)
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


def split_fade(model: ForecastModel, pace_s_m: np.ndarray, d_last: np.ndarray, d: np.ndarray) -> np.ndarray:
    """(runners, distances ``d`` ≤ a marathon): the usual log(time to ``d`` / (his pace so far × ``d``)),
    composed segment by segment from where he was last read: on each marathon segment (one split to
    the next; 0 to 5 km takes the first's) the model's usual slowing for his pace level so far
    (``segment_coef``, fitted on each segment of the training races), his pace so far updated as he
    goes. A marathon's finish rows put its whole fade (most of it after 30 km) into any course; this
    puts in what the segments up to ``d`` hold."""
    ends = np.append(model.fractions * MARATHON_M, MARATHON_M)  # the splits: segment s is ends[s]..ends[s + 1]
    lows = np.concatenate([[0.0], ends[:-1]])
    which = np.concatenate([[0], np.arange(len(ends) - 1)])
    n = len(pace_s_m)
    # per runner and piece of the course: where he enters it (or is, if inside), his time there, his
    # pace through it; then each distance of ``d`` is one gather
    from_m, t_from, rate = (np.empty((n, len(ends))) for _ in range(3))
    t, run = pace_s_m * d_last, d_last.astype(float)
    for p, (lo, hi, seg) in enumerate(zip(lows, ends, which, strict=True)):
        with np.errstate(invalid="ignore", divide="ignore"):
            pace = np.where(run > 0, t / run, pace_s_m)
            level = np.log(pace * (MARATHON_M / PACE_REFERENCE_S))
        y = segment_expected(model.segment_coef[min(int(seg), len(model.segment_coef) - 1)], np.nan_to_num(level))
        from_m[:, p], t_from[:, p], rate[:, p] = run, t, pace * np.exp(y)
        length = np.clip(hi - np.maximum(lo, run), 0.0, None)
        t, run = t + length * rate[:, p], run + length
    piece = np.clip(np.searchsorted(ends, d), 0, len(ends) - 1)
    reach = t_from[:, piece] + (d[None, :] - from_m[:, piece]) * rate[:, piece]
    with np.errstate(invalid="ignore", divide="ignore"):
        out: np.ndarray = np.log(reach / (pace_s_m[:, None] * d[None, :]))
    return np.where(np.isfinite(out), out, 0.0)


def _form(model: ForecastModel, state: RunnerState) -> np.ndarray:
    """(runners, model rows): what his trend and his time unread add to his log time, over a runner
    read just now at his even pace (the finish rows' own coefficients on those features)."""
    x = design(state)
    x[:, :3] = 0.0
    x[:, 4] -= U_FLOOR  # a runner read just now sits on the floor: nothing added
    x[:, 5] -= U_KNEE
    out: np.ndarray = x @ model.coef.T
    return out


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
