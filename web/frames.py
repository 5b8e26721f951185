"""WebSocket frames built once and written straight to many connections (``web.feed`` and the
events feed use them): a message and its frame (``Outgoing``), a connection's transport under
uvicorn's websockets implementation (``Wire``), the time each tick's fan-out took (``FanoutTimes``)
and the ASGI endpoint that hands a connection its wire (``WireEndpoint``). Nothing here knows what the messages say."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import cast

from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from websockets.frames import Frame, Opcode
from websockets.protocol import Protocol, State

# 40,000 runners at the least compressible moment of the race (674 KB of JSON): level 1 222 KB in 5 ms,
# 4 197 KB in 9 ms, 5 191 KB in 25 ms, 6 180 KB in 57 ms; on the event loop, at most once a tick, and
# only when a gzip client needs a snapshot (docs/BENCHMARKS.md, "Traffic during a 40,000-runner race")
SNAPSHOT_GZIP_LEVEL = 5


class Outgoing:
    """One message (UTF-8 JSON, or its gzip), and the WebSocket frame that carries it, built once however
    many get it. A snapshot also offers its gzip, compressed at most once."""

    __slots__ = ("_gzipped", "_wire", "binary", "payload", "snapshot")

    def __init__(self, payload: bytes, *, snapshot: bool = False, binary: bool = False) -> None:
        self.payload = payload
        self.snapshot = snapshot  # gzip clients get :meth:`gzipped` instead
        self.binary = binary
        self._wire: bytes | None = None
        self._gzipped: Outgoing | None = None

    @property
    def wire(self) -> bytes:
        """A server's frame: text (binary for a gzip), final, unmasked, no per-message deflate (it is off)."""
        if self._wire is None:
            opcode = Opcode.BINARY if self.binary else Opcode.TEXT
            self._wire = Frame(opcode, self.payload).serialize(mask=False, extensions=[])
        return self._wire

    def gzipped(self) -> Outgoing:
        """This message gzipped (``SNAPSHOT_GZIP_LEVEL``, no timestamp) as a binary message, built once."""
        if self._gzipped is None:
            self._gzipped = Outgoing(gzip.compress(self.payload, SNAPSHOT_GZIP_LEVEL, mtime=0), binary=True)
        return self._gzipped

    @property
    def text(self) -> str:
        return self.payload.decode()


class Wire:
    """Direct writes of ready frames to one connection's transport, as ``websockets.broadcast()`` does.

    Only under uvicorn's websockets sans-I/O implementation, whose ASGI ``receive`` is a method of the
    connection's protocol object holding the transport and the ``websockets`` protocol state; with no
    extension negotiated, a frame's bytes are the same for every connection.
    """

    __slots__ = ("conn", "transport", "written")

    def __init__(self, transport: asyncio.WriteTransport, conn: Protocol) -> None:
        self.transport = transport
        self.conn = conn
        self.written = 0  # bytes handed to the transport

    @classmethod
    def of(cls, receive: Receive, scope: Scope) -> Wire | None:
        """The wire of the connection the server passed ``receive`` and ``scope`` for, or None where the
        server is not the one described above."""
        server = getattr(receive, "__self__", None)
        conn = getattr(server, "conn", None)
        transport = getattr(server, "transport", None)
        if (
            getattr(server, "scope", None) is not scope
            or not isinstance(conn, Protocol)
            or conn.extensions
            or not all(callable(getattr(transport, a, None)) for a in ("write", "is_closing", "get_write_buffer_size"))
        ):  # uvloop's transports have asyncio's methods but do not subclass its classes
            return None
        return cls(cast(asyncio.WriteTransport, transport), conn)

    @property
    def open(self) -> bool:
        return self.conn.state is State.OPEN and not self.transport.is_closing()

    def write(self, frame: bytes) -> None:
        self.transport.write(frame)
        self.written += len(frame)

    @property
    def buffered(self) -> int:
        """Bytes written but not yet taken by the kernel."""
        return self.transport.get_write_buffer_size()


class WireEndpoint:
    """An ASGI WebSocket endpoint whose handler gets the Starlette ``WebSocket`` and the connection's
    ``Wire`` (None where there is none), found from the ``receive`` the server passed in."""

    def __init__(self, handler: Callable[[WebSocket, Wire | None], Awaitable[None]]) -> None:
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.handler(WebSocket(scope, receive, send), Wire.of(receive, scope))


FANOUT_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


@dataclass
class FanoutTimes:
    """How long the ticks took the server, as Prometheus histograms keep it: per tick, the time to build
    the tick's frame (what changed, JSON, WebSocket framing) and the time to write (or queue) it for
    every client, counted by upper bound in ``FANOUT_BUCKETS_S`` and summed."""

    ticks: int = 0
    build_s: float = 0.0
    write_s: float = 0.0
    build_counts: list[int] = field(default_factory=lambda: [0] * len(FANOUT_BUCKETS_S))
    write_counts: list[int] = field(default_factory=lambda: [0] * len(FANOUT_BUCKETS_S))
    last_build_s: float = 0.0
    last_write_s: float = 0.0

    def add(self, build_s: float, write_s: float) -> None:
        self.ticks += 1
        self.build_s += build_s
        self.write_s += write_s
        self.last_build_s, self.last_write_s = build_s, write_s
        for counts, value in ((self.build_counts, build_s), (self.write_counts, write_s)):
            for i, bound in enumerate(FANOUT_BUCKETS_S):
                if value <= bound:
                    counts[i] += 1
                    break
