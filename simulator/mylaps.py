"""An emulated MYLAPS Timing & Scoring exporter (TCP/IP V2): one mat, a TCP client, in race time.

Like the real exporter it connects to the scoring software (our ingestor), says ``Pong`` and waits
for ``AckPong``, then sends ``Passing`` messages of up to 100 records as reads come due, with at
most 10 messages unacknowledged, and a ``Marker`` (``mt=Gunshot``) for each gun. Every message is
kept until ``AckPassing@n`` / ``AckMarker@n`` comes back; unacknowledged ones are resent every
20 s and all of them after a reconnect (MYLAPS manual v2021.1, ``docs/SOURCES.md`` §1).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path

from live.clock import RaceClock
from simulator.faults import WireFaults
from simulator.observations import Observation

log = logging.getLogger(__name__)

RECORDS_PER_MESSAGE = 100
WINDOW = 10  # unacknowledged messages in flight
RESEND_S = 20.0
BATCH_WALL_S = 0.05
BACKOFF_S = (0.2, 2.0)
DEVICE = 4  # the decoder number ``dv`` of our records


def local_time(unix_s: float, tz: tzinfo) -> tuple[str, str]:
    """``(hh:mm:ss.fff, YYMMDD)`` in the race's time zone, the V2 ``t`` and ``d`` keys."""
    seconds, millis = divmod(round(unix_s * 1000), 1000)
    dt = datetime.fromtimestamp(seconds, tz)
    return f"{dt:%H:%M:%S}.{millis:03d}", f"{dt:%y%m%d}"


@dataclass
class EmulatedExporter:
    """One mat's exporter. ``observations`` in delivery order; ``run`` delivers them."""

    source: str
    tz: tzinfo
    clock: RaceClock
    observations: list[Observation]
    faults: WireFaults = field(default_factory=WireFaults)
    resend_s: float = RESEND_S
    messages: list[str] = field(default_factory=list)  # every message made, message n at index n − 1
    unacked: dict[int, float] = field(default_factory=dict)  # message number -> wall time last sent
    reported: int = 0  # observations put into messages
    connections: int = 0
    noise: int = 0
    _drops: list[int] = field(default_factory=list, init=False, repr=False)
    _guns: int = field(default=0, init=False, repr=False)
    _ranges: list[tuple[int, int]] = field(default_factory=list, init=False, repr=False)  # reports per message
    _acked: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False)

    def __post_init__(self) -> None:
        self._drops = list(self.faults.drop_after)

    @property
    def delivered(self) -> int:
        """Observations in acknowledged messages (all of them once done)."""
        return self.reported - sum(self._ranges[n - 1][1] - self._ranges[n - 1][0] for n in self.unacked)

    @property
    def done(self) -> bool:
        return self.reported >= len(self.observations) and not self.unacked

    def write_backup(self, directory: Path) -> Path:
        """Every message the exporter made, one per line (``pursuit replay`` reads them)."""
        path = directory / f"{self.source}-mylaps.txt"
        path.write_text("".join(f"{m}\r\n" for m in self.messages), encoding="ascii")
        return path

    async def run(self, host: str, port: int, stop: asyncio.Event | None = None) -> None:
        """Connect (and reconnect with back-off) until every message is acknowledged or ``stop`` is set."""
        stop = stop or asyncio.Event()
        backoff_s = BACKOFF_S[0]
        while not stop.is_set() and not self.done:
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError as exc:
                log.info("%s: cannot connect to %s:%d (%s)", self.source, host, port, exc)
            else:
                self.connections += 1
                backoff_s = BACKOFF_S[0]
                try:
                    await self._session(reader, writer, stop)
                except (ConnectionError, asyncio.IncompleteReadError, TimeoutError) as exc:
                    log.info("%s: connection lost (%s); reconnecting", self.source, exc)
                finally:
                    writer.close()
                    with contextlib.suppress(ConnectionError):
                        await writer.wait_closed()
                if self.done:
                    return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff_s)
            backoff_s = min(backoff_s * 2, BACKOFF_S[1])

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stop: asyncio.Event) -> None:
        writer.write(f"{self.source}@Pong@$\r\n".encode())
        await writer.drain()
        reply = await asyncio.wait_for(reader.readuntil(b"$"), 10.0)
        if b"@AckPong@" not in reply:
            raise ConnectionError(f"server answered Pong with {reply[:80]!r}")
        await self._send(writer, sorted(self.unacked))  # everything not yet acknowledged, again
        listener = asyncio.create_task(self._listen(reader))
        stopper = asyncio.create_task(stop.wait())
        waker: asyncio.Task[object] | None = None
        try:
            while not self.done and not stop.is_set():
                if listener.done():
                    listener.result()
                    raise ConnectionError("server closed the connection")
                numbers = self._resend_due() + self._new_messages()
                if self._drops and self.reported >= self._drops[0]:
                    self._drops.pop(0)
                    # cut mid-message: the last message never arrives whole and is resent after reconnect
                    await self._send(writer, numbers[:-1])
                    if numbers:
                        text = self.messages[numbers[-1] - 1]
                        self.unacked[numbers[-1]] = time.time()
                        writer.write(text[: len(text) // 2].encode())
                        await writer.drain()
                    raise ConnectionResetError(f"fault: {self.source} loses its connection")
                await self._send(writer, numbers)
                self._acked.clear()
                waker = asyncio.create_task(self._acked.wait())
                await asyncio.wait(
                    {listener, stopper, waker}, timeout=self._wait_s(), return_when=asyncio.FIRST_COMPLETED
                )
                waker.cancel()
        finally:
            for task in (listener, stopper, waker):
                if task is None:
                    continue
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionError, asyncio.IncompleteReadError):
                    await task

    def _new_messages(self) -> list[int]:
        """Turn due observations into messages while the window has room; their numbers."""
        now = self.clock.now()
        made = []
        while len(self.unacked) < WINDOW and self.reported < len(self.observations):
            batch: list[Observation] = []
            while (
                self.reported + len(batch) < len(self.observations)
                and len(batch) < RECORDS_PER_MESSAGE
                and (o := self.observations[self.reported + len(batch)]).due <= now
            ):
                if o.gun:
                    if not batch:
                        batch.append(o)
                    break
                batch.append(o)
            if not batch:
                break
            number = len(self.messages) + 1
            self.messages.append(self._message(batch, number))
            self._ranges.append((self.reported, self.reported + len(batch)))
            self.unacked[number] = 0.0
            self.reported += len(batch)
            made.append(number)
        return made

    def _message(self, batch: list[Observation], number: int) -> str:
        if batch[0].gun:
            self._guns += 1
            t, d = local_time(batch[0].time, self.tz)
            return f"{self.source}@Marker@t={t}|d={d}|mt=Gunshot|n=Gunshot {self._guns}@{number}@$"
        records = []
        for o in batch:
            t, d = local_time(o.time, self.tz)
            records.append(f"t={t}|c={o.chip}|ct=UH|d={d}|l={o.hits}|dv={DEVICE}|re=0|an=00001111|g=0|amd={o.rssi:g}")
        return f"{self.source}@Passing@{'@'.join(records)}@{number}@$"

    def _resend_due(self) -> list[int]:
        wall = time.time()
        return [n for n, sent in sorted(self.unacked.items()) if sent and wall - sent >= self.resend_s]

    async def _send(self, writer: asyncio.StreamWriter, numbers: list[int]) -> None:
        if not numbers:
            return
        chunks = []
        wall = time.time()
        for n in numbers:
            text = f"{self.messages[n - 1]}\r\n".encode()
            first, end = self._ranges[n - 1]
            chunks.append(text * (2 if self.faults.dup_any(first, end) else 1))
            if self.faults.garble_any(first, end):
                chunks.append(_noise(self.source, self.noise))
                self.noise += 1
            self.unacked[n] = wall
        writer.write(b"".join(chunks))
        await writer.drain()

    async def _listen(self, reader: asyncio.StreamReader) -> None:
        """Take acknowledgements until the server closes the connection."""
        while True:
            raw = await reader.readuntil(b"$")
            fields = raw.decode("ascii", "replace").strip().split("@")
            if len(fields) >= 3 and fields[1] in ("AckPassing", "AckMarker") and fields[2].isdigit():
                self.unacked.pop(int(fields[2]), None)
                self._acked.set()

    def _wait_s(self) -> float:
        """Wall seconds until there is something to do: a report due, or a resend."""
        waits = [self.resend_s]
        if self.reported < len(self.observations) and len(self.unacked) < WINDOW:
            waits.append(self.clock.wall_at(self.observations[self.reported].due) - time.time())
        if self.unacked:
            waits.append(min(self.unacked.values()) + self.resend_s - time.time())
        return max(BATCH_WALL_S, min(waits))


def _noise(source: str, n: int) -> bytes:
    """Line noise: a message without its number, or bytes that are not a message at all."""
    if n % 2 == 0:
        return f"{source}@Passing@c=ZZ|t=99:99@$\r\n".encode()
    return b"\x00\xff\xfe@garbage$\r\n"
