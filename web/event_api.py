"""``GET /api/event``: the races of an event, one summary each (race control's event view reads it); and
``GET /api/event/leaderboard``, the world ranking of its catcher-car races (``web/world_board.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.routing import Route

from live.chase.snapshot import Snapshot
from live.engine.engine import LiveEngine
from live.race.event import Event
from web.http import JSONResponse, error, iso_time, num
from web.world_board import ZONE_UTC, WorldBoard

MAX_PAGE = 1000
MAX_LABEL = 32


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
        },
        "ready": snap is not None,
        "clock": None,
        "counts": None,
        "pursuer": None,
        "leader": None,
        "forecast": None,
    }
    if snap is None:
        return body
    body["clock"] = {  # the race's own time zone, and the event's clock: UTC
        "now": iso_time(snap.now, race.timezone),
        "utc": iso_time(snap.now, ZONE_UTC),
        "elapsed_s": num(snap.elapsed_s),
    }
    body["counts"] = snap.counts
    body["leader"] = leader(snap)
    if pursuer is not None and (p := snap.pursuer) is not None:
        body["pursuer"] = {
            "bib": p.bib,
            "name": pursuer.name,
            "status": p.status,
            "distance_m": num(p.distance_m),
            "pace_s_per_km": num(p.pace_s_per_km),
        }
    if (f := snap.forecast) is not None and race.by_distance:  # the count still running at each milestone
        body["forecast"] = {"milestones": f.milestones or [], "level": f.level}
    elif f is not None:
        body["forecast"] = {"winners": f.winners, "low": f.low, "high": f.high, "level": f.level, "quota": f.quota}
    return body


class EventAPI:
    """The event's own routes, over the engines of its races (in the event's order)."""

    def __init__(self, event: Event, engines: Sequence[LiveEngine]) -> None:
        self.event = event
        self.engines = list(engines)
        self._board: tuple[tuple[Snapshot | None, ...], WorldBoard] | None = None  # per tick: its snapshots

    def routes(self) -> list[Route]:
        return [Route("/api/event", self.get_event), Route("/api/event/leaderboard", self.get_leaderboard)]

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

    async def get_leaderboard(self, request: Request) -> JSONResponse:
        """``GET /api/event/leaderboard?sex=&nation=&limit=&offset=``: the catcher-car races' runners in
        one ranking (the world's, at a World Run); ``sex`` keeps one sex (its ``place_sex`` then ranks),
        ``nation`` one nation (``place_nation``, or with ``sex`` ``place_nation_sex``). ``nations`` lists
        every nation of the board, for a picker."""
        q = request.query_params
        sex, nation = q.get("sex", ""), q.get("nation", "")
        try:
            limit, offset = int(q.get("limit", "100")), int(q.get("offset", "0"))
        except ValueError:
            return error(400, "limit and offset must be whole numbers")
        if not (1 <= limit <= MAX_PAGE and offset >= 0) or max(len(sex), len(nation)) > MAX_LABEL:
            return error(
                400, f"limit must be 1 to {MAX_PAGE}, offset 0 or more, sex and nation at most {MAX_LABEL} characters"
            )
        snaps = tuple(e.snapshot for e in self.engines)
        if self._board is None or any(a is not b for a, b in zip(self._board[0], snaps, strict=True)):
            self._board = (snaps, WorldBoard(self.engines, self._board[1].roster if self._board else None))
        return JSONResponse(self._board[1].page(sex, nation, offset, limit))
