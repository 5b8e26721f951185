"""The MYLAPS Timing & Scoring TCP/IP exporter, V2 (and V1 ``Store``): the exporter connects to us.

The exporter resends every unacknowledged message every 20 s and may send up to 10 at once, out of
order; so every message is journaled and its records applied before ``AckPassing`` goes back, and
a resend changes nothing (the store collapses it). Behind Redis Sentinel it is acknowledged only once
a replica has it too (``Store.replicated``: ``WAIT``), so a failover cannot lose an acknowledged
passing. The source name is the mat (or an alias).
"""

from __future__ import annotations

import asyncio
import logging
import time

from ingest.protocols import mylaps as ml
from ingest.tcp import READ_CHUNK_BYTES, ReaderServer
from ingest.unknown import UnknownChips
from live.clock import time_problem
from live.race.race import Race
from live.reads import RawRead
from live.store.ingest import JournalEntry
from live.store.store import Store

log = logging.getLogger(__name__)

SERVER_NAME = "pursuit"


class MyLapsServer(ReaderServer):
    """Accepts MYLAPS T&S exporters and ingests their passings and gun markers."""

    protocol = "MYLAPS T&S"
    DEFAULT_PORT = 3097  # the exporter's; a race file may set [readers] mylaps_port

    def __init__(self, race: Race, store: Store, host: str = "0.0.0.0", port: int | None = None) -> None:
        super().__init__(race, store, host, race.readers.port("mylaps", self.DEFAULT_PORT) if port is None else port)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str) -> None:
        buffer = b""
        mats: set[str] = set()
        unknown = UnknownChips(self.race)
        try:
            while chunk := await asyncio.wait_for(reader.read(READ_CHUNK_BYTES), self.idle_s):
                buffer += chunk
                messages, buffer = ml.split_messages(buffer)
                if len(buffer) > ml.MAX_MESSAGE_BYTES:
                    await self.reject(f"exporter at {peer}", None, buffer[:200], "message without an end ('$')", peer)
                    buffer = b""
                replies = []
                for raw in messages:
                    reply = await self._message(raw, peer, mats, unknown)
                    if reply:
                        replies.append(reply)
                if replies:
                    writer.write(b"".join(replies))
                    await writer.drain()
        finally:
            await self.disconnected(mats)

    async def _message(self, raw: bytes, peer: str, mats: set[str], unknown: UnknownChips) -> bytes | None:
        wall = time.time()
        await self.store.journal([JournalEntry("mylaps", peer, wall, [raw.decode("latin-1")])])
        msg = ml.parse_message(raw)
        who = f"exporter at {peer}"
        if isinstance(msg, ml.ParseError):
            await self.reject(who, None, raw, msg.reason, peer)
            return None
        mat = self.race.mat_for_location(msg.source)
        if mat is not None and (why := self.refusal(mat, peer)) is not None:
            await self.reject(who, None, raw, why, peer)
            return None  # not acknowledged
        if mat is not None and mat not in mats:
            mats.add(mat)
            await self.store.set_connected(mat, +1)
        if isinstance(msg, ml.Message):
            if msg.function == "Pong":
                return ml.ack(SERVER_NAME, "AckPong", "Version2.1")
            if msg.function == "Ping":
                return ml.ack(SERVER_NAME, "AckPing")
            return None
        if mat is None:
            await self.reject(who, None, raw, f"source {msg.source!r} is no mat of race {self.race.id!r}", peer)
            return None  # not acknowledged: the exporter keeps it until the race file knows the mat
        now = await self.now()
        window_s, tz = self.race.readers.time_window_s, self.race.timezone
        if isinstance(msg, ml.Marker):
            if msg.kind == "Gunshot" and msg.time is not None:
                t = msg.time.resolve(tz, now)
                if (why := time_problem(t, now, window_s)) is not None:
                    await self.reject(f"{who} ({msg.source})", mat, raw, f"gunshot: {why}", peer)
                else:
                    await self.fire_gun(who, peer, mat, raw, t)
            return ml.ack(SERVER_NAME, "AckMarker", msg.number) if await self.store.replicated(mat) else None
        errors = [f"record {e.index}: {e.reason}" for e in msg.errors]
        reads = []
        for r in msg.records:
            t = r.time.resolve(tz, now)
            if (why := time_problem(t, now, window_s) or unknown.refusal(r.chip)) is None:
                reads.append(RawRead(mat, r.chip, t, r.rssi))
            else:
                errors.append(f"chip {r.chip}: {why}")
        for reason in errors:
            await self.reject(f"{who} ({msg.source})", mat, raw, reason, peer)
        if reads:
            await self.store.apply_reads(reads, wall)
        # durable (journaled and applied, and on a replica when there is one) before the acknowledgement
        if not await self.store.replicated(mat):
            log.warning("%s: passing %s not acknowledged: no replica has it yet (resent later)", who, msg.number)
            return None
        return ml.ack(SERVER_NAME, "AckStore" if msg.v1 else "AckPassing", msg.number)
