"""Runner trajectories: when each runner crosses each timing point, and the raw reads it makes.

Pure and deterministic for a seed. Every runner has a true time for the course drawn log-normally
around his declared time for the race (``declared_s``, as ``live.forecast.plan`` reads it), runs his first km
faster and fades
the more the slower he is (``docs/SOURCES.md`` §3: 2–4 % over a 5 km, fast starts the
norm), and crosses the start mat 0–40 s after his pen's gun depending on where he stands in the
pen. A few runners entered a slower pen than their level (they run faster than declared) and a few
stop once for a while (a shoelace, a cramp, congestion); both are modelling choices, not measured
figures (course.md §4.3). The pursuer runs his planned pace (or his speed schedule) evenly from his
own gun.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

import numpy as np

from live.race.race import Participant, Race
from simulator.catcher_truth import RunnerPaths, covered_share, distance_race_pacing, true_catch_m

NOBODY = Participant("", ("-",), "", "", "", "", None)  # the pursuer's row of a race without one
TIME_NOISE_SIGMA = 0.05  # log-normal spread of the true time around the declared time
RIEGEL_EXPONENT = 1.06  # scales a time to its 5 km equivalent, for the fade
START_DELAY_MAX_S = 38.0  # the back of a pen reaches the start mat this long after the gun…
START_JITTER_S = 2.0  # …plus up to this much shuffling
FIRST_KM_BOOST = (0.02, 0.06)  # pace this much faster at the gun, easing off to even by 1 km
FADE_FAST, FADE_SLOW = 0.03, 0.09  # pace slope over the course (last vs first ≈ 1 + fade) at 15 and 45 min/5 km
FADE_NOISE = 0.02
READS_PER_CROSSING = (1, 4)
READ_SPREAD_S = (0.3, 1.5)  # the raw reads of one crossing fall within a window this wide
UNDER_DECLARED_SHARE = 0.015  # entered a slower pen than their level…
UNDER_DECLARED_FACTOR = (0.80, 0.92)  # …and run this fraction of their declared time
STOP_SHARE = 0.01  # stop once, somewhere on the course…
STOP_S = (15.0, 90.0)  # …for this long
PURSUER_SPLIT_NOISE_S = 0.4
PURSUER_START_S = (0.2, 0.5)  # he stands on the line: the start mat reads him just after his gun
# RSSI of one crossing: rises to a peak as the chip passes over the antenna, then falls
# (``docs/SOURCES.md`` §2: −61 → −39 → −66 dBm in CrossMgr's recorded Impinj crossing)
PEAK_RSSI_DBM = (-48.0, -38.0)
RSSI_SWING_DB = (15.0, 25.0)  # how far below the peak the edges of the read window are


class Crossing(NamedTuple):
    """A runner crossing a timing point: the time its mat first reads him (unix seconds)."""

    time: float
    mat: str
    chip: str
    bib: str
    timing_point_index: int


class RawRead(NamedTuple):
    """One read of a chip by a mat's decoder, with its signal strength (dBm)."""

    time: float
    mat: str
    chip: str
    rssi: float = -60.0


class Gun(NamedTuple):
    """A start gun: a pen's, or the pursuer's (``pen == ""``)."""

    time: float
    pen: str


@dataclass(frozen=True)
class Outcome:
    """The true result of a planned race: who finished strictly before the pursuer."""

    pursuer_finish: float
    finish: dict[str, float]  # bib -> finish time (unix seconds), runners only
    won: dict[str, bool]  # bib -> finished strictly before the pursuer
    winners_per_pen: dict[str, int]  # every pen of the race, in release order
    caught_at_m: dict[str, float] = field(default_factory=dict)  # a catcher-car race: bib -> true catch distance

    @property
    def winners(self) -> int:
        return sum(self.winners_per_pen.values())


@dataclass(frozen=True)
class RacePlan:
    """Everything the emulated mats will say. Rows are participants, the pursuer last."""

    guns: list[Gun]  # release order: pens, then the pursuer
    bibs: np.ndarray
    chips: np.ndarray
    pens: np.ndarray  # pen id per row, "" for the pursuer
    mats: tuple[str, ...]  # mat of each timing point
    pen_ids: tuple[str, ...]  # every pen of the race, in release order
    crossings: np.ndarray  # (participants, timing points) unix seconds, to the hundredth
    reads: list[RawRead]  # sorted by time; none for a missed crossing
    missed: tuple[Crossing, ...] = ()  # crossings their mat never read (``miss_rates``), in time order
    caught_at_m: np.ndarray | None = None  # a catcher-car race: where the car truly passed each (nan: the car)

    @property
    def pursuer_finish(self) -> float:
        return float(self.crossings[-1, -1])

    @cached_property
    def crossing_list(self) -> list[Crossing]:
        """Every crossing as a ``Crossing``, sorted by time."""
        rows, cols = np.unravel_index(np.argsort(self.crossings, axis=None, kind="stable"), self.crossings.shape)
        return [
            Crossing(float(self.crossings[i, j]), self.mats[j], str(self.chips[i]), str(self.bibs[i]), int(j))
            for i, j in zip(rows.tolist(), cols.tolist(), strict=True)
        ]

    def winners(self) -> dict[str, int]:
        """True winners per pen (see ``true_outcome``)."""
        return true_outcome(self).winners_per_pen


def true_outcome(plan: RacePlan) -> Outcome:
    """Finish times, and who beat the pursuer: finished strictly earlier than him."""
    finish_s = plan.crossings[:-1, -1]
    won = finish_s < plan.pursuer_finish
    runner_pens = plan.pens[:-1]
    bibs = [str(b) for b in plan.bibs[:-1]]
    return Outcome(
        pursuer_finish=plan.pursuer_finish,
        finish=dict(zip(bibs, finish_s.tolist(), strict=True)),
        won=dict(zip(bibs, won.tolist(), strict=True)),
        winners_per_pen={pen: int(won[runner_pens == pen].sum()) for pen in plan.pen_ids},
        caught_at_m={} if plan.caught_at_m is None else dict(zip(bibs, plan.caught_at_m[:-1].tolist(), strict=True)),
    )


def guns(race: Race, first_gun: float) -> list[Gun]:
    """Pen guns in release order, each as long after ``first_gun`` as it is planned after the first
    pen's, then the pursuer's (none in a race without a pursuer)."""
    first = race.pens[0].planned_start
    out = [Gun(round(first_gun + (p.planned_start - first).total_seconds(), 2), p.id) for p in race.pens]
    if race.pursuer is not None:
        out.append(Gun(round(first_gun + (race.pursuer.planned_start - first).total_seconds(), 2), ""))
    return out


def pace_profile(fraction: np.ndarray, boost: np.ndarray, fade: np.ndarray, first_km: float) -> np.ndarray:
    """Share of a runner's time spent up to each course fraction, (runners, fractions).

    Pace relative to the mean is ``1 + fade·(f − ½) − boost·max(0, 1 − f/first_km)``: a faster
    first km, then a steady fade; integrated and normalised so the whole course takes 1.
    """
    return covered_share(fraction[None, :], boost[:, None], fade[:, None], first_km)


def fade_for(true_5k_s: np.ndarray) -> np.ndarray:
    """The mean fade for a 5 km time: slower runners fade more."""
    slowness = np.clip((true_5k_s - 900.0) / 1800.0, 0.0, 1.0)
    return FADE_FAST + (FADE_SLOW - FADE_FAST) * slowness


def plan_race(
    race: Race,
    first_gun: float,
    seed: int = 2021,
    runners: int | None = None,
    miss_rates: Mapping[str, float] | float = 0.0,
) -> RacePlan:
    """Plan a whole race (guns, crossings, raw reads), reproducible by ``seed``.

    ``runners`` keeps a deterministic sample of that many runners (plus the pursuer); each kept
    runner runs exactly as he would in the full race. ``miss_rates`` (one for every mat, or per mat
    id) is the chance that a mat does not read a crossing at all; such crossings are in
    ``missed`` and make no reads. The true outcome does not depend on them.
    """
    chaser = race.pursuer
    field = list(race.runners)
    # a race without a pursuer: a row that never starts, is never read, and that nobody reaches
    pursuer = race.participant(chaser.bib) if chaser is not None else NOBODY
    if pursuer is None:
        raise ValueError(f"race {race.id!r}: the pursuer's bib {chaser.bib!r} is not in participants.csv")  # type: ignore[union-attr]
    streams = np.random.SeedSequence(seed).spawn(7)  # spawn keys are indices: earlier streams draw as before
    times_rng, profile_rng, start_rng, sample_rng, reads_rng, miss_rng, quirk_rng = (
        np.random.default_rng(s) for s in streams
    )
    distance_m = race.distance_m
    at_m = np.array([tp.at_m for tp in race.timing_points])
    fraction = at_m / distance_m
    gun_list = guns(race, first_gun)
    pen_gun = {g.pen: g.time for g in gun_list if g.pen}

    # the whole field, so that a sample runs exactly like the full race
    n = len(field)
    declared_s = np.array([_declared_s(p, race.declared_distance_m) for p in field]) * (
        distance_m / race.declared_distance_m
    )
    true_s = declared_s * np.exp(times_rng.normal(0.0, TIME_NOISE_SIGMA, n))
    # one draw of each per runner whatever the shares, so that one quirk never reshuffles the other
    quirks = quirk_rng.uniform(0.0, 1.0, size=(5, n))
    under = quirks[0] < UNDER_DECLARED_SHARE
    true_s[under] *= np.interp(quirks[1][under], (0.0, 1.0), UNDER_DECLARED_FACTOR)
    true_5k_s = true_s * (5000.0 / distance_m) ** RIEGEL_EXPONENT
    boost = profile_rng.uniform(*FIRST_KM_BOOST, n)
    fade = fade_for(true_5k_s) + profile_rng.normal(0.0, FADE_NOISE, n)
    if race.by_distance:  # a course longer than anyone runs: fade by the 10 km, not by the course
        true_s, fade = distance_race_pacing(true_s, fade, distance_m)
    pens = np.array([p.pen for p in field], dtype=object)
    delay_s = start_rng.uniform(0.0, START_JITTER_S, n)
    for pen in set(pens.tolist()):
        idx = np.flatnonzero(pens == pen)
        rank = np.argsort(np.argsort(declared_s[idx], kind="stable"), kind="stable")  # the fastest at the front
        delay_s[idx] += START_DELAY_MAX_S * rank / max(len(idx) - 1, 1)
    start = np.array([pen_gun[p] for p in pens.tolist()]) + delay_s
    first_km = min(1000.0 / distance_m, 1.0)
    crossings = start[:, None] + true_s[:, None] * pace_profile(fraction, boost, fade, first_km)
    stops = np.flatnonzero(quirks[2] < STOP_SHARE)
    stop_at = np.interp(quirks[3][stops], (0.0, 1.0), (0.05, 0.95))  # where, as a fraction of the course
    stop_s = np.interp(quirks[4][stops], (0.0, 1.0), STOP_S)
    crossings[stops] += np.where(fraction[None, :] > stop_at[:, None], stop_s[:, None], 0.0)
    caught_at = np.full(n, np.nan)
    if race.by_distance:  # the catcher-car format: each runner stops where the car passes him
        stop_frac, stop_len = np.full(n, np.inf), np.zeros(n)
        stop_frac[stops], stop_len[stops] = stop_at, stop_s
        runner = RunnerPaths(start, true_s, boost, fade, first_km, distance_m, stop_frac, stop_len)
        schedule = race.require_pursuer("a catcher-car race").schedule
        caught_at = true_catch_m(runner, schedule, gun_list[-1].time)  # type: ignore[arg-type]
        crossings[at_m[None, :] > caught_at[:, None]] = np.nan

    keep = np.arange(n)
    if runners is not None and runners < n:
        keep = np.sort(sample_rng.choice(n, size=max(runners, 0), replace=False))

    pursuer_gun = gun_list[-1].time if chaser is not None else np.inf
    if chaser is None:
        pursuer_elapsed = np.zeros(len(at_m))
    elif chaser.schedule is not None:
        pursuer_elapsed = np.asarray(chaser.schedule.elapsed_at(at_m), dtype=float)
    else:
        pursuer_elapsed = chaser.pace_s_per_km * at_m / 1000.0
    pursuer_row = pursuer_gun + pursuer_elapsed
    pursuer_row[1:-1] += start_rng.normal(0.0, PURSUER_SPLIT_NOISE_S, len(at_m) - 2)
    pursuer_row[0] += start_rng.uniform(*PURSUER_START_S)
    pursuer_row = np.maximum.accumulate(pursuer_row)

    rows = [field[i] for i in keep.tolist()] + [pursuer]
    all_crossings = np.round(np.vstack([crossings[keep], pursuer_row]), 2)
    # the hundredth decoders report can make two crossings equal, never backwards
    all_crossings = np.maximum.accumulate(all_crossings, axis=1)
    chips = np.array([p.chips[0] for p in rows], dtype=object)
    mats = tuple(tp.mat for tp in race.timing_points)
    rates = np.array([miss_rates.get(m, 0.0) if isinstance(miss_rates, Mapping) else miss_rates for m in mats])
    # one draw per participant of the whole field, so a sample misses what the full race misses
    draws = miss_rng.uniform(0.0, 1.0, size=(n + 1, len(mats)))
    missed = draws[np.append(keep, n)] < rates[None, :]
    reads = raw_reads(all_crossings, chips, mats, reads_rng)
    if chaser is None:
        reads = [r for r in reads if r.chip != NOBODY.chips[0]]
    if race.by_distance:
        reads = [r for r in reads if r.chip != chips[-1] and r.time == r.time]
    bibs = np.array([p.bib for p in rows], dtype=object)
    missed_list: tuple[Crossing, ...] = ()
    if missed.any():
        row_of = {str(c): i for i, c in enumerate(chips)}
        col_of = _timing_point_of_read(all_crossings, mats)
        reads = [r for r in reads if not missed[row_of[r.chip], col_of(row_of[r.chip], r)]]
        rows_m, cols_m = np.nonzero(missed)
        missed_list = tuple(
            sorted(
                Crossing(float(all_crossings[i, j]), mats[j], str(chips[i]), str(bibs[i]), int(j))
                for i, j in zip(rows_m.tolist(), cols_m.tolist(), strict=True)
            )
        )
    return RacePlan(
        guns=gun_list,
        bibs=bibs,
        chips=chips,
        pens=np.array([p.pen for p in rows], dtype=object),
        mats=mats,
        pen_ids=tuple(p.id for p in race.pens),
        crossings=all_crossings,
        reads=reads,
        missed=missed_list,
        caught_at_m=np.append(caught_at[keep], np.nan) if race.by_distance else None,
    )


def _timing_point_of_read(crossings: np.ndarray, mats: tuple[str, ...]):  # type: ignore[no-untyped-def]
    """A function (row, read) -> the timing point whose crossing the read belongs to (nearest in time)."""
    columns = {m: [j for j, x in enumerate(mats) if x == m] for m in set(mats)}

    def column(row: int, read: RawRead) -> int:
        return min(columns[read.mat], key=lambda j: abs(crossings[row, j] - read.time))

    return column


def raw_reads(
    crossings: np.ndarray, chips: np.ndarray, mats: tuple[str, ...], rng: np.random.Generator
) -> list[RawRead]:
    """1–4 reads per crossing, the first at the crossing time, spread over 0.3–1.5 s; sorted by time.

    The RSSI of a crossing's reads follows a parabola in dB peaking somewhere inside the window.
    """
    shape = crossings.shape
    count = rng.integers(READS_PER_CROSSING[0], READS_PER_CROSSING[1] + 1, size=shape)
    width_s = rng.uniform(*READ_SPREAD_S, size=shape)
    share = np.sort(rng.uniform(0.0, 1.0, size=(*shape, READS_PER_CROSSING[1])), axis=-1)
    share[..., 0] = 0.0
    last = np.take_along_axis(share, (count - 1)[..., None], axis=-1)
    share = np.divide(share, last, out=np.zeros_like(share), where=last > 0)
    offsets = np.round(width_s[..., None] * share, 2)
    used = np.arange(READS_PER_CROSSING[1])[None, None, :] < count[..., None]
    peak_at = rng.uniform(0.3, 0.7, size=shape)[..., None] * width_s[..., None]
    peak_dbm = rng.uniform(*PEAK_RSSI_DBM, size=shape)[..., None]
    swing_db = rng.uniform(*RSSI_SWING_DB, size=shape)[..., None]
    half_s = np.maximum(peak_at, width_s[..., None] - peak_at)
    rssi = np.round(peak_dbm - swing_db * ((offsets - peak_at) / half_s) ** 2)
    row, col, _ = np.nonzero(used)
    times = (crossings[..., None] + offsets)[used]
    strengths = rssi[used]
    order = np.argsort(times, kind="stable")
    return [
        RawRead(t, mats[j], chips[i], s)
        for t, i, j, s in zip(
            np.round(times[order], 2).tolist(),
            row[order].tolist(),
            col[order].tolist(),
            strengths[order].tolist(),
            strict=True,
        )
    ]


def _declared_s(p: Participant, distance_m: float) -> float:
    """The runner's declared time for the race; without one, a 6:00/km runner's."""
    return float(p.declared_s) if p.declared_s else 0.36 * distance_m
