"""The OpenAPI 3.1 description of the JSON API (SPEC §6), published at ``/api/openapi.json``.

Written by hand: the routes are plain Starlette, and the contract is the SPEC's, so the schema
says exactly what clients may rely on. Every limit the handlers enforce is stated here from the
same constant the handler checks (page sizes, text lengths, statuses, the stream-id pattern, the
race's mats), so the two cannot drift; ``schemathesis run --checks all`` runs against it in the tests.
"""

from __future__ import annotations

from typing import Any

from live.chase.snapshot import STATUSES
from live.race.race import Race
from web.admin import (
    LOG_MAX,
    LOG_PAGE,
    MANUAL_STATUSES,
    MAX_CHIP_CHARS,
    MAX_IDEMPOTENCY_KEY,
    MAX_REASON_CHARS,
    TIME_OF_DAY_PATTERN,
)
from web.api import DEFAULT_PAGE, MAX_LABEL_CHARS, MAX_PAGE, MAX_PEN_CHARS, MAX_QUERY_CHARS
from web.http import STREAM_ID

_ERROR = {"$ref": "#/components/schemas/Error"}
_NUM = {"type": ["number", "null"]}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "bad parameters", 401: "admin token missing or wrong (or too many wrong ones from this address)",
            404: "not found", 409: "contradicts the state: resend with override, or a retry still applying",
            422: "invalid body", 429: "too many admin requests: see Retry-After",
            503: "no live state yet, or the race's Redis is unavailable: see Retry-After"}  # fmt: skip
    return {str(c): _json(_ERROR, text[c]) for c in (*codes, 503)}


def _admin(
    summary: str, body: dict[str, Any] | None, *, path_params: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "security": [{"bearer": []}],
        "parameters": [_IDEMPOTENCY],
        "responses": {"200": _json({"type": "object", "required": ["ok"], "properties": {"ok": {"type": "boolean"}}}),
                      **_errors(400, 401, 404, 409, 422, 429)},
    }  # fmt: skip
    if path_params:
        op["parameters"] = [*path_params, _IDEMPOTENCY]
    if body is not None:
        required = bool(body.get("required"))
        op["requestBody"] = {"required": required, "content": {"application/json": {"schema": body}}}
    return {"post": op}


_TIME = {"oneOf": [{"type": "string", "format": "date-time"},
                   {"type": "string", "pattern": TIME_OF_DAY_PATTERN},
                   {"type": "number"}, {"type": "null"}],
         "description": "ISO 8601, unix seconds, or a time of day HH:MM[:SS[.ffffff]] in the race's zone on the "
                        "date that puts it nearest the race clock (23:58 sent at 00:05 is the night before); absent "
                        "or null: now. Refused (422) further than the race's [readers] time_window_h from the race "
                        "clock"}  # fmt: skip
_IDEMPOTENCY = {"name": "Idempotency-Key", "in": "header", "required": False,
                "description": "the same key again answers the first request's answer, applied once",
                "schema": {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY,
                           "pattern": "^[\\x20-\\x7e]+$"}}  # fmt: skip


def _admin_get(summary: str, parameters: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"get": {"summary": summary, "security": [{"bearer": []}], "parameters": parameters or [],
                    "responses": {"200": _json({"type": "object"}), **_errors(400, 401, 429)}}}  # fmt: skip


_OVERRIDE = {"type": "boolean", "description": "true: replace what is set (a gun, a chip's bib); else 409"}
_PAGE = {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": DEFAULT_PAGE}
_BIB = {"name": "bib", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 32}}


def _any_case(words: tuple[str, ...]) -> str:
    """A pattern matching exactly one of ``words`` in any letter case (the handler lowers the case)."""
    alternatives = ("".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in w) for w in words)
    return "^(" + "|".join(alternatives) + ")$"


def openapi_schema(race: Race) -> dict[str, Any]:
    """The schema document of ``race``'s API."""
    race_name = race.name
    mat = {"type": "string", "enum": [m.id for m in race.mats]}
    passing: dict[str, Any] = {"type": "object", "required": ["bib", "mat"],
               "properties": {"bib": {"type": "string"}, "mat": mat, "time": _TIME}}  # fmt: skip
    runner_summary = {
        "type": "object",
        "required": ["bib", "name", "pen", "status", "distance_m", "gap_m", "margin_s"],
        "properties": {"bib": {"type": "string"}, "name": {"type": "string"}, "pen": {"type": "string"},
                       "status": {"type": "string"}, "distance_m": _NUM, "gap_m": _NUM, "margin_s": _NUM,
                       "win_probability": _NUM,
                       "caught_at_m": {**_NUM, "description": "a catcher-car race: where the car passed him"}},
    }  # fmt: skip
    group = {
        "type": "object",
        "additionalProperties": {
            "type": "object",
            "required": ["runners", "running", "quota"],
            "properties": {
                "runners": {"type": "integer"},
                "won": {"type": "integer"},
                "finished": {"type": "integer"},
                "running": {"type": "integer"},
                "quota": {"type": ["integer", "null"]},
            },
        },
    }
    counts_by = {"type": "object", "required": ["sex", "category"], "properties": {"sex": group, "category": group},
                 "description": "per sex and per category label (across sexes): runners, winners (won; finished "
                                "in a race without a pursuer), still running, and the race's [quotas]"}  # fmt: skip
    feeds = {
        "type": "object",
        "required": ["live", "events"],
        "properties": {
            "live": {"type": "string", "description": "WebSocket: a snapshot, then one sparse tick a second, "
                                                      "all JSON text; ?after=SEQ&epoch=E (a reconnecting "
                                                      "client's last seq and its snapshot's epoch): the "
                                                      "ticks since instead of a snapshot, if still held"},
            "live_gzip": {"type": "string", "description": "The same feed with every snapshot sent as a binary "
                          "message holding the gzip of the same JSON text; ticks stay text (?encoding=gzip)"},
            "events": {"type": "string", "description": "WebSocket: commentary and alert events"},
        },
    }  # fmt: skip
    return {
        "openapi": "3.1.0",
        "info": {"title": f"pursuit — {race_name}", "version": "1",
                 "description": "Live tracking of a chase race. Times ISO 8601 with offset; metres; seconds."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error", "status"],
                          "properties": {"error": {"type": "string"}, "status": {"type": "integer"}}},
            },
        },
        "paths": {
            "/api/race": {"get": {"summary": "The race: course, mats, pens, pursuer, feed URLs", "responses": {
                "200": _json({"type": "object", "required": ["id", "name", "distance_m", "course", "mats", "pens",
                                                             "pursuer", "feeds"],
                              "properties": {"feeds": feeds}})}}},
            "/api/state": {"get": {"summary": "Clock, pursuer, counts and forecast", "responses": {
                "200": _json({"type": "object", "required": ["clock", "pursuer", "counts", "forecast"],
                              "properties": {"pursuer": {"type": ["object", "null"],
                                                         "description": "null: a race without a pursuer"},
                                             "forecast": {"type": ["object", "null"],
                                                          "description": "null: a race without a pursuer"},
                                             "counts_by": counts_by}}),
                **_errors(503)}}},
            "/api/runners": {"get": {
                "summary": "Search and page runners",
                "parameters": [
                    {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": MAX_QUERY_CHARS}},
                    {"name": "status", "in": "query", "schema": {"type": "string", "enum": ["", *STATUSES]}},
                    {"name": "pen", "in": "query", "schema": {"type": "string", "maxLength": MAX_PEN_CHARS}},
                    {"name": "sex", "in": "query", "description": "as participants.csv has it; unknown: no runner",
                     "schema": {"type": "string", "maxLength": MAX_LABEL_CHARS}},
                    {"name": "category", "in": "query", "description": "as participants.csv has it; unknown: "
                     "no runner", "schema": {"type": "string", "maxLength": MAX_LABEL_CHARS}},
                    {"name": "limit", "in": "query", "schema": _PAGE},
                    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                ],
                "responses": {"200": _json({"type": "object", "required": ["runners", "total"], "properties": {
                    "runners": {"type": "array", "items": runner_summary}, "total": {"type": "integer"}}}),
                    **_errors(400)}}},
            "/api/runners/{bib}": {"get": {"summary": "One runner in full", "parameters": [_BIB], "responses": {
                "200": _json({"type": "object", "required": ["bib", "name", "status", "splits", "catch", "caught",
                                                             "finish"],
                              "properties": {k: {"type": ["integer", "null"], "description": d} for k, d in (
                                  ("place", "by the race's outcome (winners by finish time; finishers by gun "
                                            "time in a race without a pursuer); null until placed"),
                                  ("place_sex", "within his sex"),
                                  ("place_category", "within his sex and category"))}}),
                **_errors(404, 503)}}},
            "/api/mats": {"get": {"summary": "Reader health per mat",
                                  "responses": {"200": _json({"type": "array"}), **_errors()}}},
            "/api/readers": {"get": {
                "summary": "Refused input per sending address, and before its mat was known",
                "responses": {"200": _json({"type": "object"}), **_errors()}}},
            "/api/events": {"get": {
                "summary": "Commentary and alert events, oldest first",
                "parameters": [{"name": "after", "in": "query",
                                "schema": {"type": "string", "pattern": STREAM_ID.pattern}},
                               {"name": "limit", "in": "query", "schema": {**_PAGE, "default": 100}},
                               {"name": "kind", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": _json({"type": "array"}), **_errors(400)}}},
            "/api/roster": {"get": {"summary": "Bibs, names and pens in live-feed order",
                                    "responses": {"200": _json({"type": "object"})}}},
            "/api/results.csv": {"get": {"summary": "Results export; place, place_sex (within sex) and "
                                                    "place_category (within sex and category) by the race's "
                                                    "outcome; ?lang=en|fr: the header row in words for a person",
                                         "parameters": [{"name": "lang", "in": "query",
                                                         "schema": {"type": "string", "enum": ["en", "fr"]}}],
                                         "responses": {
                "200": {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}},
                **_errors(400)}}},
            "/healthz": {"get": {"summary": "Redis reachable, ingest and tick lag",
                                 "responses": {"200": _json({"type": "object"}), "503": _json({"type": "object"})}}},
            "/api/admin/pens/{pen}/start": _admin(
                "Start a pen", {"type": "object", "properties": {"time": _TIME, "override": _OVERRIDE}},
                path_params=[{"name": "pen", "in": "path", "required": True, "schema": {"type": "string"}}]),
            "/api/admin/pens/{pen}/undo": _admin(
                "Undo a pen's gun set by mistake", {"type": "object"},
                path_params=[{"name": "pen", "in": "path", "required": True, "schema": {"type": "string"}}]),
            "/api/admin/pursuer/start": _admin(
                "Start the pursuer", {"type": "object", "properties": {"time": _TIME, "override": _OVERRIDE}}),
            "/api/admin/pursuer/undo": _admin("Undo the pursuer's gun set by mistake", {"type": "object"}),
            "/api/admin/whoami": _admin_get("Who the bearer token signs in as"),
            "/api/admin/signin": _admin("Sign in at a screen (journaled); answers the operator", {"type": "object"}),
            "/api/admin/log": _admin_get("The audit trail of admin actions, newest first", [
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": LOG_MAX,
                                                            "default": LOG_PAGE}},
                {"name": "before", "in": "query", "schema": {"type": "string", "pattern": STREAM_ID.pattern}}]),
            "/api/admin/unknown-chips": _admin_get("Chips no participant wears, with the mats that read them"),
            "/api/admin/alerts/{event}/ack": _admin("Acknowledge an alert for every screen", {"type": "object"},
                path_params=[{"name": "event", "in": "path", "required": True,
                              "schema": {"type": "string", "pattern": STREAM_ID.pattern}}]),
            "/api/admin/passings": _admin("Add a manual passing", passing),
            "/api/admin/passings/void": _admin("Void a passing", {
                **passing, "required": ["bib", "mat", "time"],
                "properties": {**passing["properties"], "time": {"oneOf": _TIME["oneOf"][:3]}}}),
            "/api/admin/runners/{bib}/status": _admin("Set DNF / DQ (or ok)", {"type": "object", "required": ["status"],
                "properties": {"status": {"type": "string", "pattern": _any_case(MANUAL_STATUSES)},
                               "reason": {"type": "string", "maxLength": MAX_REASON_CHARS}}},
                path_params=[_BIB]),
            "/api/admin/chips": _admin("Assign a chip to a bib", {"type": "object", "required": ["chip", "bib"],
                "properties": {"chip": {"type": "string", "pattern": r"\S", "maxLength": MAX_CHIP_CHARS},
                               "bib": {"type": "string"}, "override": _OVERRIDE}}),
        },
    }  # fmt: skip


def with_event(schema: dict[str, Any], race_ids: list[str]) -> dict[str, Any]:
    """``schema`` for an event of several races: ``/api/event``, and every path of the first race's
    also under ``/races/{race_id}`` for each race of the event (without it: the first race)."""
    race_id = {"name": "race_id", "in": "path", "required": True, "schema": {"type": "string", "enum": race_ids}}
    paths = dict(schema["paths"])
    for path, item in schema["paths"].items():
        prefixed = {}
        for method, operation in item.items():
            parameters = [race_id, *operation.get("parameters", [])]
            prefixed[method] = {**operation, "parameters": parameters}
        paths[f"/races/{{race_id}}{path}"] = prefixed
    card = {"type": "object", "required": ["id", "name", "outcome", "distance_m", "counts", "forecast", "links"]}
    event = {
        "type": "object",
        "required": ["id", "name", "races"],
        "properties": {"races": {"type": "array", "items": card}},
    }
    summary = "The event's races: what each is, its clock, counts and forecast"
    paths["/api/event"] = {"get": {"summary": summary, "responses": {"200": _json(event)}}}
    board = {
        "type": "object",
        "required": ["runners", "total", "nations"],
        "properties": {
            "runners": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": [
                        "place",
                        "place_sex",
                        "place_category",
                        "bib",
                        "name",
                        "sex",
                        "race",
                        "status",
                        "distance_m",
                        "nation",
                        "place_nation",
                        "place_nation_sex",
                        "caught_time",
                        "caught_time_local",
                    ],
                },
            },
            "total": {"type": "integer"},
            "nations": {"type": "array", "items": {"type": "string"}},
        },
    }
    paths["/api/event/leaderboard"] = {
        "get": {
            "summary": "The catcher-car races' runners in one ranking by distance (a World Run's world ranking)",
            "parameters": [
                {"name": "sex", "in": "query", "schema": {"type": "string", "maxLength": 32}},
                {"name": "nation", "in": "query", "schema": {"type": "string", "maxLength": 32}},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
            ],
            "responses": {"200": _json(board), **_errors(400)},
        }
    }
    return {**schema, "paths": paths}
