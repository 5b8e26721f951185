"""The catcher-car format (SPEC §2): where the pursuer passed each runner, from the runner's passings
and the car's speed schedule.

The car is usually not read at the mats (the World Run's is not): where it is comes from its gun and
its schedule (a read of it at a timing point, when there is one, replaces the schedule's time there).
A runner is **caught, confirmed** when

- he is read at a timing point later than the car passed it (the car was there first), or
- the car passed his next timing point ``CONFIRM_GRACE_S`` ago and he has not been read there: his
  read would have come by now (a reader's reads reach the engine within seconds; the grace also
  covers a runner the car passed at the mat itself). A runner a mat missed and who is read further on
  later is no longer caught: the result is recomputed from the passings every tick.

He is **caught, provisionally** while the car is ``CATCH_SLACK_M`` (plus ``CATCH_SLACK_SHARE`` of the
metres he is projected past his last read) beyond where he is projected: as a finish race's catch.

Where: between his last read before the car passed him and that timing point, the runner at the speed
of that segment (read at both ends), else at the pace of his last segment (the last speed he showed;
a runner slows smoothly, so his last segment says more than his whole race) changing as it changed
from the segment before (up to ``TREND_LIMIT`` of his pace a kilometre), meeting the car
on its schedule: the distance at which the two trajectories cross (bisection: the schedule is
piecewise linear). A provisional catch is placed the same way from his last read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from live.chase.chase import CATCH_SLACK_M, CATCH_SLACK_SHARE
from live.chase.projection import Reads
from live.race.schedule import SpeedSchedule

CONFIRM_GRACE_S = 60.0  # the car passed his next mat this long ago and he was not read there: caught
BISECT_STEPS = 40  # halvings of a segment (a kilometre to under a millimetre)
TREND_LIMIT = 0.05  # a runner's pace trend is taken up to 5 % of his pace a kilometre (a fade, not noise)


@dataclass(frozen=True)
class Catches:
    """Per runner: caught (confirmed or provisional), confirmed, and where and when (nan if not)."""

    caught: np.ndarray
    confirmed: np.ndarray
    at_m: np.ndarray
    time: np.ndarray


def car_times(schedule: SpeedSchedule, gun: float, at_m: np.ndarray, reads: np.ndarray | None = None) -> np.ndarray:
    """When the car passes each timing point (unix): its schedule from its gun, or its read there."""
    planned: np.ndarray = gun + np.asarray(schedule.elapsed_at(at_m), dtype=float)
    if reads is not None:
        planned = np.where(np.isnan(reads), planned, reads)
    return planned


def catches(
    reads: Reads,
    at_m: np.ndarray,
    schedule: SpeedSchedule,
    gun: float | None,
    now: float,
    projected_m: np.ndarray,
    projected_speed_m_s: np.ndarray,
    car_reads: np.ndarray | None = None,
) -> Catches:
    """Every runner's catch by the car at race time ``now`` (see the module's rules). ``gun``: the
    car's start (None: not started, nobody is caught); ``projected_m`` and ``projected_speed_m_s``:
    each runner's projection now (:func:`live.chase.projection.project_reads`)."""
    columns = reads.columns
    k, n = columns.shape
    none = np.zeros(n, dtype=bool)
    if gun is None or now < gun:
        return Catches(none, none.copy(), np.full(n, np.nan), np.full(n, np.nan))
    rows = np.arange(n)
    car_t = car_times(schedule, gun, at_m, car_reads)
    read = ~np.isnan(columns)
    # the last read at or before each point: a running maximum of the read indices down the points
    upto = np.maximum.accumulate(np.where(read, np.arange(k)[:, None], -1), axis=0)
    with np.errstate(invalid="ignore"):
        late = columns > car_t[:, None]  # read after the car passed there
    any_late = late.any(axis=0)
    first_late = np.argmax(late, axis=0)
    last = reads.last
    nxt = np.minimum(last + 1, k - 1)
    passed_next = (last >= 0) & (last < k - 1) & (now >= car_t[nxt] + CONFIRM_GRACE_S)
    by_mat = any_late | passed_next
    j = np.where(any_late, first_late, nxt)  # the timing point the car reached first
    i = np.where(j > 0, upto[np.maximum(j - 1, 0), rows], -1)  # his last read before it
    t_i = np.where(i >= 0, columns[np.maximum(i, 0), rows], np.nan)
    a_i = at_m[np.maximum(i, 0)]
    # his speed: over the segment the car caught him in if read at both ends, else his last segment's
    with np.errstate(invalid="ignore", divide="ignore"):
        seg_v = (at_m[j] - a_i) / (columns[j, rows] - t_i)
        p = np.where(i > 0, upto[np.maximum(i - 1, 0), rows], -1)
        t_p = np.where(p >= 0, columns[np.maximum(p, 0), rows], np.nan)
        last_v = (a_i - at_m[np.maximum(p, 0)]) / (t_i - t_p)
    v = np.where(any_late & np.isfinite(seg_v) & (seg_v > 0), seg_v, last_v)
    v = np.where(np.isfinite(v) & (v > 0), v, projected_speed_m_s)
    # how his pace was changing: from the segment before his last to his last (runners fade smoothly)
    with np.errstate(invalid="ignore", divide="ignore"):
        p2 = np.where(p > 0, upto[np.maximum(p - 1, 0), rows], -1)
        t_p2 = np.where(p2 >= 0, columns[np.maximum(p2, 0), rows], np.nan)
        a_p, a_p2 = at_m[np.maximum(p, 0)], at_m[np.maximum(p2, 0)]
        pace_before = (t_p - t_p2) / (a_p - a_p2)
        trend = (1.0 / last_v - pace_before) / ((a_i - a_p2) / 2)  # s per m, per m
    trend = np.where(~any_late & np.isfinite(trend) & np.isfinite(last_v), trend, 0.0)
    limit = TREND_LIMIT / np.maximum(v, 1e-3) / 1000.0  # at most this share of his pace a km
    trend = np.clip(trend, -limit, limit)

    # provisionally: the car projected past him by the slack
    car_m = float(schedule.distance_at(now - gun))
    unread_m = np.where(last >= 0, projected_m - at_m[np.maximum(last, 0)], 0.0)
    provisional = ~by_mat & (last >= 0) & (car_m >= projected_m + CATCH_SLACK_M + CATCH_SLACK_SHARE * unread_m)
    caught = by_mat | provisional
    lo = np.where(by_mat, a_i, at_m[np.maximum(last, 0)])
    hi = np.where(by_mat, at_m[j], np.maximum(car_m, lo))
    t0 = np.where(by_mat, t_i, columns[np.maximum(last, 0), rows])
    v = np.where(by_mat, v, projected_speed_m_s)
    # his pace at a_i is his last segment's plus the trend over half of it
    half = np.where(by_mat, (a_i - at_m[np.maximum(p, 0)]) / 2, 0.0)
    at = _meet(schedule, gun, lo, hi, t0, v, np.where(by_mat, trend, 0.0), half)
    at = np.where(by_mat & (i < 0), at_m[j], at)  # passed before his first read: at that point
    at = np.where(caught, at, np.nan)
    when = np.where(caught, gun + np.asarray(schedule.elapsed_at(np.nan_to_num(at)), dtype=float), np.nan)
    return Catches(caught, by_mat.copy(), at, when)


def _meet(
    schedule: SpeedSchedule,
    gun: float,
    lo: np.ndarray,
    hi: np.ndarray,
    t0: np.ndarray,
    v: np.ndarray,
    trend: np.ndarray,
    behind_m: np.ndarray,
) -> np.ndarray:
    """Where a runner leaving ``lo`` at ``t0`` meets the car, within ``[lo, hi]`` (the car reaches ``lo``
    after him; if he would reach ``hi`` first too, ``hi``). His pace (s/m) is ``1/v`` at ``behind_m``
    metres before ``lo`` and changes by ``trend`` (s/m per m) as he goes."""
    a0 = lo.astype(float)
    lo, hi = a0.copy(), np.maximum(hi, lo).astype(float)
    pace = 1.0 / np.where(np.isfinite(v) & (v > 0), v, 1e-3)
    t0 = np.nan_to_num(t0)
    for _ in range(BISECT_STEPS):
        mid = (lo + hi) / 2
        # his time to ``mid``: the mean pace over the way there, times the way
        mean_pace = np.maximum(pace + trend * (behind_m + (mid - a0) / 2), pace / 2)
        runner_first = gun + np.asarray(schedule.elapsed_at(mid), dtype=float) > t0 + (mid - a0) * mean_pace
        lo, hi = np.where(runner_first, mid, lo), np.where(runner_first, hi, mid)
    out: np.ndarray = (lo + hi) / 2
    return out
