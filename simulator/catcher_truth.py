"""The simulator's truth for the catcher-car format: where the car passes each simulated runner.

A simulated runner's path is continuous (:func:`covered_share`: a faster first km, then a steady
fade, plus an optional stop), so his true catch is where it crosses the car's schedule: found on a
100 m scan, then by bisection to a millimetre. He stops there, as in the real event: no mat after
it reads him.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from live.race.schedule import SpeedSchedule

SCAN_M = 100.0
FIRST_SHARE = 0.05  # the course fraction whose pace is the declared one
# the pace slope over a 100 km course: nobody holds his 10 km pace for hours (a 30-minute 10 km runner
# runs 4:15/km at 90 km), and even a slow runner's pace stays positive; published World Run catches of
# the best are 61–88 km (research/tracking.md §1.1)
SLOPE_MIN, SLOPE_MAX = 0.4, 0.8
BISECT_STEPS = 30


def covered_share(f: np.ndarray, b: np.ndarray, a: np.ndarray, first_km: float) -> np.ndarray:
    """The share of his course time a runner with first-km boost ``b`` and fade ``a`` has used at course
    fraction ``f`` (broadcast together): pace ``1 + a·(f − ½) − b·max(0, 1 − f/first_km)`` relative to
    his mean, integrated and normalised so the whole course takes 1 (simulator.trajectory.pace_profile)."""
    early = np.where(f < first_km, f - f**2 / (2 * first_km), first_km / 2)
    covered = f + a * (f**2 - f) / 2 - b * early
    covered_fraction: np.ndarray = covered / (1.0 - b * first_km / 2)
    return covered_fraction


def distance_race_pacing(course_s: np.ndarray, fade: np.ndarray, distance_m: float) -> tuple[np.ndarray, np.ndarray]:
    """A catcher-car course's pacing from a road race's: ``fade`` (the pace slope over a road course)
    applies to every 10 km (marathon splits slow about 5 % a 10 km from 20 km on, research/course.md
    §4.2), within ``SLOPE_MIN``–``SLOPE_MAX``, and the course time is set so that the first
    kilometres go at the declared pace (the slope starts below the mean)."""
    slope = np.clip(fade * distance_m / 10_000.0, SLOPE_MIN, SLOPE_MAX)
    first = 1.0 - slope * (0.5 - FIRST_SHARE)
    return course_s / first, slope


@dataclass(frozen=True)
class RunnerPaths:
    """Every simulated runner's path (arrays over runners): start (unix), time for the whole course,
    first-km boost, fade, the course's first km as a fraction, its length, and a stop (course fraction,
    seconds; inf and 0 for none)."""

    start: np.ndarray
    course_s: np.ndarray
    boost: np.ndarray
    fade: np.ndarray
    first_km: float
    distance_m: float
    stop_at: np.ndarray
    stop_s: np.ndarray

    def time_at(self, x: np.ndarray, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
        """When each runner of ``rows`` reaches ``x`` metres (``x``: one per runner, or (runners, g))."""
        f = np.asarray(x, dtype=float) / self.distance_m

        def col(a: np.ndarray) -> np.ndarray:
            out: np.ndarray = a[rows][:, None] if f.ndim == 2 else a[rows]
            return out

        share = covered_share(f, col(self.boost), col(self.fade), self.first_km)
        t: np.ndarray = (
            col(self.start) + col(self.course_s) * share + np.where(f > col(self.stop_at), col(self.stop_s), 0.0)
        )
        return t


def true_catch_m(runners: RunnerPaths, schedule: SpeedSchedule, car_gun: float) -> np.ndarray:
    """Where the car (from ``car_gun`` on ``schedule``) first reaches each runner, in metres."""
    n = len(runners.start)
    grid = np.arange(SCAN_M, runners.distance_m + SCAN_M, SCAN_M)
    car = car_gun + np.asarray(schedule.elapsed_at(grid), dtype=float)
    lo, hi = np.zeros(n), np.full(n, runners.distance_m)
    for chunk in np.array_split(np.arange(n), max(1, n // 500)):
        behind = runners.time_at(np.broadcast_to(grid, (len(chunk), len(grid))), chunk) >= car[None, :]
        has = behind.any(axis=1)
        first = np.argmax(behind, axis=1)
        hi[chunk] = np.where(has, grid[first], runners.distance_m)
        lo[chunk] = np.where(has & (first > 0), grid[np.maximum(first - 1, 0)], 0.0)
    for _ in range(BISECT_STEPS):
        mid = (lo + hi) / 2
        runner_first = runners.time_at(mid) < car_gun + np.asarray(schedule.elapsed_at(mid), dtype=float)
        lo, hi = np.where(runner_first, mid, lo), np.where(runner_first, hi, mid)
    out: np.ndarray = (lo + hi) / 2
    return out
