"""Chase maths: the pursuer's position, every runner's gap, margin, catch and status.

Outcome rule (SPEC §2): a runner wins iff his finish passing is strictly earlier than the
pursuer's. Caught is confirmed when the pursuer is read at a timing point the runner has not
reached yet (or reached later); provisional when the projections have crossed by more than the
runner's projection can be trusted: ``CATCH_SLACK_M`` plus ``CATCH_SLACK_SHARE`` of the metres he
is projected past his last read (a runner read 300 m back is caught once the pursuer is 20 m past
where he is thought to be, one just read once he is 5 m past).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from live.chase.projection import Reads, last_read, project, project_reads
from live.chase.snapshot import AHEAD, CAUGHT, DNF, DQ, FINISHED, REGISTERED, STARTED, STATUSES, WON
from live.race.schedule import SpeedSchedule

UNCERTAINTY_SHARE = 0.03  # how far a predicted margin may move unnoticed: ±3 % of the time left
UNCERTAINTY_MIN_S = 2.0
CATCH_SLACK_M = 5.0  # a provisional catch: the pursuer projected at least this far past the runner
CATCH_SLACK_SHARE = 0.05  # plus this share of the runner's metres projected since his last read


@dataclass(frozen=True)
class PursuerPosition:
    status: str  # waiting | running | finished
    distance_m: float  # may be negative before his gun: where his trajectory would be
    speed_m_s: float
    finish: float | None
    predicted_finish: float


@dataclass(frozen=True)
class ChaseResult:
    status: np.ndarray
    distance_m: np.ndarray
    gap_m: np.ndarray
    gap_s: np.ndarray
    margin_s: np.ndarray
    catch_at_m: np.ndarray
    catch_in_s: np.ndarray
    overdue: np.ndarray
    predicted_finish: np.ndarray
    pursuer: PursuerPosition
    speed_m_s: np.ndarray
    confirmed: np.ndarray  # bool: caught on the mats (not only by the projections)
    last_tp: np.ndarray  # index of each runner's last timing point read, -1 if none


def pursuer_position(
    times: np.ndarray,
    at_m: np.ndarray,
    planned_speed_m_s: float,
    gun: float | None,
    planned_start: float,
    now: float,
    schedule: SpeedSchedule | None = None,
    gps: tuple[float, float] | None = None,
) -> PursuerPosition:
    """Where the pursuer is: from his passings, else from his gun (or planned start) at planned pace
    or, for a catcher car, along his speed schedule. ``gps`` (distance along the course, unix time)
    is a GPS fix projected onto the course: it counts when it is newer than his last passing."""
    distance = float(at_m[-1])
    read = np.flatnonzero(~np.isnan(times))
    if gps is not None and not (len(read) and read[-1] == len(at_m) - 1):
        gps_m, gps_t = gps
        last_t = times[read[-1]] if len(read) else -np.inf
        if gps_t > last_t and now >= gps_t:
            v = planned_speed_m_s
            if len(read) and gps_t > times[read[-1]] and gps_m > at_m[read[-1]]:
                v = (gps_m - at_m[read[-1]]) / (gps_t - times[read[-1]])
            d = min(gps_m + v * (now - gps_t), distance)
            return PursuerPosition("running", d, v, None, now + (distance - d) / v)
    if schedule is not None and np.isnan(times).all():
        start = gun if gun is not None else planned_start
        elapsed = now - start
        status = "running" if gun is not None and elapsed >= 0 else "waiting"
        d = float(schedule.distance_at(elapsed)) if elapsed >= 0 else planned_speed_m_s * elapsed
        finish_at = start + float(schedule.elapsed_at(distance))
        if d >= distance:
            return PursuerPosition("finished", distance, schedule.speed_at(elapsed), finish_at, finish_at)
        return PursuerPosition(status, d, schedule.speed_at(max(elapsed, 0.0)), None, finish_at)
    row = times[None, :]
    last = int(last_read(row)[0])
    if last == len(at_m) - 1:
        finish = float(times[-1])
        return PursuerPosition("finished", distance, planned_speed_m_s, finish, finish)
    if last >= 0:
        p = project(row, at_m, np.array([planned_speed_m_s]), now)
        d, v = float(p.distance_m[0]), float(p.speed_m_s[0])
        # a pursuer who missed a mat must not stall at it: follow his pace past a late mat
        unclamped = float(at_m[last] + v * max(now - times[last], 0.0))
        if unclamped > d and now - times[last] > (at_m[last + 1] - at_m[last]) / v + 15.0:
            d = min(unclamped, distance)
        return PursuerPosition("running", d, v, None, now + (distance - d) / v)
    start = gun if gun is not None else planned_start
    d = planned_speed_m_s * (now - start)
    status = "running" if gun is not None and now >= gun else "waiting"
    d = min(d, distance) if status == "running" else min(d, 0.0)
    return PursuerPosition(status, d, planned_speed_m_s, None, now + (distance - d) / planned_speed_m_s)


def evaluate(
    times: np.ndarray | Reads,
    at_m: np.ndarray,
    prior_m_s: np.ndarray,
    pursuer_times: np.ndarray,
    pursuer: PursuerPosition,
    now: float,
    start_s: np.ndarray,
    manual_status: np.ndarray | None = None,
) -> ChaseResult:
    """Every runner's numbers and status against the pursuer at race time ``now``.

    ``start_s`` is each runner's gun (his pen's, or its planned start): a runner not read yet is
    predicted to leave then at his prior speed. The predicted finish here is the point projection
    (constant speed); :mod:`live.forecast.forecast` gives the distribution the margins and the forecast use.
    ``times``: the passings (runners, timing points), or their :class:`Reads` if the caller has them.
    """
    reads = times if isinstance(times, Reads) else Reads.of(times)
    n = reads.columns.shape[1]
    distance = float(at_m[-1])
    proj = project_reads(reads, at_m, prior_m_s, now)
    d, v = proj.distance_m, proj.speed_m_s
    finish = reads.columns[-1]
    finished = ~np.isnan(finish)
    started = proj.last_tp >= 0

    with np.errstate(invalid="ignore", divide="ignore"):
        from_s = np.where(started, now, np.maximum(now, start_s))
        remaining = distance - d
        pred_finish = np.where(finished, finish, from_s + remaining / v)
    p_finish = pursuer.finish if pursuer.finish is not None else pursuer.predicted_finish
    margin = p_finish - pred_finish
    # on his trajectory (before his gun, where it would be: behind the line), for the time he needs and
    # where he meets a runner; the gap shown is to where he is (at the start line until his gun)
    trail_m = d - pursuer.distance_m
    gap_m = d - max(pursuer.distance_m, 0.0)
    gap_s = trail_m / pursuer.speed_m_s

    confirmed = _caught_on_mats(reads, pursuer_times) & started & ~finished
    unread_m = np.where(started, d - at_m[np.maximum(proj.last_tp, 0)], 0.0)
    slack_m = CATCH_SLACK_M + CATCH_SLACK_SHARE * unread_m
    provisional = started & ~finished & (pursuer.status == "running") & (gap_m <= -slack_m)

    status = np.full(n, REGISTERED, dtype=np.int8)
    status[started] = STARTED if pursuer.status == "waiting" else AHEAD
    status[confirmed | provisional] = CAUGHT
    if pursuer.finish is not None:
        status[started & ~finished] = CAUGHT
        status[finished] = np.where(finish[finished] < pursuer.finish, WON, CAUGHT)
    else:
        status[finished] = WON
    if manual_status is not None:
        manual = (manual_status == DNF) | (manual_status == DQ)
        status[manual] = manual_status[manual]

    # where the projected trajectories meet, if before the finish
    closing = pursuer.speed_m_s - v
    with np.errstate(invalid="ignore", divide="ignore"):
        in_s = np.where((closing > 0) & (trail_m > 0), trail_m / closing, np.nan)
        at = d + v * in_s
    meets = (status == AHEAD) | (status == STARTED)
    meets &= np.isfinite(at) & (at < distance)
    catch_at = np.where(meets, at, np.nan)
    catch_in = np.where(meets, in_s, np.nan)
    return ChaseResult(
        status=status,
        distance_m=d,
        gap_m=gap_m,
        gap_s=gap_s,
        margin_s=margin,
        catch_at_m=catch_at,
        catch_in_s=catch_in,
        overdue=proj.overdue & (status != CAUGHT),
        predicted_finish=pred_finish,
        pursuer=pursuer,
        speed_m_s=v,
        confirmed=confirmed | ((pursuer.finish is not None) & ~finished & started),
        last_tp=proj.last_tp,
    )


def _caught_on_mats(reads: Reads, pursuer_times: np.ndarray) -> np.ndarray:
    """Runners the pursuer was read ahead of: at a timing point he passed first, or one he passed that
    the runner has not reached yet (a point the runner missed but was read beyond says nothing)."""
    caught = np.zeros(reads.columns.shape[1], dtype=bool)
    for j in np.flatnonzero(~np.isnan(pursuer_times)):
        t = reads.columns[j]
        caught |= t > pursuer_times[j]
        caught |= np.isnan(t) & (reads.last < j)
    return caught


# What a spectator's dot says: the status, and for a runner still out, how his predicted margin looks.
CLASSES = ("registered", "started", "safe", "at_risk", "doomed", "caught", "won", "dnf", "dq", "finished")


def margin_sigma(predicted_finish: np.ndarray, now: float) -> np.ndarray:
    """Uncertainty of a predicted margin: grows with the time a runner has left."""
    remaining = np.maximum(np.nan_to_num(predicted_finish - now, nan=0.0), 0.0)
    return UNCERTAINTY_MIN_S + UNCERTAINTY_SHARE * remaining


# the class of each status that is one whatever the chance (caught, won, dnf, dq); 0: by the chance
_SETTLED_CLASS = np.zeros(len(STATUSES), dtype=np.uint8)
_SETTLED_CLASS[[CAUGHT, WON, DNF, DQ, FINISHED]] = [5, 6, 7, 8, 9]

SAFE_P = 0.8  # a runner this likely to win shows as safe
DOOMED_P = 0.2  # and this unlikely as about to be caught; between: at risk
CLASS_HYSTERESIS_P = 0.03  # a runner keeps his class until his chance is this far past its threshold


def probability_classes(
    status: np.ndarray, win_probability: np.ndarray, previous: np.ndarray | None = None
) -> np.ndarray:
    """A code into :data:`CLASSES` per runner (uint8): settled statuses as they are; a runner still
    out (or not started yet) by his chance to beat the pursuer. With ``previous`` (last tick's
    classes), a runner whose chance wanders around a threshold keeps his class until it is
    ``CLASS_HYSTERESIS_P`` past it: his dot does not flicker, nor is he resent every tick."""
    p = np.nan_to_num(win_probability, nan=0.0)
    # 2 safe, 3 at risk, 4 doomed; then the settled statuses' own: sums of masks, no branch per runner
    by_chance = 4 - (p >= DOOMED_P).view(np.uint8) - (p >= SAFE_P).view(np.uint8)
    settled = _SETTLED_CLASS[status]
    out: np.ndarray = settled + (settled == 0).view(np.uint8) * by_chance
    if previous is not None and len(previous) == len(out):
        h = CLASS_HYSTERESIS_P
        open_ = (out >= 2) & (out <= 4) & (previous >= 2) & (previous <= 4)
        lo = np.where(previous == 2, SAFE_P - h, np.where(previous == 3, DOOMED_P - h, -1.0))
        hi = np.where(previous == 2, 2.0, np.where(previous == 3, SAFE_P + h, DOOMED_P + h))
        keep = open_ & (p >= lo) & (p < hi)
        out[keep] = previous[keep]
    out[(status == REGISTERED) & (out >= 2) & (out <= 4)] = 0
    return out


def catch_point(
    runner_times: np.ndarray,
    pursuer_times: np.ndarray,
    at_m: np.ndarray,
) -> tuple[float, float] | None:
    """Where and when (``at_m``, unix time) the pursuer caught a runner, from their passings.

    Finds the first timing point the pursuer reached before the runner, then interpolates both
    at constant speed from their last reads before it (a mat either missed is simply skipped).
    None if the pursuer was never read ahead of the runner.
    """
    for j in range(1, len(at_m)):
        t_pj = pursuer_times[j]
        if np.isnan(t_pj):
            continue
        t_rj = runner_times[j]
        if not np.isnan(t_rj) and t_rj <= t_pj:
            continue
        p_before = np.flatnonzero(~np.isnan(pursuer_times[:j]))
        r_before = np.flatnonzero(~np.isnan(runner_times[:j]))
        if len(p_before) == 0 or len(r_before) == 0:
            return float(at_m[j]), float(t_pj)
        ip, ir = int(p_before[-1]), int(r_before[-1])
        a_p, t_p = at_m[ip], pursuer_times[ip]
        a_r, t_r = at_m[ir], runner_times[ir]
        v_p = (at_m[j] - a_p) / (t_pj - t_p)
        if not np.isnan(t_rj):
            v_r = (at_m[j] - a_r) / (t_rj - t_r)
        else:
            first = int(r_before[0])
            v_r = (a_r - at_m[first]) / (t_r - runner_times[first]) if ir > first else v_p / 2
        if v_p <= v_r:
            return float(at_m[j]), float(t_pj)
        t_meet = (a_p - a_r + v_r * t_r - v_p * t_p) / (v_r - v_p)
        at = float(np.clip(a_r + v_r * (t_meet - t_r), max(a_p, a_r), at_m[j]))
        return at, float(t_meet)
    return None
