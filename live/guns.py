"""Which gun markers a reader may fire: from a gun mat, and on race day near its pen's planned start.

A reader's gun marker (ChronoTrack ``guntime``, MYLAPS ``Gunshot``) starts the next pen without a
gun, then the pursuer, each once (``Store.record_gun``). Race control can always start or re-time
a pen by hand (``POST /api/admin/start_pen``); these rules only limit what the wire can do.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from live.race import Race


def gun_mats(race: Race) -> tuple[str, ...]:
    """Mats whose readers may fire guns: ``[readers] gun_mats``, by default the start mat."""
    return race.readers.gun_mats or (race.start_mat.mat,)


def next_start(race: Race, started: Collection[str]) -> tuple[str, datetime] | None:
    """The start a gun marker would set now (``pen:<id>`` or ``pursuer``) and its planned time."""
    for pen in race.pens:
        if f"pen:{pen.id}" not in started:
            return f"pen:{pen.id}", pen.planned_start
    return None if "pursuer" in started else ("pursuer", race.pursuer.planned_start)


def gun_problem(race: Race, mat: str, t: float, started: Collection[str]) -> str | None:
    """Why a gun marker at ``t`` from ``mat`` must not start anything; None if it may.

    On race day (within ``[readers] time_window_h`` of the first planned start) the start it would
    set must be planned within ``[readers] gun_window_min`` of ``t``; on any other day (a rehearsal,
    a simulation) the plan's date says nothing and only the mat is checked.
    """
    if mat not in gun_mats(race):
        return f"mat {mat!r} may not fire guns ([readers] gun_mats = {list(gun_mats(race))})"
    target = next_start(race, started)
    if target is None:
        return None  # every start is set: the store ignores it
    name, planned = target
    first = min(p.planned_start for p in race.pens).timestamp()
    off_s = t - planned.timestamp()
    if abs(t - first) <= race.readers.time_window_s and abs(off_s) > race.readers.gun_window_s:
        return (
            f"a gun at {datetime.fromtimestamp(t, race.timezone):%H:%M:%S} would start {name}, planned at "
            f"{planned:%H:%M:%S}: {abs(off_s) / 60:.0f} min off, more than [readers] gun_window_min "
            f"({race.readers.gun_window_s / 60:g}); race control can start it (POST /api/admin/start_pen)"
        )
    return None
