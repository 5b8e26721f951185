"""The readers' writes: the journal, reads applied as passings, sequence numbers, refused input."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from live.reads import RawRead
from live.store.base import (
    APPLY_READS,
    BURST_WINDOW_S,
    MAX_ERROR_SOURCES,
    MAX_SEQ,
    StoreBase,
)
from live.store.connection import is_cluster


class IngestStore(StoreBase):
    """What the ingestor writes: raw lines journaled first, reads applied, readers' sequences and errors."""

    async def journal(self, entries: Sequence[dict[str, str]]) -> list[str]:
        """Append raw lines to the journal stream; returns their stream ids."""
        if not entries:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for entry in entries:
                pipe.xadd(self.keys.journal, entry, maxlen=self.journal_maxlen, approximate=True)
            ids = await pipe.execute()
        return [i.decode() if isinstance(i, bytes) else i for i in ids]

    async def journal_lines(
        self, proto: str, reader: str, wall_s: float, lines: Sequence[str], mat: str = "", near_s: float | None = None
    ) -> str:
        """Append a batch of raw lines from one reader as one journal entry (``lines``, newline-joined);
        ``near_s``: the instant times of day in them were resolved near (replayed files, which have no wall time)."""
        entry = _journal_entry(proto, reader, wall_s, lines, mat)
        if near_s is not None:
            entry["near"] = repr(float(near_s))
        entry_id = await self.redis.xadd(self.keys.journal, entry, maxlen=self.journal_maxlen, approximate=True)
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    async def apply_reads(self, reads: Iterable[RawRead], wall_s: float) -> int:
        """Apply raw reads: one Lua call per mat, all in one round trip; returns passings set or re-timed.

        Reads are applied in the order given within each mat; the result does not depend on it.
        """
        async with self.redis.pipeline(transaction=False) as pipe:
            if not self._queue_apply(pipe, reads, wall_s):
                return 0
            results = await pipe.execute()
        return sum(int(x) for x in results)

    async def journal_and_apply(
        self,
        proto: str,
        reader: str,
        wall_s: float,
        lines: Sequence[str],
        reads: Iterable[RawRead],
        last_seq: dict[str, int] | None = None,
        seq_gaps: dict[str, int] | None = None,
    ) -> int:
        """Journal a batch of raw lines, apply its reads and record the readers' sequence numbers, in one
        round trip; returns passings set or re-timed.

        The journal entry is the first command of the pipeline, so Redis holds every line before any
        read of it counts (as :meth:`journal_lines` then :meth:`apply_reads` then
        :meth:`record_sequences`, without waiting on each).

        In a Redis Cluster an event's reads may go to other races' masters than the journal's, and a
        pipeline over several masters is sent to each at once: one may fail (fail over) while another
        takes its part. The sequence numbers (what a reader resumes after) are then written in a
        second round trip, once every master holds the journal entry and the reads, so a crash
        between the two loses nothing: the reader sends the lines again, and the journal and the
        reads take them again without changing a passing (reads are idempotent).
        """
        later = is_cluster(self.redis)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xadd(
                self.keys.journal,
                _journal_entry(proto, reader, wall_s, lines),
                maxlen=self.journal_maxlen,
                approximate=True,
            )
            applied = self._queue_apply(pipe, reads, wall_s)
            if last_seq and not later:
                self._queue_sequences(pipe, last_seq, seq_gaps or {})
            results = await pipe.execute()
        if last_seq and later:
            await self.record_sequences(last_seq, seq_gaps or {})
        return sum(int(x) for x in results[1 : 1 + applied])

    def _queue_apply(self, pipe: Any, reads: Iterable[RawRead], wall_s: float) -> int:
        """Queue one ``APPLY_READS`` call for ``reads`` on ``pipe``; returns 1, or 0 if there are none.

        ``EVAL`` with the script's text rather than ``EVALSHA``: redis-py checks a pipeline's registered
        scripts with an extra ``SCRIPT EXISTS`` round trip, and Redis caches the script by its hash anyway.
        """
        number: dict[str, int] = {}
        flat: list[object] = []
        for r in reads:
            m = number.get(r.mat)
            if m is None:
                m = number[r.mat] = len(number) + 1
            flat += (m, r.chip, float(r.time), None if r.rssi is None else float(r.rssi))
        if not flat:
            return 0
        k = self.keys
        mats = [self._spec_of_mat[mat] for mat in number]
        pipe.eval(
            APPLY_READS,
            4 + len(number),
            k.chips,
            k.crossings,
            k.passings,
            k.unknown_chips,
            *[k.mat(mat) for mat in number],
            BURST_WINDOW_S,
            repr(float(wall_s)),
            orjson.dumps(mats),
            orjson.dumps(flat),
        )
        return 1

    async def last_sequences(self, locations: list[str]) -> dict[str, int]:
        """The highest sequence number journaled per reader location (for resume)."""
        values = await self.redis.hmget(self.keys.reader_seq, locations)
        return {loc: int(v) for loc, v in zip(locations, values, strict=True) if v is not None}

    async def set_sequence(self, name: str, value: int) -> None:
        """Set a reader's position outright (a decoder that started a new file starts again at 0)."""
        await self.redis.hset(self.keys.reader_seq, name, value)

    async def record_sequences(self, last: dict[str, int], gaps: dict[str, int]) -> None:
        """Raise the stored highest sequence per location; count skipped numbers on their mats."""
        if not last and not gaps:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            self._queue_sequences(pipe, last, gaps)
            await pipe.execute()

    def _queue_sequences(self, pipe: Any, last: dict[str, int], gaps: dict[str, int]) -> None:
        if last:
            pipe.eval(MAX_SEQ, 1, self.keys.reader_seq, *[x for kv in last.items() for x in kv])
        for mat, n in gaps.items():
            if mat and n:
                pipe.hincrby(self.keys.mat(mat), "seq_gaps", n)

    async def set_pursuer_gps(self, lat: float, lon: float, time_s: float) -> bool:
        """Keep the pursuer's GPS fix if it is newer than the one held; True if kept."""
        kept = await self._gps(keys=[self.keys.pursuer_gps], args=[repr(lat), repr(lon), repr(float(time_s))])
        return bool(kept)

    async def count_error(self, mat: str | None, reason: str, source: tuple[str, str] | None = None) -> None:
        """Count a malformed or rejected line against its mat (or the ingest totals) and, given its
        ``source`` (address, who: reader name and peer), against that address (at most
        ``MAX_ERROR_SOURCES`` addresses per process, so a scan of many addresses cannot grow Redis)."""
        key = self.keys.mat(mat) if mat else self.keys.ingest
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hincrby(key, "errors", 1)
            pipe.hset(key, "last_error", reason[:300])
            if source is not None:
                address, who = source
                if address in self._error_sources or len(self._error_sources) < MAX_ERROR_SOURCES:
                    self._error_sources.add(address)
                    pipe.hincrby(self.keys.readers, f"{address}|errors", 1)
                    fields = {"last_error": reason[:300], "who": who[:200], "at": repr(time.time())}
                    pipe.hset(self.keys.readers, mapping={f"{address}|{k}": v for k, v in fields.items()})
            await pipe.execute()

    async def reader_errors(self) -> dict[str, dict[str, str]]:
        """Refused input per source address: ``errors``, ``last_error``, ``who``, ``at`` (wall seconds)."""
        out: dict[str, dict[str, str]] = {}
        for field_, value in (await self.redis.hgetall(self.keys.readers)).items():
            address, _, name = field_.decode().rpartition("|")
            out.setdefault(address, {})[name] = value.decode()
        return out

    async def set_clock_offset(self, mat: str, offset_s: float, round_trip_s: float | None = None) -> None:
        """A reader's clock minus the race clock, where the protocol lets us measure it, and the round
        trip of that measurement (the offset is right to half of it)."""
        fields = {"clock_offset_s": f"{offset_s:.3f}"}
        if round_trip_s is not None:
            fields["clock_round_trip_s"] = f"{round_trip_s:.4f}"
        await self.redis.hset(self.keys.mat(mat), mapping=fields)

    async def set_connected(self, mat: str, delta: int) -> None:
        await self.redis.hincrby(self.keys.mat(mat), "connected", delta)

    async def journal_entries(self, after: str, count: int) -> list[tuple[bytes, dict[bytes, bytes]]]:
        """The journal entries from the entry id ``after`` on, ``count`` at most, ``after`` itself left out
        (``-``: from the first), in order."""
        entries = list(await self.redis.xrange(self.keys.journal, min=after, count=count))
        return entries[1:] if after != "-" else entries


def _journal_entry(proto: str, reader: str, wall_s: float, lines: Sequence[str], mat: str = "") -> dict[str, str]:
    """A journal stream entry: a batch of raw lines from one reader, newline-joined."""
    entry = {
        "proto": proto,
        "reader": reader,
        "wall": repr(float(wall_s)),
        "lines": "\n".join(lines),
        "n": str(len(lines)),
    }
    if mat:
        entry["mat"] = mat
    return entry
