"""Projection of runners between timing points: where each one is now and how fast he goes.

Pure functions on NumPy arrays (rows: runners, columns: timing points in course order), so a
tick for tens of thousands of runners is a handful of vector operations. The tick reads the
passings by timing point (:class:`Reads`: one contiguous row of every runner's times per point),
once: the plausibility rules, each runner's last, previous and first read and the projection come
from that one pass, not from a search of every row per question.
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


@dataclass(frozen=True)
class Reads:
    """The passings by timing point, and where each runner's reads are among them (arrays over runners)."""

    columns: np.ndarray  # (k, n): row j holds every runner's passing at timing point j (nan: none)
    last: np.ndarray  # index of his last timing point read, -1 if none
    prev: np.ndarray  # of the one read before it, -1 if none
    first: np.ndarray  # of his first, 0 if none
    t_last: np.ndarray  # his passing at ``last`` (nan if none)
    t_prev: np.ndarray  # at ``prev`` (nan if none)
    t_first: np.ndarray  # at ``first`` (nan if none)

    @property
    def times(self) -> np.ndarray:
        """The passings as (runners, timing points): a view of :attr:`columns`."""
        return self.columns.T

    @classmethod
    def of(cls, times: np.ndarray) -> Reads:
        """The reads of passings held as (runners, timing points)."""
        columns = np.ascontiguousarray(np.asarray(times, dtype=float).T)
        tracker = _Tracker(columns.shape)
        for j in range(columns.shape[0]):
            tracker.add(j, columns[j])
        return tracker.reads(columns)


class _Tracker:
    """Each runner's last, previous and first read, followed timing point by timing point: running
    maxima and minima in the smallest integers that hold the indices (a mask per point multiplies,
    it is never a branch per runner: the reads of a field in bib order are no pattern)."""

    def __init__(self, shape: tuple[int, int]) -> None:
        self.k, n = shape
        self.dtype = np.int8 if self.k < np.iinfo(np.int8).max else np.intp
        self.last: np.ndarray = np.full(n, -1, dtype=self.dtype)
        self.prev: np.ndarray = np.full(n, -1, dtype=self.dtype)
        self.first: np.ndarray = np.full(n, self.k, dtype=self.dtype)  # k: none yet

    def add(self, j: int, t: np.ndarray) -> None:
        """Timing point ``j``'s passings ``t`` (nan: none, or one that does not count)."""
        read = (~np.isnan(t)).astype(self.dtype)  # 1 where read, else 0
        np.maximum(self.prev, read * (self.last + 1) - 1, out=self.prev)  # last, where read
        np.maximum(self.last, read * (j + 1) - 1, out=self.last)  # j, where read
        np.minimum(self.first, self.k - read * (self.k - j), out=self.first)  # j, where read

    def reads(self, columns: np.ndarray, t_last: np.ndarray | None = None) -> Reads:
        """The reads, their passings taken from ``columns`` (k, n), where they were followed
        (``t_last`` if the caller kept it)."""
        rows = np.arange(columns.shape[1])
        last, prev = self.last.astype(np.intp), self.prev.astype(np.intp)
        first = np.where(self.first < self.k, self.first, 0).astype(np.intp)  # 0 where none, as argmax finds it
        if t_last is None:
            t_last = np.where(last >= 0, columns[np.maximum(last, 0), rows], np.nan)
        t_prev = np.where(prev >= 0, columns[np.maximum(prev, 0), rows], np.nan)
        t_first = columns[first, rows]
        return Reads(columns, last, prev, first, t_last, t_prev, t_first)


def last_read(times: np.ndarray) -> np.ndarray:
    """Index of the furthest timing point with a passing in each row, -1 where none."""
    return Reads.of(times).last


def estimate_speed(times: np.ndarray, at_m: np.ndarray, prior_m_s: np.ndarray) -> np.ndarray:
    """Speed in m/s from the passings so far, blended; ``prior_m_s`` before any split."""
    return reads_speed(Reads.of(times), at_m, prior_m_s)


def reads_speed(reads: Reads, at_m: np.ndarray, prior_m_s: np.ndarray) -> np.ndarray:
    """:func:`estimate_speed` from the reads: the last segment's speed blended with the whole race's."""
    last, prev, first = reads.last, reads.prev, reads.first
    li = np.maximum(last, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        seg = (at_m[li] - at_m[np.maximum(prev, 0)]) / (reads.t_last - reads.t_prev)
        whole = (at_m[li] - at_m[first]) / (reads.t_last - reads.t_first)
    seg = np.where((prev >= 0) & np.isfinite(seg) & (seg > 0), seg, np.nan)
    whole = np.where(np.isfinite(whole) & (whole > 0) & (first != last), whole, np.nan)
    speed = np.where(np.isnan(whole), seg, SEGMENT_WEIGHT * seg + (1 - SEGMENT_WEIGHT) * whole)
    speed = np.where(np.isnan(speed), whole, speed)
    out: np.ndarray = np.where(np.isnan(speed), prior_m_s, speed)
    return out


def project(times: np.ndarray, at_m: np.ndarray, prior_m_s: np.ndarray, now: float) -> Projection:
    """Project every runner to ``now``: advance from the last passing, clamped short of the next mat."""
    return project_reads(Reads.of(times), at_m, prior_m_s, now)


def project_reads(reads: Reads, at_m: np.ndarray, prior_m_s: np.ndarray, now: float) -> Projection:
    """:func:`project` from the reads."""
    k = len(at_m)
    last, t_last = reads.last, reads.t_last
    speed = reads_speed(reads, at_m, prior_m_s)
    li = np.maximum(last, 0)
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
    reads, flagged = plausible_reads(np.asarray(times, dtype=float).T, at_m, mat_of_tp, max_speed_m_s)
    return reads.times, flagged.T


def plausible_reads(
    columns: np.ndarray, at_m: np.ndarray, mat_of_tp: list[str], max_speed_m_s: float
) -> tuple[Reads, np.ndarray]:
    """:func:`plausible_passings` on passings by timing point (k, n): the reads of those to use, and
    the flagged ones (k, n). ``columns`` is not modified."""
    t = np.array(columns, dtype=float, order="C")  # a copy, one contiguous row per timing point
    _second_crossings(t, mat_of_tp)
    k, n = t.shape
    flagged = np.zeros((k, n), dtype=bool)
    tracker = _Tracker((k, n))
    at_or_none = np.append(np.asarray(at_m, dtype=float), 0.0)  # [-1]: 0 m, no read yet
    last_t = np.full(n, np.nan)  # the last accepted passing
    for j in range(k):
        tj = t[j]
        last_m = np.take(at_or_none, tracker.last)  # 0 m where none yet
        with np.errstate(invalid="ignore", divide="ignore"):
            speed = (at_m[j] - last_m) / (tj - last_t)
            # nan compares false: no passing here, or none accepted before, is never flagged
            bad = (tj <= last_t) | (speed > max_speed_m_s)
        if bad.any():
            flagged[j] = bad
            tj[bad] = np.nan  # not used
        tracker.add(j, tj)
        np.fmax(last_t, tj, out=last_t)  # an accepted passing is later than the last: a running maximum
    return tracker.reads(t, last_t), flagged


def _second_crossings(t: np.ndarray, mat_of_tp: list[str]) -> None:
    """Move, in place, a read at a mat crossed more than once that is later than the runner's passing
    at a timing point between two of its crossings to the mat's next crossing (if that has none)."""
    k = t.shape[0]
    for mat in dict.fromkeys(mat_of_tp):
        cols = [j for j in range(k) if mat_of_tp[j] == mat]
        # from the last crossing back: on a lap course a missed lap shifts every later crossing one
        # early, and each moves only once the one after it is free
        for a, b in reversed(list(zip(cols, cols[1:], strict=False))):
            between = [j for j in range(a + 1, b) if mat_of_tp[j] != mat]
            if not between:
                continue
            earlier_elsewhere = np.fmin.reduce(t[between], axis=0)  # nan where none: compares false below
            with np.errstate(invalid="ignore"):
                move = ~np.isnan(t[a]) & np.isnan(t[b]) & (earlier_elsewhere < t[a])
            t[b, move] = t[a, move]
            t[a, move] = np.nan
