"""What every TCP reader server shares: listening, tracked connection tasks, the race clock,
and counting rejected input against the right mat."""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod

from live.clock import RaceClock
from live.race import Race
from live.store import Store

log = logging.getLogger(__name__)

READ_CHUNK_BYTES = 65_536
CLOCK_REFRESH_S = 1.0


class ReaderServer(ABC):
    """Base of the protocol servers: subclasses implement :meth:`handle` for one connection."""

    protocol = "?"

    def __init__(self, race: Race, store: Store, host: str, port: int) -> None:
        self.race = race
        self.store = store
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._clock: RaceClock = RaceClock.real_time()
        self._clock_read_at = 0.0
        self._handlers: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Listen; the bound port is in :attr:`port` (useful with port 0)."""
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("%s server listening on %s:%d", self.protocol, self.host, self.port)

    async def close(self) -> None:
        """Stop listening and end every open connection."""
        if self._server is not None:
            self._server.close()
            for task in list(self._handlers):
                task.cancel()
            await asyncio.gather(*self._handlers, return_exceptions=True)
            await self._server.wait_closed()

    async def now(self) -> float:
        """Race time now (the race clock is re-read from Redis at most once a second)."""
        wall = time.time()
        if wall - self._clock_read_at > CLOCK_REFRESH_S:
            self._clock = await self.store.clock()
            self._clock_read_at = wall
        return self._clock.at_wall(wall)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        host, port = writer.get_extra_info("peername")[:2]
        peer = f"{host}:{port}"
        log.info("%s connection from %s", self.protocol, peer)
        try:
            await self.handle(reader, writer, peer)
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            log.warning("%s connection from %s dropped: %s", self.protocol, peer, exc)
        except asyncio.CancelledError:
            log.info("%s connection from %s closed: the server shuts down", self.protocol, peer)
        finally:
            self._handlers.discard(task)
            writer.close()

    @abstractmethod
    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str) -> None:
        """Serve one reader connection: framing, handshake, journal, apply, acks."""

    async def reject(self, who: str, mat: str | None, raw: bytes, reason: str) -> None:
        """Log and count a line or record that cannot be used; the connection carries on."""
        log.warning("%s: rejected %r: %s", who, raw[:120], reason)
        await self.store.count_error(mat, f"{reason}: {raw[:120]!r}")
