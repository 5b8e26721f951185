"""Loading and validating a race directory: ``race.toml``, ``participants.csv`` and the course geometry
(GeoJSON LineString, or GPX). :func:`load_race` reads it into the typed objects of ``live.race.race`` and
reports every problem with the file, the line or key, and what is wrong.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator
from ipaddress import ip_network
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from live.race.course import Course
from live.race.errors import RaceError
from live.race.outcome import parse_outcome
from live.race.race import (
    LANGUAGES,
    IPNetwork,
    Mat,
    Operator,
    Participant,
    Race,
    RaceResultDecoder,
    ReaderPorts,
    TimingPoint,
)
from live.race.schedule import SpeedSchedule
from live.race.starts import load_pens, load_pursuer, load_quotas
from live.race.toml import TomlDoc, read_toml
from live.race.web_limits import load_web

if TYPE_CHECKING:
    from live.race.basemap import Basemap, TileLayer

DEFAULT_MAX_SPEED_M_S = 7.5  # 2:13/km: faster than any road runner over a segment; a read implying more is wrong
MAT_SPREAD_LIMIT_M = 40.0  # the avenue is 70 m wide; a mat spans one carriageway
MAX_OPERATOR_NAME = 60
PARTICIPANT_COLUMNS = ("bib", "chip", "name", "pen", "sex", "category", "declared_s")
OPTIONAL_COLUMNS = ("nation",)  # may follow, in this order: a World Run ranks per nation


def load_race(directory: Path | str) -> Race:
    """Read and validate a race directory."""
    root = Path(directory)
    toml_path = root / "race.toml"
    cfg = read_toml(toml_path, "a race directory needs race.toml")
    race_id = cfg.identifier("race.id")
    tz = cfg.zone("race.timezone")
    day = cfg.date("race.date")

    course = _load_course(root, cfg)

    mats, timing_points = _load_mats(cfg, course.distance_m)
    for i, mat in enumerate(mats):
        xs, ys = course.xy_at(np.asarray(mat.at_m, dtype=float))
        spread = float(max(np.hypot(xs - xs[0], ys - ys[0])))
        if spread > MAT_SPREAD_LIMIT_M:
            raise RaceError(
                toml_path,
                f"mats[{i}].at_m",
                f"the distances of mat {mat.id!r} lie {spread:.0f} m apart on the course map; "
                "one mat must sit at one place",
            )

    schedule = _load_schedule(cfg)
    outcome, milestones = parse_outcome(
        toml_path, cfg.get("race.outcome"), cfg.get("race.milestones_m"), course.distance_m, schedule
    )
    pursuer = load_pursuer(cfg, day, tz, schedule)
    pens = load_pens(cfg, day, tz, pursuer)

    participants_path = root / cfg.str("race.participants", default="participants.csv")
    pursuer_bib = pursuer.bib if pursuer is not None else None
    participants = tuple(_read_participants(participants_path, {p.id for p in pens}, pursuer_bib))
    by_bib = {p.bib: p for p in participants}
    if pursuer is not None and pursuer.bib not in by_bib:
        raise RaceError(toml_path, "pursuer.bib", f"bib {pursuer.bib!r} is not in {participants_path.name}")
    by_chip: dict[str, str] = {}
    for p in participants:
        for chip in p.chips:
            by_chip[chip] = p.bib

    alias: dict[str, str] = {}
    for m in mats:
        for name in (m.id, *m.aliases):
            alias[name] = m.id
            alias.setdefault(name.lower(), m.id)

    quota = cfg.get("race.quota")
    if quota is not None and (not isinstance(quota, int) or quota < 0):
        raise RaceError(toml_path, "race.quota", f"must be a whole number ≥ 0, got {quota!r}")

    language = cfg.str("race.language", default="en")
    if language not in LANGUAGES:
        raise RaceError(toml_path, "race.language", f"unknown language {language!r}; use one of {', '.join(LANGUAGES)}")

    basemap, tiles = _load_map(root, cfg, course)
    return Race(
        id=race_id,
        name=cfg.str("race.name"),
        timezone=tz,
        course=course,
        mats=tuple(mats),
        timing_points=timing_points,
        pens=pens,
        pursuer=pursuer,
        participants=participants,
        quota=quota,
        max_speed_m_s=cfg.number("race.max_speed_m_s", default=DEFAULT_MAX_SPEED_M_S, positive=True),
        admin_token_env=cfg.str("race.admin_token_env", default="PURSUIT_ADMIN_TOKEN"),
        readers=ReaderPorts(
            ports=_load_ports(cfg),
            decoders=_load_decoders(cfg, {m.id for m in mats}),
            time_window_s=3600 * cfg.number("readers.time_window_h", default=24, positive=True),
            host=cfg.str("readers.host") if cfg.get("readers.host") is not None else None,
            allow=_load_allow(cfg, {m.id for m in mats}),
            gun_mats=_load_gun_mats(cfg, {m.id for m in mats}),
            gun_window_s=60 * cfg.number("readers.gun_window_min", default=60, positive=True),
            secret_env=cfg.str("readers.secret_env") if cfg.get("readers.secret_env") is not None else None,
            idle_timeout_s=cfg.number("readers.idle_timeout_s", default=300, positive=True),
        ),
        directory=root,
        basemap=basemap,
        tiles=tiles,
        operators=_load_operators(cfg),
        quotas=load_quotas(cfg, participants),
        outcome=outcome,
        milestones_m=milestones,
        web=load_web(cfg),
        language=language,
        _by_bib=by_bib,
        _by_chip=by_chip,
        _mat_by_alias=alias,
    )


def _load_ports(cfg: TomlDoc) -> tuple[tuple[str, int], ...]:
    """``[readers] <protocol>_port = N``: the port each listening protocol takes, where the file sets one."""
    table = cfg.get("readers", {})
    keys = sorted(k for k in table if k.endswith("_port")) if isinstance(table, dict) else []
    ports = []
    for key in keys:
        port = cfg.number(f"readers.{key}", positive=True)
        if port != int(port) or port > 65535:
            raise RaceError(cfg.path, f"readers.{key}", f"must be a TCP port 1–65535, got {port:g}")
        ports.append((key.removesuffix("_port"), int(port)))
    return tuple(ports)


def _load_allow(cfg: TomlDoc, mat_ids: set[str]) -> dict[str, tuple[IPNetwork, ...]]:
    """``[readers.allow]``: mat id (or ``"*"`` for every mat not named) = source addresses or networks."""
    raw = cfg.get("readers.allow", {})
    if not isinstance(raw, dict):
        raise RaceError(cfg.path, "readers.allow", 'must be a table: finish = ["10.0.0.21", "10.0.1.0/24"]')
    allow = {}
    for mat, sources in raw.items():
        key = f"readers.allow.{mat}"
        if mat != "*" and mat not in mat_ids:
            raise RaceError(cfg.path, key, f"mat {mat!r} is not defined in [[mats]]")
        if not isinstance(sources, list) or not all(isinstance(a, str) for a in sources):
            raise RaceError(cfg.path, key, "must be a list of addresses or networks")
        try:
            allow[mat] = tuple(ip_network(a.strip(), strict=False) for a in sources)
        except ValueError as exc:
            raise RaceError(cfg.path, key, str(exc)) from exc
    return allow


def _load_operators(cfg: TomlDoc) -> tuple[Operator, ...]:
    """``[[operators]]`` tables: ``name`` and ``token_sha256`` (64 hex digits: the SHA-256 of the
    operator's token, never the token itself; ``pursuit token NAME`` makes a pair)."""
    operators: list[Operator] = []
    for i, _ in enumerate(cfg.list("operators")):
        key = f"operators[{i}]"
        name = cfg.str(f"{key}.name")
        if len(name) > MAX_OPERATOR_NAME:
            raise RaceError(cfg.path, f"{key}.name", f"at most {MAX_OPERATOR_NAME} characters, got {len(name)}")
        digest = cfg.str(f"{key}.token_sha256").lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise RaceError(cfg.path, f"{key}.token_sha256", "must be 64 hex digits (the SHA-256 of the token)")
        if any(o.name == name for o in operators):
            raise RaceError(cfg.path, f"{key}.name", f"operator {name!r} is listed twice")
        if any(o.token_sha256 == digest for o in operators):
            raise RaceError(cfg.path, f"{key}.token_sha256", "two operators share one token")
        operators.append(Operator(name=name, token_sha256=digest))
    return tuple(operators)


def _load_gun_mats(cfg: TomlDoc, mat_ids: set[str]) -> tuple[str, ...]:
    raw = cfg.get("readers.gun_mats", [])
    if not isinstance(raw, list) or not all(isinstance(m, str) and m in mat_ids for m in raw):
        raise RaceError(cfg.path, "readers.gun_mats", f"must be a list of mat ids from [[mats]], got {raw!r}")
    return tuple(raw)


def _load_decoders(cfg: TomlDoc, mat_ids: set[str]) -> tuple[RaceResultDecoder, ...]:
    """``[[readers.raceresult]]`` tables: ``mat``, ``host``, optional ``port`` (3601)."""
    decoders = []
    for i, _ in enumerate(cfg.list("readers.raceresult")):
        key = f"readers.raceresult[{i}]"
        mat = cfg.str(f"{key}.mat")
        if mat not in mat_ids:
            raise RaceError(cfg.path, f"{key}.mat", f"mat {mat!r} is not defined in [[mats]]")
        port = cfg.number(f"{key}.port", default=3601, positive=True)
        if port != int(port) or port > 65535:
            raise RaceError(cfg.path, f"{key}.port", f"must be a TCP port 1–65535, got {port:g}")
        decoders.append(RaceResultDecoder(mat, cfg.str(f"{key}.host"), int(port)))
    return tuple(decoders)


def _load_schedule(cfg: TomlDoc) -> SpeedSchedule | None:
    """``[pursuer] schedule = [[0, 15], [3600, 16], …]``: km/h from seconds after his start."""
    raw = cfg.get("pursuer.schedule")
    if raw is None:
        return None
    try:
        steps = tuple((float(a), float(b)) for a, b in raw)  # type: ignore[attr-defined]
        if not all(math.isfinite(x) for step in steps for x in step):
            raise ValueError("every time and speed must be a finite number")
        return SpeedSchedule(steps)
    except (TypeError, ValueError) as exc:
        raise RaceError(cfg.path, "pursuer.schedule", f"must be [[seconds, km/h], …] from 0 s: {exc}") from exc


def _load_map(root: Path, cfg: TomlDoc, course: Course) -> tuple[Basemap | None, TileLayer | None]:
    """The optional ``[race] basemap`` file and ``[map]`` table (live/race/basemap.py checks them)."""
    from live.race.basemap import load_basemap, tile_layer

    name = cfg.get("race.basemap")
    attribution = cfg.get("map.attribution")
    if attribution is not None and not isinstance(attribution, str):
        raise RaceError(cfg.path, "map.attribution", f"must be a string, got {attribution!r}")
    basemap = None if name is None else load_basemap(root / cfg.str("race.basemap"), course, attribution)
    return basemap, tile_layer(cfg.path, cfg.get("map", {}))


def _load_course(root: Path, cfg: TomlDoc) -> Course:
    geo_path = root / cfg.str("race.course")
    if not geo_path.is_file():
        raise RaceError(cfg.path, "race.course", f"course file {geo_path.name!r} not found in {root}")
    coords = _read_geometry(geo_path)
    if len(coords) < 2:
        raise RaceError(geo_path, "", "the course line needs at least two points")
    course = Course.from_lonlat(coords)
    distance = cfg.get("race.distance_m")
    if distance is None:
        return course
    if isinstance(distance, bool) or not isinstance(distance, int | float) or not 0 < distance < math.inf:
        raise RaceError(cfg.path, "race.distance_m", f"must be a positive number, got {distance!r}")
    if abs(course.measured_m - distance) > 0.02 * distance:
        raise RaceError(
            cfg.path,
            "race.distance_m",
            f"{distance} m differs from the measured course "
            f"({course.measured_m:.0f} m in {geo_path.name}) by more than 2 %",
        )
    return Course.from_lonlat(coords, float(distance))


def _read_geometry(path: Path) -> list[tuple[float, float]]:
    """Course points ``(lon, lat)`` from a GeoJSON LineString or a GPX track/route."""
    if path.suffix.lower() == ".gpx":
        return _read_gpx(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RaceError(path, "", f"not valid GeoJSON: {exc}") from exc
    geometries = []
    if doc.get("type") == "FeatureCollection":
        geometries = [f.get("geometry") or {} for f in doc.get("features", [])]
    elif doc.get("type") == "Feature":
        geometries = [doc.get("geometry") or {}]
    else:
        geometries = [doc]
    for geom in geometries:
        if geom.get("type") == "LineString":
            try:
                return [(float(c[0]), float(c[1])) for c in geom["coordinates"]]
            except (KeyError, TypeError, ValueError, IndexError) as exc:
                raise RaceError(path, "coordinates", f"expected [[lon, lat], …]: {exc}") from exc
    raise RaceError(path, "", "no LineString geometry found for the course")


def _read_gpx(path: Path) -> list[tuple[float, float]]:
    import xml.etree.ElementTree as ET

    try:
        tree = ET.parse(path)
    except ET.ParseError as exc:
        raise RaceError(path, f"line {exc.position[0]}", f"not valid GPX: {exc}") from exc
    points = []
    for el in tree.iter():
        if el.tag.rsplit("}", 1)[-1] in ("trkpt", "rtept"):
            try:
                points.append((float(el.attrib["lon"]), float(el.attrib["lat"])))
            except (KeyError, ValueError) as exc:
                raise RaceError(path, "trkpt", f"a point lacks a numeric lat/lon: {exc}") from exc
    return points


def _load_mats(cfg: TomlDoc, distance_m: float) -> tuple[list[Mat], tuple[TimingPoint, ...]]:
    mats: list[Mat] = []
    crossings: list[tuple[float, str, int]] = []
    for i, _ in enumerate(cfg.list("mats")):
        key = f"mats[{i}]"
        mat_id = cfg.str(f"{key}.id")
        if any(m.id == mat_id for m in mats):
            raise RaceError(cfg.path, f"{key}.id", f"mat {mat_id!r} is defined twice")
        aliases = cfg.get(f"{key}.aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise RaceError(cfg.path, f"{key}.aliases", "must be a list of strings")
        name = cfg.str(f"{key}.name") if cfg.get(f"{key}.name") is not None else ""  # optional: the id stands in
        main_id = cfg.get(f"{key}.backup_of")
        if main_id is not None:
            main = next((m for m in mats if m.id == main_id), None)
            if main is None or main.backup_of is not None:
                raise RaceError(cfg.path, f"{key}.backup_of", f"{main_id!r} is no main mat defined above this one")
            mats.append(Mat(id=mat_id, at_m=main.at_m, aliases=tuple(aliases), backup_of=main.id, name=name))
            continue
        at = cfg.get(f"{key}.at_m")
        if isinstance(at, int | float) and not isinstance(at, bool):
            at = [at]
        if not isinstance(at, list) or not at or not all(isinstance(a, int | float) and math.isfinite(a) for a in at):
            raise RaceError(cfg.path, f"{key}.at_m", f"must be a distance or a list of distances, got {at!r}")
        for a in at:
            if not 0 <= a <= distance_m:
                raise RaceError(cfg.path, f"{key}.at_m", f"{a} m is outside the course (0–{distance_m:.0f} m)")
        if sorted(at) != list(at) or len(set(at)) != len(at):
            raise RaceError(cfg.path, f"{key}.at_m", "distances must be listed in increasing order")
        pick = cfg.str(f"{key}.pick", default="first")
        if pick not in ("first", "peak_rssi"):
            raise RaceError(cfg.path, f"{key}.pick", f"must be 'first' or 'peak_rssi', got {pick!r}")
        mats.append(Mat(id=mat_id, at_m=tuple(float(a) for a in at), aliases=tuple(aliases), pick=pick, name=name))
        crossings.extend((float(a), mat_id, n + 1) for n, a in enumerate(at))
    if len(crossings) < 2:
        raise RaceError(cfg.path, "mats", "at least a start and a finish mat are needed")
    crossings.sort()
    if crossings[-1][0] != distance_m:
        raise RaceError(cfg.path, "mats", f"no mat at the finish ({distance_m:.0f} m)")
    points = tuple(TimingPoint(index=i, mat=m, crossing=c, at_m=a) for i, (a, m, c) in enumerate(crossings))
    return mats, points


def _read_participants(path: Path, pen_ids: set[str], pursuer_bib: str | None) -> Iterator[Participant]:
    if not path.is_file():
        raise RaceError(path, "", "participants file not found")
    seen_bibs: dict[str, int] = {}
    seen_chips: dict[str, int] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        names = tuple(h.strip() for h in header or ())
        columns = len(names)
        if header is None or names not in [PARTICIPANT_COLUMNS + OPTIONAL_COLUMNS[:n] for n in range(2)]:
            raise RaceError(path, "line 1", f"header must be {','.join(PARTICIPANT_COLUMNS)}[,nation], got {header!r}")
        for row in reader:
            line = reader.line_num
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != columns:
                raise RaceError(path, f"line {line}", f"expected {columns} fields, got {len(row)}")
            bib, chip, name, pen, sex, category, declared, *more = (c.strip() for c in row)
            nation = more[0] if more else ""
            if not bib:
                raise RaceError(path, f"line {line}", "bib is empty")
            if bib in seen_bibs:
                raise RaceError(path, f"line {line}", f"bib {bib!r} already used on line {seen_bibs[bib]}")
            seen_bibs[bib] = line
            chips = tuple(c.strip() for c in chip.split("|") if c.strip())
            if not chips:
                raise RaceError(path, f"line {line}", f"bib {bib!r} has no chip")
            for c in chips:
                if c in seen_chips:
                    raise RaceError(path, f"line {line}", f"chip {c!r} already worn by the bib on line {seen_chips[c]}")
                seen_chips[c] = line
            if not pen and bib != pursuer_bib:
                who = f"only the pursuer, bib {pursuer_bib!r}, has none" if pursuer_bib else "the race has no pursuer"
                raise RaceError(path, f"line {line}", f"bib {bib!r} has no pen ({who})")
            if pen not in pen_ids and not (bib == pursuer_bib and not pen):
                raise RaceError(path, f"line {line}", f"pen {pen!r} of bib {bib!r} is not defined in race.toml")
            declared_s: float | None = None
            if declared:
                try:
                    declared_s = float(declared)
                except ValueError as exc:
                    raise RaceError(
                        path, f"line {line}", f"declared_s {declared!r} is not a number of seconds"
                    ) from exc
                if not 0 < declared_s < math.inf:
                    raise RaceError(
                        path, f"line {line}", f"declared_s must be a positive number of seconds, got {declared!r}"
                    )
            if len(nation) > 32:
                raise RaceError(path, f"line {line}", f"nation of bib {bib!r} is over 32 characters")
            yield Participant(bib, chips, name, pen, sex, category, declared_s, nation)
