"""A real results file replayed as reader traffic: every split becomes reads at a timing mat.

The chase is the one ``pursuit evaluate`` builds (``live/engine/evaluation.py``): every runner starts at
the first gun (the file's splits are elapsed seconds from the runner's own start), the pursuer —
the runner with bib BIB — starts ``delay_s`` later, and each split column is a timing point. Here
that chase becomes a race directory the ingestor and the web app load like any other (a start
mat, one mat per split column, one pen, the pursuer, a chip per runner, and a synthetic course:
the file has no geometry, so the course is a 42.195 km circle around Berlin's Tiergarten), and
a ChronoTrack decoder per mat (``simulator.chronotrack.EmulatedDecoder``) that reads each runner
a few times as he crosses, first at the exact split time (by default twice: ChronoTrack
controllers collapse raw reads themselves, and a real event's controller files hold 1.01–2.09
observations per tag per passage on average, median 1 — ``docs/SOURCES.md`` §2).
The truth follows from the file: a runner wins iff his finish is strictly earlier than the
pursuer's (SPEC §2).

Data conventions of the scraped files: a split of ``NaN`` or ``0`` is a split the timing missed,
so no mat reads the runner there; a bib listed twice gets ``-2`` on its second row.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import math
import re
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from live.clock import RaceClock
from live.forecast.results import load_results
from live.race.race import Race
from simulator.chase_field import BERLIN_2017_GUN as BERLIN_2017_GUN
from simulator.chase_field import MAX_SPAN_S as MAX_SPAN_S
from simulator.chase_field import READ_OFFSETS_S as READ_OFFSETS_S
from simulator.chase_field import READS_PER_CROSSING as READS_PER_CROSSING
from simulator.chase_field import START_MAT as START_MAT
from simulator.chase_field import ChaseField as ChaseField
from simulator.chase_field import ReplayError as ReplayError
from simulator.chase_field import chase_field as chase_field
from simulator.chronotrack import EmulatedDecoder
from simulator.race_dir import chip_of as chip_of
from simulator.race_dir import mat_ids as mat_ids
from simulator.race_dir import write_race as write_race

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MatReads:
    """One mat's raw reads in the order its decoder emits them (time order)."""

    mat: str
    times: np.ndarray  # unix s
    chips: np.ndarray  # str
    guns: tuple[float, ...] = ()


@dataclass(frozen=True)
class ReplayPlan:
    """Every read of the replay, per mat, with the guns and the crossings they stand for."""

    first_gun: float
    guns: tuple[float, float]  # the field's, the pursuer's
    mats: tuple[MatReads, ...]
    crossings: int  # runner × timing point pairs read (one passing each)
    reads: int

    @property
    def last_time(self) -> float:
        return max(float(m.times[-1]) for m in self.mats if len(m.times))


def plan_reads(chase: ChaseField, first_gun: float, reads_per_crossing: int = READS_PER_CROSSING) -> ReplayPlan:
    """The reads every mat makes: ``reads_per_crossing`` per crossing, the first at the exact split
    (to the hundredth ChronoTrack carries), the others up to 1.3 s later; guns on the start mat."""
    if not 1 <= reads_per_crossing <= len(READ_OFFSETS_S):
        raise ReplayError(f"reads per crossing must be 1 to {len(READ_OFFSETS_S)}, got {reads_per_crossing}")
    chips = np.array([chip_of(str(b)) for b in chase.bibs], dtype=object)
    starts = first_gun + chase.start_offsets_s()
    columns = np.hstack([np.zeros((len(chase.bibs), 1)), chase.elapsed_s])
    offsets = np.array(READ_OFFSETS_S[:reads_per_crossing])
    guns = (first_gun, first_gun + chase.delay_s)
    mats = []
    crossings = reads = 0
    for j, mat in enumerate(mat_ids(chase)):
        read = ~np.isnan(columns[:, j])
        t = np.round((starts[read] + columns[read, j])[:, None] + offsets[None, :], 2).ravel()
        c = np.repeat(chips[read], len(offsets))
        order = np.argsort(t, kind="stable")
        mats.append(MatReads(mat, t[order], c[order], guns if j == 0 else ()))
        crossings += int(read.sum())
        reads += len(t)
    return ReplayPlan(first_gun=first_gun, guns=guns, mats=tuple(mats), crossings=crossings, reads=reads)


def build_decoders(race: Race, plan: ReplayPlan, clock: RaceClock, bulk: bool = True) -> list[EmulatedDecoder]:
    """One ChronoTrack decoder per mat holding its reads (and, on the start mat, the guns).

    ``bulk`` writes the decoder's lines in one go (see :func:`_add_reads`); ``False`` calls
    ``add_read`` per read (a million reads: ~10 s instead of ~2 s; the lines are the same)."""
    decoders = []
    for m in plan.mats:
        d = EmulatedDecoder(location=m.mat, tz=race.timezone, clock=clock)
        times, chips = m.times.tolist(), m.chips.tolist()
        at = 0
        for gun in sorted(m.guns):
            upto = bisect.bisect_left(times, gun)  # a gun goes before the reads at its own time
            _add_reads(d, times[at:upto], chips[at:upto], bulk)
            d.add_gun(gun)
            at = upto
        _add_reads(d, times[at:], chips[at:], bulk)
        decoders.append(d)
    return decoders


def _add_reads(d: EmulatedDecoder, times: list[float], chips: list[str], bulk: bool) -> None:
    """``d.add_read(t, chip)`` for every read, in order: the same lines (a test holds them equal),
    formatted in one pass when the time zone keeps one UTC offset over the reads."""
    if not times:
        return
    first, last = (datetime.fromtimestamp(t, d.tz).utcoffset() for t in (times[0], times[-1]))
    if not bulk or first != last or first is None:
        for t, chip in zip(times, chips, strict=True):
            d.add_read(t, chip)
        return
    if d.times and times[0] < d.times[-1]:
        raise ValueError(f"mat {d.location}: reads must come after the lines already added")
    centis = np.rint(np.asarray(times) * 100).astype(np.int64) + int(first.total_seconds()) * 100
    of_day = centis % 8_640_000
    h, m, sec, cs = of_day // 360_000, of_day // 6000 % 60, of_day // 100 % 60, of_day % 100
    crc = {c: zlib.crc32(c.encode()) for c in set(chips)}
    seq0 = len(d.lines) + 1
    head, tail = "CT01_33~", f"~{d.location}~"
    d.lines.extend(
        f"{head}{seq}{tail}{chip}~{hh:02d}:{mm:02d}:{ss:02d}.{cc:02d}~0~{d.reader_id}~{(crc[chip] + seq) % 4 + 1}"
        for seq, chip, hh, mm, ss, cc in zip(
            range(seq0, seq0 + len(chips)), chips, h.tolist(), m.tolist(), sec.tolist(), cs.tolist(), strict=True
        )
    )
    d.times.extend(times)


def replay_clock(plan: ReplayPlan, speed: float | None, lead_in_wall_s: float = 1.0) -> RaceClock:
    """The race clock of a replay: ``speed`` race seconds per wall second, the first gun
    ``lead_in_wall_s`` from now; ``None`` (as fast as possible) puts now just after the last read,
    so every line is due at once and the live state is the final one."""
    wall = time.time()
    if speed is None:
        return RaceClock(origin_wall=wall, origin_race=plan.last_time + 1.0, speed=1.0)
    return RaceClock(origin_wall=wall, origin_race=plan.first_gun - lead_in_wall_s * speed, speed=speed)


@dataclass
class ReplayReport:
    """What the decoders delivered, and the truth of the chase."""

    lines_per_mat: dict[str, int]
    reads: int
    crossings: int
    guns: tuple[float, float]
    connections: int
    true_winners: int
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = sum(self.lines_per_mat.values())
        text = (
            f"{lines:,} lines sent over {len(self.lines_per_mat)} mats: {self.reads:,} reads of "
            f"{self.crossings:,} crossings and {len(self.guns)} guns; true winners {self.true_winners:,}"
        )
        return "\n".join([text, *(f"note: {n}" for n in self.notes)])


async def replay(
    decoders: list[EmulatedDecoder],
    host: str,
    port: int | list[int],
    plan: ReplayPlan,
    chase: ChaseField,
    stop: asyncio.Event | None = None,
) -> ReplayReport:
    """Run every decoder against the ingestor's ChronoTrack server until all lines are delivered
    (with several ports, the mats are shared out among several ingestors in turn)."""
    ports = port if isinstance(port, list) else [port]
    await asyncio.gather(*(d.run(host, ports[i % len(ports)], stop) for i, d in enumerate(decoders)))
    return ReplayReport(
        lines_per_mat={d.location: d.sent for d in decoders},
        reads=plan.reads,
        crossings=plan.crossings,
        guns=plan.guns,
        connections=sum(d.connections for d in decoders),
        true_winners=len(chase.true_winners()),
        notes=list(chase.notes),
    )


def first_gun_for(chase: ChaseField, speed: float | None, now: float) -> float:
    """A first gun for a replay starting ``now``: on the next whole second at ``speed``; as fast
    as possible (``None``), so that the race has just finished (real-time clocks then agree)."""
    if speed is None:
        return float(math.floor(now - chase.span_s - 60.0))
    return float(math.ceil(now))


@dataclass(frozen=True)
class Replay:
    """Everything a replay needs: the chase, its race directory (loaded) and the reads."""

    chase: ChaseField
    race: Race
    plan: ReplayPlan


def prepare_replay(
    paths: list[Path] | list[str],
    pursuer_bib: str,
    delay_s: float,
    directory: Path | str,
    *,
    speed: float | None,
    now: float,
    runners: int | None = None,
    reads_per_crossing: int = READS_PER_CROSSING,
    first_gun: float | None = None,
) -> Replay:
    """Read the results, build the chase, write its race directory and plan every read."""
    chase = chase_field(load_results(paths), pursuer_bib, delay_s, runners)
    gun = first_gun if first_gun is not None else first_gun_for(chase, speed, now)
    race = write_race(chase, directory, gun, race_id_for(paths))
    return Replay(chase, race, plan_reads(chase, gun, reads_per_crossing))


async def play_results(
    replayed: Replay,
    *,
    host: str,
    port: int,
    speed: float | None,
    redis_url: str | None = None,
    stop: asyncio.Event | None = None,
) -> ReplayReport:
    """``pursuit simulate --results``: start the replay's clock (written to Redis when ``redis_url``
    is given, so the ingestor and the engine follow it) and play every mat to the ingestor."""
    decoders = build_decoders(replayed.race, replayed.plan, RaceClock.real_time())
    clock = replay_clock(replayed.plan, speed)
    for d in decoders:
        d.clock = clock  # started only now: building a marathon's decoders takes a few seconds
    if redis_url:
        from live.store.store import write_clock

        await write_clock(redis_url, [replayed.race], clock)
    elif speed is not None and speed != 1.0:
        log.warning("REDIS_URL is unset: the ingestor and the engine run on real time, not the replay's clock")
    return await replay(decoders, host, port, replayed.plan, replayed.chase, stop)


def race_id_for(paths: list[Path] | list[str]) -> str:
    """A race id from the results file name: ``berlin_marathon_2017_M.csv`` → ``berlin-marathon-2017``."""
    stem = Path(paths[0]).name.lower().removesuffix(".gz").removesuffix(".csv")
    stem = re.sub(r"_(m|w|f|men|women)(_elite)?$", "", stem)
    return re.sub(r"[^a-z0-9]+", "-", stem).strip("-") or "results-replay"
