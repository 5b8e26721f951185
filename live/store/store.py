"""The Redis store of a race: journal, passings, guns, clock and mat health.

Applying a read is one Lua script with every key passed explicitly (Redis Cluster safe with the
race's hash tag). A burst of reads of one chip at one mat collapses onto its earliest read, and
repeated, resent or out-of-order reads end in the same passings as one clean in-order delivery.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import (
    BusyLoadingError,
    MasterDownError,
    OutOfMemoryError,
    ReadOnlyError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from live.clock import RaceClock
from live.race.race import Race
from live.reads import RawRead
from live.store.keys import RaceKeys

log = logging.getLogger(__name__)


# Redis away or not taking writes: down, restarting, failing over (a demoted master), at maxmemory.
# What a caller may wait out or answer 503 for; any other Redis error is a bug and is raised as one.
REDIS_UNAVAILABLE: tuple[type[Exception], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    BusyLoadingError,
    ReadOnlyError,
    MasterDownError,
    OutOfMemoryError,
)


def _lua(name: str) -> str:
    """A Lua script of the store, shipped as package data in ``live/store/lua/``."""
    return (resources.files("live.store") / "lua" / f"{name}.lua").read_text(encoding="utf-8")


BURST_WINDOW_S = 30.0  # reads of one chip at one mat closer than this are one crossing
MAX_ERROR_SOURCES = 256  # source addresses whose refused input is counted apart, per process
# Journal entries kept (XADD MAXLEN ~): an entry is a batch of lines, so a 40,000-runner race's
# ~600,000 reads take far fewer; rebuild needs every entry since the race began, so the cap is there
# only against a flood, and the journal_full alert fires at 80 % of it (docs/OPERATIONS.md).
JOURNAL_MAXLEN = 5_000_000
REPLICA_WAIT_MS = 1_000  # how long a MYLAPS ack or a JSON answer waits for a replica (else the reader resends)

_CROSSING_TIME = re.compile(r"\d+(?:\.\d+)?")  # the time a crossing list starts with ("…250r-61b")

# each script's KEYS and ARGV are described at the top of its file
_APPLY_READS = _lua("apply_reads")  # a batch of reads of several mats: bursts, crossings, passings
_RECORD_GUN = _lua("record_gun")  # a gun marker from the wire starts the next pen, then the pursuer
_MAX_SEQ = _lua("max_seq")  # the highest sequence number per reader location
_VOID_CROSSING = _lua("void_crossing")  # race control removes a crossing
_ASSIGN_CHIP = _lua("assign_chip")  # race control gives a chip to a bib, back-filling its passings
_NEWER_GPS = _lua("newer_gps")  # the pursuer's GPS fix, never older than the one held
_EMIT_ONCE = _lua("emit_once")  # an event appended once, whichever process detects it first


def attached(store: Store | None) -> Store:
    """The store of an engine that runs against Redis; an engine computed by hand (``pursuit evaluate``)
    has none, and whatever needs Redis cannot run on it."""
    if store is None:
        raise RuntimeError("this live engine has no store: it is computed by hand, not run against Redis")
    return store


@dataclass(frozen=True)
class PassingRecord:
    """A passing as the store holds it: runner ``bib`` at timing point ``tp`` at ``time``."""

    id: str
    bib: str
    tp: int
    time: float


class Store:
    """Async access to one race's state in Redis."""

    def __init__(self, redis: aioredis.Redis, race: Race) -> None:
        self.redis = redis
        self.race = race
        self.keys = RaceKeys(race.id)
        self._error_sources: set[str] = set()
        self.journal_maxlen = JOURNAL_MAXLEN  # entries the journal stream keeps (a test may lower it)
        self.wait_replicas = 0  # replicas a write must reach before a reader is told it is kept (Sentinel: 1)
        self._gun = redis.register_script(_RECORD_GUN)
        self._emit_once = redis.register_script(_EMIT_ONCE)
        self._void = redis.register_script(_VOID_CROSSING)
        self._assign = redis.register_script(_ASSIGN_CHIP)
        self._gps = redis.register_script(_NEWER_GPS)
        self._tps_of_mat = {m.id: ",".join(str(tp.index) for tp in race.timing_points_of(m.id)) for m in race.mats}
        self._main_of = {m.id: race.main_mat(m.id) for m in race.mats}
        self._peak_mats = {m.id for m in race.mats if m.pick == "peak_rssi"}
        # what _APPLY_READS needs of a mat: main mat, timing points, backup?, peak RSSI?
        self._spec_of_mat = {
            m.id: (self._main_of[m.id], self._tps_of_mat[m.id], self._main_of[m.id] != m.id,
                   self._main_of[m.id] in self._peak_mats)
            for m in race.mats
        }  # fmt: skip

    async def replicated(self, mat: str | None) -> bool:
        """Whether everything this process wrote so far is on ``wait_replicas`` replicas (True if none
        is asked for). ``WAIT`` counts a connection's own writes: a write on the same connection, issued
        after the others completed, stands for them all (replication keeps the order). The write counts
        on ``mat``'s health (the ingest totals for a reader of no mat, the pursuer's GPS)."""
        if self.wait_replicas <= 0:
            return True
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hincrby(self.keys.mat(mat) if mat else self.keys.ingest, "replicated", 1)
            pipe.wait(self.wait_replicas, REPLICA_WAIT_MS)
            _, acked = await pipe.execute()
        return int(acked) >= self.wait_replicas

    async def setup(self) -> None:
        """Write the chip → bib map of the race (idempotent)."""
        chips = self.race.chip_map()
        if chips:
            await self.redis.hset(self.keys.chips, mapping=chips)

    async def reset(self) -> int:
        """Delete every key of this race (a fresh demo or test); returns how many were removed."""
        removed = 0
        async for key in self.redis.scan_iter(
            match=f"{self.keys.prefix.replace('{', '[{]').replace('}', '[}]')}:*", count=1000
        ):
            removed += await self.redis.unlink(key)
        return removed

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
        """
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xadd(
                self.keys.journal,
                _journal_entry(proto, reader, wall_s, lines),
                maxlen=self.journal_maxlen,
                approximate=True,
            )
            applied = self._queue_apply(pipe, reads, wall_s)
            if last_seq:
                self._queue_sequences(pipe, last_seq, seq_gaps or {})
            results = await pipe.execute()
        return sum(int(x) for x in results[1 : 1 + applied])

    def _queue_apply(self, pipe: Any, reads: Iterable[RawRead], wall_s: float) -> int:
        """Queue one ``_APPLY_READS`` call for ``reads`` on ``pipe``; returns 1, or 0 if there are none.

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
        pipe.eval(_APPLY_READS, 4 + len(number), k.chips, k.crossings, k.passings, k.unknown_chips,
                  *[k.mat(mat) for mat in number], BURST_WINDOW_S, repr(float(wall_s)), orjson.dumps(mats),
                  orjson.dumps(flat))  # fmt: skip
        return 1

    async def gun_store(self, time_s: float) -> Store:
        """The store of the race a gun marker from the wire at ``time_s`` is for: this one (an event's
        store chooses among its races)."""
        return self

    async def record_gun(self, time_s: float) -> str | None:
        """A gun marker from the wire: start the next pen without a gun, then the pursuer."""
        targets = [f"pen:{p.id}" for p in self.race.pens] + ["pursuer"]
        result = await self._gun(keys=[self.keys.guns], args=[repr(float(time_s)), 5.0, *targets])
        if not result:
            return None
        return result.decode() if isinstance(result, bytes) else str(result)

    async def void_passing(self, bib: str, mat: str, time_s: float, tolerance_s: float = 1.0) -> bool:
        """Remove the passing of ``bib`` at ``mat`` nearest ``time_s``; later crossings move up."""
        result = await self._void(
            keys=[self.keys.crossings, self.keys.passings],
            args=[bib, self._main_of[mat], repr(float(time_s)), tolerance_s, self._tps_of_mat[mat]],
        )
        return bool(result)

    async def assign_chip(self, chip: str, bib: str) -> int:
        """Give ``chip`` to ``bib`` and back-fill the passings read of it so far; returns mats moved."""
        pairs = [x for m in self.race.mats if not m.backup_of for x in (m.id, self._tps_of_mat[m.id])]
        keys = [self.keys.chips, self.keys.crossings, self.keys.passings, self.keys.unknown_chips]
        return int(await self._assign(keys=keys, args=[chip, bib, BURST_WINDOW_S, *pairs]))

    async def set_pursuer_gps(self, lat: float, lon: float, time_s: float) -> bool:
        """Keep the pursuer's GPS fix if it is newer than the one held; True if kept."""
        kept = await self._gps(keys=[self.keys.pursuer_gps], args=[repr(lat), repr(lon), repr(float(time_s))])
        return bool(kept)

    async def pursuer_gps(self) -> tuple[float, float, float] | None:
        raw = await self.redis.hmget(self.keys.pursuer_gps, ["lat", "lon", "t"])
        if any(v is None for v in raw):
            return None
        return float(raw[0]), float(raw[1]), float(raw[2])

    async def set_manual_status(self, bib: str, status: str | None) -> None:
        """``dnf`` or ``dq`` for a runner; None clears it."""
        if status is None:
            await self.redis.hdel(self.keys.manual_status, bib)
        else:
            await self.redis.hset(self.keys.manual_status, bib, status)

    async def manual_statuses(self) -> dict[str, str]:
        raw = await self.redis.hgetall(self.keys.manual_status)
        return {k.decode(): v.decode() for k, v in raw.items()}

    async def log_admin(self, action: str, args: dict[str, object], operator: str = "") -> str:
        """Journal an admin action (who, what, arguments) before it is applied; returns its id."""
        entry = {"action": action, "args": orjson.dumps(args).decode(), "operator": operator, "wall": repr(time.time())}
        entry_id = await self.redis.xadd(self.keys.admin_log, entry)
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    async def set_admin_result(self, entry_id: str, result: dict[str, object]) -> None:
        """Record what a journaled admin action ended in (its HTTP status and answer)."""
        await self.redis.hset(self.keys.admin_results, entry_id, orjson.dumps(result))

    async def admin_log(self, count: int = 100, before: str | None = None) -> list[dict[str, Any]]:
        """Admin actions, newest first (before ``before`` if given): ``id``, ``wall``, ``operator``,
        ``action``, ``args`` and ``result`` (None while unknown: the process stopped before it)."""
        high = f"({before}" if before else "+"
        raw = await self.redis.xrevrange(self.keys.admin_log, max=high, min="-", count=count)
        if not raw:
            return []
        results = await self.redis.hmget(self.keys.admin_results, [entry_id for entry_id, _ in raw])
        out = []
        for (entry_id, f), result in zip(raw, results, strict=True):
            out.append(
                {
                    "id": entry_id.decode(),
                    "wall": float(f.get(b"wall", b"0") or 0),
                    "operator": f.get(b"operator", b"").decode(),
                    "action": f[b"action"].decode(),
                    "args": orjson.loads(f[b"args"]),
                    "result": orjson.loads(result) if result is not None else None,
                }
            )
        return out

    async def claim_idempotency(self, key: str) -> bytes | None:
        """Claim an ``Idempotency-Key``: None if this request is the first with it, else what is held
        (``pending`` while the first is being applied, then its answer)."""
        if await self.redis.hsetnx(self.keys.admin_idempotency, key, "pending"):
            return None
        held = await self.redis.hget(self.keys.admin_idempotency, key)
        return held if held is not None else b"pending"

    async def settle_idempotency(self, key: str, answer: bytes | None) -> None:
        """Keep the answer of the request that claimed ``key`` (None: it failed, release the key)."""
        if answer is None:
            await self.redis.hdel(self.keys.admin_idempotency, key)
        else:
            await self.redis.hset(self.keys.admin_idempotency, key, answer)

    async def ack_alert(self, event_id: str, by: str, at: float) -> dict[str, Any]:
        """Acknowledge an alert for every screen, once: the first acknowledgement stays; returns it."""
        mine = orjson.dumps({"by": by, "at": at})
        if await self.redis.hsetnx(self.keys.acks, event_id, mine):
            return {"by": by, "at": at}
        held = await self.redis.hget(self.keys.acks, event_id)
        return orjson.loads(held) if held is not None else {"by": by, "at": at}

    async def acks(self) -> dict[str, dict[str, Any]]:
        """Every acknowledged alert: event id → ``by``, ``at``."""
        return {k.decode(): orjson.loads(v) for k, v in (await self.redis.hgetall(self.keys.acks)).items()}

    async def event(self, event_id: str) -> dict[str, object] | None:
        """One event of the events stream by its id, None if there is none."""
        raw = await self.redis.xrange(self.keys.events, min=event_id, max=event_id, count=1)
        if not raw:
            return None
        entry_id, f = raw[0]
        return {"id": entry_id.decode(), "kind": f[b"kind"].decode(), "time": float(f[b"time"]),
                "text": f[b"text"].decode(), **orjson.loads(f[b"data"])}  # fmt: skip

    async def chip_bib(self, chip: str) -> str | None:
        """The bib a chip is assigned to now (the race file's, or race control's), None if none."""
        bib = await self.redis.hget(self.keys.chips, chip)
        return bib.decode() if bib is not None else None

    async def unknown_chip_reads(self, limit: int) -> list[dict[str, Any]]:
        """The ``limit`` unknown chips read most: ``chip``, ``reads``, and per mat that read it the
        crossing times (``mats``: mat → first crossing, unix seconds)."""
        counts = sorted((await self.unknown_chips()).items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        mains = [m.id for m in self.race.mats if not m.backup_of]
        if not counts:
            return []
        fields = [f"chip:{chip}|{mat}" for chip, _ in counts for mat in mains]
        values = await self.redis.hmget(self.keys.crossings, fields)
        out = []
        for i, (chip, reads) in enumerate(counts):
            mats: dict[str, float] = {}
            for j, mat in enumerate(mains):
                v = values[i * len(mains) + j]
                if v is not None:
                    first = _CROSSING_TIME.match(v.decode())
                    if first:
                        mats[mat] = float(first.group())
            out.append({"chip": chip, "reads": reads, "mats": mats})
        return out

    async def clear_gun(self, target: str) -> bool:
        """Remove a gun set by mistake (``pen:<id>`` or ``pursuer``); True if there was one."""
        return bool(await self.redis.hdel(self.keys.guns, target))

    async def set_gun(self, target: str, time_s: float) -> None:
        """Set a gun time explicitly (race control, or the race file's plan)."""
        await self.redis.hset(self.keys.guns, target, f"{time_s:.3f}")

    async def guns(self) -> dict[str, float]:
        raw = await self.redis.hgetall(self.keys.guns)
        return {k.decode(): float(v) for k, v in raw.items()}

    async def set_clock(self, clock: RaceClock) -> None:
        await self.redis.hset(self.keys.clock, mapping=clock.as_fields())

    async def clock(self) -> RaceClock:
        """The race clock; real time when none is set."""
        raw = await self.redis.hgetall(self.keys.clock)
        return RaceClock.from_fields(raw) if raw else RaceClock.real_time()

    async def passings_after(self, after_id: str = "0-0", count: int = 50_000) -> list[PassingRecord]:
        """Passings appended to the stream after ``after_id``, oldest first."""
        raw = await self.redis.xrange(self.keys.passings, min=f"({after_id}" if after_id != "0-0" else "-", count=count)
        out = []
        for entry_id, fields in raw:
            out.append(
                PassingRecord(
                    id=entry_id.decode(),
                    bib=fields[b"bib"].decode(),
                    tp=int(fields[b"tp"]),
                    time=float(fields[b"t"]),
                )
            )
        return out

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
            pipe.eval(_MAX_SEQ, 1, self.keys.reader_seq, *[x for kv in last.items() for x in kv])
        for mat, n in gaps.items():
            if mat and n:
                pipe.hincrby(self.keys.mat(mat), "seq_gaps", n)

    async def append_event(self, kind: str, time_s: float, text: str, data: dict[str, object]) -> str:
        """Append a commentary/alert event to the durable events stream; returns its id."""
        entry_id = await self.redis.xadd(
            self.keys.events,
            {
                "kind": kind,
                "time": repr(float(time_s)),
                "text": text,
                "data": orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY).decode(),
            },
        )
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    async def emit_once(self, key: str, kind: str, time_s: float, text: str, data: dict[str, object]) -> str | None:
        """Append an event unless one with the same dedupe ``key`` was emitted (by any process)."""
        return (await self.emit_many([(key, kind, time_s, text, data)]))[0]

    async def emit_many(self, events: Sequence[tuple[str, str, float, str, dict[str, object]]]) -> list[str | None]:
        """``emit_once`` for many events (key, kind, time, text, data) in one round trip, in order; the
        id of each appended event, None where its key was emitted before. A tick with a pack caught
        makes hundreds of events: one round trip each held the tick up."""
        if not events:
            return []
        keys = [self.keys.event_keys, self.keys.events]
        async with self.redis.pipeline(transaction=False) as pipe:
            for key, kind, time_s, text, data in events:
                payload = orjson.dumps({**data, "key": key}, option=orjson.OPT_SERIALIZE_NUMPY).decode()
                await self._emit_once(keys=keys, args=[key, kind, repr(float(time_s)), text, payload], client=pipe)
            results = await pipe.execute()
        return [None if not r else r.decode() if isinstance(r, bytes) else str(r) for r in results]

    async def events_after(self, after_id: str = "0-0", count: int = 500) -> list[dict[str, object]]:
        """Events after ``after_id`` (exclusive), oldest first, as dicts with ``id``."""
        low = "-" if after_id in ("0", "0-0", "") else f"({after_id}"
        raw = await self.redis.xrange(self.keys.events, min=low, count=count)
        out = []
        for entry_id, f in raw:
            out.append(
                {
                    "id": entry_id.decode(),
                    "kind": f[b"kind"].decode(),
                    "time": float(f[b"time"]),
                    "text": f[b"text"].decode(),
                    **orjson.loads(f[b"data"]),
                }
            )
        return out

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

    async def mat_health(self) -> dict[str, dict[str, str]]:
        """Raw health counters of every mat of the race."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for m in self.race.mats:
                pipe.hgetall(self.keys.mat(m.id))
            rows = await pipe.execute()
        return {
            m.id: {k.decode(): v.decode() for k, v in row.items()} for m, row in zip(self.race.mats, rows, strict=True)
        }

    async def unknown_chips(self) -> dict[str, int]:
        raw = await self.redis.hgetall(self.keys.unknown_chips)
        return {k.decode(): int(v) for k, v in raw.items()}


def _journal_entry(proto: str, reader: str, wall_s: float, lines: Sequence[str], mat: str = "") -> dict[str, str]:
    """A journal stream entry: a batch of raw lines from one reader, newline-joined."""
    entry = {"proto": proto, "reader": reader, "wall": repr(float(wall_s)), "lines": "\n".join(lines),
             "n": str(len(lines))}  # fmt: skip
    if mat:
        entry["mat"] = mat
    return entry
