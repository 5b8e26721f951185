"""Run a simulated race: one emulated reader per mat, each in its protocol's real role.

ChronoTrack controllers and MYLAPS exporters connect to the ingestor's servers; RACE RESULT
decoders listen and the ingestor connects to them (its race file's ``[[readers.raceresult]]``
tables say where); JSON readers connect to the web app's ``/ingest/ws``. The start mat carries the
guns, so it speaks ChronoTrack or MYLAPS.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from live.clock import RaceClock
from live.race.event import Event, event_of
from live.race.race import Race
from live.store.store import write_clock
from simulator.chronotrack import EmulatedDecoder
from simulator.event import event_feeds, plan_event
from simulator.faults import Faults, WireFaults
from simulator.jsonws import EmulatedJsonReader
from simulator.mylaps import EmulatedExporter
from simulator.observations import MatFeeds, mat_feeds
from simulator.raceresult import EmulatedRaceResultDecoder
from simulator.trajectory import Crossing, Gun, Outcome, plan_race, true_outcome

log = logging.getLogger(__name__)

LEAD_IN_WALL_S = 3.0  # wall seconds between start-up and the first gun

PROTOCOLS = ("chronotrack", "mylaps", "raceresult", "json")
PER_CROSSING = {"mylaps", "raceresult"}  # decoders that report one passing per crossing
GUN_PROTOCOLS = ("chronotrack", "mylaps")
# the vendors' ports, where the race file sets none: a decoder knows where its ingestor listens by default
CHRONOTRACK_PORT, MYLAPS_PORT = 61611, 3097


@dataclass(frozen=True)
class SimulationReport:
    """What the emulated mats sent, what no mat saw, and the true outcome of the simulated race."""

    lines_per_mat: dict[str, int]  # reports delivered (ChronoTrack: highest sequence number), per mat
    reads: int  # raw reads planned (tag lines)
    guns: list[Gun]
    connections: int
    outcome: Outcome
    protocols: dict[str, str] = field(default_factory=dict)  # mat -> protocol
    faults: Faults = field(default_factory=Faults)
    missing: list[Crossing] = field(default_factory=list)  # crossings no mat read: never sent, never invented
    unknown_chips: list[str] = field(default_factory=list)
    noise: int = 0  # garbled lines or messages sent
    backups: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    outcomes: dict[str, Outcome] = field(default_factory=dict)  # race id -> its true outcome (an event's races)

    @property
    def winners(self) -> int:
        return self.outcome.winners

    @property
    def winners_per_pen(self) -> dict[str, int]:
        return self.outcome.winners_per_pen

    def __str__(self) -> str:
        pens = ", ".join(f"pen {k}: {v}" for k, v in self.winners_per_pen.items())
        lines = sum(self.lines_per_mat.values())
        text = f"{lines:,} reports sent over {len(self.lines_per_mat)} mats; true winners {self.winners:,} ({pens})"
        if caught := sorted(self.outcome.caught_at_m.values()):  # a catcher-car race: nobody wins
            median_km, furthest_km = caught[len(caught) // 2] / 1000, caught[-1] / 1000
            text = (
                f"{lines:,} reports sent over {len(self.lines_per_mat)} mats; the car caught {len(caught):,} "
                f"runners, half of them by {median_km:.1f} km, the last at {furthest_km:.1f} km"
            )
        if self.faults != Faults():
            text += f"\nfaults: {self.faults}; {self.noise} garbled lines, {len(self.unknown_chips)} unknown chips"
        for note in self.notes:
            text += f"\nnote: {note}"
        if self.missing:
            shown = ", ".join(f"bib {c.bib} at {c.mat} (point {c.timing_point_index})" for c in self.missing[:20])
            more = f" and {len(self.missing) - 20} more" if len(self.missing) > 20 else ""
            text += f"\nmissing (no mat read them; the true outcome counts them): {shown}{more}"
        if self.backups:
            text += "\nbackup files: " + " ".join(str(p) for p in self.backups)
        return text


def assign_protocols(race: Race, spec: str | None) -> dict[str, str]:
    """Mat -> protocol from ``"mixed"``, one protocol name, or ``"start=chronotrack,concorde=mylaps"``
    (mats not named speak ChronoTrack). ``mixed`` spreads the mats over every protocol, the start mat
    on ChronoTrack (it carries the guns)."""
    mats = [m.id for m in race.mats]
    spec = (spec or "chronotrack").strip()
    if spec == "mixed":
        others = [m for m in mats if m != race.start_mat.mat]
        cycle = ("mylaps", "raceresult", "json", "chronotrack")
        out = {race.start_mat.mat: "chronotrack"} | {m: cycle[i % len(cycle)] for i, m in enumerate(others)}
        return {m: out[m] for m in mats}
    if spec in PROTOCOLS:
        out = dict.fromkeys(mats, spec)
    else:
        out = dict.fromkeys(mats, "chronotrack")
        for pair in spec.split(","):
            mat, sep, proto = pair.partition("=")
            mat, proto = mat.strip(), proto.strip()
            if not sep or race.mat_for_location(mat) is None:
                raise ValueError(
                    f"--protocols: {pair!r} is not <mat>=<protocol> with a mat of {race.id} ({', '.join(mats)})"
                )
            if proto not in PROTOCOLS:
                raise ValueError(f"--protocols: {proto!r} for mat {mat} is none of {', '.join(PROTOCOLS)}")
            out[race.mat_for_location(mat) or mat] = proto
    if out[race.start_mat.mat] not in GUN_PROTOCOLS:
        raise ValueError(
            f"the start mat {race.start_mat.mat} carries the guns: it must speak {' or '.join(GUN_PROTOCOLS)}"
        )
    return out


def raceresult_tables(ports: Mapping[str, int], host: str = "127.0.0.1") -> str:
    """The ``[[readers.raceresult]]`` tables the ingestor's race file needs for these decoders."""
    return "".join(f'[[readers.raceresult]]\nmat = "{m}"\nhost = "{host}"\nport = {p}\n\n' for m, p in ports.items())


async def simulate(
    race: Race | Event,
    host: str,
    port: int,
    *,
    clock: RaceClock,
    first_gun: float,
    seed: int = 2021,
    runners: int | None = None,
    stop_event: asyncio.Event | None = None,
    protocols: Mapping[str, str] | None = None,
    faults: Faults | None = None,
    late_max_s: float = 0.0,
    miss_rates: Mapping[str, float] | float = 0.0,
    record: Path | None = None,
    mylaps_port: int | None = None,
    raceresult_ports: Mapping[str, int] | None = None,
    clock_offsets: Mapping[str, float] | None = None,
    web_url: str | None = None,
    reader_tokens: Mapping[str, str] | None = None,
) -> SimulationReport:
    """Play the planned race to the ingestor as ``clock`` runs; returns once every report is
    delivered (and acknowledged where the protocol acknowledges) or ``stop_event`` is set.

    ``host:port`` is the ingestor's ChronoTrack server, ``mylaps_port`` its MYLAPS server (default:
    the race's); RACE RESULT decoders listen on ``raceresult_ports`` (default: the race file's
    table for the mat) with ``clock_offsets`` on their clocks; JSON readers connect to ``web_url``
    with ``reader_tokens``. The race itself depends on neither the clock's speed nor the faults.
    """
    faults = faults or Faults()
    event = race if isinstance(race, Event) else event_of(race)
    race = event.ingest_race()  # an event's readers: one per mat, whichever races share it
    protocols = dict(protocols or dict.fromkeys((m.id for m in race.mats), "chronotrack"))
    per_crossing = {m for m, p in protocols.items() if p in PER_CROSSING}
    if len(event.races) == 1:
        planned = [(race, plan_race(race, first_gun, seed=seed, runners=runners, miss_rates=miss_rates))]
        feeds = mat_feeds(
            race, planned[0][1], per_crossing=per_crossing, late_max_s=late_max_s, faults=faults, seed=seed
        )
    else:
        planned = plan_event(event, first_gun, seed=seed, runners=runners, miss_rates=miss_rates)
        feeds = event_feeds(planned, per_crossing=per_crossing, late_max_s=late_max_s, faults=faults, seed=seed)
    plan = planned[0][1]
    readers = _build_readers(
        race, feeds, protocols, clock, faults, raceresult_ports or {}, clock_offsets or {}, web_url, reader_tokens or {}
    )
    decoders = [r for r in readers.values() if isinstance(r, EmulatedRaceResultDecoder)]
    stop = stop_event or asyncio.Event()
    try:
        for d in decoders:
            await d.start()
        for d in decoders:
            log.info("RACE RESULT decoder for mat %s listening on %s:%d", d.mat, d.host, d.port)
        mylaps_port = mylaps_port or race.readers.port("mylaps", MYLAPS_PORT)
        runs = []
        for reader in readers.values():
            if isinstance(reader, EmulatedDecoder):
                runs.append(reader.run(host, port, stop))
            elif isinstance(reader, EmulatedExporter):
                runs.append(reader.run(host, mylaps_port, stop))
            elif isinstance(reader, EmulatedRaceResultDecoder):
                runs.append(reader.wait_done(stop))
            else:
                runs.append(reader.run(stop))
        await asyncio.gather(*runs)
    finally:
        for d in decoders:
            await d.close()
    backups = [] if record is None else _write_backups(record, list(readers.values()))
    return SimulationReport(
        lines_per_mat={m: _delivered(r) for m, r in readers.items()},
        reads=sum(len(p.reads) for _, p in planned),
        guns=[g for _, p in planned for g in p.guns],
        connections=sum(r.connections for r in readers.values()),
        outcome=true_outcome(plan),
        outcomes={r.id: true_outcome(p) for r, p in planned},
        protocols=protocols,
        faults=faults,
        missing=feeds.missing,
        unknown_chips=feeds.unknown_chips,
        noise=sum(r.noise for r in readers.values()),
        backups=backups,
        notes=feeds.notes,
    )


async def play(
    race: Race | Event,
    *,
    host: str,
    speed: float,
    redis_url: str | None,
    ingest_port: int | None = None,
    raceresult_port: int = 3601,
    **options: Any,
) -> SimulationReport:
    """``pursuit simulate``: a race clock starting now at ``speed`` (written to Redis when
    ``redis_url`` is given, so the engine follows it), RACE RESULT decoders on the race file's
    ports or ``raceresult_port`` upwards, then ``simulate``."""
    wall = time.time()
    clock = RaceClock(origin_wall=wall, origin_race=wall, speed=speed)
    event = race if isinstance(race, Event) else event_of(race)
    race = event.ingest_race()
    if redis_url:
        await write_clock(redis_url, event.races, clock)
    elif speed != 1.0:
        log.warning("REDIS_URL is unset: the live engine will not know the simulated clock runs at %gx", speed)
    protocols = options.get("protocols") or {}
    tables = {d.mat for d in race.readers.decoders}
    loose = [m for m, p in protocols.items() if p == "raceresult" and m not in tables]
    options["raceresult_ports"] = ports = {m: raceresult_port + i for i, m in enumerate(loose)}
    if ports:
        print(
            f"RACE RESULT decoders listen; add to the ingestor's race.toml:\n\n{raceresult_tables(ports)}", flush=True
        )
    return await simulate(
        event,
        host,
        ingest_port or race.readers.port("chronotrack", CHRONOTRACK_PORT),
        clock=clock,
        first_gun=clock.at_wall(time.time() + LEAD_IN_WALL_S),
        **options,
    )


Reader = EmulatedDecoder | EmulatedExporter | EmulatedRaceResultDecoder | EmulatedJsonReader


def _build_readers(
    race: Race,
    feeds: MatFeeds,
    protocols: Mapping[str, str],
    clock: RaceClock,
    faults: Faults,
    raceresult_ports: Mapping[str, int],
    clock_offsets: Mapping[str, float],
    web_url: str | None,
    tokens: Mapping[str, str],
) -> dict[str, Reader]:
    tables = {d.mat: d for d in race.readers.decoders}
    readers: dict[str, Reader] = {}
    for mat in race.mats:
        observations = feeds.by_mat[mat.id]
        wire = WireFaults.for_reader(faults, len(observations))
        match protocols.get(mat.id, "chronotrack"):
            case "chronotrack":
                d = EmulatedDecoder(location=mat.id, tz=race.timezone, clock=clock, faults=wire)
                for o in observations:
                    if o.gun:
                        d.add_gun(o.time)
                    else:
                        d.add_read(o.time, o.chip, o.due)
                readers[mat.id] = d
            case "mylaps":
                readers[mat.id] = EmulatedExporter(mat.id, race.timezone, clock, observations, faults=wire)
            case "raceresult":
                table = tables.get(mat.id)
                if mat.id not in raceresult_ports and table is None:
                    raise ValueError(
                        f"mat {mat.id} speaks RACE RESULT but no port is given for its decoder: add a "
                        f"[[readers.raceresult]] table for it to the race file, or pass --raceresult-port"
                    )
                port = raceresult_ports[mat.id] if mat.id in raceresult_ports else table.port  # type: ignore[union-attr]
                listen = table.host if table is not None and mat.id not in raceresult_ports else "127.0.0.1"
                readers[mat.id] = EmulatedRaceResultDecoder(
                    mat.id,
                    race.timezone,
                    clock,
                    observations,
                    host=listen,
                    port=port,
                    clock_offset_s=clock_offsets.get(mat.id, 0.0),
                    faults=wire,
                )
            case "json":
                if web_url is None or mat.id not in tokens:
                    raise ValueError(
                        f"mat {mat.id} speaks JSON: give the web app's URL (--web) and its reader token "
                        f"(PURSUIT_READER_TOKENS={mat.id}=…)"
                    )
                readers[mat.id] = EmulatedJsonReader(mat.id, clock, observations, web_url, tokens[mat.id], faults=wire)
            case other:
                raise ValueError(f"mat {mat.id}: unknown protocol {other!r}; choose from {', '.join(PROTOCOLS)}")
    return readers


def _write_backups(directory: Path, readers: list[Reader]) -> list[Path]:
    """Every reader's backup file in its native format (small files, written once at the end)."""
    directory.mkdir(parents=True, exist_ok=True)
    return [reader.write_backup(directory) for reader in readers]


def _delivered(reader: Reader) -> int:
    if isinstance(reader, EmulatedDecoder):
        return reader.sent
    if isinstance(reader, EmulatedRaceResultDecoder):
        return reader.confirmed
    return reader.delivered
