"""``GET /api/event``: the races of an event, one summary each (race control's event view reads it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.routing import Route

from live.chase.snapshot import Snapshot
from live.engine.engine import LiveEngine
from live.race.event import Event
from web.http import JSONResponse, iso_time, num


def race_path(event: Event, race_id: str) -> str:
    """Where a race's pages are: ``/races/{id}/`` (the first race's are also at ``/``)."""
    return f"/races/{race_id}/"


def leader(snap: Snapshot) -> dict[str, Any] | None:
    """The runner furthest along the course (None before anyone has left the start)."""
    if not len(snap.bibs):
        return None
    distance = np.nan_to_num(np.asarray(snap.distance_m, dtype=float), nan=-1.0)
    row = int(np.argmax(distance))
    if distance[row] <= 0:  # nobody past the start yet
        return None
    return {"bib": str(snap.bibs[row]), "distance_m": num(float(distance[row]))}


def race_summary(event: Event, engine: LiveEngine) -> dict[str, Any]:
    """One race's card: what it is, its clock, its pursuer or leader, its counts and forecast."""
    race = engine.race
    snap = engine.snapshot
    base = race_path(event, race.id)
    pursuer = race.pursuer
    body: dict[str, Any] = {
        "id": race.id,
        "name": race.name,
        "outcome": getattr(race, "outcome", "finish"),
        "distance_m": race.distance_m,
        "timezone": race.timezone.key,
        "participants": len(race.participants) - (1 if pursuer is not None else 0),
        "quota": race.quota,
        "links": {
            "control": base,
            "follow": f"{base}follow",
            "commentary": f"{base}commentary",
            "state": f"{base}api/state",
            "results": f"{base}api/results.csv",
        },  # fmt: skip
        "ready": snap is not None,
        "clock": None,
        "counts": None,
        "pursuer": None,
        "leader": None,
        "forecast": None,
    }
    if snap is None:
        return body
    body["clock"] = {"now": iso_time(snap.now, race.timezone), "elapsed_s": num(snap.elapsed_s)}
    body["counts"] = snap.counts
    body["leader"] = leader(snap)
    if pursuer is not None and (p := snap.pursuer) is not None:
        body["pursuer"] = {"bib": p.bib, "name": pursuer.name, "status": p.status,
                           "distance_m": num(p.distance_m), "pace_s_per_km": num(p.pace_s_per_km)}  # fmt: skip
    if (f := snap.forecast) is not None:
        body["forecast"] = {"winners": f.winners, "low": f.low, "high": f.high, "level": f.level, "quota": f.quota}
    return body


class EventAPI:
    """The event's own routes, over the engines of its races (in the event's order)."""

    def __init__(self, event: Event, engines: Sequence[LiveEngine]) -> None:
        self.event = event
        self.engines = list(engines)

    def routes(self) -> list[Route]:
        return [Route("/api/event", self.get_event)]

    def body(self) -> dict[str, Any]:
        e = self.event
        return {
            "id": e.id,
            "name": e.name,
            "timezone": e.timezone.key,
            "date": e.date.isoformat() if e.date else None,
            "races": [race_summary(e, engine) for engine in self.engines],
        }

    async def get_event(self, request: Request) -> JSONResponse:
        return JSONResponse(self.body())
