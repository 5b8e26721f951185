"""What every TCP reader server shares: listening, tracked connection tasks, the race clock,
and counting rejected input against the right mat."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Iterable
from datetime import datetime
from typing import Any, TypeVar

from live.clock import RaceClock
from live.race.guns import gun_problem, next_start, second_gun, start_route
from live.race.race import Race
from live.store.store import Store

log = logging.getLogger(__name__)

READ_CHUNK_BYTES = 65_536
CLOCK_REFRESH_S = 1.0
MAX_CONNECTIONS = 100  # per port: a mat's reader reconnects, it does not open hundreds
CANCEL_RETRY_S = 0.5  # a connection still running this long after its cancel is cancelled again
FINISH_WAIT_S = 10.0  # how long close() waits for work its cancelled connections left (Redis may be away)

T = TypeVar("T")


class ReaderPortError(OSError):
    """A reader port that cannot be opened: which protocol, address and port, and why."""


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
        self._resetting: dict[asyncio.Task[None], str] = {}  # connections closed on purpose, and why
        self._finishing: set[asyncio.Future[Any]] = set()  # see finish()
        self.idle_s = race.readers.idle_timeout_s  # a connection silent this long is closed

    async def start(self) -> None:
        """Listen; the bound port is in :attr:`port` (useful with port 0)."""
        try:
            self._server = await asyncio.start_server(self._serve, self.host, self.port)
        except OSError as exc:  # in use, or an address this machine does not have: the operator must act
            why = os.strerror(exc.errno).lower() if exc.errno else str(exc)
            raise ReaderPortError(f"cannot listen for {self.protocol} on {self.host}:{self.port}: {why}") from exc
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("%s server listening on %s:%d", self.protocol, self.host, self.port)

    async def close(self) -> None:
        """Stop listening and end every open connection.

        Each connection is cancelled until it has ended: on Python 3.11 ``asyncio.wait_for`` (the read
        with a timeout every handler waits in) can swallow a cancellation that arrives as its read
        completes, and the handler would read on until the reader hangs up (seen under load: a test
        waiting on the close while its reader waited on the test)."""
        if self._server is not None:
            self._server.close()
            pending = set(self._handlers)
            while pending:
                for task in pending:
                    task.cancel()
                _, pending = await asyncio.wait(pending, timeout=CANCEL_RETRY_S)
            if self._finishing:
                await asyncio.wait(set(self._finishing), timeout=FINISH_WAIT_S)
            await self._server.wait_closed()

    async def finish(self, work: Awaitable[T]) -> T:
        """Await ``work`` to its end even if the connection is cancelled meanwhile: a batch being
        journaled and applied, a mat's connection count going down. :meth:`close` waits for it, and a
        failure nobody is left to hear is logged."""
        task = asyncio.ensure_future(work)
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            task.add_done_callback(self._log_orphan)
            raise

    def _log_orphan(self, task: asyncio.Future[Any]) -> None:
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.warning("%s: work left by a closed connection failed: %r", self.protocol, exc)

    async def disconnected(self, mats: Iterable[str]) -> None:
        """A connection that spoke for ``mats`` has ended (cancelled or not, every mat is counted down)."""
        await self.finish(self._count_down(list(mats)))

    async def _count_down(self, mats: list[str]) -> None:
        for mat in mats:
            await self.store.set_connected(mat, -1)

    def reset_connections(self, why: str) -> int:
        """Close every reader connection (a Redis failover: each reader reconnects and is asked to resume
        after what the new master holds); returns how many."""
        for task in self._handlers:
            self._resetting[task] = why
            task.cancel()
        return len(self._handlers)

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
        refused = None
        if not self.race.readers.allows_any(host):
            refused = "the address is in no [readers.allow] list"
        elif len(self._handlers) > MAX_CONNECTIONS:
            refused = f"{MAX_CONNECTIONS} connections are open on this port already"
        if refused:
            log.warning("%s connection from %s refused: %s", self.protocol, peer, refused)
            reason = f"{self.protocol} connection from {peer} refused: {refused}"
            await self.store.count_error(None, reason, (host, f"{self.protocol} at {peer}"))
            self._handlers.discard(task)
            writer.close()
            return
        log.info("%s connection from %s", self.protocol, peer)
        try:
            await self.handle(reader, writer, peer)
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            log.warning("%s connection from %s dropped: %s", self.protocol, peer, exc)
        except TimeoutError:
            log.warning("%s connection from %s closed: silent for %.0f s", self.protocol, peer, self.idle_s)
        except asyncio.CancelledError:
            if task in self._resetting:
                log.warning("%s connection from %s closed: %s", self.protocol, peer, self._resetting[task])
            else:
                log.info("%s connection from %s closed: the server shuts down", self.protocol, peer)
        except Exception as exc:  # Redis away or failing over: the reader reconnects and resumes from what it holds
            log.warning("%s connection from %s closed: %r; the reader reconnects and resumes", self.protocol, peer, exc)
        finally:
            self._resetting.pop(task, None)
            self._handlers.discard(task)
            writer.close()

    @abstractmethod
    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str) -> None:
        """Serve one reader connection: framing, handshake, journal, apply, acks."""

    def refusal(self, mat: str, peer: str) -> str | None:
        """Why the reader at ``peer`` (``host:port``) may not speak for ``mat``; None if it may."""
        host = peer.rsplit(":", 1)[0]
        if self.race.readers.allows(mat, host):
            return None
        return f"source {host} may not speak for mat {mat!r} (not in [readers.allow])"

    async def fire_gun(self, who: str, peer: str, mat: str, raw: bytes, t: float) -> None:
        """A gun marker from the wire: start the next pen if ``live/race/guns.py`` lets this one."""
        target = await self.store.gun_store(t, mat)  # of an event's races, the one with a start to fire
        started = await target.guns()
        if (why := gun_problem(target.race, mat, t, started)) is not None:
            await self.reject(who, mat, raw, f"gun refused: {why}", peer)
            if why == second_gun(target.race, t, started):  # held, not refused: race control may confirm it
                await self._announce_held(target, who, mat, t, started)
            return
        result = await target.record_gun(t)
        log.info("gun marker from %s at %s (%.2f): %s", who, mat, t, result or "duplicate, ignored")

    async def _announce_held(self, store: Store, who: str, mat: str, t: float, started: dict[str, float]) -> None:
        """A second gun for the last start, held: an alert race control can act on (once per gun)."""
        target = next_start(store.race, started)
        assert target is not None
        last = max(started, key=started.__getitem__)
        at = datetime.fromtimestamp(t, store.race.timezone)
        clock = f"{at:%H:%M:%S}.{at.microsecond // 10_000:02d}"
        would, route = target[0], start_route(target[0])
        text = (
            f"ALERT: a gun from {who} at {mat}, {clock}, {t - started[last]:+.0f} s from {last}'s start, is held "
            f"as a second gun for {last}: {would} is not started. If it was {would}'s gun, start {would} at "
            f"{clock} (POST {route}); if {last} was recalled, re-time {last}."
        )
        iso = at.isoformat(timespec="milliseconds")
        data = {
            "level": "alert",
            "mat": mat,
            "reader": who,
            "gun_at": t,
            "gun_iso": iso,
            "would_start": would,
            "second_for": last,
            "confirm": route,
        }
        await store.emit_once(f"gun_held:{t:.2f}", "gun_held", t, text, data)

    async def reject(self, who: str, mat: str | None, raw: bytes, reason: str, peer: str = "") -> None:
        """Log and count a line or record that cannot be used, against its mat and the sending
        address (``peer``, ``host:port``); the connection carries on."""
        log.warning("%s: rejected %r: %s", who, raw[:120], reason)
        source = (peer.rsplit(":", 1)[0], who) if peer else None
        await self.store.count_error(mat, f"{reason}: {raw[:120]!r}", source)
