"""What each mat's reader reports, and when: the planned reads, late, with faults of the data.

A reader delivers what it saw up to ~6 s after the chip crossed (it reports a passage once the
chip has left the field; ``docs/SOURCES.md`` §2: median 1.0–2.3 s late, max 6.1 s),
so arrival order is not time order. ChronoTrack controllers and JSON readers report every
observation; MYLAPS and RACE RESULT decoders one passing per crossing (first read, hits, peak RSSI).

Faults of the data (``Faults``) change what the mats saw: a burst of unknown chips, the pursuer
not read at a mat, a mat silent for a while. What no mat saw is *missing*: listed, never invented.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from live.race.race import Race
from simulator.faults import Faults
from simulator.trajectory import Crossing, RacePlan, RawRead

LATE_MEDIAN_S = 1.5
LATE_SIGMA = 0.5  # log-normal: p99 ≈ 4.8 s for a 1.5 s median
CROSSING_GAP_S = 10.0  # reads of one chip at one mat further apart than this are two crossings
UNKNOWN_CHIPS = 24
SILENT_SHARE = (0.4, 0.6)  # the silent mat hears nothing between these shares of its crossings


class Observation(NamedTuple):
    """One report of a reader: a chip's read (or passing), or a gun (``chip == ""``)."""

    due: float  # race time the reader delivers it
    time: float  # race time of the read
    chip: str
    rssi: float
    hits: int  # raw reads behind it

    @property
    def gun(self) -> bool:
        return not self.chip


@dataclass
class MatFeeds:
    """Per mat, its reader's reports in delivery order; and what no mat saw."""

    by_mat: dict[str, list[Observation]]
    missing: list[Crossing] = field(default_factory=list)
    unknown_chips: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def fault_mat(race: Race) -> str | None:
    """A mat for the pursuer-miss and silent faults: crossed once, neither start nor finish."""
    ends = {race.start_mat.mat, race.finish.mat}
    once = [m.id for m in race.mats if m.id not in ends and len(race.timing_points_of(m.id)) == 1]
    return once[len(once) // 2] if once else None


def mat_feeds(
    race: Race,
    plan: RacePlan,
    *,
    per_crossing: set[str],
    late_max_s: float,
    faults: Faults,
    seed: int,
) -> MatFeeds:
    """Every mat's reports, due in race time; guns on the start mat; faults of the data applied."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    reads = list(plan.reads)
    feeds = MatFeeds(by_mat={m.id: [] for m in race.mats})
    feeds.missing.extend(plan.missed)
    row_of = {str(c): i for i, c in enumerate(plan.chips)}
    tp_of = _crossing_index(plan)
    target = fault_mat(race)
    if faults.pursuer_miss or faults.silent:
        if target is None:
            feeds.notes.append("no intermediate mat crossed once: pursuer-miss and silent are not simulated")
        else:
            lost: set[tuple[int, int]] = set()
            if faults.pursuer_miss:
                lost.add((len(plan.bibs) - 1, plan.mats.index(target)))
            if faults.silent:
                j = plan.mats.index(target)
                column = np.sort(plan.crossings[:, j])
                t0 = column[int(SILENT_SHARE[0] * (len(column) - 1))]
                t1 = column[int(SILENT_SHARE[1] * (len(column) - 1))]
                lost |= {
                    (int(i), j) for i in np.flatnonzero((plan.crossings[:, j] >= t0) & (plan.crossings[:, j] <= t1))
                }
                feeds.notes.append(f"mat {target} silent from {t0:.2f} to {t1:.2f}")
            reads = [r for r in reads if (row_of[r.chip], tp_of(row_of[r.chip], r)) not in lost]
            feeds.missing.extend(
                Crossing(float(plan.crossings[i, j]), plan.mats[j], str(plan.chips[i]), str(plan.bibs[i]), j)
                for i, j in lost
            )
    if faults.unknown:
        reads += _unknown_burst(race, plan, rng, feeds)
    for mat, mat_reads in _by_mat(reads).items():
        grouped = _crossings(mat_reads) if mat in per_crossing else [[r] for r in mat_reads]
        late = _late_s(rng, len(grouped), late_max_s)
        feeds.by_mat[mat] = [
            Observation(round(g[0].time + d, 2), g[0].time, g[0].chip, max(r.rssi for r in g), len(g))
            for g, d in zip(grouped, late.tolist(), strict=True)
        ]
    start = race.start_mat.mat
    feeds.by_mat[start] += [Observation(g.time, g.time, "", 0.0, 0) for g in plan.guns]
    for mat, observations in feeds.by_mat.items():
        # a gun goes before the reads due at its time
        feeds.by_mat[mat] = sorted(observations, key=lambda o: (o.due, not o.gun, o.time))
    feeds.missing.sort()
    return feeds


def _crossing_index(plan: RacePlan):  # type: ignore[no-untyped-def]
    columns = {m: [j for j, x in enumerate(plan.mats) if x == m] for m in set(plan.mats)}

    def index(row: int, read: RawRead) -> int:
        return min(columns[read.mat], key=lambda j: abs(plan.crossings[row, j] - read.time))

    return index


def _by_mat(reads: list[RawRead]) -> dict[str, list[RawRead]]:
    out: dict[str, list[RawRead]] = defaultdict(list)
    for r in sorted(reads):
        out[r.mat].append(r)
    return out


def _crossings(reads: list[RawRead]) -> list[list[RawRead]]:
    """The reads of one mat grouped per crossing (one chip, gaps under ``CROSSING_GAP_S``), by first read."""
    by_chip: dict[str, list[list[RawRead]]] = defaultdict(list)
    for r in reads:  # in time order
        groups = by_chip[r.chip]
        if groups and r.time - groups[-1][-1].time <= CROSSING_GAP_S:
            groups[-1].append(r)
        else:
            groups.append([r])
    return sorted((g for groups in by_chip.values() for g in groups), key=lambda g: (g[0].time, g[0].chip))


def _late_s(rng: np.random.Generator, n: int, late_max_s: float) -> np.ndarray:
    """How late each report is delivered: log-normal around 1.5 s, capped at ``late_max_s``."""
    draws = rng.lognormal(np.log(LATE_MEDIAN_S), LATE_SIGMA, n)
    return np.minimum(draws, late_max_s) if late_max_s > 0 else np.zeros(n)


def _unknown_burst(race: Race, plan: RacePlan, rng: np.random.Generator, feeds: MatFeeds) -> list[RawRead]:
    """Chips no participant wears (a neighbouring event's, a spare box) read 1–3 times at the finish mid-race."""
    known = race.chip_map()
    chips = [f"E{n:05X}" for n in range(0xF0000, 0xF0000 + 4 * UNKNOWN_CHIPS) if f"E{n:05X}" not in known]
    chips = chips[:UNKNOWN_CHIPS]
    feeds.unknown_chips = chips
    mat = race.finish.mat
    column = np.sort(plan.crossings[:, -1])
    t0 = float(column[len(column) // 2])
    out = []
    for k, chip in enumerate(chips):
        t = round(t0 + 0.7 * k, 2)
        out += [RawRead(round(t + 0.3 * n, 2), mat, chip, -70.0) for n in range(int(rng.integers(1, 4)))]
    return out
