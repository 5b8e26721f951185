"""An emulated native JSON reader: one mat, a WebSocket client of ``/ingest/ws``, in race time.

It connects with ``?reader=<mat>`` and its token, sends the reads that are due as one JSON list
per message (``{"reader", "chip", "t", "rssi", "seq"}``), and waits for each message's answer
before the next; a message without an answer is sent again after a reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus, WebSocketException

from live.clock import RaceClock
from simulator.faults import WireFaults
from simulator.observations import Observation

log = logging.getLogger(__name__)

BATCH_WALL_S = 0.05  # at most 20 messages a second (the ingestor allows 50)
READS_PER_MESSAGE = 1000
ANSWER_TIMEOUT_S = 10.0
BACKOFF_S = (0.2, 2.0)


@dataclass
class EmulatedJsonReader:
    """One mat's JSON reader. ``observations`` in delivery order (no guns); ``run`` delivers them."""

    reader: str
    clock: RaceClock
    observations: list[Observation]
    url: str  # ws://host:port of the web app
    token: str
    faults: WireFaults = field(default_factory=WireFaults)
    messages: list[bytes] = field(default_factory=list)
    answered: int = 0  # messages answered, in order
    reported: int = 0  # observations put into messages
    delivered: int = 0  # observations in answered messages
    connections: int = 0
    noise: int = 0
    _ranges: list[tuple[int, int]] = field(default_factory=list, init=False, repr=False)  # reports per message
    _drops: list[int] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        if any(o.gun for o in self.observations):
            raise ValueError(f"mat {self.reader}: a JSON reader cannot send guns; give the start mat another protocol")
        self._drops = list(self.faults.drop_after)

    @property
    def done(self) -> bool:
        return self.delivered >= len(self.observations)

    def write_backup(self, directory: Path) -> Path:
        """Every read as a JSON line, in the order sent (``pursuit replay`` reads them)."""
        path = directory / f"{self.reader}-json.txt"
        with path.open("wb") as fh:
            for i, o in enumerate(self.observations[: self.reported], 1):
                fh.write(orjson.dumps(self._item(o, i)) + b"\n")
        return path

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Connect (and reconnect with back-off) until every read is answered or ``stop`` is set."""
        stop = stop or asyncio.Event()
        target = f"{self.url}/ingest/ws?reader={quote(self.reader)}"
        backoff_s = BACKOFF_S[0]
        while not stop.is_set() and not self.done:
            try:
                async with connect(target, additional_headers={"Authorization": f"Bearer {self.token}"}) as ws:
                    self.connections += 1
                    backoff_s = BACKOFF_S[0]
                    await self._session(ws, stop)
            except InvalidStatus as exc:
                log.error("JSON reader %s refused by %s: %s", self.reader, self.url, exc)
            except (OSError, WebSocketException, TimeoutError) as exc:
                log.info("JSON reader %s: connection lost (%s); reconnecting", self.reader, exc)
            if self.done:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff_s)
            backoff_s = min(backoff_s * 2, BACKOFF_S[1])

    async def _session(self, ws: ClientConnection, stop: asyncio.Event) -> None:
        while not self.done and not stop.is_set():
            while self.answered < len(self.messages):
                await self._exchange(ws, self.answered)
            if self._make_message():
                continue
            wait_s = BATCH_WALL_S
            if self.reported < len(self.observations):
                wait_s = max(BATCH_WALL_S, self.clock.wall_at(self.observations[self.reported].due) - time.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), min(wait_s, 1.0))

    def _make_message(self) -> bool:
        now = self.clock.now()
        end = self.reported
        while end < len(self.observations) and end - self.reported < READS_PER_MESSAGE:
            if self.observations[end].due > now:
                break
            end += 1
        if end == self.reported:
            return False
        items = [self._item(o, i) for i, o in enumerate(self.observations[self.reported : end], self.reported + 1)]
        self.messages.append(orjson.dumps(items))
        self._ranges.append((self.reported, end))
        self.reported = end
        return True

    def _item(self, o: Observation, seq: int) -> dict[str, object]:
        return {"reader": self.reader, "chip": o.chip, "t": round(o.time, 3), "rssi": o.rssi, "seq": seq}

    async def _exchange(self, ws: ClientConnection, index: int) -> None:
        """Send message ``index`` (twice, or followed by noise, on demand) and take its answers."""
        first, end = self._ranges[index]
        sends = [self.messages[index]] * (2 if self.faults.dup_any(first, end) else 1)
        if self.faults.garble_any(first, end):
            sends.append(b'{"reader": "' + self.reader.encode() + b'", "chip": \xff')
            self.noise += 1
        for payload in sends:
            await ws.send(payload.decode("utf-8", "replace"))
        if self._drops and end >= self._drops[0]:
            self._drops.pop(0)
            await ws.close()  # gone before the answer: the message goes again after the reconnect
            raise ConnectionResetError(f"fault: JSON reader {self.reader} loses its connection")
        for _ in sends:
            await asyncio.wait_for(ws.recv(), ANSWER_TIMEOUT_S)
        self.answered += 1
        self.delivered = end
