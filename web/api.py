"""The JSON API (SPEC §6): race, state, runners, mats. Starlette routes over the live engine."""

from __future__ import annotations

import csv
import io
import math
import time
from datetime import datetime
from typing import Any

import numpy as np
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from i18n.catalogue import LANGUAGES, language
from i18n.results import with_display_header
from live.chase.chase import catch_point
from live.chase.places import counts_by
from live.chase.snapshot import AHEAD, FINISHED, STARTED, STATUSES, WON, Snapshot
from live.engine.engine import LiveEngine
from live.engine.health import MAT_SILENT_S
from live.store.store import attached
from web.catcher_results import distance_results_csv
from web.http import NOT_READY, RACE_BASE, JSONResponse, error, is_stream_id, iso_time, num
from web.messages import forecast_fields, probability, row_summary, runner_detail

MAX_PAGE = 500
DEFAULT_PAGE = 50
MAX_QUERY_CHARS = 64  # a name or bib prefix to search for
MAX_PEN_CHARS = 32
MAX_LABEL_CHARS = 32  # a sex or category to filter by


class RaceAPI:
    """Handlers bound to one race's engine."""

    def __init__(self, engine: LiveEngine) -> None:
        self.engine = engine
        self.race = engine.race
        self._mat_rates: dict[str, tuple[float, int, float]] = {}
        self._roster: bytes | None = None
        self._csv: tuple[Snapshot, str] | None = None  # the results CSV of the last tick asked for
        self._counts_by: tuple[Snapshot, dict[str, Any]] | None = None  # the same for counts by sex and category

    def iso(self, unix_s: float | None) -> str | None:
        return iso_time(unix_s, self.race.timezone)

    def routes(self) -> list[Route]:
        return [
            Route("/api/race", self.get_race),
            Route("/api/state", self.get_state),
            Route("/api/runners", self.list_runners),
            Route("/api/runners/{bib}", self.get_runner),
            Route("/api/mats", self.get_mats),
            Route("/api/readers", self.get_readers),
            Route("/api/results.csv", self.results_csv),
            Route("/api/events", self.list_events),
            Route("/api/roster", self.roster),
        ]

    def _snapshot(self) -> Snapshot | None:
        return self.engine.snapshot

    async def get_race(self, request: Request) -> JSONResponse:
        race = self.race
        guns = self.engine.guns
        host = request.headers.get("host", f"{request.url.hostname}:{request.url.port}")
        scheme = "wss" if request.url.scheme == "https" else "ws"
        root = request.scope.get(RACE_BASE, "")  # an event's race: /races/{id}
        mats = []
        for m in race.mats:
            lon, lat = race.course.lonlat_at(m.at_m[0])
            mats.append({"id": m.id, "at_m": list(m.at_m), "lat": float(lat), "lon": float(lon)})
        return JSONResponse(
            {
                "id": race.id,
                "name": race.name,
                "distance_m": race.distance_m,
                "timezone": race.timezone.key,
                "course": race.course.coordinates(),
                "mats": mats,
                "timing_points": [
                    {"mat": tp.mat, "crossing": tp.crossing, "at_m": tp.at_m} for tp in race.timing_points
                ],
                "pens": [
                    {
                        "id": p.id,
                        "name": p.name,
                        "head_start_s": p.head_start_s,
                        "start": self.iso(guns.get(f"pen:{p.id}", p.planned_start.timestamp())),
                        "started": f"pen:{p.id}" in guns,
                    }
                    for p in race.pens
                ],
                "pursuer": {
                    "bib": pursuer.bib,
                    "name": pursuer.name,
                    "pace_s_per_km": pursuer.pace_s_per_km,
                    "start": self.iso(guns.get("pursuer", pursuer.planned_start.timestamp())),
                    "started": "pursuer" in guns,
                }
                if (pursuer := race.pursuer) is not None
                else None,
                "quota": race.quota,
                "quotas": race.quotas,
                "feeds": {
                    "live": f"{scheme}://{host}{root}/ws/live",
                    "live_gzip": f"{scheme}://{host}{root}/ws/live?encoding=gzip",  # snapshots gzipped, binary
                    "events": f"{scheme}://{host}{root}/ws/events",
                },
            }
        )

    async def get_state(self, request: Request) -> JSONResponse:
        snap = self._snapshot()
        if snap is None:
            return error(503, NOT_READY)
        p, f, pursuer = snap.pursuer, snap.forecast, self.race.pursuer
        return JSONResponse(
            {
                "clock": {"now": self.iso(snap.now), "elapsed_s": num(snap.elapsed_s)},
                "pursuer": {
                    "bib": p.bib,
                    "name": pursuer.name,
                    "status": p.status,
                    "distance_m": num(p.distance_m),
                    "lat": p.lat,
                    "lon": p.lon,
                    "pace_s_per_km": num(p.pace_s_per_km),
                }
                if p is not None and pursuer is not None
                else None,
                "counts": snap.counts,
                "counts_by": self.counts_by(snap),
                "forecast": {
                    **{k: v for k, v in (forecast_fields(snap) or {}).items() if k != "pursuer_basis"},
                    "by_pen": f.by_pen,
                    "pursuer": {
                        "basis": f.pursuer_basis,
                        "finish": self.iso(f.pursuer_finish),
                        "low": self.iso(f.pursuer_low),
                        "high": self.iso(f.pursuer_high),
                        "planned_pace_s_per_km": num(pursuer.pace_s_per_km),
                    },
                }
                if f is not None and pursuer is not None
                else None,
                "tick_ms": num(self.engine.tick_ms, 2),
            }
        )

    def counts_by(self, snap: Snapshot) -> dict[str, Any]:
        """Per sex and per category: runners, winners (``won``; ``finished`` in a race without a
        pursuer), those still running, and the ``[quotas]`` set for them (once per tick)."""
        if self._counts_by is None or self._counts_by[0] is not snap:
            e, plain = self.engine, self.race.pursuer is None
            done = snap.status == (FINISHED if plain else WON)
            running = (snap.status == STARTED) | (snap.status == AHEAD)
            table = counts_by(e.sexes, e.categories, done, running, self.race.quotas, "finished" if plain else "won")
            self._counts_by = (snap, table)
        return self._counts_by[1]

    async def get_runner(self, request: Request) -> JSONResponse:
        bib = request.path_params["bib"]
        if self.race.participant(bib) is None:
            return error(404, f"no participant with bib {bib!r} in race {self.race.id!r}")
        detail = self.runner_detail(bib)
        if detail is None:
            return error(503, NOT_READY)
        return JSONResponse(detail)

    def runner_detail(self, bib: str) -> dict[str, Any] | None:
        """Everything about one participant (SPEC §6 runner), or None before the first tick."""
        return runner_detail(self.engine, bib)

    async def list_runners(self, request: Request) -> JSONResponse:
        snap = self._snapshot()
        if snap is None:
            return error(503, NOT_READY)
        params = request.query_params
        try:
            limit = int(params.get("limit", DEFAULT_PAGE))
            offset = int(params.get("offset", 0))
        except ValueError:
            return error(400, "limit and offset must be whole numbers")
        if not 1 <= limit <= MAX_PAGE or offset < 0:
            return error(400, f"limit must be 1–{MAX_PAGE} and offset ≥ 0")
        mask = np.ones(len(snap.bibs), dtype=bool)
        if len(params.get("q", "")) > MAX_QUERY_CHARS or len(params.get("pen", "")) > MAX_PEN_CHARS:
            return error(400, f"q is at most {MAX_QUERY_CHARS} characters and pen at most {MAX_PEN_CHARS}")
        for label, values in (("sex", self.engine.sexes), ("category", self.engine.categories)):
            if len(wanted := params.get(label, "")) > MAX_LABEL_CHARS:
                return error(400, f"{label} is at most {MAX_LABEL_CHARS} characters")
            if wanted:  # an unknown one matches nobody
                mask &= values == wanted
        if status := params.get("status"):
            if status not in STATUSES:
                return error(400, f"status must be one of {', '.join(STATUSES)}")
            mask &= snap.status == STATUSES.index(status)
        if pen := params.get("pen"):
            mask &= snap.pens == pen
        if q := params.get("q", "").strip().lower():
            names = [self.race.participant(str(b)).name.lower() for b in snap.bibs]  # type: ignore[union-attr]
            by_bib = np.array([str(b).startswith(q) for b in snap.bibs])
            by_name = np.array([n.startswith(q) or f" {q}" in n for n in names])
            mask &= by_bib | by_name
        rows = np.flatnonzero(mask)
        page = rows[offset : offset + limit]
        return JSONResponse(
            {"runners": [row_summary(self.engine, snap, int(i)) for i in page], "total": int(len(rows))}
        )

    async def get_readers(self, request: Request) -> JSONResponse:
        """Refused input per sending address (reader name and peer), most first, and the totals of
        input refused before its mat was known."""
        store = attached(self.engine.store)
        readers = [
            {
                "address": address,
                "who": r.get("who", ""),
                "errors": int(r.get("errors", 0)),
                "last_error": r.get("last_error", ""),
                "last_error_at": self.iso(float(r["at"])) if "at" in r else None,
            }
            for address, r in (await store.reader_errors()).items()
        ]
        unplaced = await store.ingest_totals()
        return JSONResponse(
            {
                "readers": sorted(readers, key=lambda r: -int(r["errors"])),
                "unplaced": {"errors": int(unplaced.get("errors", 0)), "last_error": unplaced.get("last_error", "")},
            }
        )

    async def get_mats(self, request: Request) -> JSONResponse:
        health = await attached(self.engine.store).mat_health()
        now_wall = time.time()
        out = []
        for mat in self.race.mats:
            h = health.get(mat.id, {})
            reads = int(h.get("reads", 0))
            last = float(h["last_read_wall"]) if "last_read_wall" in h else None
            prev = self._mat_rates.get(mat.id)
            rate = 0.0
            if prev and now_wall - prev[0] > 0.5:
                rate = (reads - prev[1]) / (now_wall - prev[0])
            if prev is None or now_wall - prev[0] > 5.0:
                self._mat_rates[mat.id] = (now_wall, reads, rate)
            elif prev:
                rate = prev[2]
            connected = int(h.get("connected", 0)) > 0
            out.append(
                {
                    "id": mat.id,
                    "online": connected and last is not None and now_wall - last < MAT_SILENT_S,
                    "connected": connected,
                    "last_read": datetime.fromtimestamp(last, self.race.timezone).isoformat(timespec="seconds")
                    if last
                    else None,
                    "last_read_age_s": num(now_wall - last) if last else None,
                    "reads": reads,
                    "passings": int(h.get("passings", 0)),
                    "reads_per_s": num(rate, 2),
                    "unknown_chips": int(h.get("unknown_reads", 0)),
                    "errors": int(h.get("errors", 0)),
                    "last_error": h.get("last_error"),
                    "clock_offset_s": float(h["clock_offset_s"]) if "clock_offset_s" in h else None,
                    "clock_round_trip_s": float(h["clock_round_trip_s"]) if "clock_round_trip_s" in h else None,
                    "seq_gaps": int(h.get("seq_gaps", 0)),
                }
            )
        return JSONResponse(out)

    async def roster(self, request: Request) -> Response:
        """Bibs, names and pens in the order the live feed's arrays use (cacheable: it never changes)."""
        if self._roster is None:
            bibs = [str(b) for b in self.engine.bibs]
            people = [self.race.participant(b) for b in bibs]
            self._roster = orjson.dumps(
                {
                    "race": self.race.id,
                    "bibs": bibs,
                    "names": [p.name if p else "" for p in people],
                    "pens": [p.pen if p else "" for p in people],
                }
            )
        return Response(self._roster, media_type="application/json", headers={"cache-control": "public, max-age=300"})

    async def list_events(self, request: Request) -> JSONResponse:
        """Events after ``after`` (a stream id; from the start when absent), oldest first, paged."""
        after = request.query_params.get("after", "0-0")
        if not is_stream_id(after):
            return error(400, f"after must be an event id like 1700000000000-0, got {after[:40]!r}")
        try:
            limit = int(request.query_params.get("limit", 100))
        except ValueError:
            return error(400, "limit must be a whole number")
        if not 1 <= limit <= MAX_PAGE:
            return error(400, f"limit must be 1–{MAX_PAGE}")
        if kind := request.query_params.get("kind"):
            kinds = set(kind.split(","))
        events = await attached(self.engine.store).events_after(after, count=limit if not kind else 10_000)
        if kind:
            events = [e for e in events if e["kind"] in kinds][:limit]
        for e in events:
            e["time"] = self.iso(float(e["time"]))  # type: ignore[arg-type]
        return JSONResponse(events)

    async def results_csv(self, request: Request) -> Response:
        """Results export: those placed (winners by finish time; in a race without a pursuer, finishers
        by gun time), then everyone else by status and distance (built once per tick, however many ask)."""
        snap = self._snapshot()
        if snap is None:
            return error(503, NOT_READY)
        if self._csv is None or self._csv[0] is not snap:
            self._csv = (snap, self._results_csv(snap))
        body, lang = self._csv[1], request.query_params.get("lang")
        if lang is not None:  # column names for a person, in that language (i18n/results.py)
            if lang not in LANGUAGES:
                return error(400, f"lang must be one of {', '.join(LANGUAGES)}")
            body = with_display_header(body, language(lang))
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{self.race.id}-results.csv"'},
        )

    def _results_csv(self, snap: Snapshot) -> str:
        if self.race.by_distance:  # the catcher-car format: ranked by where the car passed each runner
            return distance_results_csv(self.engine, snap, csv_text)
        times = self.engine.used_times
        finish = times[:, -1]
        start_read = times[:, 0]
        guns = self.engine.guns
        pen_gun = {p.id: guns.get(f"pen:{p.id}") for p in self.race.pens}
        places = self.engine.places()
        placed = np.where(places.place > 0, places.place, np.iinfo(np.int64).max)
        order = np.lexsort((np.nan_to_num(finish, nan=np.inf), -snap.distance_m, _STATUS_ORDER[snap.status], placed))
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(
            [
                "place",
                "bib",
                "name",
                "pen",
                "sex",
                "category",
                "status",
                "finish_time",
                "gun_s",
                "net_s",
                "margin_s",
                "distance_m",
                "caught_at_m",
                "caught_time",
                "win_probability",
                "place_sex",
                "place_category",
            ]
        )
        for row in order:
            bib = str(snap.bibs[row])
            p = self.race.participant(bib)
            assert p is not None
            status = STATUSES[int(snap.status[row])]
            gun = pen_gun.get(p.pen)
            f = finish[row]
            place, place_sex, place_category = places.of(int(row))
            caught_at, caught_time = "", ""
            if status == "caught":
                point = catch_point(times[row], self.engine.used_pursuer_times, self.engine.at_m)
                if point:
                    caught_at, caught_time = f"{point[0]:.1f}", self.iso(point[1]) or ""
            writer.writerow(
                [
                    place or "",
                    *map(csv_text, (bib, p.name, p.pen, p.sex, p.category)),
                    status,
                    self.iso(f) or "",
                    f"{f - gun:.2f}" if gun is not None and not np.isnan(f) else "",
                    f"{f - start_read[row]:.2f}" if not np.isnan(f) and not np.isnan(start_read[row]) else "",
                    f"{snap.margin_s[row]:.2f}" if math.isfinite(snap.margin_s[row]) else "",
                    f"{snap.distance_m[row]:.1f}",
                    caught_at,
                    caught_time,
                    "" if (p_win := probability(snap, int(row))) is None else f"{p_win:.3f}",
                    place_sex or "",
                    place_category or "",
                ]
            )
        return out.getvalue()


def csv_text(text: str) -> str:
    """A text cell a spreadsheet will show, not run: one starting like a formula (``=``, ``+``, ``-``,
    ``@``, tab, CR) gets a leading apostrophe (OWASP, "CSV Injection")."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# won (finished) first, then runners still out, then caught, then dnf/dq
_STATUS_ORDER = np.array([3, 2, 1, 4, 0, 5, 6, 0])  # by status code
