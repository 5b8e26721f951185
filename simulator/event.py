"""A simulated event: every race planned on its own, the reads of shared mats merged into one feed.

Each race starts when its race file says, relative to the event's first start: a 10 km whose pen is
released 40 minutes after the chase's first pen fires its gun 40 simulated minutes after it. A mat
that several races share is one reader, reporting the chips of every race in delivery order, as a
real decoder on the avenue would.
"""

from __future__ import annotations

from collections.abc import Mapping

from live.race.event import Event
from live.race.race import Race
from simulator.faults import Faults
from simulator.observations import MatFeeds, mat_feeds
from simulator.trajectory import RacePlan, plan_race


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
