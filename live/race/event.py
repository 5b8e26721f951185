"""An event: several races timed together (a chase and a 10 km, the locations of a World Run).

An event directory holds ``event.toml`` (``[event] id, name, timezone, date``, ``races = ["dir", …]``)
and the race directories it names; a race directory on its own is an event of one race. Mats with
the same id in several races are one physical mat: one reader connection and one journal, each read
going to the race of its chip's participant (docs/ARCHITECTURE.md, "Events").
"""

from __future__ import annotations

import csv
import dataclasses
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from live.race.errors import RaceError
from live.race.race import Mat, Race
from live.race.race_file import load_race
from live.race.toml import read_toml


@dataclass(frozen=True)
class Event:
    """The races of one event, in the order ``event.toml`` lists them (the first is the default)."""

    id: str
    name: str
    timezone: ZoneInfo
    date: date | None
    races: tuple[Race, ...]
    directory: Path

    @property
    def first(self) -> Race:
        """The race the routes without ``/races/{id}`` address."""
        return self.races[0]

    def race(self, race_id: str) -> Race | None:
        return next((r for r in self.races if r.id == race_id), None)

    def race_of_chip(self, chip: str) -> Race | None:
        """The race whose participant wears ``chip``; None for a chip no race knows."""
        return next((r for r in self.races if r.bib_for_chip(chip) is not None), None)

    def ingest_race(self) -> Race:
        """What the reader servers see: the first race, with every race's mats (and their aliases).
        Reader settings (ports, allowlists, time window) are the first race's; :func:`load_event`
        refuses races whose reader settings disagree."""
        if len(self.races) == 1:
            return self.first
        mats: dict[str, Mat] = {}
        aliases: dict[str, str] = {}
        for race in self.races:
            for mat in race.mats:
                mats.setdefault(mat.id, mat)
                for name in (mat.id, *mat.aliases):
                    aliases.setdefault(name, mat.id)
                    aliases.setdefault(name.lower(), mat.id)
        chips = {chip: bib for race in reversed(self.races) for chip, bib in race.chip_map().items()}
        decoders = {d.mat: d for race in reversed(self.races) for d in race.readers.decoders}
        return dataclasses.replace(
            self.first,
            mats=tuple(mats.values()),
            readers=dataclasses.replace(self.first.readers, decoders=tuple(decoders.values())),
            _by_bib=dict(self.first._by_bib),
            _by_chip=chips,
            _mat_by_alias=aliases,
        )


def event_of(race: Race) -> Event:
    """A race directory as an event of one race."""
    return Event(race.id, race.name, race.timezone, None, (race,), race.directory)


def is_event(directory: Path | str) -> bool:
    return (Path(directory) / "event.toml").is_file()


def load_event(directory: Path | str) -> Event:
    """Read an event directory, or a race directory as an event of one race; every cross-race
    problem is reported at once, each with its file and key or line."""
    root = Path(directory)
    if not is_event(root):
        return event_of(load_race(root))
    path = root / "event.toml"
    cfg = read_toml(path, "an event directory needs event.toml")
    event_id = cfg.identifier("event.id")
    tz = cfg.zone("event.timezone")
    day = cfg.date("event.date")
    key = "event.races" if cfg.get("event.races") is not None else "races"  # in [event], or before it
    dirs = cfg.get(key)
    if not isinstance(dirs, list) or not dirs or not all(isinstance(d, str) and d.strip() for d in dirs):
        raise RaceError(path, key, 'must be a non-empty list of race directories, e.g. races = ["42k", "10k"]')
    problems = []
    races: list[Race] = []
    for i, name in enumerate(dirs):
        where = root / name
        if not (where / "race.toml").is_file():
            problems.append(f"{key}[{i}]: no race directory {name!r} ({where / 'race.toml'} not found)")
            continue
        race = load_race(where)  # a race's own errors name its own file
        if any(r.id == race.id for r in races):
            problems.append(f"{key}[{i}]: race id {race.id!r} ({name}/race.toml) is used by another race")
        races.append(race)
    problems += cross_race_problems(races)
    if problems:
        raise RaceError(path, "", "\n  " + "\n  ".join(problems))
    return Event(event_id, cfg.str("event.name"), tz, day, tuple(races), root)


def cross_race_problems(races: list[Race]) -> list[str]:
    """What makes races unable to share readers: a chip in two races (both files and lines), a
    shared mat read by a different protocol or decoder in each, reader settings that differ."""
    problems = []
    seen: dict[str, tuple[Race, str]] = {}
    for race in races:
        for chip, where in _chip_lines(race).items():
            if chip in seen:
                other, other_where = seen[chip]
                problems.append(
                    f"chip {chip!r} is in two races: {other_where} (race {other.id}) and {where} (race {race.id})"
                )
            else:
                seen[chip] = (race, where)
    first = races[0] if races else None
    for race in races[1:]:
        assert first is not None
        decoders = {d.mat: d for d in first.readers.decoders}
        shared = {m.id for m in first.mats} & {m.id for m in race.mats}
        for mat in sorted(shared):
            mine = next((d for d in race.readers.decoders if d.mat == mat), None)
            theirs = decoders.get(mat)
            if mine != theirs:
                said = {
                    d: f"a RACE RESULT decoder at {d.host}:{d.port}" if d else "read by readers that connect to us"
                    for d in (mine, theirs)
                }
                problems.append(
                    f"{race.directory.name}/race.toml: readers.raceresult: shared mat {mat!r} is {said[mine]} "
                    f"here but {said[theirs]} in {first.directory.name}/race.toml: one mat speaks one protocol"
                )
        for name, mine_v, theirs_v in (
            ("ports", dict(race.readers.ports), dict(first.readers.ports)),
            ("host", race.readers.host, first.readers.host),
            ("secret_env", race.readers.secret_env, first.readers.secret_env),
            ("time_window_h", race.readers.time_window_s, first.readers.time_window_s),
        ):
            if mine_v != theirs_v:
                problems.append(
                    f"{race.directory.name}/race.toml: readers.{name}: {mine_v!r} differs from {theirs_v!r} in "
                    f"{first.directory.name}/race.toml: the races of an event share their readers"
                )
    return problems


def _chip_lines(race: Race) -> dict[str, str]:
    """Every chip of a race's participants file and where it is (``dir/participants.csv line N``)."""
    out: dict[str, str] = {}
    chips = race.chip_map()
    path = next((p for p in (race.directory / "participants.csv",) if p.is_file()), None)
    if path is not None:
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            for row in reader:
                for chip in (row.get("chip") or "").split("|"):
                    if chip.strip() in chips:
                        out.setdefault(chip.strip(), f"{race.directory.name}/participants.csv line {reader.line_num}")
    for chip in chips:
        out.setdefault(chip, f"{race.directory.name}/participants.csv")
    return out
