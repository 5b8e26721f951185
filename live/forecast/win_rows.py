"""The forecast's runner side kept between ticks (:class:`ForecastRows`): each runner's chance, median
finish and terms in the count's sums are recomputed only for the runners whose inputs moved since the
last tick — a new passing or start, his time since his last read past the knee where it starts to
count (``U_FLOOR``), a settled outcome, what the race's slowing adds on the course he has left — and
carried for everyone else; the sums follow by differences. Everything is recomputed every
``FULL_EVERY`` ticks and whenever a term common to every runner moves (the pursuer's nodes, his plan).
The race's stop rate (:mod:`live.forecast.dropouts`) can move every tick: no carried term holds it. An
open runner's chance to finish depends on it and on his last split alone, so the carried chances and
the sums (kept by pen and last split) are those of a finish, and the finish chance multiplies them when
the forecast is read (:meth:`ForecastRows._result`).
:func:`live.forecast.forecast.forecast` is one full update of a fresh one. The maths: the docstring
of :mod:`live.forecast.forecast`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from live.forecast.distributions import (
    COVERAGE,
    DECIDED,
    PursuerForecast,
    RunnerDistributions,
    WinForecast,
    _mixture_band,
    has_stopped,
    median_finish_s,
    runner_distributions,
    shift_nodes,
    win_cdf,
)
from live.forecast.dropouts import finish_chance, stop_rate
from live.forecast.model import ForecastModel
from live.forecast.race_conditions import learns_live, live_offset, live_slowing
from live.forecast.runner_state import U_FLOOR, ReadState, RunnerState, read_state

# Every this many ticks the sums are recomputed from every runner's terms, not updated by differences.
# Measured on Berlin 2017 from the pursuer's halfway (about 12,300 runners near the line; the pursuer's
# next split 15 minutes on): by differences alone, the sums by pen, last split and node were 8.2e-12 and
# 1.2e-11 winners from from-scratch ones after 300 and 600 ticks, 2.3e-12 and 2.7e-12 after 279 and 579
# ticks since a full update (2026-12-08; 1.8e-10 when they were kept by pen alone)
# (``python -m pursuit.bench.tick_drift``); so 600 keeps them well inside the 1e-9 the tests hold, at the
# cost of one tick from scratch every 10 minutes.
FULL_EVERY = 600


@dataclass(frozen=True)
class _Rows:
    """What :func:`_row_terms` gives for some runners."""

    # an open runner's chances here are those if he finishes (the finish chance is the result's)
    p: np.ndarray  # chance to win (float64)
    won: np.ndarray  # 1.0 where decided won (settled, or sure at every node), else 0.0
    plan: np.ndarray  # his chance at the pursuer's plan (open), his settled outcome (else)
    median: np.ndarray  # median finish, unix time (nan where settled)
    near: np.ndarray  # indices (into these rows) of the runners computed node by node
    cdf: np.ndarray  # (len(near), nodes): their chance at each node
    mu: np.ndarray  # the centre of his distribution (:class:`RunnerDistributions`)
    # sure to lose (win) by his chance at the extreme nodes, or stopped (and not sure to win): he
    # stays so while his centre only moves up (down), all else equal (and he stays stopped)
    lost: np.ndarray
    sure: np.ndarray
    stopped: np.ndarray


def _row_terms(
    model: ForecastModel,
    state: RunnerState,
    start: np.ndarray,
    settled: np.ndarray,
    pursuer: PursuerForecast,
    distance: float,
) -> _Rows:
    """Every term of the forecast that is one runner's own, for the runners ``state`` describes: a
    function of each runner's inputs and the common nodes only, so that a runner carried from the
    last tick holds what a full tick would give him."""
    dist = runner_distributions(model, state, distance)
    open_ = np.isnan(settled)
    shifts, shift_w = shift_nodes(model.race_shift_nu)
    f_nodes = pursuer.finish_nodes
    weight = np.repeat(np.full(len(f_nodes), 1.0 / len(f_nodes)), len(shifts)) * np.tile(shift_w, len(f_nodes))
    open_rows = np.flatnonzero(open_)
    with np.errstate(invalid="ignore", divide="ignore"):
        log_e_all = np.log(state.projection_s)
    log_e_all[~np.isfinite(log_e_all)] = np.inf  # no projection at all: no chance (z = −inf)

    def cdf_at(rows: np.ndarray, z: np.ndarray) -> np.ndarray:
        sub = RunnerDistributions(dist.mu[rows], dist.scale[rows], dist.row[rows], dist.shift_sd[rows])
        return win_cdf(model, sub, z)

    # most of a field is decided at every node (its chance 0 or 1 at the extreme nodes): only the
    # rest, near the line, is computed node by node (and the count at his plan: his finish fixed at
    # the planned one, in the race's expected conditions)
    extremes = np.array([f_nodes.min(), f_nodes.max(), pursuer.planned])
    with np.errstate(invalid="ignore", divide="ignore"):
        room = np.log(np.maximum(extremes[None, :] - start[open_rows, None], 1e-3))
    at_shifts = np.array([shifts.max(), shifts.min(), 0.0])
    mu = dist.mu[open_rows, None] + at_shifts[None, :] * dist.shift_sd[open_rows, None]
    z = (room - log_e_all[open_rows, None] - mu) / dist.scale[open_rows, None]
    extreme_and_plan = cdf_at(open_rows, z)
    sure_loss = (extreme_and_plan[:, 1] <= DECIDED) | has_stopped(state)[open_rows]
    sure_win = extreme_and_plan[:, 0] >= 1.0 - DECIDED
    idx = open_rows[~sure_loss & ~sure_win]
    # the same at every (pursuer finish × race shift) node, flattened finish-major: the logs once per
    # finish node, the shifts broadcast; single precision: ample, and half the bytes
    with np.errstate(invalid="ignore", divide="ignore"):
        room = np.log(np.maximum(f_nodes[None, :] - start[idx, None], 1e-3))
    inv = 1.0 / dist.scale[idx]
    base = ((room - (log_e_all[idx] + dist.mu[idx])[:, None]) * inv[:, None]).astype(np.float32)  # (n, K)
    step = ((dist.shift_sd[idx] * inv)[:, None, None] * shifts[None, None, :]).astype(np.float32)  # (n, 1, L)
    cdf = cdf_at(idx, (base[:, :, None] - step).reshape(len(idx), len(f_nodes) * len(shifts)))

    won = np.where(open_, 0.0, np.nan_to_num(settled))
    won[open_rows[sure_win]] = 1.0
    p = won.copy()
    p[idx] = (cdf.astype(np.float64) * weight).sum(axis=1)  # row by row: the same for a runner alone
    plan = np.where(open_, 0.0, np.nan_to_num(settled))
    plan[open_rows] = extreme_and_plan[:, 2]
    median = np.full(len(p), np.nan)
    median[open_rows] = start[open_rows] + median_finish_s(model, state, dist)[open_rows]
    lost, sure = np.zeros(len(p), dtype=bool), np.zeros(len(p), dtype=bool)
    lost[open_rows] = (extreme_and_plan[:, 1] <= DECIDED) & ~sure_win
    sure[open_rows] = sure_win
    stopped = np.zeros(len(p), dtype=bool)
    stopped[open_rows] = has_stopped(state)[open_rows] & ~sure_win
    return _Rows(p, won, plan, median, idx, cdf, dist.mu, lost, sure, stopped)


def _take(state: RunnerState, rows: np.ndarray) -> RunnerState:
    """The state of the runners ``rows`` (indices or a mask) only."""
    per_runner = {f: getattr(state, f)[rows] for f in state.__dataclass_fields__ if f != "slowing"}
    return RunnerState(**per_runner, slowing=state.slowing)


def _node_cdf(
    model: ForecastModel,
    state: RunnerState,
    dist: RunnerDistributions,
    start: np.ndarray,
    finish: float,
    shift: float,
) -> np.ndarray:
    """Each runner's chance at one node: the pursuer's finish ``finish``, the race shift ``shift`` (as
    :func:`_row_terms` computes it among the extreme nodes and the plan, the same operations)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        log_e = np.log(state.projection_s)
        room = np.log(np.maximum(np.array([finish])[None, :] - start[:, None], 1e-3))
    log_e[~np.isfinite(log_e)] = np.inf
    mu = dist.mu[:, None] + np.array([shift])[None, :] * dist.shift_sd[:, None]
    z = (room - log_e[:, None] - mu) / dist.scale[:, None]
    out: np.ndarray = win_cdf(model, dist, z)[:, 0]
    return out


class ForecastRows:
    """The forecast of one race's runners, tick after tick (see the module's docstring)."""

    def __init__(self, model: ForecastModel, at_m: np.ndarray, groups: np.ndarray, n_groups: int) -> None:
        self.model, self.at_m, self.groups, self.n_groups = model, at_m, groups, n_groups
        self.distance = float(at_m[-1])
        # an open runner's course run by his last split (the index after it; 0: none), as his state says
        self.fractions = np.concatenate([[0.0], at_m / self.distance])
        self.rate = 0.0  # the race's stop rate at the last update (per metre)
        self.segments = model.segment_coef if learns_live(model, at_m) else None
        self.ticks = 0  # since the last full update
        self.recomputed = 0  # runners recomputed by the last update (for the benchmark and the tests)
        self._common: bytes | None = None
        self._reads: ReadState | None = None
        self._inputs = np.zeros((0, 4))
        self._p = self._won = self._plan = self._median = self._mu = np.zeros(0)
        self._lost = self._sure = self._stopped = self._near = np.zeros(0, dtype=bool)
        self._split = np.zeros(0, dtype=np.intp)  # each runner's last split (as ``fractions``) in the sums
        self._cdf = np.zeros((0, 0))
        # the sums over the runners near the line of their chance at each node and its variance, if
        # they finish, by pen and last split (row ``group * len(fractions) + split``)
        self._mean = self._var = np.zeros((n_groups * len(self.fractions), 0))

    def update(
        self,
        elapsed_s: np.ndarray,
        start: np.ndarray,
        since_s: np.ndarray,
        prior_finish_s: np.ndarray,
        settled: np.ndarray,
        pursuer: PursuerForecast,
        last_read: np.ndarray | None = None,
        new_reads: np.ndarray | None = None,
    ) -> WinForecast:
        """The forecast now: arguments as :func:`live.forecast.forecast.forecast`'s; ``new_reads``
        (bool per runner): whose passings (``elapsed_s``, ``last_read``) changed since the last
        update, None: anyone's (everything is recomputed)."""
        n = len(start)
        start = np.where(np.isfinite(start), start, np.inf)  # no known start: no chance, never a nan
        shifts, _ = shift_nodes(self.model.race_shift_nu)
        common = pursuer.finish_nodes.tobytes() + np.array([pursuer.planned, n, len(shifts)]).tobytes()
        full = new_reads is None or common != self._common or self._reads is None or self.ticks >= FULL_EVERY
        full = full or id(self.model) != getattr(self, "_model_id", None)
        moved_start = np.zeros(n, dtype=bool) if full else start.view(np.int64) != self._inputs[:, 0].view(np.int64)
        if full or self._reads is None:
            self._reads = read_state(elapsed_s, self.at_m, prior_finish_s, last_read)
        else:
            again = np.flatnonzero(moved_start | (new_reads if new_reads is not None else True))
            if len(again):
                last = None if last_read is None else last_read[again]
                self._reads.put(again, read_state(elapsed_s[again], self.at_m, prior_finish_s[again], last))
        reads = self._reads
        slowing = np.zeros(0)
        if self.segments is not None:
            slowing = live_slowing(self.segments, elapsed_s, self.at_m, since_s, reads.last)
        live = np.where(reads.read, live_offset(slowing, reads.last, self.at_m), 0.0) if len(slowing) else np.zeros(n)
        with np.errstate(invalid="ignore", divide="ignore"):
            since = np.log(np.maximum(since_s, 1.0) / reads.expected_next)
        since = np.where(np.isfinite(since), since, np.nan)
        # what a runner's terms read of the time since his last read: nothing below U_FLOOR
        knee = np.maximum(np.nan_to_num(since, nan=U_FLOOR - 4.0), U_FLOOR)
        inputs = np.column_stack([start, knee, live, settled])
        if full:
            rows, light = np.arange(n), np.zeros(0, dtype=np.intp)
        else:
            differs = inputs.view(np.int64) != self._inputs.view(np.int64)
            heavy = differs[:, 0] | differs[:, 3] | (new_reads if new_reads is not None else True)
            # a settled runner's terms are his outcome's, whatever his time since his last read
            rows = np.flatnonzero(heavy | ((differs[:, 1] | differs[:, 2]) & np.isnan(settled)))
            # whose time since his last read or the race's slowing alone moved: if sure to lose (win) and
            # his centre moved up (down), only his median moves (a centre from his inputs alone)
            light = rows[~heavy[rows] & (self._lost[rows] | self._sure[rows] | self._stopped[rows])]
        self._inputs = inputs

        def state_of(rows: np.ndarray) -> RunnerState:
            fixed = {f: getattr(reads, f)[rows] for f in ("fraction", "projection_s", "pace_level", "trend", "read")}
            return RunnerState(**fixed, since_read=since[rows], live=live[rows], slowing=slowing)

        if len(light):
            rows = rows[~self._carry(light, state_of(light), start[light], pursuer, n)[rows]]
        terms = _row_terms(self.model, state_of(rows), start[rows], settled[rows], pursuer, self.distance)
        self._apply(rows, terms, full, n, len(pursuer.finish_nodes) * len(shifts), reads.last + 1)
        self._common, self._model_id = common, id(self.model)
        self.ticks = 0 if full else self.ticks + 1
        self.recomputed = len(rows)
        self.rate = stop_rate(elapsed_s, self.at_m, since_s)
        return self._result(pursuer, np.isnan(settled))

    def _carry(
        self, rows: np.ndarray, state: RunnerState, start: np.ndarray, pursuer: PursuerForecast, n: int
    ) -> np.ndarray:
        """Of the runners ``rows`` (whose time since their last read or the race's slowing alone
        moved), carry those whose chance is still 0 or 1: sure to lose by the extreme nodes, or
        stopped and still so, whose centre moved up (or, moved down, still sure to lose at the
        latest node); sure to win whose centre moved down (or, up, still sure at the earliest node).
        Their median and chance at the plan are recomputed. Which runners were carried (bool, n)."""
        dist = runner_distributions(self.model, state, self.distance)
        old, stopped = self._mu[rows], has_stopped(state)
        up, down = dist.mu >= old, dist.mu <= old
        lost, sure = self._lost[rows], self._sure[rows]
        losing = lost | (self._stopped[rows] & stopped)
        shifts, _ = shift_nodes(self.model.race_shift_nu)
        f_min, f_max = float(pursuer.finish_nodes.min()), float(pursuer.finish_nodes.max())
        check = np.flatnonzero((losing & ~up) | (sure & ~down))  # the one node that decides them
        if len(check):
            part = RunnerDistributions(*(getattr(dist, f)[check] for f in dist.__dataclass_fields__))
            one = _take(state, check)
            latest = _node_cdf(self.model, one, part, start[check], f_max, float(shifts.min()))
            earliest = _node_cdf(self.model, one, part, start[check], f_min, float(shifts.max()))
            lost = lost.copy()
            lost[check] = np.where(losing[check], latest <= DECIDED, False)
            still = (latest <= DECIDED) | (stopped[check] & (latest < 1.0 - DECIDED))  # and not sure to win
            up[check] = np.where(losing[check], still, False)
            down[check] = np.where(sure[check], earliest >= 1.0 - DECIDED, False)
        keep = (losing & up) | (sure & down)
        kept, state = rows[keep], _take(state, keep)
        mu_old = old[keep]
        dist = RunnerDistributions(*(getattr(dist, f)[keep] for f in dist.__dataclass_fields__))
        self._mu[kept], self._lost[kept] = dist.mu, lost[keep]
        self._stopped[kept] = stopped[keep] & ~sure[keep]
        self._median[kept] = start[keep] + median_finish_s(self.model, state, dist)
        # his chance at the plan moves too, unless it is 0 and his centre went up, or 1 and down
        plan = self._plan[kept]
        moves = np.flatnonzero(~(((plan == 0.0) & (dist.mu >= mu_old)) | ((plan == 1.0) & (dist.mu <= mu_old))))
        if len(moves):
            part = RunnerDistributions(*(getattr(dist, f)[moves] for f in dist.__dataclass_fields__))
            plan[moves] = _node_cdf(self.model, _take(state, moves), part, start[keep][moves], pursuer.planned, 0.0)
        self._plan[kept] = plan
        carried = np.zeros(n, dtype=bool)
        carried[kept] = True
        return carried

    def _apply(self, rows: np.ndarray, terms: _Rows, full: bool, n: int, nodes: int, split: np.ndarray) -> None:
        """Take the runners ``rows``' new terms, and the sums by their differences (or anew): only the
        runners computed node by node, now or last time, move them. ``split`` (n,): each runner's last
        split now (as ``fractions``; a runner's moves only with a new read, so only with his terms)."""
        near = rows[terms.near]
        if full:
            self._p, self._won, self._plan, self._median = terms.p, terms.won, terms.plan, terms.median
            self._mu, self._lost, self._sure, self._stopped = terms.mu, terms.lost, terms.sure, terms.stopped
            self._split = split.copy()
            self._cdf = np.zeros((n, nodes))
            self._cdf[near] = terms.cdf
            self._near = np.zeros(n, dtype=bool)
            self._near[near] = True
            self._mean, self._var = self._by_key(near, split[near], terms.cdf, terms.cdf * (1.0 - terms.cdf))
            return
        was = rows[self._near[rows]]
        old = self._cdf[was]
        # the new terms added at each one's split now, the old ones taken away at his last
        mean, var = self._by_key(near, split[near], terms.cdf, terms.cdf * (1.0 - terms.cdf))
        mean_old, var_old = self._by_key(was, self._split[was], old, old * (1.0 - old))
        self._mean += mean - mean_old
        self._var += var - var_old
        for name in ("p", "won", "plan", "median", "mu", "lost", "sure", "stopped"):
            getattr(self, f"_{name}")[rows] = getattr(terms, name)
        self._split[rows] = split[rows]
        self._cdf[was] = 0.0
        self._cdf[near] = terms.cdf
        self._near[rows] = False
        self._near[near] = True

    def _by_key(self, rows: np.ndarray, split: np.ndarray, *values: np.ndarray) -> list[np.ndarray]:
        """Sums of each of ``values`` (one row per runner of ``rows``, at his last split ``split``) by pen
        and last split, in float64: (pens × splits, columns) each, row ``pen * len(fractions) + split``."""
        key = self.groups[rows] * len(self.fractions) + split
        order = np.argsort(key, kind="stable")
        key = key[order]
        first = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]])) if len(key) else np.zeros(0, np.intp)
        out = []
        for v in values:
            sums = np.zeros((self.n_groups * len(self.fractions), v.shape[1]))
            if len(first):
                sums[key[first]] = np.add.reduceat(np.take(v, order, axis=0), first, axis=0, dtype=np.float64)
            out.append(sums)
        return out

    def _result(self, pursuer: PursuerForecast, open_: np.ndarray) -> WinForecast:
        """The forecast from the carried terms, each open runner's chances times his chance to finish at
        the race's stop rate now (``open_``: not settled). A chance ``c`` at a node becomes ``f c``, its
        variance ``f c (1 − f c) = f² c (1 − c) + f (1 − f) c``; one sure to win if he finishes is
        ``f``, variance ``f (1 − f)``; with no stops ``f`` is 1 and nothing moves."""
        shifts, shift_w = shift_nodes(self.model.race_shift_nu)
        f_w = np.full(len(pursuer.finish_nodes), 1.0 / len(pursuer.finish_nodes))
        weight = np.repeat(f_w, len(shifts)) * np.tile(shift_w, len(f_w))
        f = finish_chance(self.rate, self.fractions, self.distance)  # by last split
        chance = np.where(open_, f[self._split], 1.0)  # each runner's (a settled one's outcome stands)
        won = self._won * chance
        sums = (self.n_groups, len(f), -1)
        mean = np.einsum("gsk,s->gk", self._mean.reshape(sums), f)
        var = np.einsum("gsk,s->gk", self._var.reshape(sums), f * f)
        var += np.einsum("gsk,s->gk", self._mean.reshape(sums), f * (1.0 - f))
        mean += np.bincount(self.groups, weights=won, minlength=self.n_groups)[:, None]
        sure = np.where(self._sure, chance * (1.0 - chance), 0.0)
        var += np.bincount(self.groups, weights=sure, minlength=self.n_groups)[:, None]
        node_mean, node_var = mean.sum(axis=0), var.sum(axis=0)
        low, high = _mixture_band(node_mean, node_var, weight)
        by_group = np.zeros((self.n_groups, 3))
        for g in range(self.n_groups):
            by_group[g] = (float(mean[g] @ weight), *_mixture_band(mean[g], var[g], weight))
        return WinForecast(
            win_probability=self._p * chance,
            predicted_finish=self._median.copy(),
            expected=float(node_mean @ weight),
            low=low,
            high=high,
            coverage=COVERAGE,
            at_plan=float(self._plan @ chance),
            by_group=by_group,
            pursuer=pursuer,
        )


# runner_distributions: what a study may replace (simulator/calibration_bound.py)
__all__ = ["FULL_EVERY", "ForecastRows", "runner_distributions"]
