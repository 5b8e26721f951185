"""An emulated native JSON reader: one mat, a WebSocket client of ``/ingest/ws``, in race time.

It connects with ``?reader=<mat>`` and its token, sends the reads that are due as one JSON list
per message (``{"reader", "chip", "t", "rssi", "seq"}``), and waits for each message's answer
before the next. A message is kept until it is confirmed: answered, and the answer does not say
``"replicated": false`` (behind Redis Sentinel the ingestor says so when no replica has it yet, and
a failover could lose it). Unconfirmed messages go again after a reconnect, once a later message is
confirmed (a replica is back), and every ``RESEND_S`` while nothing newer is sent; the ingestor
collapses the repeats. At most ``MAX_UNCONFIRMED`` messages are kept: while that many wait, no new
message is made, and the reads stay in the reader's own list (a real reader's memory or backup file)
until a confirmation frees room. Against an ingestor without the field every answer confirms.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
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

BATCH_WALL_S = 0.05  # at least this between two messages: at most 20 a second (the ingestor allows 50)
READS_PER_MESSAGE = 1000  # the protocol's limit on the items of one message
MESSAGE_BYTES = 60_000  # under the 64 KiB the ingestor takes in one message (about 700 reads)
MAX_UNCONFIRMED = 100  # messages kept until confirmed: at most 6 MB, 100,000 reads
RESEND_S = 5.0  # an unconfirmed message goes again after this long without a newer one to send
ANSWER_TIMEOUT_S = 10.0
BACKOFF_S = (0.2, 2.0)


@dataclass
class _Message:
    """Message ``number`` of a reader, made of observations ``first`` … ``end − 1``, kept until it is
    confirmed."""

    number: int
    payload: bytes
    first: int
    end: int
    sends: int = 0
    sent_at: float = 0.0  # monotonic time of the last send


@dataclass
class EmulatedJsonReader:
    """One mat's JSON reader. ``observations`` in delivery order (no guns); ``run`` delivers them."""

    reader: str
    clock: RaceClock
    observations: list[Observation]
    url: str  # ws://host:port of the web app
    token: str
    faults: WireFaults = field(default_factory=WireFaults)
    max_unconfirmed: int = MAX_UNCONFIRMED
    resend_s: float = RESEND_S
    reported: int = 0  # observations put into messages
    delivered: int = 0  # observations in confirmed messages
    connections: int = 0
    noise: int = 0
    not_replicated: int = 0  # answers saying no replica has the message yet
    resent: int = 0  # messages sent again
    most_unconfirmed: int = 0  # the most messages kept at once
    _unconfirmed: dict[int, _Message] = field(default_factory=dict, init=False, repr=False)  # by number, in order
    _resend: deque[int] = field(default_factory=deque, init=False, repr=False)  # numbers to send again now
    _made: int = field(default=0, init=False, repr=False)
    _last_send: float = field(default=0.0, init=False, repr=False)
    _drops: list[int] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        if any(o.gun for o in self.observations):
            raise ValueError(f"mat {self.reader}: a JSON reader cannot send guns; give the start mat another protocol")
        self._drops = list(self.faults.drop_after)

    @property
    def done(self) -> bool:
        return self.delivered >= len(self.observations)

    @property
    def unconfirmed(self) -> int:
        """Messages kept now: sent, but not (yet) confirmed."""
        return len(self._unconfirmed)

    def write_backup(self, directory: Path) -> Path:
        """Every read as a JSON line, in the order sent (``pursuit replay`` reads them)."""
        path = directory / f"{self.reader}-json.txt"
        with path.open("wb") as fh:
            for i, o in enumerate(self.observations[: self.reported], 1):
                fh.write(orjson.dumps(self._item(o, i)) + b"\n")
        return path

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Connect (and reconnect with back-off) until every read is confirmed or ``stop`` is set."""
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
        self._resend = deque(self._unconfirmed)  # a new connection: whatever is not confirmed goes again first
        while not self.done and not stop.is_set():
            message = self._next_message()
            if message is not None:
                await asyncio.sleep(max(0.0, self._last_send + BATCH_WALL_S - time.monotonic()))
                await self._exchange(ws, message)
                continue
            wait_s = BATCH_WALL_S
            if self.reported < len(self.observations):
                wait_s = max(BATCH_WALL_S, self.clock.wall_at(self.observations[self.reported].due) - time.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), min(wait_s, 1.0))

    def _next_message(self) -> _Message | None:
        """What to send now: a message to send again, else a new one (if there is room), else an
        unconfirmed one unsent for ``resend_s``; None if nothing is due."""
        while self._resend:
            if (message := self._unconfirmed.get(self._resend.popleft())) is not None:
                return message
        if len(self._unconfirmed) < self.max_unconfirmed and (message := self._make_message()) is not None:
            return message
        now = time.monotonic()
        return next((m for m in self._unconfirmed.values() if now - m.sent_at >= self.resend_s), None)

    def _make_message(self) -> _Message | None:
        now = self.clock.now()
        items: list[bytes] = []
        size = 2  # the list's brackets
        end = self.reported
        while end < len(self.observations) and len(items) < READS_PER_MESSAGE and self.observations[end].due <= now:
            item = orjson.dumps(self._item(self.observations[end], end + 1))
            if items and size + len(item) + 1 > MESSAGE_BYTES:
                break
            items.append(item)
            size += len(item) + 1
            end += 1
        if not items:
            return None
        self._made += 1
        message = _Message(self._made, b"[" + b",".join(items) + b"]", self.reported, end)
        self._unconfirmed[message.number] = message
        self.most_unconfirmed = max(self.most_unconfirmed, len(self._unconfirmed))
        self.reported = end
        return message

    def _item(self, o: Observation, seq: int) -> dict[str, object]:
        return {"reader": self.reader, "chip": o.chip, "t": round(o.time, 3), "rssi": o.rssi, "seq": seq}

    async def _exchange(self, ws: ClientConnection, message: _Message) -> None:
        """Send ``message`` (the first time twice, or followed by noise, on demand), take its answers."""
        first, end = message.first, message.end
        copies = 2 if message.sends == 0 and self.faults.dup_any(first, end) else 1
        sends = [message.payload] * copies
        if message.sends == 0 and self.faults.garble_any(first, end):
            sends.append(b'{"reader": "' + self.reader.encode() + b'", "chip": \xff')
            self.noise += 1
        if message.sends:
            self.resent += 1
        message.sends += 1
        message.sent_at = self._last_send = time.monotonic()
        for payload in sends:
            await ws.send(payload.decode("utf-8", "replace"))
        if self._drops and end >= self._drops[0]:
            self._drops.pop(0)
            await ws.close()  # gone before the answer: the message goes again after the reconnect
            raise ConnectionResetError(f"fault: JSON reader {self.reader} loses its connection")
        answers = [await asyncio.wait_for(ws.recv(), ANSWER_TIMEOUT_S) for _ in sends]
        self._answered(message, answers[:copies])

    def _answered(self, message: _Message, answers: list[str | bytes]) -> None:
        """Confirm ``message`` unless its answers say no replica has it (then keep it to send again)."""
        if all(_not_replicated(a) for a in answers):
            self.not_replicated += 1
            self._resend.clear()  # no replica now: the others would only wait in vain too
            return
        del self._unconfirmed[message.number]
        self.delivered += message.end - message.first
        if not self._resend:
            self._resend.extend(self._unconfirmed)  # a replica confirms again: what it missed goes again


def _not_replicated(answer: str | bytes) -> bool:
    """Whether an answer says ``"replicated": false`` (an ingestor without the field never does)."""
    with contextlib.suppress(orjson.JSONDecodeError):
        body = orjson.loads(answer)
        return isinstance(body, dict) and body.get("replicated") is False
    return False
