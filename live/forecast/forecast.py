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

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from live.forecast.dropouts import finish_chance, stop_rate
from live.forecast.model import MARATHON_M, ForecastModel, node_levels, student_t_quantiles
from live.forecast.race_conditions import learns_live
from live.forecast.runner_state import RunnerState, design, runner_state

STOPPED_AFTER = 3.0  # unread for this multiple of the time his next segment should take: he has stopped
DECIDED = 1e-6  # a chance this close to 0 or 1 at the extreme nodes is taken as decided at every node
COVERAGE = 0.8  # the forecast band holds the true count with this probability (stated in the API)


def distance_factor(distance_m: float) -> float:
    """How much of a marathon's fade and spread a course of ``distance_m`` is given: the model is
    fitted on marathons; a shorter race leaves less time to fade. An assumption (sqrt of the
    distance ratio), not a measurement: no shorter race with splits is in the data."""
    return float(min(1.0, distance_m / MARATHON_M) ** 0.5)


def has_stopped(state: RunnerState) -> np.ndarray:
    """Runners read on the course but not since for STOPPED_AFTER times what their next segment
    should take at their pace: not a slow runner any more but one who has stopped (a mat that
    missed him once reads him again by twice that). No chance until he is read again."""
    with np.errstate(invalid="ignore"):
        out: np.ndarray = state.read & (state.since_read > np.log(STOPPED_AFTER))
    return out


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


def pursuer_band_z(model: ForecastModel) -> np.ndarray:
    """The ends of the pursuer's COVERAGE interval in units of his scale: his Student t's own quantiles
    (the nodes sit at the midpoints of equal-probability bins, (k + ½)/K, not at k/(K + 1))."""
    return student_t_quantiles(model.pursuer_nu, ((1 - COVERAGE) / 2, (1 + COVERAGE) / 2))


SHIFT_NODES = 5  # equal-probability nodes of a Student t race shift


@lru_cache(maxsize=8)
def shift_nodes(nu: float) -> tuple[np.ndarray, np.ndarray]:
    """The race shift's nodes (in units of its scale) and weights: a normal's 3-point Gauss–Hermite
    rule (``nu`` 0), else a Student t's equal-probability nodes, spread so that they carry the t's
    variance nu / (nu − 2) (midpoints alone would carry less: its tails would be cut)."""
    if nu <= 0:
        return np.array([-np.sqrt(3.0), 0.0, np.sqrt(3.0)]), np.array([1 / 6, 2 / 3, 1 / 6])
    z = student_t_quantiles(nu, tuple(node_levels(SHIFT_NODES).tolist()))
    target = nu / (nu - 2.0) if nu > 2.0 else 3.0  # a t with 2 or fewer degrees has no variance: as t3
    z = z * np.sqrt(target / float(np.mean(z * z)))
    return z, np.full(SHIFT_NODES, 1.0 / SHIFT_NODES)


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
    z_band = pursuer_band_z(model)
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
    # common nodes: pursuer quantiles x the race shift's nodes (in sds: each runner's own
    # sd of it, ``dist.shift_sd``, is by where he is and what is left)
    shifts, shift_w = shift_nodes(model.race_shift_nu)
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
    sure_loss = (extreme_and_plan[:, 1] <= DECIDED) | has_stopped(state)[open_rows]
    sure_win = extreme_and_plan[:, 0] >= 1.0 - DECIDED
    idx = open_rows[~sure_loss & ~sure_win]
    cdf = cdf_at(idx, z_grid(idx))  # (runners near the line, nodes), single precision
    # a win needs a finish: each one's chance to get there at the race's own stop rate (1 without stops)
    finishes = finish_chance(stop_rate(elapsed_s, at_m, since_s), state.fraction, distance)
    cdf *= finishes[idx, None].astype(np.float32)
    sure = open_rows[sure_win]  # sure to win if he finishes

    p = np.where(open_, 0.0, np.nan_to_num(settled))
    p[sure] = finishes[sure]
    p[idx] = cdf @ weight.astype(np.float32)
    decided_won = np.where(open_, 0.0, np.nan_to_num(settled))
    decided_won[sure] = finishes[sure]
    # per pen, each node's expected count and its variance: two products with the pens' indicator
    member = np.zeros((len(idx), n_groups), dtype=np.float32)
    member[np.arange(len(idx)), groups[idx]] = 1.0
    g_mean = member.T @ cdf + np.bincount(groups, weights=decided_won, minlength=n_groups)[:, None]
    g_var = member.T @ (cdf * (1.0 - cdf))
    g_mean, g_var = g_mean.astype(float), g_var.astype(float)
    g_var += np.bincount(groups[sure], weights=finishes[sure] * (1.0 - finishes[sure]), minlength=n_groups)[:, None]
    node_mean, node_var = g_mean.sum(axis=0), g_var.sum(axis=0)
    low, high = _mixture_band(node_mean, node_var, weight)
    by_group = np.zeros((n_groups, 3))
    for g in range(n_groups):
        by_group[g] = (float(g_mean[g] @ weight), *_mixture_band(g_mean[g], g_var[g], weight))

    settled_won = float(np.where(open_, 0.0, np.nan_to_num(settled)).sum())
    at_plan = settled_won + float(extreme_and_plan[:, 2] @ finishes[open_rows])

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
