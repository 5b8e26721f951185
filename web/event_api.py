"""``GET /api/event``: the races of an event, one summary each (race control's event view reads it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.routing import Route

from live.chase.places import Groups, by_distance, listing_order
from live.chase.snapshot import AHEAD, CAUGHT, STARTED, Snapshot
from live.engine.engine import LiveEngine
from live.race.event import Event
from web.http import JSONResponse, api_route, iso_time, num, refuse

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
    body["clock"] = {"now": iso_time(snap.now, race.timezone), "elapsed_s": num(snap.elapsed_s)}
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


def leaderboard(engines: Sequence[LiveEngine]) -> list[dict[str, Any]]:
    """Every runner of the event's catcher-car races in one ranking, by distance, further first: where
    the car passed him, or where he is while he runs (as each race's own results rank them); places
    overall, within sex and within sex and category, across the races."""
    rows: list[tuple[LiveEngine, Snapshot, np.ndarray]] = []
    for engine in engines:
        if engine.race.by_distance and (snap := engine.snapshot) is not None:
            rows += [(engine, snap, np.arange(len(snap.bibs)))]
    if not rows:
        return []
    sex, category, distance, ranked, caught_at, who = [], [], [], [], [], []
    for engine, snap, index in rows:
        people = [engine.race.participant(str(b)) for b in snap.bibs]
        sex += [p.sex if p else "" for p in people]
        category += [p.category if p else "" for p in people]
        caught = snap.status == CAUGHT
        at = snap.caught_at_m if snap.caught_at_m is not None else np.full(len(snap.bibs), np.nan)
        distance.append(np.where(caught, at, snap.distance_m))
        ranked.append(caught | (snap.status == AHEAD) | (snap.status == STARTED))
        caught_at.append(np.where(caught, at, np.nan))
        who += [(engine, snap, int(i), people[int(i)]) for i in index]
    places = by_distance(
        np.concatenate(distance),
        np.concatenate(ranked),
        Groups.of(np.array(sex, dtype=object), np.array(category, dtype=object)),
    )
    at_all, distance_all = np.concatenate(caught_at), np.concatenate(distance)
    out = []
    for row in listing_order(places).tolist():
        if not places.place[row]:
            break
        engine, snap, i, person = who[row]
        place, place_sex, place_category = places.of(row)
        out.append(
            {
                "place": place,
                "place_sex": place_sex,
                "place_category": place_category,
                "bib": str(snap.bibs[i]),
                "name": person.name if person else "",
                "sex": sex[row],
                "category": category[row],
                "race": engine.race.id,
                "race_name": engine.race.name,
                "status": snap.status_name(i),
                "distance_m": num(float(distance_all[row])),
                "caught_at_m": num(float(at_all[row])),
            }
        )
    return out


class EventAPI:
    """The event's own routes, over the engines of its races (in the event's order)."""

    def __init__(self, event: Event, engines: Sequence[LiveEngine]) -> None:
        self.event = event
        self.engines = list(engines)
        self._board: tuple[tuple[Snapshot | None, ...], list[dict[str, Any]]] | None = None  # per tick

    def routes(self) -> list[Route]:
        return [api_route("/api/event", self.get_event), api_route("/api/event/leaderboard", self.get_leaderboard)]

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
        """``GET /api/event/leaderboard?sex=&limit=&offset=``: the catcher-car races' runners in one
        ranking (the world's, at a World Run); ``sex`` keeps one sex (its ``place_sex`` then ranks)."""
        q = request.query_params
        sex = q.get("sex", "")
        try:
            limit, offset = int(q.get("limit", "100")), int(q.get("offset", "0"))
        except ValueError:
            raise refuse(400, "limit and offset must be whole numbers") from None
        if not (1 <= limit <= MAX_PAGE and offset >= 0) or len(sex) > MAX_LABEL:
            raise refuse(400, f"limit must be 1 to {MAX_PAGE}, offset 0 or more, sex at most {MAX_LABEL} characters")
        snaps = tuple(e.snapshot for e in self.engines)
        if self._board is None or any(a is not b for a, b in zip(self._board[0], snaps, strict=True)):
            self._board = (snaps, leaderboard(self.engines))
        rows = [r for r in self._board[1] if not sex or r["sex"] == sex]
        return JSONResponse({"runners": rows[offset : offset + limit], "total": len(rows)})
