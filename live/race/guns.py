"""Which gun markers a reader may fire: from a gun mat, and on race day near its pen's planned start.

A reader's gun marker (ChronoTrack ``guntime``, MYLAPS ``Gunshot``) starts the next pen without a
gun, then the pursuer, each once (``Store.record_gun``). Race control can always start or re-time
a pen by hand (``POST /api/admin/pens/{pen}/start``); these rules only limit what the wire can do.

Once per pen: a gun that comes sooner after the last start set than half the planned gap to the
next one is taken as a second gun for the last pen (a recall, a button pressed twice), not as the
next pen's, and is held: refused and announced (``gun_held``), so that race control confirms it by
starting the next pen at that time by hand, or re-times the last one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from live.race.race import Race

RESEND_S = 5.0  # a gun marker this close to a start already set is its resend (Store.record_gun ignores it)


def gun_mats(race: Race) -> tuple[str, ...]:
    """Mats whose readers may fire guns: ``[readers] gun_mats``, by default the start mat."""
    return race.readers.gun_mats or (race.start_mat.mat,)


def next_start(race: Race, started: Mapping[str, float]) -> tuple[str, datetime] | None:
    """The start a gun marker would set now (``pen:<id>`` or ``pursuer``) and its planned time."""
    for pen in race.pens:
        if f"pen:{pen.id}" not in started:
            return f"pen:{pen.id}", pen.planned_start
    if race.pursuer is None or "pursuer" in started:
        return None
    return "pursuer", race.pursuer.planned_start


def planned_starts(race: Race) -> dict[str, float]:
    """Every start of the race (``pen:<id>``, ``pursuer``) and its planned time (unix seconds)."""
    planned = {f"pen:{p.id}": p.planned_start.timestamp() for p in race.pens}
    if race.pursuer is not None:
        planned["pursuer"] = race.pursuer.planned_start.timestamp()
    return planned


def second_gun(race: Race, t: float, started: Mapping[str, float]) -> str | None:
    """Why a gun marker at ``t`` looks like a second gun for the start set last (once per pen); None
    if it may be the next start's. ``started``: the starts set so far and their times."""
    target = next_start(race, started)
    if target is None or not started or any(abs(t - v) <= RESEND_S for v in started.values()):
        return None  # nothing left to start, or a resend: the store ignores it
    last, last_t = max(started.items(), key=lambda kv: kv[1])
    planned = planned_starts(race)
    if last not in planned:
        return None
    gap = planned[target[0]] - planned[last]
    after = t - last_t
    if after >= gap / 2:
        return None
    return (
        f"a second gun for {last}, {after:+.0f} s from its start, where {target[0]} is planned {gap:.0f} s "
        f"after it: held, {target[0]} not started; race control starts it at this gun's time "
        f"(POST {start_route(target[0])}) or re-times {last}"
    )


def start_route(target: str) -> str:
    """The race-control route that sets ``target`` (``pen:<id>`` or ``pursuer``) by hand."""
    return "/api/admin/pursuer/start" if target == "pursuer" else f"/api/admin/pens/{target[4:]}/start"


def gun_problem(race: Race, mat: str, t: float, started: Mapping[str, float]) -> str | None:
    """Why a gun marker at ``t`` from ``mat`` must not start anything; None if it may.

    On race day (within ``[readers] time_window_h`` of the first planned start) the start it would
    set must be planned within ``[readers] gun_window_min`` of ``t``; on any other day (a rehearsal,
    a simulation) the plan's date says nothing and only the mat is checked. On any day, a second gun
    for the last start (:func:`second_gun`) is held.
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
            f"({race.readers.gun_window_s / 60:g}); race control can start it (POST {start_route(name)})"
        )
    return second_gun(race, t, started)
