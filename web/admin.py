"""Race control actions (SPEC §6 admin): start pens and the pursuer, manual and voided passings,
DNF/DQ, chip assignment. Every action needs the race's bearer token, is journaled before it is
applied, and is announced on the events stream.
"""

from __future__ import annotations

import hmac
import math
from datetime import datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.routing import Route

from live.clock import time_problem
from live.engine import LiveEngine
from live.reads import RawRead
from live.store import attached
from web.http import JSONResponse, error

MANUAL_STATUSES = ("dnf", "dq", "ok")
MAX_CHIP_CHARS = 64


class AdminAPI:
    """Admin routes of one race, open to ``token`` (the race's admin token; empty: admin disabled)."""

    def __init__(self, engine: LiveEngine, token: str) -> None:
        self.token = token
        self.engine = engine
        self.race = engine.race
        self.store = attached(engine.store)

    def routes(self) -> list[Route]:
        return [
            Route("/api/admin/pens/{pen}/start", self.start_pen, methods=["POST"]),
            Route("/api/admin/pursuer/start", self.start_pursuer, methods=["POST"]),
            Route("/api/admin/passings", self.add_passing, methods=["POST"]),
            Route("/api/admin/passings/void", self.void_passing, methods=["POST"]),
            Route("/api/admin/runners/{bib}/status", self.set_status, methods=["POST"]),
            Route("/api/admin/chips", self.assign_chip, methods=["POST"]),
        ]

    def _authorised(self, request: Request) -> JSONResponse | None:
        """None if the bearer token matches the race's; else the 401 to send."""
        expected = self.token
        if not expected:
            return error(401, f"admin is disabled: set {self.race.admin_token_env} to enable race control actions")
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), expected.encode()):
            return error(401, "admin actions need 'Authorization: Bearer <token>' with the race's admin token")
        return None

    async def _body(self, request: Request) -> dict[str, Any] | JSONResponse:
        raw = await request.body()
        if not raw:
            return {}
        if len(raw) > 10_000:
            return error(400, "request body too large")
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return error(400, f"body is not JSON: {exc}")
        if not isinstance(body, dict):
            return error(400, "body must be a JSON object")
        return body

    async def _time(self, body: dict[str, Any]) -> float | JSONResponse:
        """``time`` from the body (ISO 8601 with offset, or unix seconds); the race clock's now if absent."""
        value = body.get("time")
        now = (await self.store.clock()).now()
        if value is None:
            return now
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            t = float(value)
        elif isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                return error(422, f"time {value!r} is not ISO 8601")
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=self.race.timezone)
            t = parsed.timestamp()
        else:
            return error(422, "time must be ISO 8601 text or unix seconds")
        if (why := time_problem(t, now, self.race.readers.time_window_s)) is not None:
            return error(422, why)
        return t

    async def _prepare(self, request: Request) -> tuple[dict[str, Any], float] | JSONResponse:
        if (denied := self._authorised(request)) is not None:
            return denied
        body = await self._body(request)
        if isinstance(body, JSONResponse):
            return body
        t = await self._time(body)
        if isinstance(t, JSONResponse):
            return t
        return body, t

    async def _done(self, action: str, text: str, data: dict[str, Any], t: float) -> JSONResponse:
        await self.store.append_event("admin", t, text, {"level": "alert", "action": action, **data})
        await self.engine.refresh()
        return JSONResponse({"ok": True, "action": action, **data})

    def _iso(self, t: float) -> str:
        return datetime.fromtimestamp(t, self.race.timezone).isoformat(timespec="milliseconds")

    async def start_pen(self, request: Request) -> JSONResponse:
        prepared = await self._prepare(request)
        if isinstance(prepared, JSONResponse):
            return prepared
        _, t = prepared
        pen = request.path_params["pen"]
        if self.race.pen(pen) is None:
            return error(404, f"no pen {pen!r} in race {self.race.id!r}")
        await self.store.log_admin("start_pen", {"pen": pen, "time": t})
        await self.store.set_gun(f"pen:{pen}", t)
        return await self._done("start_pen", f"Race control: pen {pen} started at {self._iso(t)}.", {"pen": pen}, t)

    async def start_pursuer(self, request: Request) -> JSONResponse:
        prepared = await self._prepare(request)
        if isinstance(prepared, JSONResponse):
            return prepared
        _, t = prepared
        await self.store.log_admin("start_pursuer", {"time": t})
        await self.store.set_gun("pursuer", t)
        return await self._done("start_pursuer", f"Race control: {self.race.pursuer.name} started.", {}, t)

    def _passing_args(self, body: dict[str, Any]) -> tuple[str, str] | JSONResponse:
        if not isinstance(body.get("bib"), str) or not isinstance(body.get("mat"), str):
            return error(422, "give the passing's bib and mat, as text")
        bib, mat = body["bib"], body["mat"]
        if self.race.participant(bib) is None:
            return error(404, f"no participant with bib {bib!r}")
        if mat not in {m.id for m in self.race.mats}:
            return error(422, f"mat {mat!r} is not one of {', '.join(m.id for m in self.race.mats)}")
        return bib, mat

    async def add_passing(self, request: Request) -> JSONResponse:
        prepared = await self._prepare(request)
        if isinstance(prepared, JSONResponse):
            return prepared
        body, t = prepared
        args = self._passing_args(body)
        if isinstance(args, JSONResponse):
            return args
        bib, mat = args
        participant = self.race.participant(bib)
        assert participant is not None
        await self.store.log_admin("add_passing", {"bib": bib, "mat": mat, "time": t})
        await self.store.apply_reads([RawRead(mat, participant.chips[0], t)], wall_s=t)
        text = f"Race control: manual passing for bib {bib} at {mat}, {self._iso(t)}."
        return await self._done("add_passing", text, {"bib": bib, "mat": mat}, t)

    async def void_passing(self, request: Request) -> JSONResponse:
        prepared = await self._prepare(request)
        if isinstance(prepared, JSONResponse):
            return prepared
        body, t = prepared
        if body.get("time") is None:
            return error(422, "give the time of the passing to void")
        args = self._passing_args(body)
        if isinstance(args, JSONResponse):
            return args
        bib, mat = args
        await self.store.log_admin("void_passing", {"bib": bib, "mat": mat, "time": t})
        if not await self.store.void_passing(bib, mat, t):
            return error(404, f"bib {bib} has no passing at {mat} within 1 s of {self._iso(t)}")
        return await self._done("void_passing", f"Race control: passing of bib {bib} at {mat} voided.",
                                {"bib": bib, "mat": mat}, t)  # fmt: skip

    async def set_status(self, request: Request) -> JSONResponse:
        prepared = await self._prepare(request)
        if isinstance(prepared, JSONResponse):
            return prepared
        body, t = prepared
        bib = request.path_params["bib"]
        status = body.get("status", "")
        status = status.lower() if isinstance(status, str) else ""
        if self.race.participant(bib) is None or bib == self.race.pursuer.bib:
            return error(404, f"no runner with bib {bib!r}")
        if status not in MANUAL_STATUSES:
            return error(422, f"status must be one of {', '.join(MANUAL_STATUSES)}")
        await self.store.log_admin("set_status", {"bib": bib, "status": status})
        await self.store.set_manual_status(bib, None if status == "ok" else status)
        text = (
            f"Race control: bib {bib} is {status.upper()}."
            if status != "ok"
            else f"Race control: bib {bib} reinstated."
        )
        return await self._done("set_status", text, {"bib": bib, "status": status}, t)

    async def assign_chip(self, request: Request) -> JSONResponse:
        prepared = await self._prepare(request)
        if isinstance(prepared, JSONResponse):
            return prepared
        body, t = prepared
        if not isinstance(body.get("chip"), str) or not isinstance(body.get("bib"), str):
            return error(422, "give the chip and the bib, as text")
        chip, bib = body["chip"].strip(), body["bib"]
        if not chip or len(chip) > MAX_CHIP_CHARS:
            return error(422, f"chip must be a non-empty code of at most {MAX_CHIP_CHARS} characters")
        if self.race.participant(bib) is None:
            return error(404, f"no participant with bib {bib!r}")
        await self.store.log_admin("assign_chip", {"chip": chip, "bib": bib})
        moved = await self.store.assign_chip(chip, bib)
        text = f"Race control: chip {chip} assigned to bib {bib} ({moved} mats back-filled)."
        return await self._done("assign_chip", text, {"chip": chip, "bib": bib, "mats_backfilled": moved}, t)
