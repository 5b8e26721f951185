"""What this race's conditions add, learned live from the runners ahead: on each segment (one split to
the next), how much more (or less) than usual the runners who already ran it slowed
(:func:`live_slowing`), and what that adds to the finish of every runner who still has it to run
(:func:`live_offset`). A race's conditions (heat, wind) move every runner the same way, and a model
fixed before the race cannot know them. Learned only on a course whose split points are the model's
(:func:`learns_live`).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from live.forecast.model import MARATHON_M, PACE_REFERENCE_S, SEGMENT_LEVELS, ForecastModel

SEGMENT_GRACE = 1.4  # a segment is judged once this multiple of its expected time has passed
STOPPED_AFTER = 3.0  # not read at a segment's end by this multiple of its expected time: stopped, not slow
SEGMENT_MIN = 100  # runners in the slower half of a segment's cohort before it says anything


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


def segment_expected(values: np.ndarray, level: np.ndarray) -> np.ndarray:
    """A segment's usual slowing at each pace level, from its row of the model's table (one value
    per :data:`SEGMENT_LEVELS`)."""
    out: np.ndarray = np.interp(level, SEGMENT_LEVELS, values)
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
    as slowed by that much (censored), one read further on without it (a missed mat) is left out,
    and so is one not read there by STOPPED_AFTER times the segment (he has stopped: a dropout).
    Its slower half is the nearest to the runners still to run it. Columns as in
    :func:`live.forecast.runner_state.runner_state`; ``last``: each runner's last read column (-1: none)."""
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
        with np.errstate(invalid="ignore"):
            stopped = ~reached & (now_s - t_a >= t_a * (STOPPED_AFTER * (at_m[b] - at_m[a]) / at_m[a]))
        due &= ~stopped  # one who has stopped says nothing of how the others slow
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
