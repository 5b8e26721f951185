"""The ChronoTrack CTP01 server: timing hardware connects to us and pushes tag lines.

Each connection: greet (either side may speak first), ask the reader to ``start``, then take
``CT01_33``/``CT01_13`` lines. Every line is journaled before it is applied; a malformed line is
logged with the reader, the line and the reason, counted, and the connection carries on.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from dataclasses import dataclass, field

from ingest.protocols import chronotrack as ctp
from ingest.tcp import READ_CHUNK_BYTES, ReaderServer
from ingest.unknown import UnknownChips
from live.clock import time_problem
from live.race.race import Race
from live.reads import RawRead
from live.store.store import Store

log = logging.getLogger(__name__)

SERVER_NAME = "pursuit"
SERVER_VERSION = "0.1"
LOCATIONS_TIMEOUT_S = 2.0  # a reader that ignores getlocations is started from its first line
MAX_SEQ_JUMP = 100_000  # a sequence number further above the last one is refused (it would poison resume)
MAX_LOCATIONS = 64  # locations a reader may name in its getlocations answer


@dataclass
class _Connection:
    peer: str
    name: str = "?"
    mats: set[str] = field(default_factory=set)
    mat_of: dict[str, str] = field(default_factory=dict)  # reader location → mat, once announced
    in_flight: asyncio.Task[int] | None = None  # the batch being journaled and applied
    settings_left: int = 0
    asked_locations: bool = False
    started: bool = False
    last_seq: dict[str, int] = field(default_factory=dict)
    authorized: bool = False  # sent the shared secret (only asked when [readers] secret_env is set)
    unknown: UnknownChips | None = None  # chips no participant wears, sent on this connection
    lines: int = 0
    errors: int = 0

    @property
    def who(self) -> str:
        return f"reader {self.name!r} at {self.peer}"


class ChronoTrackServer(ReaderServer):
    """Accepts ChronoTrack decoders (or SimpleClient) on a TCP port and ingests their reads."""

    protocol = "ChronoTrack CTP01"
    DEFAULT_PORT = 61611  # the vendor's; a race file may set [readers] chronotrack_port

    def __init__(
        self, race: Race, store: Store, host: str = "0.0.0.0", port: int | None = None, secret: str | None = None
    ) -> None:
        """``secret``: the value of the race's ``[readers] secret_env``, which readers must send first."""
        super().__init__(
            race, store, host, race.readers.port("chronotrack", self.DEFAULT_PORT) if port is None else port
        )
        self.secret_env = race.readers.secret_env
        self.secret = secret
        if self.secret_env and not self.secret:
            raise ValueError(f"[readers] secret_env = {self.secret_env!r}, but ${self.secret_env} is not set")

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str) -> None:
        conn = _Connection(peer=peer, unknown=UnknownChips(self.race))
        writer.write(f"{SERVER_NAME}~{SERVER_VERSION}~CTP01\r\n".encode())
        buffer = b""
        discarding = False
        heard = time.monotonic()
        try:
            while True:
                try:
                    wait_s = min(LOCATIONS_TIMEOUT_S, heard + self.idle_s - time.monotonic())
                    chunk = await asyncio.wait_for(reader.read(READ_CHUNK_BYTES), max(wait_s, 0.0))
                    heard = time.monotonic()
                except TimeoutError:
                    if time.monotonic() - heard >= self.idle_s:
                        raise
                    if conn.asked_locations and not conn.started:
                        # the reader did not answer getlocations: start everything from its beginning
                        writer.write(b"start\r\n")
                        conn.started = True
                        await writer.drain()
                    continue
                if not chunk:
                    break
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                if discarding and lines:
                    lines = lines[1:]  # the rest of an oversized line
                    discarding = False
                if len(buffer) > ctp.MAX_LINE_BYTES:
                    if not discarding:
                        await self._reject(conn, None, buffer[:200], f"line longer than {ctp.MAX_LINE_BYTES} bytes")
                    buffer, discarding = b"", True
                replies = await self._process(conn, lines)
                if replies:
                    writer.write("".join(f"{r}\r\n" for r in replies).encode())
                    await writer.drain()
        finally:
            try:
                await self._settle(conn)
            finally:
                await self.disconnected(conn.mats)
            log.info("%s closed after %d lines, %d errors", conn.who, conn.lines, conn.errors)

    async def _process(self, conn: _Connection, lines: list[bytes]) -> list[str]:
        """Journal a batch of lines, then apply them; returns the replies to send."""
        lines = [ln.rstrip(b"\r") for ln in lines]
        lines = [ln for ln in lines if ln.strip()]
        if not lines:
            return []
        conn.lines += len(lines)
        wall = time.time()
        now = await self.now()
        bulk = self._tag_reads(conn, ctp.parse_tag_reads(lines, self.race.timezone, now), now)
        if bulk is not None:
            # only tag reads at mats this connection has announced: journal, apply and record the
            # sequence numbers in one round trip, the journal first; Redis works on it while the next
            # batch is parsed (one batch in flight, so batches still reach Redis in order)
            tag_reads, seq_gaps = bulk
            bulk_gaps = {self.race.mat_for_location(loc) or "": n for loc, n in seq_gaps.items()}
            journaled = [ln.decode("latin-1") for ln in lines]
            await self._settle(conn)
            conn.in_flight = asyncio.create_task(
                self.store.journal_and_apply("ctp01", conn.peer, wall, journaled, tag_reads, conn.last_seq, bulk_gaps)
            )
            await asyncio.sleep(0)  # let it reach Redis
            return []
        await self._settle(conn)
        await self.store.journal_lines("ctp01", conn.peer, wall, [ln.decode("latin-1") for ln in lines])
        replies: list[str] = []
        reads: list[RawRead] = []
        gaps: dict[str, int] = {}
        sequenced = False
        for raw in lines:
            msg = ctp.parse_line(raw)
            if isinstance(msg, ctp.ParseError):
                await self._reject(conn, None, raw, msg.reason)
            elif isinstance(msg, ctp.TagRead | ctp.GunTime):
                mat = await self._mat(conn, msg.location, raw)
                t = msg.time.resolve(self.race.timezone, now)
                why = time_problem(t, now, self.race.readers.time_window_s) or self._seq_problem(conn, msg)
                if why is None and isinstance(msg, ctp.TagRead) and conn.unknown is not None:
                    why = conn.unknown.refusal(msg.chip)
                if mat is None:
                    continue
                if why is not None:
                    await self._reject(conn, mat, raw, why)
                    continue
                sequenced = self._sequence(conn, msg.location, msg.seq, gaps)
                if isinstance(msg, ctp.TagRead):
                    reads.append(RawRead(mat=mat, chip=msg.chip, time=t))
                else:
                    await self.fire_gun(conn.who, conn.peer, mat, raw, t)
            elif isinstance(msg, ctp.Greeting):
                conn.name = msg.name
                replies += [f"{SERVER_NAME}~{SERVER_VERSION}~2", "stream-mode=push", "time-format=normal"]
                replies += self._start(conn)
            elif isinstance(msg, ctp.GreetingReply):
                conn.name = msg.name
                conn.settings_left = msg.settings
                if msg.settings == 0:
                    replies += self._start(conn)
            elif isinstance(msg, ctp.Setting):
                if conn.settings_left > 0:
                    conn.settings_left -= 1
                    if conn.settings_left == 0:
                        replies += self._start(conn)
            elif isinstance(msg, ctp.Command):
                if msg.name == "authorize":
                    replies.append(await self._authorize(conn, msg.args))
                elif msg.name == "ping":
                    replies.append("ack~ping")
                elif msg.name == "ack" and msg.args[:1] == ("getlocations",) and not conn.started:
                    replies += await self._resume(conn, [a for a in msg.args[1:] if a])
                elif msg.name == "err":
                    log.warning("%s reports an error: %s", conn.who, "~".join(msg.args))
                    if msg.args[:1] == ("getlocations",) and not conn.started:
                        replies += await self._resume(conn, [])
        if reads:
            await self.store.apply_reads(reads, wall)
        if sequenced:
            mat_gaps = {self.race.mat_for_location(loc) or "": n for loc, n in gaps.items()}
            await self.store.record_sequences(conn.last_seq, mat_gaps)
        return replies

    async def _settle(self, conn: _Connection) -> None:
        """Wait for the batch in flight to be journaled and applied (it completes even if we are cancelled)."""
        if conn.in_flight is not None:
            task, conn.in_flight = conn.in_flight, None
            await self.finish(task)

    def _tag_reads(
        self, conn: _Connection, tags: list[ctp.TimedRead | None], now: float
    ) -> tuple[list[RawRead], dict[str, int]] | None:
        """The reads of a batch and the sequence numbers skipped per location, if every line is a tag
        read at a location whose mat this connection has announced (else None: the line by line path)."""
        reads: list[RawRead] = []
        gaps: dict[str, int] = {}
        last_seq = dict(conn.last_seq)  # kept only if the whole batch takes this path
        mat_of = conn.mat_of
        window_s = self.race.readers.time_window_s
        earliest, latest = now - window_s, now + window_s
        unknown = conn.unknown or UnknownChips(self.race)
        for tag in tags:
            if tag is None:
                return None
            seq, location, chip, t = tag
            mat = mat_of.get(location)
            if (
                mat is None
                or not earliest <= t <= latest
                or seq > last_seq.get(location, 0) + MAX_SEQ_JUMP
                or unknown.refusal(chip) is not None
            ):
                return None  # the line by line path says why
            last = last_seq.get(location)
            if last is None or seq > last:
                if last is not None and seq > last + 1:
                    gaps[location] = gaps.get(location, 0) + seq - last - 1
                last_seq[location] = seq
            reads.append(RawRead(mat, chip, t))
        conn.last_seq = last_seq
        return reads, gaps

    @staticmethod
    def _seq_problem(conn: _Connection, msg: ctp.TagRead | ctp.GunTime) -> str | None:
        """Why a line's sequence number cannot be kept for resume (a jump beyond ``MAX_SEQ_JUMP``)."""
        last = conn.last_seq.get(msg.location, 0)
        if msg.seq > last + MAX_SEQ_JUMP:
            return f"sequence number {msg.seq} jumps more than {MAX_SEQ_JUMP} past {last} at {msg.location!r}"
        return None

    def _sequence(self, conn: _Connection, location: str, seq: int, gaps: dict[str, int]) -> bool:
        """Track the highest sequence number per location and count the numbers skipped."""
        last = conn.last_seq.get(location)
        if last is not None and seq > last + 1:
            gaps[location] = gaps.get(location, 0) + seq - last - 1
        if last is None or seq > last:
            conn.last_seq[location] = seq
        return True

    def _start(self, conn: _Connection) -> list[str]:
        """After the handshake: ask which locations the reader has, to resume each one."""
        if conn.started or conn.asked_locations:
            return []
        conn.asked_locations = True
        return ["getlocations"]

    async def _resume(self, conn: _Connection, locations: list[str]) -> list[str]:
        """``start~<location>~<next seq>`` for every location we already hold lines of (CTP01 resume)."""
        conn.started = True
        # resume only the race's mats: a location we do not know must not add a field to Redis
        locations = [loc for loc in locations[:MAX_LOCATIONS] if self.race.mat_for_location(loc) is not None]
        if not locations:
            return ["start"]
        last = await self.store.last_sequences(locations)
        commands = []
        for location in locations:
            seq = last.get(location)
            commands.append(f"start~{location}~{seq + 1}" if seq is not None else f"start~{location}")
            if seq is not None:
                conn.last_seq[location] = seq
                log.info("%s: resuming %s from sequence %d", conn.who, location, seq + 1)
        return commands

    async def _authorize(self, conn: _Connection, args: tuple[str, ...]) -> str:
        """``authorize~<secret>``: the shared secret of ``[readers] secret_env``, compared in constant time."""
        given = args[-1].encode() if args else b""
        if self.secret is not None and hmac.compare_digest(given, self.secret.encode()):
            conn.authorized = True
            return "ack~authorize"
        await self._reject(conn, None, b"authorize~***", "wrong secret")
        return "err~authorize~wrong secret"

    async def _mat(self, conn: _Connection, location: str, raw: bytes) -> str | None:
        mat = self.race.mat_for_location(location)
        if mat is None:
            await self._reject(conn, None, raw, f"location {location!r} is no mat of race {self.race.id!r}")
            return None
        why = self.refusal(mat, conn.peer)
        if why is None and self.secret is not None and not conn.authorized:
            why = (
                f"reader has not sent the shared secret (authorize~<secret>, [readers] secret_env = {self.secret_env})"
            )
        if why is not None:
            await self._reject(conn, None, raw, why)
            return None
        if mat not in conn.mats:
            conn.mats.add(mat)
            await self.store.set_connected(mat, +1)
        conn.mat_of[location] = mat
        return mat

    async def _reject(self, conn: _Connection, mat: str | None, raw: bytes, reason: str) -> None:
        conn.errors += 1
        if mat is None and len(conn.mats) == 1:
            mat = next(iter(conn.mats))
        await self.reject(conn.who, mat, raw, reason, conn.peer)
