"""Load generator for ``pursuit bench fanout``: N spectators on the live feed, in their own process.

Usage: ``python -m pursuit.bench.fanout_clients URL N SECONDS [--snapshot-every S] [--out FILE]``. The process connects
its N spectators, prints ``{"ready": …}`` once every one is connected and has its snapshot, then
waits for the start of the measured window (unix seconds) on a line of standard input, so that
several such processes measure the same window. It then prints one JSON object: clients held, tick
frames and bytes received in the window, every tick's arrival times (to compare with the other
processes' arrivals), every tick's delay from the ``sent`` time the server put in it, the snapshot
sizes seen (one spectator asks for a fresh one every S seconds) and its own CPU time in the window.

Each spectator is a minimal WebSocket client (RFC 6455) on a bare ``asyncio.Protocol``: a real HTTP
Upgrade over a real socket, the server's ``Sec-WebSocket-Accept`` checked, frames parsed by their
headers, pings answered, client frames masked. It does as little per message as a measurement
allows, so that the clients, which share the server's cores, take less of them than the server:
the Python ``websockets`` client needed 0.7–1.0 core for 5,000 spectators against the server's 0.2,
and the delay it measured was its own. Only one spectator per process (the probe) parses whole
messages; the others read ``seq`` and ``sent`` from the head of a tick (``tick_fields``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import builtins
import gzip
import hashlib
import os
import re
import resource
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import cast
from urllib.parse import urlsplit

import orjson
import uvloop

RAMP_BATCH = 200  # connections opened before a short pause, so that the server's accept queue keeps up
OPEN_TIMEOUT_S = 120.0
MAX_HANDSHAKE_BYTES = 16 * 1024
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
NORMAL_CLOSURE = 1000
NO_STATUS = 1005
ABNORMAL_CLOSURE = 1006

# a tick as ``web.feed`` writes it begins with these keys in this order; anything else is parsed in full
_TICK_HEAD = re.compile(rb'\{"type":"tick","seq":(\d+),"now":[-+.\deE]+,"sent":([-+.\deE]+)[,}]')
_TYPE_KEY = b'{"type":"'
_SNAPSHOT_HEAD = re.compile(rb'\{"type":"snapshot","seq":(\d+)[,}]')


class ProtocolError(Exception):
    """The server broke RFC 6455 (or sent what this minimal client does not take)."""


class Refused(Exception):
    """The server took the connection and closed it before its first message (a cap: 1013, why)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(
            f"closed with {code} before the first message: {reason}"
            if reason
            else f"closed with {code} before the first message"
        )
        self.code, self.reason = code, reason


def failure_kind(exc: BaseException) -> str:
    """What a failed connection met, in a few words, to count alike failures together."""
    if isinstance(exc, Refused | ProtocolError):
        return str(exc)[:160]
    if isinstance(exc, TimeoutError):
        return f"no first message within {OPEN_TIMEOUT_S:g} s"
    if isinstance(exc, OSError) and exc.errno is not None:
        return f"{type(exc).__name__}: {os.strerror(exc.errno)}"
    return f"{type(exc).__name__}: {exc}"[:160]


def tick_fields(payload: bytes) -> tuple[int, float | None] | None:
    """``(seq, sent)`` of a tick message, None for any other message, reading only the tick's head
    where it has the feed's key order; any other message with ``type`` not first is parsed in full."""
    if m := _TICK_HEAD.match(payload):
        return int(m[1]), float(m[2])
    if payload.startswith(_TYPE_KEY) and not payload.startswith(b'tick"', len(_TYPE_KEY)):
        return None  # a snapshot, follow or error: its kind is its first key
    message = orjson.loads(payload)
    if not isinstance(message, dict) or message.get("type") != "tick":
        return None
    sent = message.get("sent")
    return int(message["seq"]), None if sent is None else float(sent)


def snapshot_seq(payload: bytes) -> int | None:
    """``seq`` of a snapshot message (read from its head where it has the feed's key order), else None."""
    if m := _SNAPSHOT_HEAD.match(payload):
        return int(m[1])
    if payload.startswith(_TYPE_KEY):
        return None  # another kind, first key
    message = orjson.loads(payload)
    return int(message["seq"]) if isinstance(message, dict) and message.get("type") == "snapshot" else None


def client_frame(opcode: int, payload: bytes, mask: bytes | None = None) -> bytes:
    """One final frame from a client, masked as RFC 6455 §5.3 requires (a random key unless given)."""
    mask = os.urandom(4) if mask is None else mask
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 1 << 16:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    if not n:
        return head + mask
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    return head + mask + (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big")


class FrameReader:
    """Frames from a server (RFC 6455 §5.2) out of a byte stream: whole messages and control frames.

    ``feed`` returns ``(opcode, payload)`` pairs: a text or binary message (fragments joined) or a
    close, ping or pong frame. Extensions are not taken (none is offered), nor masked frames.
    """

    __slots__ = ("buffer", "max_size", "opcode", "parts")

    def __init__(self, max_size: int = 1 << 26) -> None:
        self.buffer = bytearray()
        self.max_size = max_size
        self.opcode = -1  # of the fragmented message in progress
        self.parts: list[bytes] = []

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        buf = self.buffer
        buf += data
        out: list[tuple[int, bytes]] = []
        pos, end_of_data = 0, len(buf)
        while end_of_data - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            if b1 & 0x80:
                raise ProtocolError("a masked frame from the server (RFC 6455 §5.1)")
            if b0 & 0x70:
                raise ProtocolError("reserved bits set, but no extension was negotiated")
            length, head = b1 & 0x7F, 2
            if length == 126:
                if end_of_data - pos < 4:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if end_of_data - pos < 10:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            if length > self.max_size:
                raise ProtocolError(f"a frame of {length} bytes, more than {self.max_size}")
            end = pos + head + length
            if end > end_of_data:
                break
            payload = bytes(buf[pos + head : end])
            pos = end
            opcode, final = b0 & 0x0F, b0 & 0x80
            if opcode >= CLOSE:
                if not final or length > 125:
                    raise ProtocolError("a fragmented or long control frame")
                out.append((opcode, payload))
            elif opcode == CONT:
                if self.opcode < 0:
                    raise ProtocolError("a continuation frame with no message to continue")
                self.parts.append(payload)
                if final:
                    out.append((self.opcode, b"".join(self.parts)))
                    self.opcode, self.parts = -1, []
            elif opcode in (TEXT, BINARY):
                if self.opcode >= 0:
                    raise ProtocolError("a new message inside a fragmented one")
                if final:
                    out.append((opcode, payload))
                else:
                    self.opcode, self.parts = opcode, [payload]
            else:
                raise ProtocolError(f"reserved opcode {opcode:#x}")
        if pos:
            del buf[:pos]
        return out


@dataclass
class Window:
    """What the spectators of this process saw between ``start`` and ``end`` (unix seconds)."""

    start: float = 0.0
    end: float = 0.0
    connected: int = 0
    held: int = 0
    failed: int = 0
    frames: int = 0
    bytes: int = 0
    arrivals: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    sent_delays_s: list[float] = field(default_factory=list)
    tick_bytes: list[int] = field(default_factory=list)  # the probe's ticks, in order
    snapshots: list[tuple[int, int]] = field(default_factory=list)  # raw and gzipped bytes

    def count(self, payload: builtins.bytes, now: float, probe: bool, answer: bool = False) -> None:
        """One message that arrived at ``now``, in the window: the shared frames count — every tick, and
        a snapshot the spectator did not ask for (the feed sends one instead of a tick bigger than the
        state); the probe's snapshots are also measured. ``answer``: a snapshot the spectator asked for."""
        if not self.start <= now < self.end:
            return
        if probe:
            message = orjson.loads(payload)
            kind = message.get("type")
            if kind == "snapshot":
                self.snapshots.append((len(payload), len(gzip.compress(payload, 6))))
            if answer or kind not in ("tick", "snapshot"):
                return  # per client: an answer, a follow or an error
            seq, sent = message["seq"], message.get("sent")
            self.tick_bytes.append(len(payload))
        elif answer:
            return
        elif (fields := tick_fields(payload)) is not None:
            seq, sent = fields
        elif (seq_or_none := snapshot_seq(payload)) is not None:
            seq, sent = seq_or_none, None
        else:
            return  # per client: a follow or an error
        self.bytes += len(payload)
        self.frames += 1
        self.arrivals[seq].append(now)
        if sent is not None:
            self.sent_delays_s.append(now - sent)


class Spectator(asyncio.Protocol):
    """One WebSocket client of the live feed; counts what it receives into ``window``.

    ``opened`` resolves at the first message (the snapshot), ``closed`` when the connection ends;
    ``messages`` keeps every message's payload if ``keep`` (for tests).
    """

    def __init__(self, url: str, window: Window, *, probe: bool = False, keep: bool = False) -> None:
        parts = urlsplit(url)
        if parts.scheme != "ws" or not parts.hostname:
            raise ValueError(f"expected a ws://HOST:PORT/PATH URL, got {url!r}")
        self.host, self.port = parts.hostname, parts.port or 80
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.window, self.probe = window, probe
        self.messages: list[bytes] | None = [] if keep else None
        self.key = base64.b64encode(os.urandom(16))
        self.reader = FrameReader()
        self.transport: asyncio.Transport | None = None
        self.head: bytearray | None = bytearray()  # the HTTP response until the upgrade; then None
        self.close_code: int | None = None  # what the server's close frame said
        self.close_reason = ""
        self.asked = 0  # snapshots asked for and not yet received
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()

    @property
    def open(self) -> bool:
        return self.head is None and self.close_code is None and not self.closed.done()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's
        host = self.host if self.port == 80 else f"{self.host}:{self.port}"
        self.transport.write(
            b"GET %b HTTP/1.1\r\nHost: %b\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: %b\r\nSec-WebSocket-Version: 13\r\n\r\n"
            % (self.path.encode(), host.encode(), self.key)
        )

    def data_received(self, data: bytes) -> None:
        now = time.time()
        try:
            if self.head is not None:
                self.head += data
                end = self.head.find(b"\r\n\r\n")
                if end < 0:
                    if len(self.head) > MAX_HANDSHAKE_BYTES:
                        raise ProtocolError("no end to the server's HTTP response")
                    return
                data = bytes(self.head[end + 4 :])
                self._upgraded(bytes(self.head[:end]))
            for opcode, payload in self.reader.feed(data):
                if opcode == TEXT or opcode == BINARY:
                    if self.messages is not None:
                        self.messages.append(payload)
                    if not self.opened.done():
                        self.opened.set_result(None)
                    answer = bool(self.asked) and payload.startswith(b'{"type":"snapshot"')
                    self.asked -= answer
                    self.window.count(payload, now, self.probe, answer)
                elif opcode == PING:
                    self.send(PONG, payload)
                elif opcode == CLOSE:
                    self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else NO_STATUS
                    self.close_reason = payload[2:].decode("utf-8", "replace")
                    if not self.opened.done():
                        self.opened.set_exception(Refused(self.close_code, self.close_reason))
                        self.opened.exception()  # retrieved: a refused spectator is counted, not an error
                    self.close()
        except ProtocolError as exc:
            self._fail(exc)

    def _upgraded(self, head: bytes) -> None:
        status, *lines = head.decode("latin-1").split("\r\n")
        if not status.startswith("HTTP/1.1 101"):
            raise ProtocolError(f"the server refused the upgrade: {status}")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
        accept = base64.b64encode(hashlib.sha1(self.key + WS_GUID).digest()).decode()
        if headers.get("upgrade", "").lower() != "websocket" or headers.get("sec-websocket-accept") != accept:
            raise ProtocolError("a 101 response without the right Upgrade or Sec-WebSocket-Accept")
        if headers.get("sec-websocket-extensions"):
            raise ProtocolError(f"an extension this client did not offer: {headers['sec-websocket-extensions']}")
        self.head = None

    def _fail(self, exc: Exception) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc)
        self.close_code = self.close_code or ABNORMAL_CLOSURE
        if self.transport is not None:
            self.transport.abort()

    def send(self, opcode: int, payload: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_frame(opcode, payload))

    def send_text(self, text: str) -> None:
        if '"snapshot"' in text or '"resync"' in text:
            self.asked += 1
        self.send(TEXT, text.encode())

    def close(self, code: int = NORMAL_CLOSURE) -> None:
        """Send a close frame (or echo the server's) and close the socket once it is written."""
        if self.transport is not None and not self.transport.is_closing():
            self.send(CLOSE, (self.close_code or code).to_bytes(2, "big"))
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"connection lost before the first message ({exc!r})"))
            self.opened.exception()  # retrieved: a failed spectator is counted, not an error
        if not self.closed.done():
            self.closed.set_result(None)


async def connect(url: str, window: Window, *, probe: bool = False, keep: bool = False) -> Spectator:
    """A spectator connected to ``url`` that has received its first message (or an exception)."""
    spectator = Spectator(url, window, probe=probe, keep=keep)
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(OPEN_TIMEOUT_S):
        await loop.create_connection(lambda: spectator, spectator.host, spectator.port)
        await spectator.opened
    return spectator


async def main(url: str, n: int, seconds: float, snapshot_every_s: float | None) -> dict[str, object]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    loop = asyncio.get_running_loop()
    window = Window()
    tasks = []
    for i in range(n):
        tasks.append(asyncio.create_task(connect(url, window, probe=i == 0)))
        if i % RAMP_BATCH == RAMP_BATCH - 1:
            await asyncio.sleep(0.05)
    results = await asyncio.gather(*tasks, return_exceptions=True)
    spectators = [s for s in results if isinstance(s, Spectator)]
    window.connected, window.failed = len(spectators), n - len(spectators)
    refused: dict[str, int] = defaultdict(int)  # connections that failed, by what they met
    for r in results:
        if isinstance(r, BaseException):
            refused[failure_kind(r)] += 1
    print(orjson.dumps({"ready": window.connected, "failed": window.failed}).decode(), flush=True)
    line = await loop.run_in_executor(None, sys.stdin.readline)
    window.start = float(line) if line.strip() else time.time()
    window.end = window.start + seconds
    await asyncio.sleep(max(0.0, window.start - time.time()))
    cpu = time.process_time()
    probe = spectators[0] if spectators and results[0] is spectators[0] else None
    if probe is not None and snapshot_every_s:
        asked = time.time()
        while (left := window.end - time.time()) > 0:
            if time.time() >= asked:
                probe.send_text('{"snapshot": true}')
                asked = time.time() + snapshot_every_s
            await asyncio.sleep(min(left, max(0.0, asked - time.time())))
    await asyncio.sleep(max(0.0, window.end - time.time()))
    cpu_s = time.process_time() - cpu
    window.held = sum(s.open for s in spectators)
    window.failed = n - window.held
    lost: dict[str, int] = defaultdict(int)  # connected, then closed before the end, by close code and reason
    for s in spectators:
        if not s.open:
            lost[f"{s.close_code or ABNORMAL_CLOSURE}: {s.close_reason}"[:160]] += 1
    for s in spectators:
        s.close()
    if spectators:
        await asyncio.wait([s.closed for s in spectators], timeout=5)
    return {
        "clients": n,
        "connected": window.connected,
        "held_to_the_end": window.held,
        "failed": window.failed,
        "refused": dict(refused),
        "lost": dict(lost),
        "frames": window.frames,
        "bytes": window.bytes,
        "cpu_s": round(cpu_s, 2),
        "arrivals": {str(seq): [round(t - window.start, 5) for t in ts] for seq, ts in window.arrivals.items()},
        "sent_delays_ms": [round(d * 1000, 2) for d in window.sent_delays_s],
        "probe_tick_bytes": window.tick_bytes,
        "snapshots": window.snapshots,
    }


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pursuit.bench.fanout_clients", description=__doc__.split("\n")[0])
    parser.add_argument("url")
    parser.add_argument("clients", type=int)
    parser.add_argument("seconds", type=float)
    parser.add_argument("--snapshot-every", type=float, help="one spectator asks for a snapshot this often (s)")
    parser.add_argument("--out", help="write the result here instead of to standard output")
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = parse_args(sys.argv[1:])
    status = 0
    try:  # the load generator runs on uvloop so that it takes less of the CPU it shares with the server
        result = uvloop.run(main(args.url, args.clients, args.seconds, args.snapshot_every))
    except Exception as exc:  # said in the result, which the bench reports: never a missing file
        result, status = {"clients": args.clients, "error": f"{type(exc).__name__}: {exc}"}, 1
    with open(args.out, "wb") if args.out else sys.stdout.buffer as out:  # a pipe cut lines at 64 KB here
        out.write(orjson.dumps(result) + b"\n")
    sys.exit(status)
