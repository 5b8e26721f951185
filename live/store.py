"""The Redis store of a race: journal, passings, guns, clock and mat health.

Applying a read is one Lua script with every key passed explicitly (Redis Cluster safe with the
race's hash tag). A burst of reads of one chip at one mat collapses onto its earliest read, and
repeated, resent or out-of-order reads end in the same passings as one clean in-order delivery.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson
import redis.asyncio as aioredis

from live.clock import RaceClock
from live.keys import RaceKeys
from live.race import Race

log = logging.getLogger(__name__)

BURST_WINDOW_S = 30.0  # reads of one chip at one mat closer than this are one crossing

# KEYS: chips, crossings, passings stream, unknown chips, then the health hash of each mat read
# ARGV: burst window, wall time, the mats as JSON [[main mat, timing point indexes (comma list),
# backup mat?, peak-RSSI mat?], …] in KEYS order, the reads as one JSON array [mat number (1-based),
# chip, time, rssi or null, mat number, chip, …].
# One JSON argument instead of three per read: redis-py packed those one by one and that was most of
# the Python time of a batch. Reads apply one after the other in the order given, exactly as if
# each came in its own call; the bibs of the batch's chips and the crossing lists it touches are
# read with a few HMGETs up front, held in Lua while the reads apply, and the changed lists written
# back with one HSET at the end, so a burst of one chip's reads in a batch costs no more Redis
# commands than one read. Only a passing set or re-timed is a command per read (its XADD).
_APPLY_READS = """
local format, find, gmatch, match, sub = string.format, string.find, string.gmatch, string.match, string.sub
local tonumber, abs, min, call = tonumber, math.abs, math.min, redis.call
local window, wall = tonumber(ARGV[1]), ARGV[2]
local mats = cjson.decode(ARGV[3])
for m, spec in ipairs(mats) do
  local tps = {}
  for v in gmatch(spec[2], '[^,]+') do tps[#tps + 1] = v end
  mats[m] = {main = spec[1], tps = tps, backup = spec[3], peak = spec[4], reads = 0, passings = 0, unknown = 0}
end
local flat = cjson.decode(ARGV[4])
local null = cjson.null
local function fetch(key, names, into)
  for i = 1, #names, 1000 do
    local last = min(i + 999, #names)
    local values = call('HMGET', key, unpack(names, i, last))
    for j = i, last do into[names[j]] = values[j - i + 1] end
  end
end
-- the bib of every distinct chip, then every crossing list the reads touch: a few HMGETs a batch
local bibs, chips = {}, {}
for a = 2, #flat, 4 do
  local chip = flat[a]
  if bibs[chip] == nil then
    bibs[chip] = false
    chips[#chips + 1] = chip
  end
end
fetch(KEYS[1], chips, bibs)
local lists, fields, field_of = {}, {}, {}
for a = 1, #flat, 4 do
  local chip = flat[a + 1]
  local field = (bibs[chip] or ('chip:' .. chip)) .. '|' .. mats[flat[a]].main
  field_of[#field_of + 1] = field
  if lists[field] == nil then
    lists[field] = false
    fields[#fields + 1] = field
  end
end
fetch(KEYS[2], fields, lists)
local dirty, dirty_fields, unknown_of, unknown_chips = {}, {}, {}, {}
local emitted, k = 0, 0
for a = 1, #flat, 4 do
  k = k + 1
  local m, chip, t, rssi = mats[flat[a]], flat[a + 1], flat[a + 2], flat[a + 3]
  if rssi == null then rssi = nil end
  local tps, backup, peak = m.tps, m.backup, m.peak
  m.reads = m.reads + 1
  local bib = bibs[chip]
  if not bib then
    if not unknown_of[chip] then
      unknown_of[chip] = 0
      unknown_chips[#unknown_chips + 1] = chip
    end
    unknown_of[chip] = unknown_of[chip] + 1
    m.unknown = m.unknown + 1
  end
  local field = field_of[k]
  local cur = lists[field]
  local nums, changed, inserted, skip = nil, nil, true, false
  if not cur then  -- the first crossing: the shortcut of the general case below
    nums = {format('%.3f', t)}
    changed = 1
    lists[field] = nums[1] .. (rssi and ('r' .. rssi) or '') .. (backup and 'b' or '')
  else
    local times, strengths, fromb
    if find(cur, '^[%d%.]+$') then  -- one crossing, no RSSI, not from a backup: most lists
      times, strengths, fromb = {tonumber(cur)}, {false}, {false}
    else
      times, strengths, fromb = {}, {}, {}
      for v in gmatch(cur, '[^,]+') do
        times[#times + 1] = tonumber(match(v, '^[%d%.]+'))
        strengths[#strengths + 1] = tonumber(match(v, 'r(%-?[%d%.]+)')) or false
        fromb[#fromb + 1] = sub(v, -1) == 'b'
      end
    end
    for i = 1, #times do
      local v = times[i]
      if abs(v - t) <= window then
        if backup then
          skip = true
        elseif fromb[i] then
          fromb[i] = false
        elseif peak and rssi then
          if strengths[i] and rssi <= strengths[i] then skip = true end
        elseif t >= v then
          skip = true
        end
        if not skip then
          times[i] = t
          strengths[i] = rssi or false
        end
        inserted = false
        break
      end
    end
    if not skip then
      if inserted then
        times[#times + 1] = t
        strengths[#strengths + 1] = rssi or false
        fromb[#fromb + 1] = backup
      end
      local order, parts = {}, {}
      for i = 1, #times do order[i] = i end
      if #times > 1 then table.sort(order, function(x, y) return times[x] < times[y] end) end
      nums = {}
      for j, i in ipairs(order) do
        nums[j] = format('%.3f', times[i])
        parts[j] = nums[j] .. (strengths[i] and ('r' .. strengths[i]) or '') .. (fromb[i] and 'b' or '')
        if changed == nil and times[i] == t then changed = j end
      end
      lists[field] = table.concat(parts, ',')
    end
  end
  if not skip then
    if not dirty[field] then
      dirty[field] = true
      dirty_fields[#dirty_fields + 1] = field
    end
    if bib then
      if inserted then m.passings = m.passings + 1 end
      for j = changed, min(#nums, #tps) do
        call('XADD', KEYS[3], '*', 'bib', bib, 'tp', tps[j], 't', nums[j])
        emitted = emitted + 1
      end
    end
  end
end
for i = 1, #dirty_fields, 500 do
  local args = {}
  for j = i, min(i + 499, #dirty_fields) do
    args[#args + 1] = dirty_fields[j]
    args[#args + 1] = lists[dirty_fields[j]]
  end
  call('HSET', KEYS[2], unpack(args))
end
for _, chip in ipairs(unknown_chips) do call('HINCRBY', KEYS[4], chip, unknown_of[chip]) end
for i, m in ipairs(mats) do
  local health = KEYS[4 + i]
  call('HINCRBY', health, 'reads', m.reads)
  if m.passings > 0 then call('HINCRBY', health, 'passings', m.passings) end
  if m.unknown > 0 then call('HINCRBY', health, 'unknown_reads', m.unknown) end
  call('HSET', health, 'last_read_wall', wall)
end
return emitted
"""

# KEYS: guns hash. ARGV: time, duplicate window, then the gun targets in release order.
# A gun marker from the wire starts the next pen that has no gun yet, then the pursuer; a marker
# within the window of a recorded gun is a resend and changes nothing.
_RECORD_GUN = """
local t = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
for i = 3, #ARGV do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if v and math.abs(tonumber(v) - t) <= window then return false end
end
for i = 3, #ARGV do
  if redis.call('HSETNX', KEYS[1], ARGV[i], string.format('%.3f', t)) == 1 then return ARGV[i] end
end
return false
"""


# KEYS: sequence hash. ARGV: location, seq, location, seq, … — keep the highest per location.
_MAX_SEQ = """
for i = 1, #ARGV, 2 do
  local cur = redis.call('HGET', KEYS[1], ARGV[i])
  if not cur or tonumber(cur) < tonumber(ARGV[i + 1]) then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
return 0
"""


# Crossing lists hold "1730369100.250", with "r-61" when the read's RSSI counts (peak-RSSI mats)
# and a final "b" for a crossing only a backup mat saw: "1730369100.250r-61b".
# KEYS: crossings, passings stream. ARGV: who (bib), mat, time to void, tolerance, timing point indexes.
# Removes the crossing nearest the given time and re-emits the mat's timing points ("nan" = none).
_VOID_CROSSING = """
local field = ARGV[1] .. '|' .. ARGV[2]
local cur = redis.call('HGET', KEYS[1], field)
if not cur then return 0 end
local t = tonumber(ARGV[3])
local times, kept, removed = {}, {}, false
for v in string.gmatch(cur, '[^,]+') do table.insert(times, v) end
for _, v in ipairs(times) do
  local n = tonumber(string.match(v, '^[%d%.]+'))
  if not removed and math.abs(n - t) <= tonumber(ARGV[4]) then removed = true
  else table.insert(kept, v) end
end
if not removed then return 0 end
if #kept == 0 then
  redis.call('HDEL', KEYS[1], field)
else
  redis.call('HSET', KEYS[1], field, table.concat(kept, ','))
end
local i = 0
for tp in string.gmatch(ARGV[5], '[^,]+') do
  i = i + 1
  local t_i = kept[i] and string.match(kept[i], '^[%d%.]+') or 'nan'
  redis.call('XADD', KEYS[2], '*', 'bib', ARGV[1], 'tp', tp, 't', t_i)
end
return 1
"""

# KEYS: chips, crossings, passings stream, unknown chips. ARGV: chip, bib, window, then pairs
# (mat, timing point indexes). Moves an unknown chip's crossings onto the bib, merging bursts.
_ASSIGN_CHIP = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HDEL', KEYS[4], ARGV[1])
local window = tonumber(ARGV[3])
local moved = 0
for a = 4, #ARGV, 2 do
  local mat = ARGV[a]
  local from = redis.call('HGET', KEYS[2], 'chip:' .. ARGV[1] .. '|' .. mat)
  if from then
    local times = {}
    local cur = redis.call('HGET', KEYS[2], ARGV[2] .. '|' .. mat)
    if cur then
      for v in string.gmatch(cur, '[^,]+') do table.insert(times, tonumber(string.match(v, '^[%d%.]+'))) end
    end
    for v in string.gmatch(from, '[^,]+') do
      local t = tonumber(string.match(v, '^[%d%.]+'))
      local merged = false
      for i, x in ipairs(times) do
        if math.abs(x - t) <= window then
          if t < x then times[i] = t end
          merged = true
          break
        end
      end
      if not merged then table.insert(times, t) end
    end
    table.sort(times)
    local parts = {}
    for i, v in ipairs(times) do parts[i] = string.format('%.3f', v) end
    redis.call('HSET', KEYS[2], ARGV[2] .. '|' .. mat, table.concat(parts, ','))
    redis.call('HDEL', KEYS[2], 'chip:' .. ARGV[1] .. '|' .. mat)
    local i = 0
    for tp in string.gmatch(ARGV[a + 1], '[^,]+') do
      i = i + 1
      if parts[i] then redis.call('XADD', KEYS[3], '*', 'bib', ARGV[2], 'tp', tp, 't', parts[i]) end
    end
    moved = moved + 1
  end
end
return moved
"""

# KEYS: gps hash. ARGV: lat, lon, t. Out-of-order fixes never move the pursuer back in time.
_NEWER_GPS = """
local t = redis.call('HGET', KEYS[1], 't')
if t and tonumber(t) >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], 'lat', ARGV[1], 'lon', ARGV[2], 't', ARGV[3])
return 1
"""

# KEYS: event dedupe hash, events stream. ARGV: key, kind, time, text, data JSON.
# Several web processes detect the same event; only the first appends it.
_EMIT_ONCE = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[3]) == 0 then return false end
return redis.call('XADD', KEYS[2], '*', 'kind', ARGV[2], 'time', ARGV[3], 'text', ARGV[4], 'data', ARGV[5])
"""


class RawRead(NamedTuple):
    """One read of a chip at a mat, time already normalised to unix seconds.

    A named tuple rather than a frozen dataclass: ingest builds one per raw read, and a named tuple
    is built in a third of the time.
    """

    mat: str
    chip: str
    time: float
    rssi: float | None = None  # signal strength, where the reader sends it (peak-RSSI mats use it)


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
                pipe.xadd(self.keys.journal, entry)
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
        entry_id = await self.redis.xadd(self.keys.journal, entry)
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
            pipe.xadd(self.keys.journal, _journal_entry(proto, reader, wall_s, lines))  # type: ignore[arg-type]
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

    async def log_admin(self, action: str, args: dict[str, object]) -> str:
        """Journal an admin action before it is applied."""
        entry = {"action": action, "args": orjson.dumps(args).decode(), "wall": repr(time.time())}
        entry_id = await self.redis.xadd(self.keys.admin_log, entry)
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

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

    async def count_error(self, mat: str | None, reason: str) -> None:
        """Count a malformed or rejected line against its mat (or the ingest totals)."""
        key = self.keys.mat(mat) if mat else self.keys.ingest
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hincrby(key, "errors", 1)
            pipe.hset(key, "last_error", reason[:300])
            await pipe.execute()

    async def set_clock_offset(self, mat: str, offset_s: float) -> None:
        """A reader's clock minus the race clock, where the protocol lets us measure it."""
        await self.redis.hset(self.keys.mat(mat), "clock_offset_s", f"{offset_s:.3f}")

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
