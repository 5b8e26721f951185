"""The snapshot of a race without a pursuer (a plain timed race): positions, statuses and counts, and
nothing about a pursuer: no gap, margin, catch nor chance to win (nan), no pursuer nor forecast (None)."""

from __future__ import annotations

import numpy as np

from live.chase.chase import CLASSES, probability_classes
from live.chase.projection import Reads
from live.chase.snapshot import AHEAD, CAUGHT, DNF, DQ, FINISHED, STARTED, STATUSES, WON, Snapshot
from live.chase.timed import TimedResult
from live.race.race import Race


def plain_snapshot(
    race: Race,
    now: float,
    first_gun: float | None,
    bibs: np.ndarray,
    pens: np.ndarray,
    index: dict[str, int],
    reads: Reads,
    result: TimedResult,
) -> Snapshot:
    """The live state at ``now`` from the timed result. Counts carry the chase's keys (``ahead``,
    ``caught``, ``won`` stay 0) and ``finished`` and ``running`` (status ``started``)."""
    lon, lat = race.course.lonlat_at(result.distance_m)
    by_status = np.bincount(result.status, minlength=len(STATUSES))
    counts = {
        "registered": int(len(bibs)),
        "started": int(np.count_nonzero(reads.last >= 0)),  # read anywhere, as in a chase
        "ahead": int(by_status[AHEAD]),
        "caught": int(by_status[CAUGHT]),
        "won": int(by_status[WON]),
        "dnf": int(by_status[DNF]),
        "dq": int(by_status[DQ]),
        "finished": int(by_status[FINISHED]),
        "running": int(by_status[STARTED]),
    }
    nan = np.full(len(bibs), np.nan)
    classes = probability_classes(result.status, nan)  # settled statuses as they are (finished: its own)
    classes[result.status == STARTED] = CLASSES.index("started")  # running: no chance to colour it by
    return Snapshot(
        now=now,
        elapsed_s=max(0.0, now - first_gun) if first_gun is not None else 0.0,
        pursuer=None,
        bibs=bibs,
        pens=pens,
        status=result.status,
        distance_m=result.distance_m,
        lat=lat,
        lon=lon,
        gap_m=nan,
        gap_s=nan,
        margin_s=nan,
        catch_at_m=nan,
        catch_in_s=nan,
        overdue=result.overdue,
        counts=counts,
        forecast=None,
        index=index,
        speed_m_s=result.speed_m_s,
        margin_class=classes,
    )
