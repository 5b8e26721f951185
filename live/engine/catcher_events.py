"""Story events of a catcher-car race (``[race] outcome = "distance"``), for commentators: each runner
caught (once his catch is confirmed: where the car passed him), the count still running as the car
passes each milestone, the last man and the last woman still running, and where each of them is caught.
Sex is the participants' ``sex`` column (``M``, ``F``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from live.chase.snapshot import AHEAD, CAUGHT, Snapshot
from live.events import Event
from live.race.race import Race

SEXES = {"M": "man", "F": "woman"}


def km(metres: float) -> str:
    """A distance as commentators say it: ``23.4 km``."""
    return f"{metres / 1000:.1f} km"


def clock(seconds: float) -> str:
    """A duration as ``1:02:03``."""
    s = max(0, round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def milestone_text(count: int, at_m: float) -> str:
    return f"{count:,} runner{'s' if count != 1 else ''} still running at {km(at_m)}."


_SEXES: dict[tuple[str, int], np.ndarray] = {}  # each race's runners' sexes, in the snapshot's order


def catcher_events(race: Race, snap: Snapshot) -> list[Event]:
    """(key, kind, time, text, data) of each event the snapshot shows (each key is emitted once)."""
    sexes = _SEXES.get((race.id, id(snap.bibs)))
    if sexes is None:
        sexes = np.array([getattr(race.participant(str(b)), "sex", "") for b in snap.bibs], dtype=object)
        _SEXES.clear()
        _SEXES[(race.id, id(snap.bibs))] = sexes
    out = caught_events(race, snap)
    car_m = snap.chase()[0].distance_m
    for m in snap.chase()[1].milestones or []:
        if snap.chase()[0].start is not None and car_m >= m["at_m"]:
            count = int(m["expected"])
            out.append(
                Event(
                    f"car-milestone:{m['at_m']:g}",
                    "car_milestone",
                    snap.now,
                    milestone_text(count, m["at_m"]),
                    {"level": "story", "at_m": m["at_m"], "running": count},
                )
            )
    if snap.caught_at_m is None or snap.chase()[0].start is None:
        return out
    out += last_events(race, snap, sexes)
    return out


def caught_events(race: Race, snap: Snapshot) -> list[Event]:
    """Each runner caught, where and after how long, once his catch is confirmed."""
    start = snap.chase()[0].start
    if snap.caught_at_m is None or snap.caught_time is None or start is None:
        return []
    car = race.require_pursuer("a catcher-car race").name
    out: list[Event] = []
    for row in np.flatnonzero(np.isfinite(snap.caught_at_m)).tolist():
        who = _who(race, snap, row)
        at, t = float(snap.caught_at_m[row]), float(snap.caught_time[row])
        text = f"{car} catches {who['name']} (bib {who['bib']}) at {km(at)} after {clock(t - start)}."
        data = {"level": "story", **who, "pen": str(snap.pens[row]), "at_m": round(at, 1), "confirmed": True}
        out.append(Event(f"caught:{who['bib']}", "caught", t, text, data))
    return out


def last_events(race: Race, snap: Snapshot, sexes: np.ndarray) -> list[Event]:
    """The last man and woman still running, then where each was caught."""
    assert snap.caught_at_m is not None
    out: list[Event] = []
    for sex, word in SEXES.items():
        mine = sexes == sex
        running = np.flatnonzero(mine & (snap.status == AHEAD))
        caught = np.flatnonzero(mine & (snap.status == CAUGHT))
        if len(running) == 1 and len(caught):
            row = int(running[0])
            who = _who(race, snap, row)
            at = float(snap.distance_m[row])
            text = f"Last {word} still running: {who['name']} (bib {who['bib']}) at {km(at)}."
            out.append(
                Event(
                    f"last-running:{sex}",
                    "last_running",
                    snap.now,
                    text,
                    {"level": "story", "sex": sex, **who, "at_m": round(at, 1)},
                )
            )
        settled = np.isfinite(snap.caught_at_m[caught])
        if len(running) == 0 and len(caught) and settled.all():
            row = int(caught[np.argmax(snap.caught_at_m[caught])])
            who = _who(race, snap, row)
            at = float(snap.caught_at_m[row])
            t = float(snap.caught_time[row]) if snap.caught_time is not None else snap.now
            text = f"Last {word} caught at {km(at)}: {who['name']} (bib {who['bib']})."
            out.append(
                Event(
                    f"last-caught:{sex}",
                    "last_caught",
                    t,
                    text,
                    {"level": "story", "sex": sex, **who, "at_m": round(at, 1)},
                )
            )
    return out


def _who(race: Race, snap: Snapshot, row: int) -> dict[str, Any]:
    bib = str(snap.bibs[row])
    p = race.participant(bib)
    return {"bib": bib, "name": p.name if p else "", "category": p.category if p else ""}
