"""The World Run's one ranking across locations: /api/event/leaderboard over the event's catcher-car
races (web/event_api.py), each race's runners by where the car passed them, further first."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import httpx
import numpy as np
import pytest
from starlette.applications import Starlette

from live.engine.engine import LiveEngine
from live.race.event import Event
from live.race.race_file import load_race
from simulator.trajectory import plan_race
from tests.helpers import running_uvicorn
from web.event_api import EventAPI
from web.world_board import leaderboard

WORLD_RUN = Path(__file__).resolve().parents[2] / "races" / "world-run-paris"
GUN = 1_777_777_000.0


def _finished(race, seed: int) -> LiveEngine:  # type: ignore[no-untyped-def]
    """The race computed by hand once the car has caught everyone (no Redis: the engine's maths)."""
    plan = plan_race(race, GUN, seed=seed, runners=150)
    end = plan.guns[1].time + float(race.pursuer.schedule.elapsed_at(race.distance_m)) + 60
    engine = LiveEngine(race, None)
    for i, bib in enumerate(plan.bibs[:-1]):
        engine.times[engine.row[str(bib)]] = plan.crossings[i]
    engine.guns = {"pen:1": plan.guns[0].time, "pursuer": plan.guns[1].time}
    engine.snapshot = engine.compute(end)
    return engine


@pytest.fixture(scope="module")
def two_locations():  # type: ignore[no-untyped-def]
    paris = load_race(WORLD_RUN)
    vienna = dataclasses.replace(paris, id="world-run-vienna", name="World Run Vienna")
    return [_finished(paris, 5), _finished(vienna, 6)]


def test_the_leaderboard_ranks_every_location_by_distance(two_locations):  # type: ignore[no-untyped-def]
    rows = leaderboard(two_locations)
    assert len(rows) == 300 and {r["race"] for r in rows} == {"world-run-paris", "world-run-vienna"}
    assert [r["place"] for r in rows] == list(range(1, 301))
    distances = [r["distance_m"] for r in rows]
    assert distances == sorted(distances, reverse=True) and all(r["status"] == "caught" for r in rows)
    assert all(r["caught_at_m"] == r["distance_m"] for r in rows)
    for sex in ("M", "F"):
        assert [r["place_sex"] for r in rows if r["sex"] == sex] == list(
            range(1, sum(r["sex"] == sex for r in rows) + 1)
        )
    own = {e.race.id: np.sort(e.snapshot.caught_at_m[np.isfinite(e.snapshot.caught_at_m)])[::-1] for e in two_locations}
    assert own["world-run-paris"][0] == pytest.approx(
        max(r["distance_m"] for r in rows if r["race"] == "world-run-paris"), abs=0.1
    )


async def test_the_route_pages_and_filters_by_sex(two_locations):  # type: ignore[no-untyped-def]
    races = tuple(e.race for e in two_locations)
    event = Event("world-run", "World Run", races[0].timezone, None, races, WORLD_RUN)
    app = Starlette(routes=EventAPI(event, two_locations).routes())
    async with running_uvicorn(app) as base, httpx.AsyncClient(base_url=base) as http:
        women = (await http.get("/api/event/leaderboard", params={"sex": "F", "limit": 5, "offset": 2})).json()
        everyone = (await http.get("/api/event/leaderboard")).json()
        assert everyone["total"] == 300 and len(everyone["runners"]) == 100
        assert women["total"] == sum(r["sex"] == "F" for r in leaderboard(two_locations))
        assert [r["place_sex"] for r in women["runners"]] == [3, 4, 5, 6, 7]
        for bad in ({"limit": "many"}, {"limit": 0}, {"offset": -1}, {"sex": "x" * 40}):
            answer = await http.get("/api/event/leaderboard", params=bad)
            assert answer.status_code == 400 and "limit" in answer.json()["error"], bad


def test_places_per_nation_and_catch_times_in_utc_and_local(tmp_path: Path):
    """A World Run of Vienna and Tokyo (simulator/event.py: a nation per runner): places within the
    nation and within nation and sex; a catch's time is one instant, in UTC and in the race's zone."""
    from datetime import datetime

    from live.race.event import load_event
    from simulator.event import WORLD_LOCATIONS, write_world_event

    event = load_event(write_world_event(tmp_path, WORLD_LOCATIONS[:2], runners=150))
    rows = leaderboard([_finished(race, seed) for seed, race in enumerate(event.races)])
    assert len(rows) == 300 and {r["nation"] for r in rows} == {"AUT", "JPN"}
    for nation in ("AUT", "JPN"):
        mine = [r for r in rows if r["nation"] == nation]
        assert [r["place_nation"] for r in mine] == list(range(1, len(mine) + 1))
        for sex in ("M", "F"):
            both = [r["place_nation_sex"] for r in mine if r["sex"] == sex]
            assert both == list(range(1, len(both) + 1))
    offsets = {"world-run-vienna": "+02:00", "world-run-tokyo": "+09:00"}
    for r in rows:
        utc, local = datetime.fromisoformat(r["caught_time"]), datetime.fromisoformat(r["caught_time_local"])
        assert (
            utc == local and r["caught_time"].endswith("+00:00") and r["caught_time_local"].endswith(offsets[r["race"]])
        )


def test_the_roster_is_kept_from_tick_to_tick_and_made_anew_when_the_races_change(two_locations):  # type: ignore[no-untyped-def]
    from web.world_board import WorldBoard

    first = WorldBoard(two_locations)
    again = WorldBoard(two_locations, first.roster)
    assert again.roster is first.roster and again.page() == first.page()
    alone = WorldBoard(two_locations[:1], first.roster)
    assert alone.roster is not first.roster and alone.page()["total"] == 150
    assert {r["race"] for r in alone.page()["runners"]} == {"world-run-paris"}
