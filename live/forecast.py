"""Win probabilities: every runner's predictive distribution of his finish against the pursuer's.

A runner at his last timing point has run ``elapsed_s`` over a fraction ``f`` of the course; his
even-pace projection is ``E = elapsed_s / f``. The model gives the distribution of
``log(finish / E)`` from where he is (the fraction reached), how fast he is (pace level), whether
his last segment was slower than his average (trend) and how long ago he was last read against how
long the next segment should take (a runner not read for a while is slower than his average says),
plus what this race's conditions add on the course he has left: on each segment, how much more
(or less) than usual the runners who already ran it slowed, learned live (:func:`live_slowing`),
weighted by the segment's share of the course (:func:`live_offset`).
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

The coefficients are fitted offline on real marathons (:mod:`live.forecast_fit`, ``pursuit fit``)
and shipped as ``live/forecast_model.json``; nothing here reads a finish time that is not yet known.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

MARATHON_M = 42195.0
PACE_REFERENCE_S = 14400.0  # a 4-hour marathon: pace levels are logs relative to its pace
DECIDED = 1e-6  # a chance this close to 0 or 1 at the extreme nodes is taken as decided at every node
COVERAGE = 0.8  # the forecast band holds the true count with this probability (stated in the API)
MODEL_FILE = Path(__file__).with_name("forecast_model.json")
N_FEATURES = 6
U_FLOOR, U_KNEE = -1.0, 0.0  # time-since-last-read feature: piecewise linear, knees in log units
SEGMENT_GRACE = 1.4  # a segment is judged once this multiple of its expected time has passed
SEGMENT_MIN = 100  # runners in the slower half of a segment's cohort before it says anything


@dataclass(frozen=True, eq=False)  # hashed by identity: its tables are cached per model
class ForecastModel:
    """Fitted coefficients, one row per fitted course fraction (a marathon's split points)."""

    fractions: np.ndarray  # (m,) fraction of the course at which each row was fitted
    coef: np.ndarray  # (m, N_FEATURES) mean of log(finish / E)
    scale_coef: np.ndarray  # (m, 2) log of the residual scale: intercept, slope in pace level
    levels: np.ndarray  # (q,) probability levels of the residual table
    residual_quantiles: np.ndarray  # (m, G, q) standardised residuals at ``levels``, per pace band
    level_edges: np.ndarray  # (G - 1,) pace levels between the bands of ``residual_quantiles``
    pursuer_coef: np.ndarray  # (m, 2) pursuer log(finish / E): intercept, slope in log(E / plan)
    pursuer_scale: np.ndarray  # (m,) scale of the pursuer's Student t, by fraction reached
    pursuer_prior_scale: float  # scale around his plan before his first split
    pursuer_nu: float  # degrees of freedom of the pursuer's Student t (heavy tails)
    pursuer_quantiles: np.ndarray  # (K,) standard Student t quantiles at the midpoints of K bins
    race_shift_sd: np.ndarray  # (m,) sd of the race-wide shift of log finish per unit of course left, by row
    segment_coef: np.ndarray  # (m, 3) expected log(segment pace / pace before it), quadratic in pace level
    prior_scale: float  # spread of log(finish / declared) for a runner not yet read
    reference_finish_s: float  # a marathon winner's finish (mean of the training winners)
    trained_on: tuple[str, ...]

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> ForecastModel:
        arr = {k: np.asarray(v, dtype=float) for k, v in d.items() if isinstance(v, list) and k != "trained_on"}
        return cls(
            fractions=arr["fractions"],
            coef=arr["coef"],
            scale_coef=arr["scale_coef"],
            levels=arr["levels"],
            residual_quantiles=(
                arr["residual_quantiles"][:, None, :]  # a model from before the pace bands: one band
                if arr["residual_quantiles"].ndim == 2
                else arr["residual_quantiles"]
            ),
            level_edges=arr.get("level_edges", np.zeros(0)),
            pursuer_coef=arr["pursuer_coef"],
            pursuer_scale=arr["pursuer_scale"],
            pursuer_prior_scale=float(d["pursuer_prior_scale"]),  # type: ignore[arg-type]
            pursuer_nu=float(d["pursuer_nu"]),  # type: ignore[arg-type]
            pursuer_quantiles=arr["pursuer_quantiles"],
            race_shift_sd=np.broadcast_to(  # a model from before it was by split point: one for all
                np.asarray(d["race_shift_sd"], dtype=float), arr["fractions"].shape
            ).copy(),
            segment_coef=arr["segment_coef"],
            prior_scale=float(d["prior_scale"]),  # type: ignore[arg-type]
            reference_finish_s=float(d["reference_finish_s"]),  # type: ignore[arg-type]
            trained_on=tuple(d.get("trained_on", ())),  # type: ignore[arg-type]
        )

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for name, value in self.__dict__.items():
            if isinstance(value, np.ndarray):
                out[name] = np.round(value, 6).tolist()
            elif isinstance(value, tuple):
                out[name] = list(value)
            else:
                out[name] = round(float(value), 6)
        return out

    def save(self, path: Path | str) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path | str) -> ForecastModel:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


@lru_cache(maxsize=1)
def default_model() -> ForecastModel:
    """The shipped model, fitted on the eight marathons of ``data/results/``."""
    return ForecastModel.load(MODEL_FILE)


@dataclass(frozen=True)
class RunnerState:
    """What the passings so far say about each runner (arrays over runners)."""

    fraction: np.ndarray  # of the course at his last read; 0 if none
    projection_s: np.ndarray  # even-pace finish time E (duration), or his prior finish if not read
    pace_level: np.ndarray  # log of his pace over a 4-hour marathon's
    trend: np.ndarray  # log(last segment pace / pace before it); 0 if unknown
    since_read: np.ndarray  # log(time since his last read / expected time to the next point)
    read: np.ndarray  # bool: has at least one read past the start
    live: np.ndarray  # log of what this race's excess slowing adds to his finish, learned live (0: none)
    slowing: np.ndarray  # per segment, the race's excess slowing (nan: not learned yet; empty: not learned)


def design(state: RunnerState) -> np.ndarray:
    """The model's features for each runner: (n, N_FEATURES)."""
    x = state.pace_level
    u = np.nan_to_num(state.since_read, nan=U_FLOOR - 4.0)
    return np.column_stack([np.ones_like(x), x, x * x, state.trend, np.maximum(u, U_FLOOR), np.maximum(u, U_KNEE)])


def segment_slowing(elapsed_s: np.ndarray, at_m: np.ndarray, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
    """Pace level at split ``a`` and log(pace from ``a`` to ``b`` / pace up to ``a``), clipped to
    ±log(SEGMENT_GRACE), for every row (nan where a split is missing)."""
    return _slowing(elapsed_s[:, a], elapsed_s[:, b], float(at_m[a]), float(at_m[b]))


def _slowing(t_a: np.ndarray, t_b: np.ndarray, d_a: float, d_b: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`segment_slowing` on the two columns alone."""
    with np.errstate(invalid="ignore", divide="ignore"):
        pace = t_a / d_a
        level = np.log(pace * (MARATHON_M / PACE_REFERENCE_S))
        y = np.log((t_b - t_a) / ((d_b - d_a) * pace))
    bound = np.log(SEGMENT_GRACE)
    return level, np.clip(y, -bound, bound)


def segment_expected(coef: np.ndarray, level: np.ndarray) -> np.ndarray:
    out: np.ndarray = coef[0] + coef[1] * level + coef[2] * level * level
    return out


def split_columns(at_m: np.ndarray) -> np.ndarray:
    """The columns of the timing points past the start (a start mat, at 0 m, is not a split)."""
    return np.flatnonzero(at_m > 0)


def learns_live(model: ForecastModel, at_m: np.ndarray) -> bool:
    """Whether the course's split points are the model's (a marathon's), so that its per-segment
    expectations apply and the race's own slowing can be learned live."""
    splits = at_m[split_columns(at_m)]
    fractions = splits[:-1] / splits[-1]
    return (
        len(fractions) == len(model.fractions)
        and abs(float(splits[-1]) - MARATHON_M) < 0.01 * MARATHON_M
        and bool(np.allclose(fractions, model.fractions, atol=0.005))
    )


def live_slowing(
    segment_coef: np.ndarray, elapsed_s: np.ndarray, at_m: np.ndarray, since_s: np.ndarray, last: np.ndarray
) -> np.ndarray:
    """How much more than usual this race's runners slow on each segment, learned from those who have
    run it: per segment (one split to the next), the mean of :func:`segment_excess`; nan where too
    few have run it."""
    out = np.full(len(split_columns(at_m)) - 1, np.nan)
    for i, excess in segment_excess(segment_coef, elapsed_s, at_m, since_s, last):
        out[i] = float(np.mean(excess))
    return out


def segment_excess(
    segment_coef: np.ndarray, elapsed_s: np.ndarray, at_m: np.ndarray, since_s: np.ndarray, last: np.ndarray
) -> Iterator[tuple[int, np.ndarray]]:
    """For each segment (one split to the next) enough runners have run, its index and, over the
    slower half of its cohort, each one's observed slowing minus the model's for his pace level.

    The cohort is everyone read at the segment's first split long enough ago (SEGMENT_GRACE times
    the segment at his pace) that he should have reached the next; one not read there yet counts
    as slowed by that much (censored), one read further on without it (a missed mat) is left out.
    Its slower half is the nearest to the runners still to run it. Columns as in
    :func:`runner_state`; ``last``: each runner's last read column (-1: none)."""
    n = len(elapsed_s)
    rows = np.arange(n)
    now_s = np.where(last >= 0, elapsed_s[rows, np.maximum(last, 0)] + since_s, np.nan)  # each one's clock
    columns = np.ascontiguousarray(elapsed_s.T)  # one column per split, each read whole below
    cols = split_columns(at_m)
    for i, (a, b) in enumerate(zip(cols[:-1], cols[1:], strict=True)):
        t_a, t_b = columns[a], columns[b]
        with np.errstate(invalid="ignore"):
            due = (t_a > 0) & (now_s - t_a >= t_a * (SEGMENT_GRACE * (at_m[b] - at_m[a]) / at_m[a]))
        reached = ~np.isnan(t_b)
        cohort = np.flatnonzero(due & (reached | (last <= b)))  # read further on without ``b``: a missed mat, left out
        if len(cohort) < 2 * SEGMENT_MIN:
            continue
        t_a, t_b, reached = t_a[cohort], t_b[cohort], reached[cohort]
        ok = ~reached | (t_b > t_a)  # a segment run in no time says nothing
        t_a, t_b, reached = t_a[ok], t_b[ok], reached[ok]
        if len(t_a) == 0:
            continue
        slower = t_a >= np.median(t_a)  # the slower half: the pace level grows with the time to ``a``
        if int(slower.sum()) < SEGMENT_MIN:
            continue
        level, y = _slowing(t_a[slower], t_b[slower], float(at_m[a]), float(at_m[b]))
        y = np.where(reached[slower], y, np.log(SEGMENT_GRACE))
        yield i, y - segment_expected(segment_coef[min(i, len(segment_coef) - 1)], level)


def live_offset(slowing: np.ndarray, last: np.ndarray, at_m: np.ndarray) -> np.ndarray:
    """What this race's excess slowing adds to each runner's log finish time: over the segments he
    has still to run, each one's learned excess times its share of the course. A segment nobody
    has run long enough yet takes the nearest earlier learned one's (conditions that slowed the
    runners ahead are taken to hold further on), else the first learned; 0 if none is learned yet.

    A fixed offset, not a fitted coefficient: excess slowing on a stretch lengthens the finish by
    exactly that share, and a coefficient fitted over a handful of training races would be fitted
    on as many points."""
    known = np.isfinite(slowing)
    if not known.any():
        return np.zeros(len(last))
    idx = np.arange(len(slowing))
    nearest = np.maximum.accumulate(np.where(known, idx, -1))
    filled = slowing[np.where(nearest >= 0, nearest, int(idx[known][0]))]
    cols = split_columns(at_m)
    splits = at_m[cols]
    share = np.diff(splits) / splits[-1]
    ahead = np.cumsum((filled * share)[::-1])[::-1]  # from each segment to the finish
    seg = np.clip(np.searchsorted(cols, np.maximum(last, 0)), 0, len(slowing) - 1)
    out: np.ndarray = np.where(last >= 0, ahead[seg], 0.0)
    return out


def runner_state(
    elapsed_s: np.ndarray,
    at_m: np.ndarray,
    since_s: np.ndarray,
    prior_finish_s: np.ndarray,
    last_read: np.ndarray | None = None,
    segment_coef: np.ndarray | None = None,
) -> RunnerState:
    """Features from passings as durations since each runner's own start.

    ``elapsed_s`` (n, k): time from the runner's start to each timing point (nan where not read; the
    start itself, at 0 m, may be a column); ``at_m`` (k,) distances; ``since_s`` (n,): now minus the
    runner's last read (or 0); ``prior_finish_s``: his declared or expected finish, used until he
    is read past the start. ``last_read`` (n,): the index of each one's last read (-1: none), if the
    caller has it already. ``segment_coef``: the model's per-segment expectations, to learn the
    race's own slowing live (:func:`live_slowing`); None: not learned (another course).
    """
    n, k = elapsed_s.shape
    distance = float(at_m[-1])
    usable = ~np.isnan(elapsed_s) & (at_m[None, :] > 0)
    # the last usable point at or before each one: one running maximum over the row
    upto = np.maximum.accumulate(np.where(usable, np.arange(k, dtype=np.intp)[None, :], -1), axis=1)
    rows = np.arange(n)
    if last_read is None:
        last = upto[:, -1]
    else:
        last = np.where((last_read >= 0) & (at_m[np.maximum(last_read, 0)] > 0), last_read, -1)
    has = last >= 0
    last = np.maximum(last, 0)
    t_last = elapsed_s[rows, last]
    d_last = at_m[last]
    # a read no later than the runner's start (a gun entered after it, no start-mat read) says nothing
    # of his pace: he is forecast from his prior until a read makes sense
    has &= np.isfinite(t_last) & (t_last > 0)
    prev = np.where(last > 0, upto[rows, np.maximum(last - 1, 0)], -1)
    has_prev = prev >= 0
    prev = np.maximum(prev, 0)
    t_prev, d_prev = elapsed_s[rows, prev], at_m[prev]
    with np.errstate(invalid="ignore", divide="ignore"):
        pace = t_last / d_last
        trend = np.log(((t_last - t_prev) / (d_last - d_prev)) / (t_prev / d_prev))
        nxt = np.minimum(last + 1, k - 1)
        expected_next = np.maximum(at_m[nxt] - d_last, 1.0) * pace
        since = np.log(np.maximum(since_s, 1.0) / expected_next)
    trend = np.where(has & has_prev & np.isfinite(trend), trend, 0.0)
    projection = np.where(has, pace * distance, prior_finish_s)
    projection = np.where(np.isfinite(projection) & (projection > 0), projection, np.nan)  # nan: no chance
    with np.errstate(invalid="ignore"):
        level = np.log(projection * (MARATHON_M / distance) / PACE_REFERENCE_S)
    since = np.where(has & (last < k - 1) & np.isfinite(since), since, np.nan)
    last = np.where(has, last, -1)
    if segment_coef is None:
        slowing, live = np.zeros(0), np.zeros(n)
    else:
        slowing = live_slowing(segment_coef, elapsed_s, at_m, since_s, last)
        live = np.where(has, live_offset(slowing, last, at_m), 0.0)
    return RunnerState(
        fraction=np.where(has, d_last / distance, 0.0),
        projection_s=projection,
        pace_level=np.nan_to_num(level, nan=0.0),
        trend=trend,
        since_read=since,
        read=has,
        live=live,
        slowing=slowing,
    )


def distance_factor(distance_m: float) -> float:
    """How much of a marathon's fade and spread a course of ``distance_m`` is given: the model is
    fitted on marathons; a shorter race leaves less time to fade. An assumption (sqrt of the
    distance ratio), not a measurement: no shorter race with splits is in the data."""
    return float(min(1.0, distance_m / MARATHON_M) ** 0.5)


@dataclass(frozen=True)
class RunnerDistributions:
    """log(finish duration) = log(E) + mu + scale * Z, Z from the model row's residual table."""

    mu: np.ndarray
    scale: np.ndarray
    row: np.ndarray  # residual table per runner: model row x pace band (-1: not read yet, standard normal)
    shift_sd: np.ndarray  # sd of the race-wide shift of his log finish (the common factor's weight on him)


def runner_distributions(model: ForecastModel, state: RunnerState, distance_m: float) -> RunnerDistributions:
    """Each runner's predictive distribution of his finish duration."""
    kappa = distance_factor(distance_m)
    row = np.searchsorted((model.fractions[1:] + model.fractions[:-1]) / 2, state.fraction)  # the nearest
    x = design(state)
    mu = np.einsum("ij,ij->i", x, model.coef[row]) * kappa + state.live
    scale = np.exp(model.scale_coef[row, 0] + model.scale_coef[row, 1] * state.pace_level) * kappa
    mu = np.where(state.read, mu, 0.0)
    scale = np.where(state.read, scale, model.prior_scale * kappa)
    table = row * model.residual_quantiles.shape[1] + np.searchsorted(model.level_edges, state.pace_level)
    return RunnerDistributions(
        mu=mu,
        scale=scale,
        row=np.where(state.read, table, -1),
        shift_sd=model.race_shift_sd[row] * kappa * (1.0 - state.fraction),  # per unit of course left
    )


def median_finish_s(model: ForecastModel, state: RunnerState, dist: RunnerDistributions) -> np.ndarray:
    """Median predicted finish duration of each runner."""
    z50 = np.array([np.interp(0.5, model.levels, q) for q in _tables(model)])
    z = np.where(dist.row >= 0, z50[np.maximum(dist.row, 0)], 0.0)
    out: np.ndarray = state.projection_s * np.exp(dist.mu + dist.scale * z)
    return out


def _normal_cdf(z: np.ndarray) -> np.ndarray:
    """Standard normal CDF (Abramowitz–Stegun 7.1.26 for erf; error below 2e-7)."""
    x = np.abs(z) / np.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    erf = 1.0 - poly * np.exp(-x * x)
    cdf: np.ndarray = 0.5 * (1.0 + np.sign(z) * erf)
    return cdf


Z_STEP = 0.01  # standardised residuals are tabulated this finely


def _tables(model: ForecastModel) -> np.ndarray:
    """The residual tables, one per (model row, pace band), in the order of ``RunnerDistributions.row``."""
    out: np.ndarray = model.residual_quantiles.reshape(-1, len(model.levels))
    return out


@dataclass(frozen=True)
class CdfTables:
    """Each model row's residual CDF on one grid of z, and the standard normal's as the last row (for
    runners not read yet): one gather per (runner, node) instead of a search per model row."""

    z0: float
    values: np.ndarray  # (rows + 1, grid), single precision


@lru_cache(maxsize=4)
def _cdf_tables(model: ForecastModel) -> CdfTables:
    lo = min(float(model.residual_quantiles.min()), -9.0) - 1.0  # both ends beyond every table: 0 and 1
    hi = max(float(model.residual_quantiles.max()), 9.0) + 1.0
    grid = np.arange(lo, hi + Z_STEP, Z_STEP)
    rows = [np.interp(grid, q, model.levels, left=0.0, right=1.0) for q in _tables(model)]
    return CdfTables(lo, np.vstack([*rows, _normal_cdf(grid)]).astype(np.float32))


def win_cdf(model: ForecastModel, dist: RunnerDistributions, z: np.ndarray) -> np.ndarray:
    """P(Z < z) for each runner's residual table; ``z`` is (n, nodes); −inf or nan: no chance."""
    tables = _cdf_tables(model)
    n_rows, n_grid = tables.values.shape
    offset = np.where(dist.row < 0, n_rows - 1, dist.row)[:, None] * n_grid
    pos = (z - np.float32(tables.z0)) * np.float32(1.0 / Z_STEP)
    np.nan_to_num(pos, copy=False, nan=0.0)  # a nan z (hostile guns: inf − inf) is no chance, not a failed tick
    np.clip(pos, 0.0, np.float32(n_grid - 1.001), out=pos)
    i = pos.astype(np.intp)
    frac = pos - i
    flat = tables.values.ravel()
    i += offset
    lo = np.take(flat, i)
    out: np.ndarray = lo + (np.take(flat, i + 1) - lo) * frac
    return out


@dataclass(frozen=True)
class PursuerForecast:
    """The pursuer's finish (unix time) at the nodes of his distribution, and his plan."""

    finish_nodes: np.ndarray  # (K,) unix times; one value when his finish is read
    median: float
    low: float  # the band's ends (COVERAGE) of his finish
    high: float
    planned: float  # his finish if he holds his planned pace from his last read (or his gun)
    basis: str  # "plan" | "splits" | "finished"


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
    z_band = np.interp([(1 - COVERAGE) / 2, (1 + COVERAGE) / 2], np.linspace(0, 1, len(t) + 2)[1:-1], t)
    low, high = (max(start + float(np.exp(centre + scale * z)), now) for z in z_band)
    return PursuerForecast(nodes, max(start + float(np.exp(centre)), now), low, high, max(planned, now), basis)


@dataclass(frozen=True)
class WinForecast:
    """Win probabilities and the count they add up to."""

    win_probability: np.ndarray  # per runner, 0..1
    predicted_finish: np.ndarray  # per runner, unix time (median); nan where settled
    expected: float  # forecast winners: the sum of the probabilities
    low: int  # band holding the true count with probability ``coverage``
    high: int
    coverage: float
    at_plan: float  # forecast winners if the pursuer holds his planned pace
    by_group: np.ndarray  # (G, 3): expected, low, high per group (pen)
    pursuer: PursuerForecast


def _mixture_band(mean: np.ndarray, var: np.ndarray, weight: np.ndarray) -> tuple[int, int]:
    """The central COVERAGE interval of a weighted mixture of normals (the count at each node)."""
    sd = np.sqrt(np.maximum(var, 0.01))
    lo, hi = float((mean - 5 * sd).min()), float((mean + 5 * sd).max())
    grid = np.linspace(lo, hi, 256)
    cdf = (weight[None, :] * _normal_cdf((grid[:, None] - mean[None, :]) / sd[None, :])).sum(axis=1)
    q = np.interp([(1 - COVERAGE) / 2, (1 + COVERAGE) / 2], cdf, grid)
    return max(round(float(q[0])), 0), round(float(q[1]))  # counts: to the nearest runner


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
    distance = float(at_m[-1])
    start = np.where(np.isfinite(start), start, np.inf)  # no known start: no chance, never a nan
    segments = model.segment_coef if learns_live(model, at_m) else None
    state = runner_state(elapsed_s, at_m, since_s, prior_finish_s, last_read, segments)
    dist = runner_distributions(model, state, distance)
    open_ = np.isnan(settled)
    # common nodes: pursuer quantiles x a 3-point Gauss-Hermite race shift (in sds: each runner's own
    # sd of it, ``dist.shift_sd``, is by where he is and what is left)
    shifts = np.array([-np.sqrt(3.0), 0.0, np.sqrt(3.0)])
    shift_w = np.array([1 / 6, 2 / 3, 1 / 6])
    f_nodes = pursuer.finish_nodes
    f_w = np.full(len(f_nodes), 1.0 / len(f_nodes))
    weight = np.repeat(f_w, len(shifts)) * np.tile(shift_w, len(f_nodes))

    open_rows = np.flatnonzero(open_)
    with np.errstate(invalid="ignore", divide="ignore"):
        log_e_all = np.log(state.projection_s)
    log_e_all[~np.isfinite(log_e_all)] = np.inf  # no projection at all: no chance (z = −inf)

    def z_at(rows: np.ndarray, finish: np.ndarray, shift: np.ndarray) -> np.ndarray:
        """Standardised room for each runner in ``rows`` at each (pursuer finish, race shift) pair."""
        with np.errstate(invalid="ignore", divide="ignore"):
            room = np.log(np.maximum(finish[None, :] - start[rows, None], 1e-3))
        mu = dist.mu[rows, None] + shift[None, :] * dist.shift_sd[rows, None]
        z: np.ndarray = (room - log_e_all[rows, None] - mu) / dist.scale[rows, None]
        return z

    def z_grid(rows: np.ndarray) -> np.ndarray:
        """The same at every (pursuer finish × race shift) node, flattened finish-major: the logs
        once per finish node, the shifts broadcast."""
        with np.errstate(invalid="ignore", divide="ignore"):
            room = np.log(np.maximum(f_nodes[None, :] - start[rows, None], 1e-3))
        inv = 1.0 / dist.scale[rows]
        base = ((room - (log_e_all[rows] + dist.mu[rows])[:, None]) * inv[:, None]).astype(np.float32)  # (n, K)
        step = ((dist.shift_sd[rows] * inv)[:, None, None] * shifts[None, None, :]).astype(np.float32)  # (n, 1, L)
        # single precision: ample, and half the bytes
        z: np.ndarray = (base[:, :, None] - step).reshape(len(rows), len(f_nodes) * len(shifts))
        return z

    def cdf_at(rows: np.ndarray, z: np.ndarray) -> np.ndarray:
        sub = RunnerDistributions(dist.mu[rows], dist.scale[rows], dist.row[rows], dist.shift_sd[rows])
        return win_cdf(model, sub, z)

    # most of a field is decided at every node (its chance 0 or 1 at the extreme nodes): only the
    # rest, near the line, is computed node by node
    # (and the count at his plan: his finish fixed at the planned one, in the race's expected conditions)
    extreme_and_plan = cdf_at(
        open_rows,
        z_at(
            open_rows,
            np.array([f_nodes.min(), f_nodes.max(), pursuer.planned]),
            np.array([shifts.max(), shifts.min(), 0.0]),
        ),
    )
    sure_loss = extreme_and_plan[:, 1] <= DECIDED
    sure_win = extreme_and_plan[:, 0] >= 1.0 - DECIDED
    idx = open_rows[~sure_loss & ~sure_win]
    cdf = cdf_at(idx, z_grid(idx))  # (runners near the line, nodes), single precision

    p = np.where(open_, 0.0, np.nan_to_num(settled))
    p[open_rows[sure_win]] = 1.0
    p[idx] = cdf @ weight.astype(np.float32)
    decided_won = np.where(open_, 0.0, np.nan_to_num(settled))
    decided_won[open_rows[sure_win]] = 1.0
    # per pen, each node's expected count and its variance: two products with the pens' indicator
    member = np.zeros((len(idx), n_groups), dtype=np.float32)
    member[np.arange(len(idx)), groups[idx]] = 1.0
    g_mean = member.T @ cdf + np.bincount(groups, weights=decided_won, minlength=n_groups)[:, None]
    g_var = member.T @ (cdf * (1.0 - cdf))
    g_mean, g_var = g_mean.astype(float), g_var.astype(float)
    node_mean, node_var = g_mean.sum(axis=0), g_var.sum(axis=0)
    low, high = _mixture_band(node_mean, node_var, weight)
    by_group = np.zeros((n_groups, 3))
    for g in range(n_groups):
        by_group[g] = (float(g_mean[g] @ weight), *_mixture_band(g_mean[g], g_var[g], weight))

    settled_won = float(np.where(open_, 0.0, np.nan_to_num(settled)).sum())
    at_plan = settled_won + float(extreme_and_plan[:, 2].sum())

    median = np.full(len(p), np.nan)
    median[open_rows] = start[open_rows] + median_finish_s(model, state, dist)[open_rows]
    return WinForecast(
        win_probability=p,
        predicted_finish=median,
        expected=float(node_mean @ weight),
        low=low,
        high=high,
        coverage=COVERAGE,
        at_plan=at_plan,
        by_group=by_group,
        pursuer=pursuer,
    )
