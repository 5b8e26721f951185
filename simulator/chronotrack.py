"""An emulated ChronoTrack decoder: one mat, speaking CTP01 as a TCP client, in race time.

Like the real timing side it connects to the scoring software (our ingestor), answers the
greeting (or greets first if the server says nothing), waits to be told where to ``start`` from,
then pushes ``CT01_33`` lines as the race clock reaches their times. It keeps every line it
produced, numbered from 1, so that after a dropped connection it resumes from whatever sequence
number the server asks for (``start~<location>~<seq>``, inclusive). Lines are numbered in the order
the controller emits them, which is not always the order of their times (a read is reported up to
a few seconds late). On demand (``WireFaults``) it loses its connection and the lines in flight,
repeats lines and mixes line noise into the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path

from live.clock import RaceClock
from simulator.faults import WireFaults

log = logging.getLogger(__name__)

NAME = "PursuitSim"
VERSION = "0.1"
SETTINGS = ("stream-mode=push", "location=single", "time-format=normal", "pushmode-ack=false")
BATCH_WALL_S = 0.05  # lines due are written together at most this often
GREETING_WAIT_S = 2.0  # silent server: greet it ourselves after this long
BACKOFF_S = (0.2, 2.0)  # reconnect delay, doubling from the first to the second


def time_of_day(unix_s: float, tz: tzinfo) -> str:
    """``HH:MM:SS.cc`` local time, the CTP01 "normal" time format (rounded to the hundredth)."""
    seconds, centis = divmod(round(unix_s * 100), 100)
    return f"{datetime.fromtimestamp(seconds, tz):%H:%M:%S}.{centis:02d}"


def reader_id(mat: str) -> str:
    """A stable 6-hex-digit reader id for a mat (real ones are MAC tails)."""
    return f"{zlib.crc32(mat.encode()) & 0xFFFFFF:06X}"


def _line(text: str) -> bytes:
    return f"{text}\r\n".encode("ascii")


def _noise(text: str, n: int) -> bytes:
    """A garbled line: cut short, binary junk, or an impossible time (each must be rejected)."""
    fields = text.split("~")
    kind = n % 3
    if kind == 0:
        return _line("~".join(fields[:3]) + "~")
    if kind == 1:
        return b"\x00\xff\xfeCT01\x07\x1b[2J garbage\r\n"
    return _line("~".join([*fields[:4], "29:71:99.99", *fields[5:]]))


@dataclass
class EmulatedDecoder:
    """One mat's decoder. Add reads and guns in time order; ``run`` delivers them."""

    location: str
    tz: tzinfo
    clock: RaceClock
    reader_id: str = ""
    faults: WireFaults = field(default_factory=WireFaults)
    times: list[float] = field(default_factory=list)  # race time line seq is due, at index seq − 1
    lines: list[str] = field(default_factory=list)
    sent: int = 0  # highest sequence number written to a server
    connections: int = 0
    noise: int = 0  # garbled lines written
    _dropped: set[int] = field(default_factory=set, init=False, repr=False)
    _next_seq: int = field(default=0, init=False, repr=False)  # 0: not started by the server
    _wake: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False)

    def __post_init__(self) -> None:
        self.reader_id = self.reader_id or reader_id(self.location)

    def add_read(self, t: float, chip: str, due: float | None = None) -> None:
        """A tag line read at ``t``, emitted at ``due`` (default ``t``); the antenna (1–4) follows the
        chip and how often this mat saw it."""
        seq = len(self.lines) + 1
        antenna = (zlib.crc32(chip.encode()) + seq) % 4 + 1
        line = f"CT01_33~{seq}~{self.location}~{chip}~{time_of_day(t, self.tz)}~0~{self.reader_id}~{antenna}"
        self._add(t if due is None else due, line)

    def add_gun(self, t: float) -> None:
        """A gun marker (antenna 0), as the start mat's controller reports a gun button press."""
        seq = len(self.lines) + 1
        self._add(t, f"CT01_33~{seq}~{self.location}~guntime~{time_of_day(t, self.tz)}~0~{self.reader_id}~0")

    def _add(self, due: float, text: str) -> None:
        if self.times and due < self.times[-1]:
            raise ValueError(
                f"mat {self.location}: line due at {due:.2f} is earlier than the previous one; add in emission order"
            )
        self.times.append(due)
        self.lines.append(text)

    def write_backup(self, directory: Path) -> Path:
        """The controller's own file: every line it produced, in order (``pursuit replay`` reads it)."""
        path = directory / f"{self.location}-chronotrack.txt"
        path.write_bytes(b"".join(_line(text) for text in self.lines))
        return path

    @property
    def done(self) -> bool:
        return self.sent >= len(self.lines)

    async def run(self, host: str, port: int, stop: asyncio.Event | None = None) -> None:
        """Connect (and reconnect with back-off) until every line is delivered or ``stop`` is set."""
        stop = stop or asyncio.Event()
        backoff_s = BACKOFF_S[0]
        while not stop.is_set():
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError as exc:
                log.info(
                    "%s: cannot connect to %s:%d (%s); retrying in %.1f s", self.location, host, port, exc, backoff_s
                )
            else:
                self.connections += 1
                try:
                    if await self._session(reader, writer, stop):
                        return
                    backoff_s = BACKOFF_S[0]
                except (ConnectionError, asyncio.IncompleteReadError) as exc:
                    log.info("%s: connection lost (%s); reconnecting", self.location, exc)
                    backoff_s = BACKOFF_S[0]
                finally:
                    writer.close()
                    with contextlib.suppress(ConnectionError):
                        await writer.wait_closed()
            if await _wait(stop, backoff_s):
                return
            backoff_s = min(backoff_s * 2, BACKOFF_S[1])

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stop: asyncio.Event) -> bool:
        """One connection: handshake, then stream; True once every line is delivered."""
        self._next_seq = 0  # nothing to send until the server says start
        stopper = asyncio.create_task(stop.wait())
        tasks = [stopper, asyncio.create_task(self._handshake(reader, writer))]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if stop.is_set():
                return False
            tasks[1].result()  # raises if the handshake failed
            listener = asyncio.create_task(self._listen(reader, writer))
            tasks.append(listener)
            while not stop.is_set():
                if listener.done():
                    listener.result()  # raises the reason the server went away
                if self._next_seq > 0:
                    await self._write_due(writer)
                    if self._next_seq > len(self.lines):
                        return True
                self._wake.clear()
                waker = asyncio.create_task(self._wake.wait())
                await asyncio.wait(
                    {listener, stopper, waker}, timeout=self._wait_s(), return_when=asyncio.FIRST_COMPLETED
                )
                waker.cancel()
            return False
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionError, asyncio.IncompleteReadError):
                    await task

    async def _write_due(self, writer: asyncio.StreamWriter) -> None:
        now = self.clock.now()
        first = index = self._next_seq - 1
        while index < len(self.lines) and self.times[index] <= now:
            index += 1
        drop = next((d for d in self.faults.drop_after if d not in self._dropped and first < d <= index), None)
        if drop is not None:
            index = drop
        if index > first:
            chunks = []
            for i in range(first, index):
                chunks.append(_line(self.lines[i]) * (2 if self.faults.dup(i) else 1))
                if self.faults.garble(i):
                    chunks.append(_noise(self.lines[i], self.noise))
                    self.noise += 1
            writer.write(b"".join(chunks))
            await writer.drain()
            self._next_seq = index + 1
            self.sent = max(self.sent, index)
        if drop is not None:
            # the lines after the drop are lost in flight; the server asks for them again
            self._dropped.add(drop)
            raise ConnectionResetError(f"fault: {self.location} loses its connection after line {drop}")

    def _wait_s(self) -> float | None:
        """Wall seconds until the next line is due (None: until the server speaks)."""
        if self._next_seq <= 0 or self._next_seq > len(self.lines):
            return None
        return max(BATCH_WALL_S, self.clock.wall_at(self.times[self._next_seq - 1]) - time.time())

    async def _handshake(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer the server's greeting, or greet first and read its ``name~version~N`` + N settings."""
        try:
            first = await asyncio.wait_for(reader.readline(), GREETING_WAIT_S)
        except TimeoutError:
            writer.write(_line(f"{NAME}~{VERSION}~CTP01"))
            await writer.drain()
            reply = (await _readline(reader)).split("~")
            settings = int(reply[2]) if len(reply) == 3 and reply[2].isdigit() else 0
            for _ in range(settings):
                await _readline(reader)
            return
        if not first:
            raise ConnectionError("server closed before greeting")
        text = first.decode("ascii", "replace").strip()
        if text.endswith("~CTP01"):
            writer.write(_line(f"{NAME}~{VERSION}~{len(SETTINGS)}") + b"".join(_line(s) for s in SETTINGS))
            await writer.drain()
        else:
            await self._command(text, writer)  # a server that skipped its greeting

    async def _listen(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer the server's commands until it closes the connection."""
        while True:
            await self._command(await _readline(reader), writer)

    async def _command(self, text: str, writer: asyncio.StreamWriter) -> None:
        fields = text.split("~")
        match fields[0]:
            case "ping":
                writer.write(_line("ack~ping"))
            case "getlocations":
                writer.write(_line(f"ack~getlocations~{self.location}"))
            case "start":
                if len(fields) > 1 and fields[1] and fields[1] != self.location:
                    writer.write(_line(f"err~start~unknown location {fields[1]}"))
                else:
                    writer.write(_line(f"ack~start~{self.location}"))
                    seq = fields[2] if len(fields) > 2 else ""
                    self._next_seq = max(int(seq), 1) if seq.isdigit() else 1
                    self._wake.set()
            case "stop":
                writer.write(_line(f"ack~stop~{self.location}"))
                self._next_seq = 0
            case _:
                return  # ack~…, settings, anything else: nothing to answer
        await writer.drain()


async def _readline(reader: asyncio.StreamReader) -> str:
    raw = await reader.readline()
    if not raw:
        raise ConnectionError("server closed the connection")
    return raw.decode("ascii", "replace").strip()


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep ``seconds`` unless ``stop`` is set first; True if it was."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()
