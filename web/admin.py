"""Race control actions (SPEC §6 admin): start pens and the pursuer and undo a gun, manual and voided
passings, DNF/DQ, chip assignment, shared alert acknowledgements, and the audit log.

Every route needs a bearer token: the race's shared admin token, or one of the race file's
``[[operators]]`` (a name and the SHA-256 of its token), so the log says who did what. An action is
journaled in the admin log (operator, time, arguments) before it is applied, its result is kept
with it, and it is announced on the events stream; ``pursuit rebuild`` replays the log. A request
with an ``Idempotency-Key`` header is applied once, however often it is sent (a double click, a
retry after a lost answer). Failed sign-ins and requests are rate-limited per client address and
per operator, in buckets every web process shares (``web.limits``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Route

from live.engine.engine import LiveEngine
from live.events import Event
from live.race.race import Operator
from live.reads import RawRead
from live.store.store import attached
from web.admin_input import action_time, json_body
from web.http import JSONResponse, api_route, error_body, error_of, is_stream_id, refuse
from web.limits import AdminLimits

MANUAL_STATUSES = ("dnf", "dq", "ok")
MAX_CHIP_CHARS = 64
MAX_REASON_CHARS = 200
MAX_IDEMPOTENCY_KEY = 100
SHARED_OPERATOR = "admin"  # the name the log gives whoever signs in with the shared admin token
GUN_SAME_S = 1.0  # a gun asked within this of the one set is the same gun (a retry): nothing changes
LOG_PAGE, LOG_MAX = 100, 1000
UNKNOWN_CHIPS_LISTED = 200

_PRINTABLE = re.compile(r"^[\x20-\x7e]+$")
# the times of day ``_time`` takes, as the OpenAPI document states them (the ranges checked there too)
TIME_OF_DAY_PATTERN = r"^\s*([01]?[0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?\s*$"

Handler = Callable[[Request, dict[str, Any], float, str], Awaitable[JSONResponse]]


class AdminAPI:
    """Admin routes of one race, open to ``token`` (the shared admin token; empty: none) and to the
    race's ``[[operators]]``; with neither, admin is disabled."""

    def __init__(self, engine: LiveEngine, token: str, operators: tuple[Operator, ...] | None = None) -> None:
        self.token = token
        self.engine = engine
        self.race = engine.race
        self.store = attached(engine.store)
        self.operators = self.race.operators if operators is None else operators
        self.limits = AdminLimits(self.store)

    def routes(self) -> list[Route]:
        """Every admin route; a handler refuses by raising ``refuse(...)`` (``web.http.api_route``)."""
        get, post = ["GET"], ["POST"]
        return [
            api_route(path, endpoint, methods)
            for path, endpoint, methods in (
                ("/api/admin/whoami", self.whoami, get),
                ("/api/admin/signin", self._action(self.sign_in), post),
                ("/api/admin/log", self.log, get),
                ("/api/admin/unknown-chips", self.unknown_chips, get),
                ("/api/admin/pens/{pen}/start", self._action(self.start_pen), post),
                ("/api/admin/pens/{pen}/undo", self._action(self.undo_pen), post),
                ("/api/admin/pursuer/start", self._action(self.start_pursuer), post),
                ("/api/admin/pursuer/undo", self._action(self.undo_pursuer), post),
                ("/api/admin/passings", self._action(self.add_passing), post),
                ("/api/admin/passings/void", self._action(self.void_passing), post),
                ("/api/admin/runners/{bib}/status", self._action(self.set_status), post),
                ("/api/admin/chips", self._action(self.assign_chip), post),
                ("/api/admin/alerts/{event}/ack", self._action(self.ack_alert), post),
            )
        ]

    # ---- who asks ------------------------------------------------------------------------------

    def _operator(self, token: str) -> str | None:
        """The name signed in with ``token``; every candidate is compared, in constant time."""
        found = None
        if self.token and hmac.compare_digest(token.encode(), self.token.encode()):
            found = SHARED_OPERATOR
        digest = hashlib.sha256(token.encode()).hexdigest()
        for op in self.operators:
            if hmac.compare_digest(digest, op.token_sha256):
                found = op.name
        return found

    async def _authorised(self, request: Request) -> str:
        """The operator's name if the bearer token is one of the race's; else raises the 401 (or 429)."""
        if not self.token and not self.operators:
            raise refuse(
                401,
                f"admin is disabled: set {self.race.admin_token_env} or list [[operators]] in race.toml "
                "to enable race control actions",
            )
        address = request.client.host if request.client else "?"
        if (refused := await self.limits.address_refusal(address)) is not None:
            raise refused
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        name = self._operator(token) if scheme.lower() == "bearer" and token else None
        if name is None:
            await self.limits.failed(address)
            raise refuse(
                401,
                "admin actions need 'Authorization: Bearer <token>' with the race's admin token or an operator's token",
            )
        if (refused := await self.limits.operator_refusal(name, request.method)) is not None:
            raise refused
        return name

    # ---- reading -------------------------------------------------------------------------------

    async def whoami(self, request: Request) -> JSONResponse:
        who = await self._authorised(request)
        return JSONResponse({"operator": who})

    async def log(self, request: Request) -> JSONResponse:
        """``GET /api/admin/log?limit=&before=``: the audit trail, newest first."""
        await self._authorised(request)
        raw_limit = request.query_params.get("limit", str(LOG_PAGE))
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= LOG_MAX:
            raise refuse(400, f"limit must be a whole number from 1 to {LOG_MAX}")
        before = request.query_params.get("before")
        if before is not None and not is_stream_id(before):
            raise refuse(400, f"before {before[:40]!r} is not an admin log id (like 1700000000000-0)")
        entries = await self.store.admin_log(int(raw_limit), before)
        for e in entries:
            e["time"] = self._iso(e["wall"])
        return JSONResponse({"entries": entries})

    async def unknown_chips(self, request: Request) -> JSONResponse:
        """``GET /api/admin/unknown-chips``: chips no participant wears, most read first, with the mats
        that read them and when."""
        await self._authorised(request)
        chips = await self.store.unknown_chip_reads(UNKNOWN_CHIPS_LISTED)
        for c in chips:
            c["mats"] = [{"mat": mat, "first": self._iso(t)} for mat, t in c["mats"].items()]
        return JSONResponse({"chips": chips})

    # ---- acting --------------------------------------------------------------------------------

    def _action(self, handler: Handler) -> Callable[[Request], Awaitable[JSONResponse]]:
        """An admin POST: signed in, body and time parsed, applied once per ``Idempotency-Key``."""

        async def endpoint(request: Request) -> JSONResponse:
            who = await self._authorised(request)
            body = await self._body(request)
            if not isinstance(body.get("override", False), bool):
                raise refuse(422, "override must be true or false")
            t = await self._time(body)
            key = request.headers.get("idempotency-key")
            if key is None:
                return await handler(request, body, t, who)
            if not 0 < len(key) <= MAX_IDEMPOTENCY_KEY or not _PRINTABLE.match(key):
                raise refuse(400, f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters")
            held = await self.store.claim_idempotency(key)
            if held is not None:
                return await self._replay(key, held)
            answer: bytes | None = None
            try:
                try:
                    response = await handler(request, body, t, who)
                except HTTPException as exc:  # a refusal is the answer too: sent again to a retry
                    response = error_of(exc)
                answer = orjson.dumps({"status": response.status_code, "body": orjson.loads(response.body)})
                return response
            finally:
                await self.store.settle_idempotency(key, answer)

        return endpoint

    async def _replay(self, key: str, held: bytes) -> JSONResponse:
        """The answer of the first request with ``key``, once it has one (it may still be applying)."""
        for _ in range(100):
            if held != b"pending":
                first = orjson.loads(held)
                response = JSONResponse(first["body"], status_code=first["status"])
                response.headers["idempotent-replayed"] = "true"
                return response
            await asyncio.sleep(0.05)
            fresh = await self.store.claim_idempotency(key)
            if fresh is None:  # the first failed and let the key go: this one is now the first
                await self.store.settle_idempotency(key, None)
                raise refuse(409, "the first request with this Idempotency-Key failed: send it again")
            held = fresh
        raise refuse(409, "the first request with this Idempotency-Key is still being applied")

    async def _body(self, request: Request) -> dict[str, Any]:
        return await json_body(request)

    async def _time(self, body: dict[str, Any]) -> float:
        return action_time(body.get("time"), self.race, (await self.store.clock()).now())

    async def _commit(
        self,
        who: str,
        action: str,
        args: dict[str, Any],
        apply: Callable[[], Awaitable[None]],
        text: str,
        data: dict[str, Any],
        t: float,
    ) -> JSONResponse:
        """Journal ``action`` with its operator, apply it, keep its result, announce it, refresh the
        live state so every screen shows it on the next tick. ``apply`` raises ``refuse(...)`` when the
        action turns out not to apply (nothing was changed): kept as its result, and raised on."""
        entry = await self.store.log_admin(action, args, who)
        try:
            await apply()
        except HTTPException as refused:
            answer = error_body(refused.status_code, refused.detail)
            await self.store.set_admin_result(entry, {"http": refused.status_code, "answer": answer})
            raise
        answer = {"ok": True, "action": action, "operator": who, "log_id": entry, **data}
        await self.store.set_admin_result(entry, {"http": 200, "answer": answer})
        # the event's own fields (id, kind, time, text) are not data: a "time" in it would replace the event's
        event = {
            "level": "alert",
            "action": action,
            "operator": who,
            **{k: v for k, v in data.items() if k not in ("id", "kind", "time", "text")},
        }
        await self.store.append_event(Event("", "admin", t, f"{text} ({who})", event))
        await self.engine.refresh()
        return JSONResponse(answer)

    def _iso(self, t: float) -> str:
        return datetime.fromtimestamp(t, self.race.timezone).isoformat(timespec="milliseconds")

    def _clock(self, t: float) -> str:
        return datetime.fromtimestamp(t, self.race.timezone).strftime("%H:%M:%S")

    async def _start(self, body: dict[str, Any], t: float, who: str, target: str, what: str) -> JSONResponse:
        """Set the gun ``target`` (``pen:<id>`` or ``pursuer``) at ``t``. One already set (by a reader's
        gun marker or by race control) is moved only with ``"override": true``; the same gun again
        (within a second) changes nothing."""
        current = (await self.store.guns()).get(target)
        if current is not None and abs(current - t) <= GUN_SAME_S:
            return JSONResponse({"ok": True, "action": "start", "unchanged": True, "gun": self._iso(current)})
        if current is not None and body.get("override") is not True:
            raise refuse(
                409,
                f"{what} already started at {self._iso(current)}; to move its gun to {self._iso(t)} "
                'send "override": true (every runner\'s time from it is recomputed)',
            )
        args = {"target": target, "time": t, **({"previous": current} if current is not None else {})}
        action = "start_pen" if target.startswith("pen:") else "start_pursuer"
        if action == "start_pen":
            args["pen"] = target.removeprefix("pen:")

        async def apply() -> None:
            await self.store.set_gun(target, t)

        moved = f" (was {self._clock(current)})" if current is not None else ""
        data = {"gun": self._iso(t), **({"pen": args["pen"]} if "pen" in args else {})}
        return await self._commit(
            who, action, args, apply, f"Race control: {what} started at {self._clock(t)}{moved}.", data, t
        )

    async def _undo(self, t: float, who: str, target: str, what: str) -> JSONResponse:
        """Remove the gun ``target`` set by mistake: its runners are not started until a new gun."""
        current = (await self.store.guns()).get(target)
        if current is None:
            raise refuse(404, f"{what} has no gun to undo")

        async def apply() -> None:
            await self.store.clear_gun(target)

        text = f"Race control: {what}'s gun ({self._clock(current)}) undone; not started until a new gun."
        return await self._commit(
            who, "undo_start", {"target": target, "previous": current}, apply, text, {"target": target}, t
        )

    async def start_pen(self, request: Request, body: dict[str, Any], t: float, who: str) -> JSONResponse:
        pen = request.path_params["pen"]
        if self.race.pen(pen) is None:
            raise refuse(404, f"no pen {pen!r} in race {self.race.id!r}")
        return await self._start(body, t, who, f"pen:{pen}", f"pen {pen}")

    async def undo_pen(self, request: Request, body: dict[str, Any], t: float, who: str) -> JSONResponse:
        pen = request.path_params["pen"]
        if self.race.pen(pen) is None:
            raise refuse(404, f"no pen {pen!r} in race {self.race.id!r}")
        return await self._undo(t, who, f"pen:{pen}", f"pen {pen}")

    async def start_pursuer(self, request: Request, body: dict[str, Any], t: float, who: str) -> JSONResponse:
        if (pursuer := self.race.pursuer) is None:
            raise refuse(404, f"race {self.race.id!r} has no pursuer: start its pens")
        return await self._start(body, t, who, "pursuer", pursuer.name)

    async def undo_pursuer(self, request: Request, body: dict[str, Any], t: float, who: str) -> JSONResponse:
        if (pursuer := self.race.pursuer) is None:
            raise refuse(404, f"race {self.race.id!r} has no pursuer")
        return await self._undo(t, who, "pursuer", pursuer.name)

    def _passing_args(self, body: dict[str, Any]) -> tuple[str, str]:
        if not isinstance(body.get("bib"), str) or not isinstance(body.get("mat"), str):
            raise refuse(422, "give the passing's bib and mat, as text")
        bib, mat = body["bib"], body["mat"]
        if self.race.participant(bib) is None:
            raise refuse(404, f"no participant with bib {bib!r}")
        if mat not in {m.id for m in self.race.mats}:
            raise refuse(422, f"mat {mat!r} is not one of {', '.join(m.id for m in self.race.mats)}")
        return bib, mat

    async def add_passing(self, request: Request, body: dict[str, Any], t: float, who: str) -> JSONResponse:
        bib, mat = self._passing_args(body)
        participant = self.race.participant(bib)
        assert participant is not None

        async def apply() -> None:
            await self.store.apply_reads([RawRead(mat, participant.chips[0], t)], wall_s=t)

        text = f"Race control: manual passing for bib {bib} at {mat}, {self._clock(t)}."
        return await self._commit(
            who,
            "add_passing",
            {"bib": bib, "mat": mat, "time": t},
            apply,
            text,
            {"bib": bib, "mat": mat, "at": self._iso(t)},
            t,
        )

    async def void_passing(self, request: Request, body: dict[str, Any], t: float, who: str) -> JSONResponse:
        if body.get("time") is None:
            raise refuse(422, "give the time of the passing to void")
        bib, mat = self._passing_args(body)

        async def apply() -> None:
            if not await self.store.void_passing(bib, mat, t):
                raise refuse(404, f"bib {bib} has no passing at {mat} within 1 s of {self._iso(t)}")

        return await self._commit(
            who,
            "void_passing",
            {"bib": bib, "mat": mat, "time": t},
            apply,
            f"Race control: passing of bib {bib} at {mat} ({self._clock(t)}) voided.",
            {"bib": bib, "mat": mat},
            t,
        )

    async def set_status(self, request: Request, body: dict[str, Any], t: float, who: str) -> JSONResponse:
        bib = request.path_params["bib"]
        status = body.get("status", "")
        status = status.lower() if isinstance(status, str) else ""
        reason = body.get("reason", "")
        if self.race.participant(bib) is None or bib == self.race.pursuer_bib:
            raise refuse(404, f"no runner with bib {bib!r}")
        if status not in MANUAL_STATUSES:
            raise refuse(422, f"status must be one of {', '.join(MANUAL_STATUSES)}")
        if not isinstance(reason, str) or len(reason) > MAX_REASON_CHARS:
            raise refuse(422, f"reason must be text of at most {MAX_REASON_CHARS} characters")
        reason = reason.strip()

        async def apply() -> None:
            await self.store.set_manual_status(bib, None if status == "ok" else status)

        said = f"is {status.upper()}" if status != "ok" else "reinstated"
        text = f"Race control: bib {bib} {said}{': ' + reason if reason else ''}."
        return await self._commit(
            who,
            "set_status",
            {"bib": bib, "status": status, "reason": reason},
            apply,
            text,
            {"bib": bib, "status": status, "reason": reason},
            t,
        )

    async def assign_chip(self, request: Request, body: dict[str, Any], t: float, who: str) -> JSONResponse:
        if not isinstance(body.get("chip"), str) or not isinstance(body.get("bib"), str):
            raise refuse(422, "give the chip and the bib, as text")
        chip, bib = body["chip"].strip(), body["bib"]
        if not chip or len(chip) > MAX_CHIP_CHARS:
            raise refuse(422, f"chip must be a non-empty code of at most {MAX_CHIP_CHARS} characters")
        if self.race.participant(bib) is None:
            raise refuse(404, f"no participant with bib {bib!r}")
        worn_by = await self.store.chip_bib(chip)
        if worn_by == bib:
            return JSONResponse({"ok": True, "action": "assign_chip", "unchanged": True, "chip": chip, "bib": bib})
        if worn_by is not None and body.get("override") is not True:
            raise refuse(409, f'chip {chip} is bib {worn_by}\'s; to give it to bib {bib} send "override": true')
        moved = 0

        async def apply() -> None:
            nonlocal moved
            moved = await self.store.assign_chip(chip, bib)

        entry_args = {"chip": chip, "bib": bib, **({"previous": worn_by} if worn_by else {})}
        # the text is written before the action is applied, so it cannot say how many mats moved
        text = f"Race control: chip {chip} assigned to bib {bib}."
        response = await self._commit(who, "assign_chip", entry_args, apply, text, {"chip": chip, "bib": bib}, t)
        return JSONResponse({**orjson.loads(response.body), "mats_backfilled": moved})

    async def sign_in(self, request: Request, body: dict[str, Any], t: float, who: str) -> JSONResponse:
        """An operator signs in at a screen: journaled, so the log shows who was at race control when."""

        async def apply() -> None:
            return None

        return await self._commit(who, "sign_in", {}, apply, "Race control: signed in", {}, t)

    async def ack_alert(self, request: Request, body: dict[str, Any], t: float, who: str) -> JSONResponse:
        event_id = request.path_params["event"]
        if not is_stream_id(event_id):
            raise refuse(404, f"{event_id[:40]!r} is not an event id")
        event = await self.store.event(event_id)
        if event is None or event.get("level") != "alert":
            raise refuse(404, f"no alert {event_id}")
        held = (await self.store.acks()).get(event_id)
        if held is not None:
            return JSONResponse({"ok": True, "action": "ack_alert", "unchanged": True, "event": event_id, **held})
        wall = time.time()
        acked: dict[str, Any] = {}

        async def apply() -> None:
            acked.update(await self.store.ack_alert(event_id, who, wall))

        text = f"Race control: alert acknowledged: {event['text']}"
        args = {"event": event_id, "at": wall}
        return await self._commit(who, "ack_alert", args, apply, text, {"event": event_id}, t)
