"""A catcher-car race's tick (``[race] outcome = "distance"``): the chase's numbers turned into the
format's own. Statuses: a runner is caught where the car passed him (:mod:`live.chase.catcher`), else
still running; nobody wins. Instead of win probabilities: each runner's catch distance (caught) or
predicted catch distance with its band, and the milestone counts (:mod:`live.forecast.catch_forecast`).
Screens' classes by how soon the car reaches a runner (``gap_s``): doomed within ``DOOMED_S``, at risk
within ``AT_RISK_S``, else safe.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from live.chase.catcher import catches
from live.chase.chase import ChaseResult
from live.chase.projection import Reads
from live.chase.snapshot import AHEAD, CAUGHT, DNF, DQ, STARTED, WON
from live.forecast.catch_forecast import CatchForecast, catch_forecast
from live.forecast.distributions import COVERAGE, PursuerForecast, WinForecast
from live.forecast.model import ForecastModel
from live.forecast.runner_state import runner_state
from live.race.race import Race

DOOMED_S = 300.0  # the car reaches him within 5 minutes
AT_RISK_S = 900.0  # within 15


@dataclass(frozen=True)
class CatcherTick:
    """The chase result with the format's statuses, a win forecast of nobody (the shape the rest of the
    tick expects), the classes, and the format's own per-runner arrays and milestones. ``caught_at_m``
    and ``caught_time`` are a confirmed catch's (nan while it is provisional: status caught, no distance)."""

    result: ChaseResult
    win: WinForecast
    classes: np.ndarray
    caught_at_m: np.ndarray
    caught_time: np.ndarray
    forecast: CatchForecast

    def arrays(self) -> dict[str, np.ndarray]:
        """The snapshot's catcher-car arrays."""
        f = self.forecast
        return {
            "caught_at_m": self.caught_at_m,
            "caught_time": self.caught_time,
            "predicted_catch_m": f.median_m,
            "catch_low_m": f.low_m,
            "catch_high_m": f.high_m,
        }

    def milestones(self) -> list[dict[str, float]]:
        """The milestone forecast as the snapshot carries it (``passed``: 1 once the car is past it, and
        the count is counted, else 0)."""
        car_m = max(self.result.pursuer.distance_m, 0.0)
        return [
            {"at_m": m, "expected": round(e, 1), "low": lo, "high": hi, "passed": int(m <= car_m)}
            for m, e, lo, hi in self.forecast.milestones
        ]


def catcher_tick(
    race: Race,
    model: ForecastModel,
    reads: Reads,
    at_m: np.ndarray,
    result: ChaseResult,
    runner_starts: np.ndarray,
    prior_m_s: np.ndarray,
    car_gun: float | None,
    car_planned_start: float,
    car_reads: np.ndarray,
    now: float,
) -> CatcherTick:
    """The format's numbers at race time ``now`` from the passings the chase used and its result."""
    schedule = race.require_pursuer("a catcher-car race").schedule
    assert schedule is not None, "a distance race has a schedule (race_file checks it)"
    n = len(result.status)
    caught = catches(reads, at_m, schedule, car_gun, now, result.distance_m, result.speed_m_s, car_reads)
    started = result.last_tp >= 0
    status = result.status.copy()
    out = (status == DNF) | (status == DQ)
    status[started & ~out] = STARTED if car_gun is None else AHEAD
    status[started & ~out & caught.caught] = CAUGHT
    assert not np.any(status == WON)
    car_m = max(result.pursuer.distance_m, 0.0)

    # the forecast: runners still running, and before the car's gun everyone who may still start
    open_ = (status == AHEAD) | (status == STARTED) | ((status == 0) & (car_gun is None))
    columns = reads.columns
    start_cols = np.flatnonzero(at_m <= 0.0)
    read_start = np.fmin.reduce(columns[start_cols], axis=0) if len(start_cols) else np.full(n, np.nan)
    starts = np.where(np.isnan(read_start), runner_starts, read_start)
    since = np.where(reads.last >= 0, now - reads.t_last, 0.0)
    state = runner_state((columns - starts).T, at_m, since, race.distance_m / prior_m_s, reads.last)
    d_last = np.where(state.read, state.fraction * race.distance_m, 0.0)
    settled_m = np.where(status == CAUGHT, caught.at_m, np.where(out, result.distance_m, np.nan))
    gun = car_gun if car_gun is not None else car_planned_start
    forecast = catch_forecast(
        model, state, race.distance_m, d_last, starts, open_, car_m, schedule, gun, race.milestones_m, settled_m
    )

    classes = np.zeros(n, dtype=np.uint8)
    classes[status == STARTED] = 1
    running = status == AHEAD
    classes[running] = np.where(result.gap_s[running] < DOOMED_S, 4, np.where(result.gap_s[running] < AT_RISK_S, 3, 2))
    classes[status == CAUGHT] = 5
    classes[status == DNF] = 7
    classes[status == DQ] = 8
    nan = np.full(n, np.nan)
    # in how long the car reaches his predicted catch (race control's "next to be caught")
    catch_in = gun + np.asarray(schedule.elapsed_at(np.nan_to_num(forecast.median_m)), dtype=float) - now
    catch_in = np.where(np.isfinite(forecast.median_m) & (car_gun is not None), np.maximum(catch_in, 0.0), np.nan)
    # a runner caught stops there (the format's rule): he is where the car passed him, not projected on
    final = (status == CAUGHT) & caught.confirmed
    distance = np.where(final, caught.at_m, result.distance_m)
    gap = np.where(final, distance - car_m, result.gap_m)
    chased = replace(
        result,
        status=status,
        confirmed=caught.confirmed,
        margin_s=nan,
        catch_at_m=forecast.median_m,
        catch_in_s=catch_in,
        predicted_finish=nan,
        distance_m=distance,
        gap_m=gap,
    )
    finish = result.pursuer.finish if result.pursuer.finish is not None else result.pursuer.predicted_finish
    pursuer = PursuerForecast(np.array([finish]), finish, finish, finish, finish, "plan")
    win = WinForecast(
        win_probability=nan,
        predicted_finish=nan,
        expected=0.0,
        low=0,
        high=0,
        coverage=COVERAGE,
        at_plan=0.0,
        by_group=np.zeros((len(race.pens), 3)),
        pursuer=pursuer,
    )
    # a provisional catch has no distance yet
    return CatcherTick(
        chased, win, classes, np.where(final, caught.at_m, np.nan), np.where(final, caught.time, np.nan), forecast
    )
