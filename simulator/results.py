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
import csv
import json
import logging
import math
import re
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from live.clock import RaceClock
from live.forecast.model import MARATHON_M, default_model
from live.forecast.results import Results, load_results, skip_report
from live.race.race import Race
from live.race.race_file import load_race
from simulator.chronotrack import EmulatedDecoder

log = logging.getLogger(__name__)

TIMEZONE = "Europe/Berlin"
BERLIN_2017_GUN = datetime(2017, 9, 24, 9, 15, tzinfo=ZoneInfo(TIMEZONE))  # the race's first wave
READS_PER_CROSSING = 2
READ_OFFSETS_S = (0.0, 0.35, 0.8, 1.3)  # the raw reads of one crossing, after the first (exact) one
COURSE_CENTRE = (52.5145, 13.3501)  # lat, lon: the Großer Stern in the Tiergarten
COURSE_POINTS = 720
START_MAT = "start"
PEN = "field"
MAX_SPAN_S = 11 * 3600.0  # a time-of-day read resolves to the date nearest the race clock: < 12 h


class ReplayError(ValueError):
    """A chase that cannot be built from the results: says what to change."""


@dataclass(frozen=True)
class ChaseField:
    """The runners of a results file as a chase: who, their splits, the pursuer and his delay."""

    bibs: np.ndarray  # str, unique
    sex: np.ndarray  # str
    split_names: tuple[str, ...]
    at_m: np.ndarray  # distance of each split column
    elapsed_s: np.ndarray  # (runners, splits) from the runner's own start; nan where no mat read him
    pursuer_row: int
    delay_s: float
    notes: tuple[str, ...] = ()

    @property
    def pursuer_bib(self) -> str:
        return str(self.bibs[self.pursuer_row])

    @property
    def runners(self) -> int:
        """Runners chasing (the pursuer not counted)."""
        return len(self.bibs) - 1

    def start_offsets_s(self) -> np.ndarray:
        """Each row's start after the first gun: 0, and the delay for the pursuer."""
        offsets = np.zeros(len(self.bibs))
        offsets[self.pursuer_row] = self.delay_s
        return offsets

    @property
    def span_s(self) -> float:
        """From the first gun to the last read (the slowest finish, or the pursuer's)."""
        return float(np.nanmax(self.elapsed_s + self.start_offsets_s()[:, None]))

    def true_winners(self) -> set[str]:
        """Bibs whose finish is strictly earlier than the pursuer's (SPEC §2, the outcome rule)."""
        finish = self.elapsed_s[:, -1] + self.start_offsets_s()
        won = finish < finish[self.pursuer_row]
        won[self.pursuer_row] = False
        return {str(b) for b in self.bibs[won]}


def chase_field(
    results: Results, pursuer_bib: str, delay_s: float, runners: int | None = None, wire: bool = True
) -> ChaseField:
    """The chase of ``results``: bib ``pursuer_bib`` starts ``delay_s`` after the field.

    ``runners`` keeps that many runners (plus the pursuer), spread evenly over the field's finish
    times, so a slice is a small copy of the whole race. ``wire``: the chase is to be played as
    reader traffic, whose times of day bound its length.
    """
    if delay_s < 0:
        raise ReplayError(f"--delay must be 0 or more seconds, got {delay_s:g}")
    bibs = _unique_bibs(results.bibs)
    notes = []
    renamed = int((bibs != results.bibs.astype(str)).sum())
    if renamed:
        notes.append(f"{renamed} bib(s) listed twice in the results: the second row of each gets '-2'")
    elapsed = results.elapsed_s.copy()
    zeros = int((elapsed <= 0).sum())
    if zeros:
        notes.append(f"{zeros} split(s) of 0 s in the results are read as missed splits")
    elapsed[elapsed <= 0] = np.nan
    rows = np.flatnonzero(bibs == pursuer_bib)
    if len(rows) == 0:
        raise ReplayError(f"bib {pursuer_bib!r} (the pursuer) is not among the finishers of the results")
    p = int(rows[0])
    if np.isnan(elapsed[p, -1]):
        raise ReplayError(f"bib {pursuer_bib!r} (the pursuer) is not among the finishers of the results (no finish)")
    notes += skip_report(results)
    keep = np.arange(len(bibs))
    if runners is not None:
        if runners < 1:
            raise ReplayError(f"--runners must be at least 1, got {runners}")
        others = np.flatnonzero(keep != p)
        order = others[np.argsort(elapsed[others, -1], kind="stable")]
        if runners < len(order):
            order = order[np.linspace(0, len(order) - 1, runners).round().astype(int)]
        keep = np.sort(np.append(order, p))
    span = float(np.nanmax(elapsed[keep] + np.where(keep == p, delay_s, 0.0)[:, None]))
    if wire and span > MAX_SPAN_S:
        raise ReplayError(
            f"the replay would last {span / 3600:.1f} h from the first gun; ChronoTrack sends times of day, "
            f"which resolve only within 12 h: choose a shorter --delay"
        )
    return ChaseField(
        bibs=bibs[keep],
        sex=results.sex[keep].astype(str),
        split_names=results.split_names,
        at_m=results.at_m.copy(),
        elapsed_s=elapsed[keep],
        pursuer_row=int(np.flatnonzero(keep == p)[0]),
        delay_s=float(delay_s),
        notes=tuple(notes),
    )


def _unique_bibs(bibs: np.ndarray) -> np.ndarray:
    seen: dict[str, int] = {}
    out = []
    for bib in bibs.astype(str):
        n = seen.get(bib, 0) + 1
        seen[bib] = n
        out.append(bib if n == 1 else f"{bib}-{n}")
    return np.array(out, dtype=object)


def chip_of(bib: str) -> str:
    """The chip a runner wears (CTP01 tags are letters, digits, '-' and '_')."""
    return "B" + re.sub(r"[^A-Za-z0-9_-]", "_", bib)


def mat_ids(chase: ChaseField) -> list[str]:
    """The start mat, then one mat per split column (named after it: ``5k``, ``half``, ``finish``)."""
    return [START_MAT, *chase.split_names]


def write_race(
    chase: ChaseField,
    directory: Path | str,
    first_gun: float,
    race_id: str,
    name: str | None = None,
    pursuer_finish_s: float | None = None,
) -> Race:
    """Write the chase as a race directory (``race.toml``, ``participants.csv``, ``course.geojson``)
    that ``pursuit serve --race`` loads, and load it.

    The pursuer's planned pace is ``pursuer_finish_s`` over the distance; by default the forecast
    model's reference (a marathon winner's typical finish, scaled to the distance), never his own
    finish in the file: the live forecast must not be handed the result it is meant to predict."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    tz = ZoneInfo(TIMEZONE)
    gun = datetime.fromtimestamp(first_gun, tz)
    pursuer_start = gun + timedelta(seconds=chase.delay_s)
    distance = float(chase.at_m[-1])
    finish_s = pursuer_finish_s or default_model().reference_finish_s * distance / MARATHON_M
    bib = chase.pursuer_bib
    title = name or f"{race_id}: bib {bib} chases the field from {_hms(chase.delay_s)} behind"
    mats = "".join(
        f'[[mats]]\nid = "{m}"\nat_m = [{a!r}]\n\n'
        for m, a in zip(mat_ids(chase), [0.0, *map(float, chase.at_m)], strict=True)
    )
    (root / "race.toml").write_text(
        f"# Written by simulator/results.py: a results file replayed as a chase (pursuit simulate --results).\n"
        f"# The course is synthetic (a circle of the race distance); the mats sit at the split distances.\n\n"
        f"[race]\n"
        f'id = "{race_id}"\n'
        f"name = {json.dumps(title, ensure_ascii=False)}\n"
        f'timezone = "{TIMEZONE}"\n'
        f'date = "{gun:%Y-%m-%d}"\n'
        f'course = "course.geojson"\n'
        f'participants = "participants.csv"\n'
        f"distance_m = {float(chase.at_m[-1])!r}\n\n"
        f"[pursuer]\n"
        f'bib = "{bib}"\n'
        f'name = "Bib {bib}"\n'
        f"pace_s_per_km = {finish_s / (float(chase.at_m[-1]) / 1000):.1f}\n"
        f'start = "{pursuer_start.time().isoformat()}"\n\n'
        f"[[pens]]\n"
        f'id = "{PEN}"\n'
        f'name = "The field"\n'
        f"head_start_s = {max(chase.delay_s, 0.001)!r}\n\n" + mats,
        encoding="utf-8",
    )
    (root / "course.geojson").write_text(json.dumps(_course(float(chase.at_m[-1]))) + "\n", encoding="utf-8")
    with (root / "participants.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["bib", "chip", "name", "pen", "sex", "category", "declared_s"])
        for i, (b, sex) in enumerate(zip(chase.bibs, chase.sex, strict=True)):
            pen = "" if i == chase.pursuer_row else PEN
            writer.writerow([b, chip_of(str(b)), f"Bib {b}", pen, sex, "", ""])
    return load_race(root)


def _hms(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def _course(distance_m: float) -> dict[str, object]:
    """A circle of ``distance_m`` around the centre, clockwise from its southern point, as GeoJSON."""
    lat0, lon0 = COURSE_CENTRE
    radius_m = distance_m / (2 * math.pi)
    k = math.pi / 180 * 6_371_008.8
    angles = np.linspace(0.0, 2 * math.pi, COURSE_POINTS + 1)
    lat = lat0 - radius_m * np.cos(angles) / k
    lon = lon0 - radius_m * np.sin(angles) / (k * math.cos(math.radians(lat0)))
    coords = [[round(float(a), 7), round(float(b), 7)] for a, b in zip(lon, lat, strict=True)]
    return {
        "type": "Feature",
        "properties": {"name": "synthetic course: a circle of the race distance (the results have no geometry)"},
        "geometry": {"type": "LineString", "coordinates": coords},
    }


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
