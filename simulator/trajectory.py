"""Runner trajectories: when each runner crosses each timing point, and the raw reads it makes.

Pure and deterministic for a seed. Pace model: every runner has a true time for the course drawn
around his declared time, runs his first part faster and fades (more for slower runners, as the
real 5 km splits in ``shared/data`` show), and leaves some seconds after his pen's gun depending
on where he stands in the pen. The pursuer runs his planned pace evenly from his own gun.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from live.race import Race

TIME_NOISE_SIGMA = 0.05  # log-normal spread of the true time around the declared time
START_DELAY_MAX_S = 30.0  # the back of a pen crosses the start mat this long after the gun
READ_SPREAD_S = 1.2  # raw reads of one crossing fall within this window


@dataclass(frozen=True)
class RacePlan:
    """Everything the emulated mats will say, and the truth it implies."""

    guns: list[tuple[float, str]]  # (time, "pen:<id>" | "pursuer") in release order
    bibs: np.ndarray  # simulated participants, the pursuer last
    chips: np.ndarray
    pens: np.ndarray  # "" for the pursuer
    crossings: np.ndarray  # (participants, timing points) unix seconds
    reads: list[tuple[float, str, str]]  # (time, mat, chip), sorted by time

    @property
    def pursuer_finish(self) -> float:
        return float(self.crossings[-1, -1])

    def winners(self) -> dict[str, int]:
        """True winners per pen by the outcome rule: finish strictly before the pursuer's."""
        won = self.crossings[:-1, -1] < self.pursuer_finish
        return {pen: int(won[self.pens[:-1] == pen].sum()) for pen in sorted(set(self.pens[:-1]))}


def fade_coefficient(true_s: np.ndarray, distance_m: float) -> np.ndarray:
    """How much faster the first half is run than the second, growing with the runner's time."""
    per_5k = true_s * 5000.0 / distance_m
    return np.clip(0.04 + 0.05 * (per_5k - 900.0) / 1800.0, 0.0, 0.12)


def elapsed_at(fraction: np.ndarray, true_s: np.ndarray, fade: np.ndarray) -> np.ndarray:
    """Time from the start mat to a fraction of the course: ``T · (f + c·(f² − f))``."""
    return true_s[:, None] * (fraction[None, :] + fade[:, None] * (fraction[None, :] ** 2 - fraction[None, :]))


def plan_race(race: Race, first_gun: float, seed: int = 2021, runners: int | None = None) -> RacePlan:
    """Plan a whole race: guns, crossings and raw reads, reproducible by ``seed``."""
    rng = np.random.default_rng(seed)
    field = [p for p in race.participants if p.bib != race.pursuer.bib]
    if runners is not None and runners < len(field):
        keep = np.sort(rng.choice(len(field), size=runners, replace=False))
        field = [field[i] for i in keep]
    pursuer = race.participant(race.pursuer.bib)
    assert pursuer is not None
    distance = race.distance_m
    at_m = np.array([tp.at_m for tp in race.timing_points])
    fraction = at_m / distance

    max_head = max(p.head_start_s for p in race.pens)
    guns = [(first_gun + max_head - p.head_start_s, f"pen:{p.id}") for p in race.pens]
    pursuer_gun = first_gun + max_head
    guns.append((pursuer_gun, "pursuer"))
    gun_of_pen = {target[4:]: t for t, target in guns if target.startswith("pen:")}

    declared = np.array([p.declared_s or distance / 3.0 for p in field], dtype=float)
    true_s = declared * np.exp(rng.normal(0.0, TIME_NOISE_SIGMA, len(field)))
    pens = np.array([p.pen for p in field], dtype=object)
    delay = np.zeros(len(field))
    for pen in set(pens):
        idx = np.flatnonzero(pens == pen)
        order = np.argsort(np.argsort(declared[idx]))  # the fastest stand at the front
        delay[idx] = START_DELAY_MAX_S * order / max(len(idx) - 1, 1) + rng.uniform(0, 2, len(idx))
    start = np.array([gun_of_pen[p] for p in pens]) + delay
    crossings = start[:, None] + elapsed_at(fraction, true_s, fade_coefficient(true_s, distance))

    pursuer_true = race.pursuer.pace_s_per_km * distance / 1000.0
    pursuer_row = pursuer_gun + 0.5 + pursuer_true * fraction
    crossings = np.vstack([crossings, pursuer_row])
    chips = np.array([p.chips[0] for p in field] + [pursuer.chips[0]], dtype=object)
    bibs = np.array([p.bib for p in field] + [pursuer.bib], dtype=object)
    pens = np.append(pens, "")

    reads: list[tuple[float, str, str]] = []
    mats = [tp.mat for tp in race.timing_points]
    counts = rng.integers(1, 5, size=crossings.shape)
    for j, mat in enumerate(mats):
        for i in range(len(chips)):
            offsets = np.sort(rng.uniform(0.0, READ_SPREAD_S, counts[i, j] - 1))
            t0 = float(crossings[i, j])
            reads.append((t0, mat, chips[i]))
            reads.extend((t0 + float(o), mat, chips[i]) for o in offsets)
    reads.sort(key=lambda r: r[0])
    return RacePlan(guns=guns, bibs=bibs, chips=chips, pens=pens, crossings=crossings, reads=reads)
