"""An emulated ChronoTrack decoder: one mat, speaking CTP01 as a TCP client, in real time.

Like the real timing side it connects to the scoring software (our ingestor), answers the
greeting, waits to be told where to ``start`` from, then pushes ``CT01_33`` lines as the race
clock reaches their times. It keeps every line it produced, numbered from 1, so that after a
dropped connection it can resume from whatever sequence number the server asks for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from live.clock import RaceClock

log = logging.getLogger(__name__)

NAME = "PursuitSim"
VERSION = "0.1"
BATCH_WALL_S = 0.05
GREETING_WAIT_S = 2.0


def time_of_day(unix_s: float, tz: tzinfo) -> str:
    """``HH:MM:SS.cc`` local time, the CTP01 "normal" time format."""
    local = datetime.fromtimestamp(unix_s, tz)
    centis = int(round(local.microsecond / 10_000))
    second = local.second
    if centis == 100:  # rounding up to the next second keeps the format valid
        centis, second = 99, local.second
    return f"{local:%H:%M}:{second:02d}.{centis:02d}"


@dataclass
class EmulatedDecoder:
    """One mat's decoder. Feed it ``(time, chip)`` events; ``run`` delivers them."""

    location: str
    reader_id: str
    tz: tzinfo
    clock: RaceClock
    lines: list[tuple[float, str]] = field(default_factory=list)  # (time, line) by sequence - 1
    sent: int = 0
    connections: int = 0

    def add_read(self, t: float, chip: str, antenna: int = 1) -> None:
        seq = len(self.lines) + 1
        text = f"CT01_33~{seq}~{self.location}~{chip}~{time_of_day(t, self.tz)}~0~{self.reader_id}~{antenna}"
        self.lines.append((t, text))

    def add_gun(self, t: float) -> None:
        seq = len(self.lines) + 1
        self.lines.append((t, f"CT01_33~{seq}~{self.location}~guntime~{time_of_day(t, self.tz)}~0~{self.reader_id}~0"))

    async def run(self, host: str, port: int, stop: asyncio.Event | None = None) -> None:
        """Connect (and reconnect with back-off) until every line is delivered or ``stop`` is set."""
        backoff = 0.2
        stop = stop or asyncio.Event()
        while not stop.is_set():
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError as exc:
                log.info("%s: cannot connect to %s:%d (%s); retrying", self.location, host, port, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            backoff = 0.2
            self.connections += 1
            try:
                done = await self._session(reader, writer, stop)
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                log.info("%s: connection lost (%s); reconnecting", self.location, exc)
                done = False
            finally:
                writer.close()
                with contextlib.suppress(ConnectionError):
                    await writer.wait_closed()
            if done:
                return

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stop: asyncio.Event) -> bool:
        start_seq = await self._handshake(reader, writer)
        pinger = asyncio.create_task(self._answer(reader, writer))
        try:
            index = start_seq - 1
            while index < len(self.lines) and not stop.is_set():
                if pinger.done():
                    pinger.result()  # raises if the server went away
                    return False
                due_wall = self.clock.wall_at(self.lines[index][0])
                wait = due_wall - time.time()
                if wait > 0:
                    await asyncio.sleep(min(wait, 0.5))
                    continue
                now = self.clock.now()
                batch = []
                while index < len(self.lines) and self.lines[index][0] <= now + BATCH_WALL_S * self.clock.speed:
                    batch.append(self.lines[index][1])
                    index += 1
                writer.write("".join(f"{line}\r\n" for line in batch).encode())
                await writer.drain()
                self.sent = max(self.sent, index)
                await asyncio.sleep(BATCH_WALL_S)
            return index >= len(self.lines)
        finally:
            pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, asyncio.IncompleteReadError):
                await pinger

    async def _handshake(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int:
        """Answer the greeting, then wait for a start command; returns the first sequence to send."""
        try:
            first = await asyncio.wait_for(reader.readline(), GREETING_WAIT_S)
        except TimeoutError:
            first = b""
            writer.write(f"{NAME}~{VERSION}~CTP01\r\n".encode())
        if first.rstrip().endswith(b"~CTP01"):
            settings = ["stream-mode=push", "location=single", "time-format=normal", "pushmode-ack=false"]
            writer.write(
                f"{NAME}~{VERSION}~{len(settings)}\r\n{''.join(s + chr(13) + chr(10) for s in settings)}".encode()
            )
        await writer.drain()
        while True:
            raw = await reader.readline()
            if not raw:
                raise ConnectionError("server closed during the handshake")
            fields = raw.decode("ascii", "replace").strip().split("~")
            if fields[0] == "getlocations":
                writer.write(f"ack~getlocations~{self.location}\r\n".encode())
                await writer.drain()
            elif fields[0] == "ping":
                writer.write(b"ack~ping\r\n")
                await writer.drain()
            elif fields[0] == "start":
                if len(fields) > 1 and fields[1] and fields[1] != self.location:
                    writer.write(f"err~start~unknown location {fields[1]}\r\n".encode())
                    await writer.drain()
                    continue
                writer.write(f"ack~start~{self.location}\r\n".encode())
                await writer.drain()
                return int(fields[2]) if len(fields) > 2 and fields[2].isdigit() else 1

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer pings while streaming; returns when the server closes the connection."""
        while True:
            raw = await reader.readline()
            if not raw:
                raise ConnectionError("server closed the connection")
            if raw.strip() == b"ping":
                writer.write(b"ack~ping\r\n")
