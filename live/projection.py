"""Projection of runners between timing points: where each one is now and how fast he goes.

Pure functions on NumPy arrays (rows: runners, columns: timing points in course order), so a
tick for tens of thousands of runners is a handful of vector operations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CLAMP_SHORT_M = 3.0  # never project onto the next mat before it has read the runner
SEGMENT_WEIGHT = 0.6  # last segment vs whole race so far, when both are known
OVERDUE_MIN_S = 60.0
OVERDUE_SHARE = 0.25  # late by a quarter of the expected segment time


@dataclass(frozen=True)
class Projection:
    """Per-runner projected state at one instant."""

    distance_m: np.ndarray
    speed_m_s: np.ndarray
    last_tp: np.ndarray  # index of the last timing point read, -1 if none
    overdue: np.ndarray


def last_read(times: np.ndarray) -> np.ndarray:
    """Index of the furthest timing point with a passing in each row, -1 where none."""
    k = times.shape[1]
    has = ~np.isnan(times)
    rev = np.argmax(has[:, ::-1], axis=1)
    return np.where(has.any(axis=1), k - 1 - rev, -1)


def estimate_speed(times: np.ndarray, at_m: np.ndarray, prior_m_s: np.ndarray) -> np.ndarray:
    """Speed in m/s from the passings so far, blended; ``prior_m_s`` before any split."""
    n = times.shape[0]
    rows = np.arange(n)
    last = last_read(times)
    # the previous read timing point before `last`
    masked = times.copy()
    masked[rows, np.maximum(last, 0)] = np.nan
    prev = last_read(np.where(np.arange(times.shape[1]) < last[:, None], masked, np.nan))
    first = np.argmax(~np.isnan(times), axis=1)
    t_last = times[rows, np.maximum(last, 0)]
    with np.errstate(invalid="ignore", divide="ignore"):
        seg = (at_m[np.maximum(last, 0)] - at_m[np.maximum(prev, 0)]) / (t_last - times[rows, np.maximum(prev, 0)])
        whole = (at_m[np.maximum(last, 0)] - at_m[first]) / (t_last - times[rows, first])
    seg = np.where((prev >= 0) & np.isfinite(seg) & (seg > 0), seg, np.nan)
    whole = np.where(np.isfinite(whole) & (whole > 0) & (first != last), whole, np.nan)
    speed = np.where(np.isnan(whole), seg, SEGMENT_WEIGHT * seg + (1 - SEGMENT_WEIGHT) * whole)
    speed = np.where(np.isnan(speed), whole, speed)
    return np.where(np.isnan(speed), prior_m_s, speed)


def project(times: np.ndarray, at_m: np.ndarray, prior_m_s: np.ndarray, now: float) -> Projection:
    """Project every runner to ``now``: advance from the last passing, clamped short of the next mat."""
    n, k = times.shape
    rows = np.arange(n)
    last = last_read(times)
    speed = estimate_speed(times, at_m, prior_m_s)
    li = np.maximum(last, 0)
    t_last = times[rows, li]
    dist = at_m[li] + speed * np.maximum(now - t_last, 0.0)
    nxt = np.minimum(li + 1, k - 1)
    limit = np.where(last == k - 1, at_m[-1], at_m[nxt] - CLAMP_SHORT_M)
    dist = np.where(last >= 0, np.minimum(dist, limit), 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        expected_s = (at_m[nxt] - at_m[li]) / speed
    late_s = (now - t_last) - expected_s
    overdue = (last >= 0) & (last < k - 1) & (late_s > np.maximum(OVERDUE_MIN_S, OVERDUE_SHARE * expected_s))
    return Projection(distance_m=dist, speed_m_s=speed, last_tp=last, overdue=overdue)


def plausible_passings(
    times: np.ndarray, at_m: np.ndarray, mat_of_tp: list[str], max_speed_m_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Passings as the engine should use them, and a mask of those it must not (kept, flagged).

    Two rules (SPEC §2, §5): a read at a mat crossed more than once belongs to the crossing the
    runner can plausibly reach — a read later than his passing at a timing point further along
    moves to the mat's next crossing; and a passing reached faster than ``max_speed_m_s`` from the
    previous accepted one, or not after it, is impossible.
    """
    t = times.astype(float, copy=True)
    k = t.shape[1]
    for mat in dict.fromkeys(mat_of_tp):
        cols = [j for j in range(k) if mat_of_tp[j] == mat]
        for a, b in zip(cols, cols[1:], strict=False):
            between = [j for j in range(a + 1, b) if mat_of_tp[j] != mat]
            if not between:
                continue
            earlier_elsewhere = np.nanmin(np.where(np.isnan(t[:, between]), np.inf, t[:, between]), axis=1)
            move = ~np.isnan(t[:, a]) & np.isnan(t[:, b]) & (earlier_elsewhere < t[:, a])
            t[move, b] = t[move, a]
            t[move, a] = np.nan
    flagged = np.zeros(t.shape, dtype=bool)
    last_t = np.full(t.shape[0], np.nan)
    last_m = np.zeros(t.shape[0])
    for j in range(k):
        tj = t[:, j]
        has = ~np.isnan(tj)
        with np.errstate(invalid="ignore", divide="ignore"):
            speed = (at_m[j] - last_m) / (tj - last_t)
        bad = has & ~np.isnan(last_t) & ((tj <= last_t) | (speed > max_speed_m_s))
        flagged[:, j] = bad
        ok = has & ~bad
        last_t = np.where(ok, tj, last_t)
        last_m = np.where(ok, at_m[j], last_m)
    t[flagged] = np.nan
    return t, flagged
