"""A race without a pursuer (a plain timed race): every runner's position, status and predicted finish.

The projection is the chase's (``live.chase.projection``); only the outcome differs: a runner read at
the finish has ``finished``, one read anywhere else is ``started`` (running), and race control's
DNF / DQ stand. There is no gap, margin, catch nor chance to win: those arrays are nan.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from live.chase.projection import Reads, project_reads
from live.chase.snapshot import DNF, DQ, FINISHED, REGISTERED, STARTED


@dataclass(frozen=True)
class TimedResult:
    """Per-runner state of a race without a pursuer at one instant (arrays over runners)."""

    status: np.ndarray  # int8 codes into live.chase.snapshot.STATUSES
    distance_m: np.ndarray
    speed_m_s: np.ndarray
    overdue: np.ndarray
    predicted_finish: np.ndarray  # unix time: the finish read, else projected at constant speed
    last_tp: np.ndarray  # index of each runner's last timing point read, -1 if none


def evaluate_timed(
    reads: Reads,
    at_m: np.ndarray,
    prior_m_s: np.ndarray,
    now: float,
    start_s: np.ndarray,
    manual_status: np.ndarray | None = None,
) -> TimedResult:
    """Every runner's numbers and status at race time ``now``; ``start_s`` is each runner's gun (his
    pen's, or its planned start): a runner not read yet is predicted to leave then at his prior speed."""
    proj = project_reads(reads, at_m, prior_m_s, now)
    finish = reads.columns[-1]
    finished = ~np.isnan(finish)
    started = proj.last_tp >= 0
    status = np.full(len(finish), REGISTERED, dtype=np.int8)
    status[started] = STARTED
    status[finished] = FINISHED
    if manual_status is not None:
        manual = (manual_status == DNF) | (manual_status == DQ)
        status[manual] = manual_status[manual]
    with np.errstate(invalid="ignore", divide="ignore"):
        from_s = np.where(started, now, np.maximum(now, start_s))
        predicted = np.where(finished, finish, from_s + (float(at_m[-1]) - proj.distance_m) / proj.speed_m_s)
    return TimedResult(
        status=status,
        distance_m=proj.distance_m,
        speed_m_s=proj.speed_m_s,
        overdue=proj.overdue & (status == STARTED),
        predicted_finish=predicted,
        last_tp=proj.last_tp,
    )
