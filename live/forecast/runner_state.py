"""What the passings so far say about each runner (:class:`RunnerState`): how far he is, how fast, his
last segment against his average, how long since his last read, and what the race's conditions
add on the course he has left (:mod:`live.forecast.race_conditions`); and the forecast model's features
from it (:func:`design`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from live.forecast.model import MARATHON_M, PACE_REFERENCE_S
from live.forecast.race_conditions import live_offset, live_slowing

N_FEATURES = 6
U_FLOOR, U_KNEE = -1.0, 0.0  # time-since-last-read feature: piecewise linear, knees in log units


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


@dataclass(frozen=True)
class ReadState:
    """What a runner's passings alone say (arrays over runners): the part of :class:`RunnerState` that
    moves only with a new passing or a new start, kept between ticks by :mod:`live.forecast.win_rows`."""

    fraction: np.ndarray
    projection_s: np.ndarray
    pace_level: np.ndarray
    trend: np.ndarray
    read: np.ndarray
    last: np.ndarray  # index of his last usable read, -1 if none
    expected_next: np.ndarray  # the time his next segment should take (nan: no next read to wait for)

    def take(self, rows: np.ndarray) -> ReadState:
        """The same of the runners ``rows`` only."""
        return ReadState(*(getattr(self, f)[rows] for f in self.__dataclass_fields__))

    def put(self, rows: np.ndarray, part: ReadState) -> None:
        """Set the runners ``rows`` to ``part`` (the arrays in place)."""
        for f in self.__dataclass_fields__:
            getattr(self, f)[rows] = getattr(part, f)


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
    race's own slowing live (:func:`live.forecast.race_conditions.live_slowing`); None: not learned (another course).
    """
    reads = read_state(elapsed_s, at_m, prior_finish_s, last_read)
    slowing = np.zeros(0) if segment_coef is None else live_slowing(segment_coef, elapsed_s, at_m, since_s, reads.last)
    return state_at(reads, since_s, slowing, at_m)


def state_at(reads: ReadState, since_s: np.ndarray, slowing: np.ndarray, at_m: np.ndarray) -> RunnerState:
    """The state of runners whose passings say ``reads``, ``since_s`` after their last read, in a race
    whose slowing learned live is ``slowing`` (empty: none learned)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        since = np.log(np.maximum(since_s, 1.0) / reads.expected_next)
    since = np.where(np.isfinite(since), since, np.nan)
    if len(slowing):
        live = np.where(reads.read, live_offset(slowing, reads.last, at_m), 0.0)
    else:
        live = np.zeros(len(since))
    return RunnerState(
        fraction=reads.fraction,
        projection_s=reads.projection_s,
        pace_level=reads.pace_level,
        trend=reads.trend,
        since_read=since,
        read=reads.read,
        live=live,
        slowing=slowing,
    )


def read_state(
    elapsed_s: np.ndarray, at_m: np.ndarray, prior_finish_s: np.ndarray, last_read: np.ndarray | None = None
) -> ReadState:
    """What the passings alone say (:func:`runner_state`'s arguments)."""
    n, k = elapsed_s.shape
    distance = float(at_m[-1])
    rows = np.arange(n)
    if last_read is None:
        usable = ~np.isnan(elapsed_s) & (at_m[None, :] > 0)
        # the last usable point at or before each one: one running maximum over the row
        upto = np.maximum.accumulate(np.where(usable, np.arange(k, dtype=np.intp)[None, :], -1), axis=1)
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
    prev = _previous_usable(elapsed_s, at_m, last)
    has_prev = prev >= 0
    prev = np.maximum(prev, 0)
    t_prev, d_prev = elapsed_s[rows, prev], at_m[prev]
    with np.errstate(invalid="ignore", divide="ignore"):
        pace = t_last / d_last
        trend = np.log(((t_last - t_prev) / (d_last - d_prev)) / (t_prev / d_prev))
        nxt = np.minimum(last + 1, k - 1)
        expected_next = np.maximum(at_m[nxt] - d_last, 1.0) * pace
    trend = np.where(has & has_prev & np.isfinite(trend), trend, 0.0)
    projection = np.where(has, pace * distance, prior_finish_s)
    projection = np.where(np.isfinite(projection) & (projection > 0), projection, np.nan)  # nan: no chance
    with np.errstate(invalid="ignore"):
        level = np.log(projection * (MARATHON_M / distance) / PACE_REFERENCE_S)
    return ReadState(
        fraction=np.where(has, d_last / distance, 0.0),
        projection_s=projection,
        pace_level=np.nan_to_num(level, nan=0.0),
        trend=trend,
        read=has,
        last=np.where(has, last, -1),
        expected_next=np.where(has & (last < k - 1), expected_next, np.nan),
    )


def _previous_usable(elapsed_s: np.ndarray, at_m: np.ndarray, last: np.ndarray) -> np.ndarray:
    """The last usable point (read, past the start) before each runner's ``last``, -1 if none."""
    n, k = elapsed_s.shape
    prev = np.full(n, -1, dtype=np.intp)
    for j in range(k - 1):
        if at_m[j] > 0:
            prev = np.where((j < last) & ~np.isnan(elapsed_s[:, j]), j, prev)
    return prev
