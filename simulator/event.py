"""A simulated event: every race planned on its own, the reads of shared mats merged into one feed.

Each race starts when its race file says, relative to the event's first start: a 10 km whose pen is
released 40 minutes after the chase's first pen fires its gun 40 simulated minutes after it. A mat
that several races share is one reader, reporting the chips of every race in delivery order, as a
real decoder on the avenue would.

``write_world_event`` makes a World Run of several locations: catcher-car races in different time
zones, every field off at one instant (the event's clock is UTC), a ``nation`` per runner.
"""

from __future__ import annotations

import csv
import random
import re
import shutil
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from live.race.event import Event
from live.race.race import Race
from simulator.faults import Faults
from simulator.observations import MatFeeds, mat_feeds
from simulator.trajectory import RacePlan, plan_race
from simulator.world_run import HEAD_START_S


def first_start_s(race: Race) -> float:
    """The race's earliest planned pen start (unix seconds)."""
    return min(p.planned_start.timestamp() for p in race.pens)


def plan_event(
    event: Event,
    first_gun: float,
    *,
    seed: int = 2021,
    runners: int | None = None,
    miss_rates: Mapping[str, float] | float = 0.0,
) -> list[tuple[Race, RacePlan]]:
    """Every race's plan, its first gun at ``first_gun`` plus its planned delay after the event's first
    start; ``runners``: at most that many runners in each race (a sample, as for one race)."""
    origin = min(first_start_s(r) for r in event.races)
    return [
        (
            race,
            plan_race(
                race, first_gun + first_start_s(race) - origin, seed=seed + i, runners=runners, miss_rates=miss_rates
            ),
        )
        for i, race in enumerate(event.races)
    ]


def event_feeds(
    planned: list[tuple[Race, RacePlan]], *, per_crossing: set[str], late_max_s: float, faults: Faults, seed: int
) -> MatFeeds:
    """Every mat's reports across the races, in delivery order (a gun before the reads due with it)."""
    merged = MatFeeds(by_mat={})
    for race, plan in planned:
        feeds = mat_feeds(race, plan, per_crossing=per_crossing, late_max_s=late_max_s, faults=faults, seed=seed)
        for mat, observations in feeds.by_mat.items():
            merged.by_mat.setdefault(mat, []).extend(observations)
        merged.missing += feeds.missing
        merged.unknown_chips += feeds.unknown_chips
        merged.notes += [f"{race.id}: {note}" for note in feeds.notes]
    for mat, observations in merged.by_mat.items():
        merged.by_mat[mat] = sorted(observations, key=lambda o: (o.due, not o.gun, o.time))
    merged.missing.sort()
    return merged


# A World Run of several locations: the catcher-car race of races/world-run-paris (its course, mats and
# field) at each, each in its own time zone, every location's runners off at one instant (11:00 UTC,
# as the World Run does) and the cars 30 minutes later. Location id, name, time zone, home nation.
WORLD_LOCATIONS = (
    ("vienna", "Vienna", "Europe/Vienna", "AUT"),
    ("tokyo", "Tokyo", "Asia/Tokyo", "JPN"),
    ("new-york", "New York", "America/New_York", "USA"),
    ("sao-paulo", "São Paulo", "America/Sao_Paulo", "BRA"),
    ("sydney", "Sydney", "Australia/Sydney", "AUS"),
    ("paris", "Paris", "Europe/Paris", "FRA"),
)
WORLD_RUN = Path(__file__).resolve().parent.parent / "races" / "world-run-paris"
HOME_SHARE = 0.8  # runners of a location's own nation; the others come from the other locations'


def write_world_event(
    root: Path,
    locations: Sequence[tuple[str, str, str, str]] = WORLD_LOCATIONS[:3],
    *,
    runners: int = 300,
    start_utc: datetime = datetime(2026, 5, 3, 11, 0, tzinfo=UTC),
    schedule: Sequence[tuple[float, float]] | None = None,
    seed: int = 2019,
) -> Path:
    """An event directory at ``root``: one catcher-car race per location, ``runners`` of the World Run
    Paris field each (their chips and mats named after the location, so no two races share one), a
    ``nation`` column, every field off at ``start_utc`` in its own zone; ``schedule`` (km/h from
    seconds after the car's start) replaces the World Run's, e.g. a fast car for a short test."""
    rng = random.Random(seed)
    nations = [loc[3] for loc in locations]
    template = (WORLD_RUN / "race.toml").read_text(encoding="utf-8")
    with (WORLD_RUN / "participants.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    dirs = []
    for code, name, zone, home in locations:
        directory = root / code
        directory.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(WORLD_RUN / "course.geojson", directory / "course.geojson")
        local = start_utc.astimezone(ZoneInfo(zone))
        car = local + timedelta(seconds=HEAD_START_S)
        toml = re.sub(r'(?m)^id = "world-run-paris"$', f'id = "world-run-{code}"', template)
        toml = re.sub(r'(?m)^name = "World Run Paris[^"]*"$', f'name = "World Run {name}"', toml)
        toml = re.sub(r'(?m)^timezone = ".*"$', f'timezone = "{zone}"', toml)
        toml = re.sub(r'(?m)^date = ".*"$', f'date = "{local.date().isoformat()}"', toml)
        toml = re.sub(r'(?m)^start = ".*"$', f'start = "{car:%H:%M:%S}"', toml)
        toml = re.sub(r'(?m)^name = "Everyone \(.*\)"$', f'name = "Everyone ({local:%H:%M})"', toml)
        toml = re.sub(r'(?m)^id = "(arc|marbeuf|concorde|george-v)"$', rf'id = "{code}-\1"', toml)
        if schedule is not None:
            steps = ", ".join(f"[{a:g}, {b:g}]" for a, b in schedule)
            toml = re.sub(r"(?m)^schedule = .*$", f"schedule = [{steps}]", toml)
        (directory / "race.toml").write_text(toml, encoding="utf-8")
        with (directory / "participants.csv").open("w", encoding="utf-8", newline="") as fh:
            out = csv.writer(fh)
            out.writerow([*rows[0], "nation"])
            for row in rows[1 : runners + 2]:
                bib, chip, *rest = row
                away = [n for n in nations if n != home]
                nation = "" if bib == "0" else home if rng.random() < HOME_SHARE or not away else rng.choice(away)
                out.writerow([bib, f"{code.upper()}-{chip}", *rest, nation])
        dirs.append(code)
    listed = ", ".join(f'"{d}"' for d in dirs)
    (root / "event.toml").write_text(
        "# A World Run: one catcher-car race per location, each in its own time zone, all off at one\n"
        "# instant; built by simulator/event.py (write_world_event). Its clock is UTC.\n"
        f'[event]\nid = "world-run"\nname = "World Run"\ntimezone = "UTC"\ndate = {start_utc.date().isoformat()}\n'
        f"races = [{listed}]\n",
        encoding="utf-8",
    )
    return root


if __name__ == "__main__":  # python -m simulator.event DIR [LOCATIONS] [RUNNERS]: a World Run to try
    import sys

    where = Path(sys.argv[1] if len(sys.argv) > 1 else ".pursuit/world-run")
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    field = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    write_world_event(where, WORLD_LOCATIONS[:count], runners=field)
    print(f"{where}/: a World Run of {count} locations, {field:,} runners each: pursuit demo --race {where}")
