"""The world leaderboard: every runner of an event's catcher-car races in one ranking (a World Run's).

Ranked by distance, further first: where the car passed him, or where he is while he runs (as each
race's own results rank them); places overall, within sex and within sex and category, across the
races; where the participants files give a nation, also within it (``place_nation``) and within
nation and sex (``place_nation_sex``). Catch times are UTC (``caught_time``: the event's clock) and
in the runner's race's own zone (``caught_time_local``).

The ranking is arrays, made once per tick of the races, at the first request after it (who the rows
are, their labels and groups, only when a race's roster changes); a request's filter is a mask over
them and only its page is made into rows, so a World Run's 100,000 runners cost a request its page,
not the field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from live.chase.places import Groups, by_distance, listing_order
from live.chase.snapshot import AHEAD, CAUGHT, STARTED, Snapshot
from live.engine.engine import LiveEngine
from web.http import iso_time, num

ZONE_UTC = ZoneInfo("UTC")  # the event's clock: a World Run's locations start at one instant


@dataclass(frozen=True)
class Roster:
    """Who the board's rows are (labels and their groups, over the races' runners end to end): the
    same from tick to tick while the races' rosters are, so made once, not every tick."""

    key: tuple[tuple[str, int], ...]  # each race's id and its snapshot's bibs array (by identity)
    bibs: tuple[np.ndarray, ...]  # held, so that an id in ``key`` cannot be reused by another array
    sex: np.ndarray
    category: np.ndarray
    nation: np.ndarray
    name: list[str]
    groups: Groups  # sex, sex and category
    nation_groups: Groups  # nation, nation and sex
    nations: list[str]

    @staticmethod
    def key_of(parts: Sequence[tuple[LiveEngine, Snapshot]]) -> tuple[tuple[str, int], ...]:
        return tuple((engine.race.id, id(snap.bibs)) for engine, snap in parts)

    @classmethod
    def of(cls, parts: Sequence[tuple[LiveEngine, Snapshot]]) -> Roster:
        people = [engine.race.participant(str(b)) for engine, snap in parts for b in snap.bibs]
        sex = np.array([p.sex if p else "" for p in people], dtype=object)
        category = np.array([p.category if p else "" for p in people], dtype=object)
        nation = np.array([p.nation if p else "" for p in people], dtype=object)
        return cls(
            cls.key_of(parts),
            tuple(snap.bibs for _, snap in parts),
            sex,
            category,
            nation,
            [p.name if p else "" for p in people],
            Groups.of(sex, category),
            Groups.of(nation, sex),
            sorted({str(n) for n in nation.tolist() if n}),
        )


class WorldBoard:
    """The ranking of the catcher-car races of ``engines`` at their current snapshots; ``roster``: the
    last board's, reused if the races' rosters have not changed."""

    def __init__(self, engines: Sequence[LiveEngine], roster: Roster | None = None) -> None:
        parts = [(e, s) for e in engines if e.race.by_distance and (s := e.snapshot) is not None]
        self.parts: list[tuple[LiveEngine, Snapshot]] = parts
        if roster is None or roster.key != Roster.key_of(parts):
            roster = Roster.of(parts)
        self.roster = roster
        self.sex, self.category, self.nation, self.name = roster.sex, roster.category, roster.nation, roster.name
        self.nations = roster.nations
        distance, ranked, caught_at, caught_time, race_of, index = ([] for _ in range(6))
        for k, (_, snap) in enumerate(parts):
            n = len(snap.bibs)
            caught = snap.status == CAUGHT
            at = snap.caught_at_m if snap.caught_at_m is not None else np.full(n, np.nan)
            when = snap.caught_time if snap.caught_time is not None else np.full(n, np.nan)
            distance.append(np.where(caught, at, snap.distance_m))
            ranked.append(caught | (snap.status == AHEAD) | (snap.status == STARTED))
            caught_at.append(np.where(caught, at, np.nan))
            caught_time.append(np.where(caught, when, np.nan))
            race_of.append(np.full(n, k))
            index.append(np.arange(n))
        flat = [np.concatenate(a) if a else np.zeros(0) for a in (distance, ranked, caught_at, caught_time)]
        self.distance, ranked_all, self.caught_at, self.caught_time = flat
        self.race_of = np.concatenate(race_of).astype(int) if race_of else np.zeros(0, dtype=int)
        self.index = np.concatenate(index).astype(int) if index else np.zeros(0, dtype=int)
        ranked_all = ranked_all.astype(bool)
        self.places = by_distance(self.distance, ranked_all, roster.groups)
        self.in_nation = by_distance(self.distance, ranked_all, roster.nation_groups)
        order = listing_order(self.places)
        self.order = order[self.places.place[order] > 0]  # the placed, best first

    def select(self, sex: str = "", nation: str = "") -> np.ndarray:
        """The rows of one sex and one nation (either may be empty: all), in ranking order."""
        keep = np.ones(len(self.order), dtype=bool)
        if sex:
            keep &= self.sex[self.order] == sex
        if nation:
            keep &= self.nation[self.order] == nation
        selected: np.ndarray = self.order[keep]
        return selected

    def page(self, sex: str = "", nation: str = "", offset: int = 0, limit: int | None = None) -> dict[str, Any]:
        """``runners`` (rows ``offset`` to ``offset + limit`` of the selection), its ``total`` and every
        ``nations`` of the board."""
        rows = self.select(sex, nation)
        end = None if limit is None else offset + limit
        return {"runners": [self.row(int(i)) for i in rows[offset:end]], "total": len(rows), "nations": self.nations}

    def row(self, i: int) -> dict[str, Any]:
        engine, snap = self.parts[int(self.race_of[i])]
        j = int(self.index[i])
        place, place_sex, place_category = self.places.of(i)
        _, place_nation, place_nation_sex = self.in_nation.of(i)
        caught_s = float(self.caught_time[i])
        return {
            "place": place,
            "place_sex": place_sex,
            "place_category": place_category,
            "bib": str(snap.bibs[j]),
            "name": self.name[i],
            "sex": self.sex[i],
            "category": self.category[i],
            "race": engine.race.id,
            "race_name": engine.race.name,
            "status": snap.status_name(j),
            "distance_m": num(float(self.distance[i])),
            "caught_at_m": num(float(self.caught_at[i])),
            "nation": self.nation[i],
            "place_nation": place_nation,
            "place_nation_sex": place_nation_sex,
            "caught_time": iso_time(caught_s, ZONE_UTC),
            "caught_time_local": iso_time(caught_s, engine.race.timezone),
        }


def leaderboard(engines: Sequence[LiveEngine]) -> list[dict[str, Any]]:
    """Every placed runner of the board, as rows, best first."""
    runners: list[dict[str, Any]] = WorldBoard(engines).page()["runners"]
    return runners


__all__ = ["ZONE_UTC", "Roster", "WorldBoard", "leaderboard"]
