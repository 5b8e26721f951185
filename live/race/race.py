"""The race model: course, mats and timing points, pens, the pursuer and the participants.

A race lives in a directory; ``live.race.race_file.load_race`` reads it into these typed objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from ipaddress import IPv4Network, IPv6Network, ip_address
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from live.clock import DEFAULT_TIME_WINDOW_S
from live.race.course import Course
from live.race.errors import RaceError
from live.race.schedule import SpeedSchedule
from live.race.web_limits import WebLimits

IPNetwork = IPv4Network | IPv6Network

if TYPE_CHECKING:
    from live.race.basemap import Basemap, TileLayer


@dataclass(frozen=True)
class Mat:
    """A physical timing mat (one reader location) lying at one or more course distances."""

    id: str
    at_m: tuple[float, ...]
    aliases: tuple[str, ...] = ()
    backup_of: str | None = None  # a backup mat only fills the holes of its main mat
    pick: str = "first"  # which read of a burst times the passing: "first" or "peak_rssi"
    name: str = ""  # what the maps and cards call it ("Rue Marbeuf"); its id when race.toml gives none

    @property
    def label(self) -> str:
        """The mat as spectators read it: its name, else its id."""
        return self.name or self.id


@dataclass(frozen=True)
class TimingPoint:
    """One crossing of a mat: the ``crossing``-th time (1-based) a runner passes ``mat`` at ``at_m``."""

    index: int
    mat: str
    crossing: int
    at_m: float

    @property
    def id(self) -> str:
        return self.mat if self.crossing == 1 else f"{self.mat}#{self.crossing}"


@dataclass(frozen=True)
class Pen:
    """A start pen (wave): released ``head_start_s`` before the pursuer, or, in a race without a
    pursuer, at its own planned start (``head_start_s`` None)."""

    id: str
    name: str
    head_start_s: float | None
    planned_start: datetime


@dataclass(frozen=True)
class Operator:
    """A race-control operator: signs in with a token whose SHA-256 (hex) the race file holds."""

    name: str
    token_sha256: str


@dataclass(frozen=True)
class Pursuer:
    """The elite chaser: a participant with his own start and planned pace."""

    bib: str
    name: str
    pace_s_per_km: float
    planned_start: datetime
    schedule: SpeedSchedule | None = None  # a catcher car: speeds by time since his start


@dataclass(frozen=True)
class Participant:
    """One entrant: bib, chips (one or more), pen and optional declared finish time."""

    bib: str
    chips: tuple[str, ...]
    name: str
    pen: str
    sex: str
    category: str
    declared_s: float | None
    nation: str = ""  # the optional ``nation`` column (an IOC or ISO code, as the organiser writes it)


@dataclass(frozen=True)
class RaceResultDecoder:
    """A RACE RESULT decoder we connect to (it is the server) and the mat it stands at."""

    mat: str
    host: str
    port: int = 3601


@dataclass(frozen=True)
class ReaderPorts:
    """Where the readers are (SPEC §5): the TCP port of each protocol we listen for, as the race file
    sets it (``[readers] <protocol>_port``; else the protocol's own default, which its server knows),
    the decoders we connect to (``[[readers.raceresult]]``), and how far a reader's time may be."""

    ports: tuple[tuple[str, int], ...] = ()  # (protocol, port), only those the race file sets
    decoders: tuple[RaceResultDecoder, ...] = ()
    time_window_s: float = DEFAULT_TIME_WINDOW_S  # a time further than this from the race clock is refused
    host: str | None = None  # the interface the reader ports listen on (None: the command line's --host)
    allow: dict[str, tuple[IPNetwork, ...]] = field(default_factory=dict)  # mat (or "*") -> sources
    gun_mats: tuple[str, ...] = ()  # mats whose readers may fire guns (empty: the start mat)
    gun_window_s: float = 3600.0  # on race day, a gun this far from its pen's planned start is refused
    secret_env: str | None = None  # variable holding a secret ChronoTrack readers must send (authorize~…)
    idle_timeout_s: float = 300.0  # a reader connection silent this long is closed (a live reader reconnects)

    def allows(self, mat: str, host: str) -> bool:
        """May a reader at ``host`` speak for ``mat``? Yes when no allowlist names it (nor ``*``)."""
        networks = self.allow.get(mat, self.allow.get("*"))
        if networks is None:
            return True
        try:
            address = ip_address(host)
        except ValueError:
            return False
        return any(address in n for n in networks)

    def allows_any(self, host: str) -> bool:
        """May ``host`` speak for at least one mat (the check made when it connects)?"""
        return not self.allow or any(self.allows(m, host) for m in self.allow)

    def port(self, protocol: str, default: int) -> int:
        """The port the race file sets for ``protocol`` (``chronotrack``, ``mylaps``), else ``default``."""
        return dict(self.ports).get(protocol, default)


LANGUAGES = ("en", "fr")  # the languages of the pages and feeds (the catalogues of i18n/)


@dataclass(frozen=True)
class Race:
    """A whole race, as loaded from its directory."""

    id: str
    name: str
    timezone: ZoneInfo
    course: Course
    mats: tuple[Mat, ...]
    timing_points: tuple[TimingPoint, ...]
    pens: tuple[Pen, ...]
    pursuer: Pursuer | None  # None: a plain timed race (no gaps, margins nor winners forecast)
    participants: tuple[Participant, ...]
    quota: int | None
    max_speed_m_s: float
    admin_token_env: str
    readers: ReaderPorts
    directory: Path
    basemap: Basemap | None = None  # streets, water, parks, landmarks drawn under the course (live/race/basemap.py)
    tiles: TileLayer | None = None  # an online tile layer over the basemap, for viewers with internet
    operators: tuple[Operator, ...] = ()  # race control's named sign-ins, besides the shared admin token
    quotas: dict[str, dict[str, int]] = field(default_factory=dict)  # "sex"/"category" -> label -> winners wanted
    outcome: str = "finish"  # "finish", or "distance": the catcher-car format (live/race/outcome.py)
    milestones_m: tuple[float, ...] = ()  # a distance race's milestones: forecast and announced
    web: WebLimits = field(default_factory=WebLimits)  # [web]: the web process's connection cap
    language: str = "en"  # [race] language: the pages' language when the browser asks for none we speak
    _by_bib: dict[str, Participant] = field(repr=False, compare=False, default_factory=dict)
    _by_chip: dict[str, str] = field(repr=False, compare=False, default_factory=dict)
    _mat_by_alias: dict[str, str] = field(repr=False, compare=False, default_factory=dict)

    @property
    def distance_m(self) -> float:
        return self.course.distance_m

    @property
    def pursuer_bib(self) -> str | None:
        """The pursuer's bib, None in a race without one."""
        return self.pursuer.bib if self.pursuer is not None else None

    def require_pursuer(self, what: str) -> Pursuer:
        """The pursuer, for ``what`` needs one; a :class:`RaceError` naming ``[pursuer]`` if there is none."""
        if self.pursuer is None:
            raise RaceError(self.directory / "race.toml", "pursuer", f"{what} needs a pursuer; this race has none")
        return self.pursuer

    @property
    def runners(self) -> tuple[Participant, ...]:
        """The participants who run for a result: everyone but the pursuer."""
        bib = self.pursuer_bib
        return tuple(p for p in self.participants if p.bib != bib)

    def participant(self, bib: str) -> Participant | None:
        return self._by_bib.get(bib)

    def bib_for_chip(self, chip: str) -> str | None:
        return self._by_chip.get(chip)

    def chip_map(self) -> dict[str, str]:
        """Every known chip code and the bib that wears it."""
        return dict(self._by_chip)

    def mat_for_location(self, location: str) -> str | None:
        """The mat id a reader's location name refers to (the id itself or an alias)."""
        return self._mat_by_alias.get(location) or self._mat_by_alias.get(location.lower())

    def timing_points_of(self, mat: str) -> tuple[TimingPoint, ...]:
        """The crossings of a mat (a backup mat's are its main mat's)."""
        main = self.main_mat(mat)
        return tuple(tp for tp in self.timing_points if tp.mat == main)

    def main_mat(self, mat: str) -> str:
        """The mat whose timing points a mat's reads count for: itself, or the mat it backs up."""
        m = next((x for x in self.mats if x.id == mat), None)
        return m.backup_of if m is not None and m.backup_of else mat

    @property
    def by_distance(self) -> bool:
        """A catcher-car race: results are the distances where the pursuer passed each runner."""
        return self.outcome == "distance"

    @property
    def declared_distance_m(self) -> float:
        """The distance a participant's ``declared_s`` is a time for: the course, or for a catcher-car
        race (whose course is longer than anyone runs) a 10 km (live/race/outcome.py)."""
        from live.race.outcome import DECLARED_DISTANCE_M

        return DECLARED_DISTANCE_M if self.by_distance else self.distance_m

    @property
    def start_mat(self) -> TimingPoint:
        return self.timing_points[0]

    @property
    def finish(self) -> TimingPoint:
        return self.timing_points[-1]

    def pen(self, pen_id: str) -> Pen | None:
        return next((p for p in self.pens if p.id == pen_id), None)
