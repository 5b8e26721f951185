"""An emulated RACE RESULT decoder: one mat, a TCP *server* the ingestor connects to, in race time.

Like a 4000/5000-series decoder in timing mode it numbers its passings from 1 in the order it
records them (one per crossing: first read, hits, peak RSSI), and answers the decoder protocol:
``SETPROTOCOL;2.0``, ``SETPUSHPASSINGS;1;0`` (then pushes ``#P;`` lines as passings are recorded),
``GETTIME`` (its own clock, ``clock_offset_s`` away from the race clock), ``PASSINGS`` (the count so
far) and ``<from>:<count>`` (the records, then an empty line). It has no GPS: dates are
``0000-00-00`` and times are its clock's time of day (``docs/SOURCES.md`` §1).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path

from live.clock import RaceClock
from simulator.faults import WireFaults
from simulator.observations import Observation

log = logging.getLogger(__name__)

PUSH_WALL_S = 0.05
FILE_NUMBER = 1


def time_of_day(unix_s: float, tz: tzinfo) -> str:
    """``hh:mm:ss.kkk`` in the race's time zone."""
    seconds, millis = divmod(round(unix_s * 1000), 1000)
    return f"{datetime.fromtimestamp(seconds, tz):%H:%M:%S}.{millis:03d}"


@dataclass
class EmulatedRaceResultDecoder:
    """One mat's decoder. ``start`` listens; ``wait_done`` returns once the ingestor has taken everything."""

    mat: str
    tz: tzinfo
    clock: RaceClock
    observations: list[Observation]
    host: str = "127.0.0.1"
    port: int = 0
    clock_offset_s: float = 0.0
    faults: WireFaults = field(default_factory=WireFaults)
    connections: int = 0
    noise: int = 0
    confirmed: int = 0  # passings the ingestor has surely applied (it asked for what follows)
    records: list[str] = field(default_factory=list)  # passing n at index n − 1
    dues: list[float] = field(default_factory=list)
    _server: asyncio.Server | None = field(default=None, init=False, repr=False)
    _done: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False)
    _drops: list[int] = field(default_factory=list, init=False, repr=False)
    _pushed: int = field(default=0, init=False, repr=False)
    _handlers: set[asyncio.Task[None]] = field(default_factory=set, init=False, repr=False)

    def __post_init__(self) -> None:
        box = f"{zlib.crc32(self.mat.encode()) & 0xFFFF:04X}"
        for n, o in enumerate((o for o in self.observations if not o.gun), 1):
            t = time_of_day(o.time + self.clock_offset_s, self.tz)
            # <No>;<Transp>;<Date>;<Time>;<EventID>;<Hits>;<MaxRSSI>;<InternalData>;<IsActive>;<Channel>;
            # <LoopID>;<LoopOnly>;<WakeupCounter>;<Battery>;<Temperature>;<InternalActiveData>;<BoxName>;
            # <FileNumber>;<MaxRSSIAntenna>;<BoxId>
            self.records.append(
                f"{n};{o.chip};0000-00-00;{t};0;{o.hits};{o.rssi:g};0;0;;;0;;;;;{self.mat};{FILE_NUMBER};1;{box}"
            )
            self.dues.append(o.due)
        self._drops = list(self.faults.drop_after)
        if not self.records:
            self._done.set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def recorded(self) -> int:
        """Passings recorded so far (due by the race clock)."""
        return bisect.bisect_right(self.dues, self.clock.now())

    def write_backup(self, directory: Path) -> Path:
        """The decoder's passing file: every record, in number order (``pursuit replay`` reads it)."""
        path = directory / f"{self.mat}-raceresult.txt"
        path.write_text("".join(f"{r}\r\n" for r in self.records), encoding="ascii")
        return path

    async def start(self) -> None:
        """Listen; the bound port is in :attr:`port`."""
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._handlers):
                task.cancel()
            await asyncio.gather(*self._handlers, return_exceptions=True)
            await self._server.wait_closed()

    async def wait_done(self, stop: asyncio.Event | None = None) -> None:
        """Until the ingestor has applied every passing, or ``stop`` is set."""
        waits = [asyncio.create_task(self._done.wait())]
        if stop is not None:
            waits.append(asyncio.create_task(stop.wait()))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.connections += 1
        pusher: asyncio.Task[None] | None = None
        lock = asyncio.Lock()  # a pushed line never lands inside an answer
        fetched = pushed_before = pushed_last = 0
        try:
            while raw := await reader.readline():
                command = raw.decode("ascii", "replace").strip()
                async with lock:
                    if command.startswith("SETPROTOCOL"):
                        writer.write(b"SETPROTOCOL;2.0\r\n")
                    elif command.startswith("SETPUSHPASSINGS"):
                        on = command.split(";")[1:2] == ["1"]
                        writer.write(f"SETPUSHPASSINGS;{1 if on else 0};0\r\n".encode())
                        if on and pusher is None:
                            self._pushed = max(self._pushed, self.recorded())  # push only what comes next
                            pusher = asyncio.create_task(self._push(writer, lock))
                    elif command == "GETTIME":
                        now = time_of_day(self.clock.now() + self.clock_offset_s, self.tz)
                        writer.write(f"GETTIME;0000-00-00;{now}\r\n".encode())
                    elif command == "PASSINGS":
                        # the client works in rounds: what it fetched last round, and what was pushed
                        # before the round before, is applied by now
                        self.confirmed = max(self.confirmed, fetched, pushed_before)
                        pushed_before, pushed_last = pushed_last, self._pushed
                        if self.confirmed >= len(self.records):
                            self._done.set()
                        writer.write(f"PASSINGS;{self.recorded()}\r\n".encode())
                    elif ":" in command and command.replace(":", "", 1).isdigit():
                        first, count = (int(x) for x in command.split(":"))
                        last = min(first + count - 1, self.recorded())
                        await self._answer(writer, first, last)
                        fetched = max(fetched, last)
                    else:
                        writer.write(f"{command.split(';')[0]};ERROR\r\n".encode())
                    await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            log.info("RACE RESULT decoder %s: connection lost (%s)", self.mat, exc)
        except asyncio.CancelledError:
            log.info("RACE RESULT decoder %s: closed", self.mat)  # ends quietly: close() cancels us
        finally:
            if pusher is not None:
                pusher.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                    await pusher
            self._handlers.discard(task)
            writer.close()

    async def _answer(self, writer: asyncio.StreamWriter, first: int, last: int) -> None:
        lines = []
        for n in range(max(first, 1), last + 1):
            lines.append(f"{self.records[n - 1]}\r\n".encode() * (2 if self.faults.dup(n - 1) else 1))
            if self.faults.garble(n - 1):  # noise on the line, in answers as in pushes
                lines.append(_noise(n, self.noise)[3:])
                self.noise += 1
            if self._drops and n >= self._drops[0]:
                self._drops.pop(0)
                # the connection breaks inside the answer: the client never sees its end and asks again
                writer.write(b"".join(lines))
                await writer.drain()
                raise ConnectionResetError(f"fault: decoder {self.mat} loses its connection at passing {n}")
        writer.write(b"".join(lines) + b"\r\n")

    async def _push(self, writer: asyncio.StreamWriter, lock: asyncio.Lock) -> None:
        """``#P;`` lines for passings as they are recorded (and, on demand, line noise)."""
        while True:
            recorded = self.recorded()
            if recorded > self._pushed:
                async with lock:
                    chunks = []
                    for n in range(self._pushed + 1, recorded + 1):
                        chunks.append(f"#P;{self.records[n - 1]}\r\n".encode())
                        if self.faults.garble(n - 1):
                            chunks.append(_noise(n, self.noise))
                            self.noise += 1
                    self._pushed = recorded
                    writer.write(b"".join(chunks))
                    await writer.drain()
            wait_s = PUSH_WALL_S
            if recorded < len(self.dues):
                wait_s = max(PUSH_WALL_S, self.clock.wall_at(self.dues[recorded]) - time.time())
            await asyncio.sleep(min(wait_s, 1.0))


def _noise(n: int, k: int) -> bytes:
    """A garbled pushed line (each must be rejected): a transponder code with odd characters, or no time."""
    if k % 2 == 0:
        return f"#P;{n};@@?!;0000-00-00;10:00:00.000\r\n".encode()
    return f"#P;{n};ABC\r\n".encode()
