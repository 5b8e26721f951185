"""Runners who will stop: the race's own rate of dropouts, learned live from the runners who have
already stopped, and each open runner's chance to reach the finish at all.

A runner read at a split and not at the next by STOPPED_AFTER times what that segment should take
at his pace has stopped (:func:`live.forecast.distributions.has_stopped` takes his chance away). One who
will stop later cannot be seen; but the race shows how often its runners stop: on each segment,
of the runners read at its start long enough ago that a stop there would be seen by now (the
*judged*), how many were not read again. The rate per metre pooled over the segments
(:func:`stop_rate`) is carried to the course each open runner has left: his chance to finish is
``exp(-rate × metres left)`` (:func:`finish_chance`). Nothing here is fixed before the race: the
training files hold finishers only and their dropout rate is unknown, so a race with no stops
gives a rate of 0 and the forecast is what it was without this.
"""

from __future__ import annotations

import numpy as np

from live.forecast.race_conditions import STOPPED_AFTER, split_columns

PRIOR_RUNNERS = 500  # the rate is shrunk towards 0 as if this many runners had run the course without stopping
MAT_DOWN = 0.2  # a segment where more than this share of the judged were not read again: a mat down, not stops


def stop_rate(elapsed_s: np.ndarray, at_m: np.ndarray, since_s: np.ndarray) -> float:
    """Stops per metre run, learned from the race so far (durations since each runner's own start;
    ``since_s``: now minus each one's last read).

    Per segment (one split ``a`` to the next ``b``), the judged are those read at ``a`` for whom
    STOPPED_AFTER times the segment at their pace has passed; the stopped are the judged not read at
    ``b`` nor further on (one read further on without ``b`` passed a mat that missed him). The rate
    is the stopped over the metres the judged had to run, pooled over the segments, with
    PRIOR_RUNNERS runners' whole course added as run without a stop. A segment that lost more than
    MAT_DOWN of its judged says its mat is down, not that its runners stopped: it is left out."""
    cols = split_columns(at_m)
    columns = [np.ascontiguousarray(elapsed_s[:, c]) for c in cols]  # each split's column, read whole
    last = np.full(len(elapsed_s), -1, dtype=np.intp)  # each one's last read split (index into cols)
    t_last = np.full(len(elapsed_s), np.nan)
    for i, t in enumerate(columns):
        seen = ~np.isnan(t)
        last[seen], t_last[seen] = i, t[seen]
    now_s = t_last + since_s  # each one's clock (nan: never read)
    stops, metres = 0.0, PRIOR_RUNNERS * float(at_m[-1])
    for i in range(len(cols) - 1):
        t_a, d_a, length = columns[i], float(at_m[cols[i]]), float(at_m[cols[i + 1]] - at_m[cols[i]])
        with np.errstate(invalid="ignore"):
            judged = (t_a > 0) & (now_s - t_a >= t_a * (STOPPED_AFTER * length / d_a))
        n_judged = int(np.count_nonzero(judged))
        if n_judged == 0:
            continue
        stopped = int(np.count_nonzero(judged & (last == i)))
        if stopped > MAT_DOWN * n_judged:
            continue
        stops += stopped
        metres += n_judged * length
    return stops / metres


def finish_chance(rate_per_m: float, fraction: np.ndarray, distance_m: float) -> np.ndarray:
    """Each runner's chance to reach the finish at all, from the fraction of the course he has run
    (0: not read yet) and the race's stop rate."""
    out: np.ndarray = np.exp(-rate_per_m * distance_m * (1.0 - fraction))
    return out
