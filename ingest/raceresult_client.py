"""RACE RESULT decoders: we connect to each decoder (it is the server, TCP 3601) and pull.

Per session: ``SETPROTOCOL;2.0``, ask for pushed passings (``SETPUSHPASSINGS;1;0``), then every
second ``PASSINGS`` for the count and ``<from>:<count>`` for what is new (the answer ends with an
empty line); pushed ``#P;`` lines are taken whenever they arrive. The last passing number applied
is kept in Redis, so a reconnect (or a restarted ingestor) resumes after it; a count that goes
down means the decoder started a new passing file, which is read from its first passing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from ingest.protocols import raceresult as rr
from ingest.unknown import UnknownChips
from live.clock import time_problem
from live.race.race import Race, RaceResultDecoder
from live.reads import RawRead
from live.store.store import Store

log = logging.getLogger(__name__)

POLL_S = 1.0
FETCH_MAX = 500
ANSWER_TIMEOUT_S = 10.0


class RaceResultClient:
    """Pulls one decoder's passings into the race, reconnecting with back-off."""

    def __init__(self, race: Race, store: Store, decoder: RaceResultDecoder, poll_s: float = POLL_S) -> None:
        self.race = race
        self.store = store
        self.decoder = decoder
        self.poll_s = poll_s
        self.key = f"raceresult:{decoder.mat}"
        self.who = f"RACE RESULT decoder {decoder.host}:{decoder.port} ({decoder.mat})"
        self.sessions = 0
        self.unknown = UnknownChips(race)

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.2
        while not stop.is_set():
            try:
                reader, writer = await asyncio.open_connection(self.decoder.host, self.decoder.port)
            except OSError as exc:
                log.warning("%s: cannot connect (%s); retrying in %.1f s", self.who, exc, backoff)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.2
            self.sessions += 1
            connected = False
            try:
                await self.store.set_connected(self.decoder.mat, +1)
                connected = True
                await self._session(reader, writer, stop)
            except (ConnectionError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
                # ValueError: a line over the stream limit (64 KiB) from a confused decoder
                log.warning("%s: connection lost (%s); reconnecting", self.who, exc)
            except Exception as exc:  # Redis away or failing over: pull again from the passing number it holds
                log.warning("%s: %r; reconnecting, from the passing number Redis holds", self.who, exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.5)
            finally:
                writer.close()
                if connected:
                    with contextlib.suppress(Exception):
                        await self.store.set_connected(self.decoder.mat, -1)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stop: asyncio.Event) -> None:
        pushed: list[bytes] = []

        async def send(command: str) -> None:
            writer.write(f"{command}\r\n".encode())
            await writer.drain()

        async def answer(empty_ends: bool = False) -> bytes:
            """The next answer line; pushed passings are kept aside, blank lines skipped unless they end a fetch."""
            while True:
                line = await asyncio.wait_for(reader.readline(), ANSWER_TIMEOUT_S)
                if not line:
                    raise ConnectionError("decoder closed the connection")
                if line.startswith(b"#P;"):
                    pushed.append(line)
                    continue
                if line.strip() or empty_ends:
                    return line

        await send("SETPROTOCOL;2.0")
        await answer()
        await send("SETPUSHPASSINGS;1;0")
        await answer()
        await self._measure_clock(send, answer)
        while not stop.is_set():
            last = (await self.store.last_sequences([self.key])).get(self.key, 0)
            await send("PASSINGS")
            count = rr.parse_count(await answer())
            if count is None:
                raise ConnectionError("decoder did not answer PASSINGS")
            if count < last:
                log.warning(
                    "%s: passing count went down (%d < %d): a new passing file; reading it from 1",
                    self.who,
                    count,
                    last,
                )
                await self.store.set_sequence(self.key, 0)
                last = 0
            lines = list(pushed)
            pushed.clear()
            if count > last:
                await send(f"{last + 1}:{min(count - last, FETCH_MAX)}")
                # the answer ends with an empty line; a line of blanks is a (bad) passing, not the end
                while (line := await answer(empty_ends=True)).strip(b"\r\n"):
                    lines.append(line)
            if lines:
                await self._apply(lines, count)
            if count <= last + FETCH_MAX:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.poll_s)

    async def _measure_clock(self, send, answer) -> None:  # type: ignore[no-untyped-def]
        """``GETTIME`` against the race clock: the decoder's offset, half the round trip corrected."""
        sent = time.time()
        await send("GETTIME")
        reply = (await answer()).decode("ascii", "replace").strip().split(";")
        got = time.time()
        if len(reply) < 3 or reply[0] != "GETTIME":
            return
        p = rr.parse_passing(f"0;X;{reply[1]};{reply[2]}".encode())
        if isinstance(p, rr.RRParseError):
            log.warning("%s: GETTIME answer %r: %s", self.who, reply, p.reason)
            return
        clock = await self.store.clock()
        ours = clock.at_wall((sent + got) / 2)
        theirs = p.time.resolve(self.race.timezone, ours)
        if (why := time_problem(theirs, ours, self.race.readers.time_window_s)) is not None:
            log.warning("%s: GETTIME answer %r: %s", self.who, reply, why)
            return
        offset = theirs - ours
        await self.store.set_clock_offset(self.decoder.mat, offset, got - sent)
        log.info("%s: clock offset %+.3f s", self.who, offset)

    async def _apply(self, lines: list[bytes], count: int) -> None:
        """Journal and apply passings; resume after the highest number among them, at most the
        decoder's own ``count`` (a pushed line numbered beyond it must not make us skip real ones)."""
        wall = time.time()
        await self.store.journal_lines(
            "raceresult", self.who, wall, [ln.decode("latin-1").strip() for ln in lines], mat=self.decoder.mat
        )
        now = (await self.store.clock()).at_wall(wall)
        reads, highest = [], 0
        for line in lines:
            p = rr.parse_passing(line)
            if isinstance(p, rr.RRPassing):
                t = p.time.resolve(self.race.timezone, now)
                why = time_problem(t, now, self.race.readers.time_window_s) or self.unknown.refusal(p.code)
                if why is None:
                    reads.append(RawRead(self.decoder.mat, p.code, t, p.rssi))
                else:
                    p = rr.RRParseError(why, line, p.number)
            if isinstance(p, rr.RRParseError):
                log.warning("%s: rejected %r: %s", self.who, line[:120], p.reason)
                await self.store.count_error(
                    self.decoder.mat, f"{p.reason}: {line[:120]!r}", (self.decoder.host, self.who)
                )
            # a poison passing is skipped for good: resume after it, not into it again
            highest = max(highest, p.number or 0)
        if reads:
            await self.store.apply_reads(reads, wall)
        highest = min(highest, count)
        if highest:
            await self.store.record_sequences({self.key: highest}, {})
