"""Replay reader backup files, and rebuild a race's live state from its journal.

Both go through the same parsers and the same Lua ``apply_read`` as live ingest, so a replayed or
rebuilt race ends in the same passings as the live one. Rebuild re-applies every line of the journal
and every admin action of the admin log, interleaved in the order Redis appended them: the two
append-only logs are the truth; crossings, passings, guns, unknown chips, manual statuses, mat
counters and alert acknowledgements are derived from them.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import orjson

from ingest.protocols import registry
from live.clock import time_problem
from live.race.guns import gun_problem
from live.race.race import Race
from live.reads import ChipTime, RawRead, resolve_local
from live.store.event_store import EventStore
from live.store.store import Store

log = logging.getLogger(__name__)
REASONS_KEPT = 100  # refused lines the report names (all are counted)
REASONS_LOGGED = 20  # of them, one log line each; then one line that says the rest are counted

BATCH = 5000


@dataclass
class ReplayReport:
    lines: int = 0
    reads: int = 0
    guns: int = 0
    errors: int = 0
    admin_actions: int = 0
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "lines": self.lines,
            "reads": self.reads,
            "guns": self.guns,
            "errors": self.errors,
            "admin_actions": self.admin_actions,
            "first_errors": self.reasons[:10],
        }


def detect_protocol(first_line: bytes) -> str:
    """``ctp01``, ``mylaps``, ``json`` or ``raceresult`` (a decoder's passing file) from a file's first line."""
    return registry.detect_protocol(first_line).name


class _Applier:
    """Turns raw lines of any protocol into reads and guns, applied in batches."""

    def __init__(self, race: Race, store: Store, report: ReplayReport) -> None:
        self.race, self.store, self.report = race, store, report
        self.reads: list[RawRead] = []

    async def line(
        self, proto: str, raw: bytes, near_s: float, where: str, mat: str = "", guns_checked: bool = True
    ) -> None:
        """One journaled or replayed line (or message) of protocol ``proto``, read at ``mat`` if the
        connection named it. ``guns_checked``: a gun marker is refused as live ingest refuses it (a line
        live ingest journaled); False for a backup file's (``pursuit replay``), applied as given."""
        self.report.lines += 1
        tz = self.race.timezone
        try:
            protocol = registry.protocol_of(proto)
            if protocol is None:
                raise ValueError(f"unknown protocol {proto!r}")
            items, problems = protocol.decode(raw)
            for problem in problems:
                self._error(f"{where}: {problem}")
            reads = []  # a unit's reads count all or none
            for item in items:
                if isinstance(item, registry.Read):
                    location = mat or item.location if protocol.connection_names_mat else item.location
                    at = self._mat(location)
                    reads.append(RawRead(at, item.chip, self._t(item.time.resolve(tz, near_s), near_s), item.rssi))
                elif isinstance(item, registry.Gun):
                    gun_mat = self._mat(mat or item.location if protocol.connection_names_mat else item.location)
                    await self._gun(gun_mat, self._t(item.time.resolve(tz, near_s), near_s), where, guns_checked)
                else:
                    await self.store.set_pursuer_gps(item.lat, item.lon, self._t(item.time.resolve(tz, near_s), near_s))
            self.reads += reads
        except ValueError as exc:
            self._error(f"{where}: {exc}")
        if len(self.reads) >= BATCH:
            await self.flush()

    def _t(self, t: float, near_s: float) -> float:
        """``t`` if it can be a time of this race (see :func:`time_problem`), else ValueError with the reason."""
        if (why := time_problem(t, near_s, self.race.readers.time_window_s)) is not None:
            raise ValueError(why)
        return t

    def _mat(self, location: str) -> str:
        mat = self.race.mat_for_location(location)
        if mat is None:
            raise ValueError(f"location {location!r} is no mat of race {self.race.id!r}")
        return mat

    async def _gun(self, mat: str, t: float, where: str, checked: bool) -> None:
        """A gun marker; ``checked``: refused as live ingest refuses it (``live/race/guns.py``: a mat that
        may not fire guns, or too far from its pen's planned start on race day)."""
        await self.flush()
        target = await self.store.gun_store(t, mat)  # of an event's races, the one with a start to fire
        if checked and (why := gun_problem(target.race, mat, t, await target.guns())) is not None:
            self._error(f"{where}: gun refused: {why}")
            return
        if await target.record_gun(t):
            self.report.guns += 1

    def _error(self, reason: str) -> None:
        self.report.errors += 1
        if len(self.report.reasons) < REASONS_KEPT:
            self.report.reasons.append(reason)
        if self.report.errors <= REASONS_LOGGED:
            log.warning("replay: %s", reason)
        elif self.report.errors == REASONS_LOGGED + 1:
            log.warning(
                "replay: more refused lines are counted, not logged; the report names the first %d", REASONS_KEPT
            )

    async def flush(self) -> None:
        if self.reads:
            await self.store.apply_reads(self.reads, wall_s=0.0)
            self.report.reads += len(self.reads)
            self.reads = []


# A time of day in replayed files falls in [start - 6 h, start + 18 h) of the race's start: the
# date nearest (start + 6 h). A race over midnight resolves onto the right date on either side.
BEFORE_START_S = 6 * 3600.0
NEAR_AFTER_START_S = 12 * 3600.0 - BEFORE_START_S


def _first_gun(units_by_file: Iterable[tuple[str, list[bytes]]]) -> ChipTime | None:
    """The time of the first gun (in file order) in reader backup files: a ChronoTrack ``guntime``
    line or a MYLAPS ``Gunshot`` marker."""
    for proto, units in units_by_file:
        hint = registry.PROTOCOLS[proto].gun_hint
        for unit in units if hint is not None else ():
            if hint is not None and hint in unit:
                with contextlib.suppress(ValueError):
                    guns = [i for i in registry.PROTOCOLS[proto].decode(unit)[0] if isinstance(i, registry.Gun)]
                    if guns:
                        return guns[0].time
    return None


def race_start_s(race: Race, day: str | None, first_gun: ChipTime | None = None) -> float:
    """The race's start, unix seconds: the first gun on ``day`` (YYYY-MM-DD, default the race file's
    date) if one is known, else the first pen's planned start of day on that date."""
    d = datetime.fromisoformat(day).date() if day else min(p.planned_start for p in race.pens).date()
    if first_gun is not None and first_gun.seconds_of_day is None:
        return first_gun.resolve(race.timezone, 0.0)  # a dated gun names its own day
    if first_gun is not None:
        of_day = timedelta(seconds=first_gun.seconds_of_day or 0.0)
    else:
        planned = min(p.planned_start for p in race.pens)
        of_day = planned - datetime.combine(planned.date(), time(), planned.tzinfo)
    return resolve_local(datetime.combine(d, time()) + of_day, race.timezone)


def time_of_day_anchor(start_s: float) -> float:
    """The instant a time of day is resolved nearest, for a race started at ``start_s``."""
    return start_s + NEAR_AFTER_START_S


async def replay_files(
    race: Race,
    store: Store,
    paths: Iterable[Path],
    day: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ReplayReport:
    """Feed reader backup files through ingest: journal every line, then apply it; ``progress(done,
    total)`` after every batch of lines or messages.

    A time of day takes the date that puts it in [start - 6 h, start + 18 h) of the race's start: the
    first gun in the files (else the first pen's planned start) on ``day`` (YYYY-MM-DD, default the
    race file's date), so the reads of a race over midnight land on either side of it.
    """
    report = ReplayReport()
    applier = _Applier(race, store, report)
    files = []
    for path in map(Path, paths):
        data = path.read_bytes()
        if not data.strip():
            continue
        try:
            protocol = registry.detect_protocol(data.lstrip().split(b"\n", 1)[0])
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from exc
        files.append((path, protocol.name, [u for u in protocol.split(data) if u.strip()]))
    near = time_of_day_anchor(race_start_s(race, day, _first_gun((proto, units) for _, proto, units in files)))
    total, done = sum(len(units) for _, _, units in files), 0
    for path, proto, units in files:
        for start in range(0, len(units), BATCH):
            chunk = units[start : start + BATCH]
            lines = [u.decode("latin-1") for u in chunk]
            await store.journal_lines(f"replay-{proto}", path.name, 0.0, lines, near_s=near)
            for i, unit in enumerate(chunk, start + 1):
                await applier.line(
                    proto, unit, near, f"{path.name}: {registry.PROTOCOLS[proto].unit} {i}", guns_checked=False
                )
            done += len(chunk)
            if progress is not None:
                progress(done, total)
    await applier.flush()
    return report


def _stream_order(entry_id: bytes | str) -> tuple[int, int]:
    """A Redis stream id as a number pair, to merge two streams of one Redis in the order written."""
    ms, _, seq = (entry_id.decode() if isinstance(entry_id, bytes) else entry_id).partition("-")
    return int(ms), int(seq or 0)


async def rebuild(race: Race, store: Store) -> ReplayReport:
    """Recompute every derived key of the race from the journal and the admin log, each entry in the
    order Redis appended it (both streams' ids are that Redis's clock), so an admin action meets the
    state its operator saw: a gun set by hand before a reader's marker, a chip assigned before its
    later reads, a passing voided before a resend. ``store``: an event's (``EventStore``) rebuilds
    every race of the event from the event's journal, each race's admin log merged in."""
    stores = store.stores if isinstance(store, EventStore) else [store]  # an event: every race's
    for each in stores:
        await each.clear_derived()
    await store.setup()
    clock = await store.clock()
    report = ReplayReport()
    applier = _Applier(race, store, report)
    admin: list[tuple[bytes, dict[bytes, bytes], Store, bytes | None]] = []
    for each in stores:  # an event's races' admin logs, merged in the order one Redis wrote them
        entries, results = await each.admin_entries()
        admin += [(entry_id, f, each, results.get(entry_id)) for entry_id, f in entries]
    admin.sort(key=lambda a: _stream_order(a[0]), reverse=True)  # pop() the oldest

    async def admin_before(entry_id: bytes | None) -> None:
        """Apply the admin actions journaled before ``entry_id`` (all that are left if None)."""
        flushed = False
        while admin and (entry_id is None or _stream_order(admin[-1][0]) < _stream_order(entry_id)):
            _, f, target, result = admin.pop()
            if not flushed:
                await applier.flush()  # the reads before it are applied before it
                flushed = True
            if _refused(result):
                continue
            operator = f.get(b"operator", b"").decode()
            await _admin(target.race, target, f[b"action"].decode(), orjson.loads(f[b"args"]), operator)
            report.admin_actions += 1

    last = "-"
    while True:
        entries = await store.journal_entries(last, BATCH)
        if not entries:
            break
        for entry_id, f in entries:
            await admin_before(entry_id)
            wall = float(f.get(b"wall", b"0") or 0)
            if b"near" in f:
                near = float(f[b"near"])
            else:
                near = clock.at_wall(wall) if wall else time_of_day_anchor(race_start_s(race, None))
            proto = f.get(b"proto", b"").decode()
            raw_lines = f[b"lines"].split(b"\n") if b"lines" in f else [f[b"line"]]
            mat = f.get(b"mat", b"").decode()
            for n, raw in enumerate(raw_lines, 1):
                await applier.line(
                    proto,
                    raw,
                    near,
                    f"journal {entry_id.decode()} line {n}",
                    mat,
                    guns_checked=not proto.startswith("replay-"),
                )
        last = entries[-1][0].decode()
    await applier.flush()
    await admin_before(None)
    return report


def _refused(result: bytes | None) -> bool:
    """Whether an admin action's kept result says it changed nothing (a void of no passing)."""
    return result is not None and orjson.loads(result).get("http") != 200


async def _admin(race: Race, store: Store, action: str, args: dict[str, Any], operator: str = "") -> None:
    """Re-apply one journaled admin action (see ``web/admin.py``)."""
    if action == "start_pen":
        await store.set_gun(f"pen:{args['pen']}", float(args["time"]))
    elif action == "start_pursuer":
        await store.set_gun("pursuer", float(args["time"]))
    elif action == "undo_start":
        await store.clear_gun(str(args["target"]))
    elif action == "add_passing":
        participant = race.participant(args["bib"])
        if participant:
            await store.apply_reads([RawRead(args["mat"], participant.chips[0], float(args["time"]))], wall_s=0.0)
    elif action == "void_passing":
        await store.void_passing(args["bib"], args["mat"], float(args["time"]))
    elif action == "set_status":
        await store.set_manual_status(args["bib"], None if args["status"] == "ok" else args["status"])
    elif action == "assign_chip":
        await store.assign_chip(args["chip"], args["bib"])
    elif action == "ack_alert":
        await store.ack_alert(str(args["event"]), operator, float(args["at"]))
