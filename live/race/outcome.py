"""A race's outcome (SPEC §2): ``"finish"`` (a runner wins by finishing before the pursuer) or
``"distance"`` (the catcher-car format: a runner's result is the distance at which the pursuer passes
him), and the distance milestones a catcher-car race forecasts and announces.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from live.race.errors import RaceError
from live.race.schedule import SpeedSchedule

if TYPE_CHECKING:
    from pathlib import Path

OUTCOMES = ("finish", "distance")
FINISH, DISTANCE = OUTCOMES
DECLARED_DISTANCE_M = 10_000.0  # a catcher-car race's declared_s is a declared 10 km time


def parse_outcome(
    path: Path, raw: object, raw_milestones: object, distance_m: float, schedule: SpeedSchedule | None
) -> tuple[str, tuple[float, ...]]:
    """``[race] outcome`` and ``[race] milestones_m`` checked: the outcome one of :data:`OUTCOMES`
    (a distance race needs a ``[pursuer] schedule``), the milestones increasing distances within the course."""
    outcome = FINISH if raw is None else raw
    if outcome not in OUTCOMES:
        raise RaceError(path, "race.outcome", f"must be {' or '.join(repr(o) for o in OUTCOMES)}, got {raw!r}")
    assert isinstance(outcome, str)
    if outcome == DISTANCE and schedule is None:
        raise RaceError(
            path,
            "race.outcome",
            'a "distance" race (the catcher-car format) needs a [pursuer] schedule = [[seconds, km/h], …]: '
            "the result is where the pursuer passes each runner",
        )
    if raw_milestones is None:
        return outcome, ()
    if outcome != DISTANCE:
        raise RaceError(path, "race.milestones_m", 'milestones are for a race with outcome = "distance"')
    if not isinstance(raw_milestones, list) or not all(
        isinstance(m, int | float) and not isinstance(m, bool) and math.isfinite(m) for m in raw_milestones
    ):
        raise RaceError(path, "race.milestones_m", f"must be a list of distances in metres, got {raw_milestones!r}")
    milestones = tuple(float(m) for m in raw_milestones)
    for m in milestones:
        if not 0 < m < distance_m:
            raise RaceError(path, "race.milestones_m", f"{m:g} m is not within the course (0–{distance_m:.0f} m)")
    if list(milestones) != sorted(set(milestones)):
        raise RaceError(path, "race.milestones_m", "distances must be listed in increasing order, each once")
    return outcome, milestones
