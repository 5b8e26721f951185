"""Each runner's predictive distribution of his finish (:func:`runner_distributions`), its residual
CDF at the common nodes (:func:`win_cdf`), the race shift's and the pursuer's nodes, and the result
types of the forecast; :mod:`live.forecast.forecast` says how they combine (and why).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from live.forecast.model import MARATHON_M, ForecastModel, node_levels, student_t_quantiles
from live.forecast.runner_state import RunnerState, design

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
    z50 = _medians(model)
    z = np.where(dist.row >= 0, z50[np.maximum(dist.row, 0)], 0.0)
    out: np.ndarray = state.projection_s * np.exp(dist.mu + dist.scale * z)
    return out


@lru_cache(maxsize=4)
def _medians(model: ForecastModel) -> np.ndarray:
    """Each residual table's median."""
    return np.array([np.interp(0.5, model.levels, q) for q in _tables(model)])


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
