"""The native JSON reader protocol over WebSocket at ``/ingest/ws`` on the web port.

A reader connects with ``?reader=<id>`` and its token (``Authorization: Bearer <token>`` or
``&token=``); tokens come from ``PURSUIT_READER_TOKENS`` (``reader=token,reader=token``). The
reader id is the mat it stands at; the reader ``gps`` carries the pursuer's GPS fixes. Each
message is journaled, then its good items applied; every bad item is answered, logged and counted.

Behind Redis Sentinel the answer waits until a replica has the message (``Store.replicated``:
``WAIT``, as a MYLAPS acknowledgement) and says so in ``"replicated"``: false means the master has it
but no replica confirmed it in time, so a failover could lose it and the reader sends it again. A
Redis error (the master gone, a failover under way) closes the connection (code 1011): the reader
reconnects and sends again what was not answered. Repeats collapse onto the same passings.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import time
from collections.abc import Mapping

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from ingest.protocols.json_lines import MAX_MESSAGE_BYTES, GpsFix, JsonRead, parse_message
from ingest.unknown import UnknownChips
from live.clock import time_problem
from live.race.race import Race
from live.reads import RawRead
from live.store.ingest import JournalEntry
from live.store.store import Store, StoreError

log = logging.getLogger(__name__)

TOKENS_ENV = "PURSUIT_READER_TOKENS"
GPS_READER = "gps"
MAX_MESSAGES_PER_S = 50
STORE_AWAY_CODE = 1011  # WebSocket close code "internal error": Redis failed; the reader sends again


def reader_tokens(raw: str) -> dict[str, str]:
    """``reader=token`` pairs (``finish=abc,gps=xyz``, as ``TOKENS_ENV`` holds them); pairs without a
    reader or a token are left out."""
    pairs = (p.split("=", 1) for p in raw.split(",") if "=" in p)
    return {r.strip(): t.strip() for r, t in pairs if r.strip() and t.strip()}


class JsonIngest:
    """WebSocket endpoint for JSON readers of one race."""

    def __init__(self, race: Race, store: Store, tokens: Mapping[str, str]) -> None:
        self.race = race
        self.store = store
        self.tokens = tokens

    def routes(self) -> list[WebSocketRoute]:
        return [WebSocketRoute("/ingest/ws", self.endpoint)]

    def _authenticate(self, ws: WebSocket) -> tuple[str | None, str]:
        reader = ws.query_params.get("reader", "")
        header = ws.headers.get("authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else ws.query_params.get("token", "")
        expected = self.tokens.get(reader)
        if not reader:
            return None, "no ?reader= given"
        if expected is None:
            return None, f"reader {reader!r} is not registered (set {TOKENS_ENV})"
        if not hmac.compare_digest(token.encode(), expected.encode()):
            return None, f"wrong token for reader {reader!r}"
        if reader != GPS_READER and self.race.mat_for_location(reader) is None:
            return None, f"reader {reader!r} is no mat of race {self.race.id!r}"
        return reader, ""

    async def endpoint(self, ws: WebSocket) -> None:
        reader, why = self._authenticate(ws)
        host, port = (ws.client.host, ws.client.port) if ws.client else ("?", 0)
        source = (host, f"JSON reader {reader or ws.query_params.get('reader', '')!r} at {host}:{port}")
        if reader is None:
            log.warning("JSON reader refused from %s: %s", ws.client, why)
            with contextlib.suppress(StoreError):  # counted if Redis answers; refused either way
                await self.store.count_error(None, f"json reader refused: {why}", source)
            await ws.close(code=1008, reason=why[:120])
            return
        await ws.accept()
        try:
            await self._session(ws, reader, source)
        except WebSocketDisconnect:
            pass
        except StoreError as exc:  # the master gone or failing over: what was not answered comes again
            log.warning(
                "JSON reader %r at %s:%d closed: Redis failed (%r); it sends again what was not answered",
                reader,
                host,
                port,
                exc,
            )
            with contextlib.suppress(RuntimeError, OSError):  # the reader may have gone meanwhile
                await ws.close(code=STORE_AWAY_CODE, reason="store unavailable: send again what was not answered")

    async def _session(self, ws: WebSocket, reader: str, source: tuple[str, str]) -> None:
        """Answer the reader's messages in order until it leaves or exceeds the message rate."""
        mat = self.race.mat_for_location(reader)
        if mat:
            await self.store.set_connected(mat, +1)
        window_start, in_window = time.monotonic(), 0
        unknown = UnknownChips(self.race)
        try:
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                raw = message.get("bytes") or (message.get("text") or "").encode()
                in_window += 1
                if time.monotonic() - window_start > 1.0:
                    window_start, in_window = time.monotonic(), 1
                if in_window > MAX_MESSAGES_PER_S:
                    reason = f"reader {reader!r} exceeded {MAX_MESSAGES_PER_S} messages/s"
                    await self.store.count_error(mat, reason, source)
                    await ws.close(code=1008, reason="message rate limit exceeded")
                    break
                answer = await self._apply(reader, mat, raw, source, unknown)
                if self.store.wait_replicas > 0:  # behind Sentinel: kept only once a replica has it
                    answer["replicated"] = await self.store.replicated(mat)
                await ws.send_json(answer)
        finally:
            if mat:
                await self._disconnected(mat)

    async def _disconnected(self, mat: str) -> None:
        """Count the reader off its mat; with Redis away the count stays one too high (logged)."""
        try:
            await self.store.set_connected(mat, -1)
        except StoreError as exc:
            log.warning("mat %r: the reader that left is still counted connected: Redis failed (%r)", mat, exc)

    async def _apply(
        self, reader: str, mat: str | None, raw: bytes, source: tuple[str, str], unknown: UnknownChips
    ) -> dict[str, object]:
        wall = time.time()
        if len(raw) > MAX_MESSAGE_BYTES:  # refused before the journal: it must not fill Redis
            reason = f"message larger than {MAX_MESSAGE_BYTES} bytes"
            await self.store.count_error(mat, f"reader {reader!r}: {reason}", source)
            return {"accepted": 0, "rejected": 1, "errors": [reason]}
        await self.store.journal([JournalEntry("json", reader, wall, [raw.decode("utf-8", "replace")])])
        items, errors = parse_message(raw)
        reasons = [f"{e.reason}" for e in errors]
        reads: list[RawRead] = []
        now = (await self.store.clock()).at_wall(wall)
        for item in items:
            if (why := time_problem(item.time, now, self.race.readers.time_window_s)) is not None:
                reasons.append(why)
                continue
            if isinstance(item, GpsFix):
                if reader != GPS_READER:
                    reasons.append(f"reader {reader!r} may not send GPS fixes (only {GPS_READER!r})")
                    continue
                await self.store.set_pursuer_gps(item.lat, item.lon, item.time)
            elif isinstance(item, JsonRead):
                if item.reader != reader or mat is None:
                    reasons.append(f"read names reader {item.reader!r} but this connection is {reader!r}")
                    continue
                if (why := unknown.refusal(item.chip)) is not None:
                    reasons.append(why)
                    continue
                reads.append(RawRead(mat=mat, chip=item.chip, time=item.time, rssi=item.rssi))
        for reason in reasons:
            log.warning("JSON reader %r: rejected: %s: %r", reader, reason, raw[:120])
            await self.store.count_error(mat, f"{reason}: {raw[:120]!r}", source)
        if reads:
            await self.store.apply_reads(reads, wall)
        return {"accepted": len(items) - (len(reasons) - len(errors)), "rejected": len(reasons), "errors": reasons[:20]}
