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

import orjson
import redis.asyncio as aioredis

from live.clock import RaceClock
from live.keys import RaceKeys
from live.race import Race

log = logging.getLogger(__name__)

BURST_WINDOW_S = 30.0  # reads of one chip at one mat closer than this are one crossing

# KEYS: chips, crossings, passings stream, unknown chips, mat health
# ARGV: chip, mat, time, burst window, timing point indexes of the mat (comma list), wall time
_APPLY_READS = """
local mat, window, wall = ARGV[1], tonumber(ARGV[2]), ARGV[4]
local backup, peak = ARGV[5] == '1', ARGV[6] == '1'
local tps = {}
for v in string.gmatch(ARGV[3], '[^,]+') do table.insert(tps, v) end
local emitted, reads, passings, unknown = 0, 0, 0, 0
for a = 7, #ARGV, 3 do
  local chip, t, rssi = ARGV[a], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  reads = reads + 1
  local bib = redis.call('HGET', KEYS[1], chip)
  local who = bib
  if not bib then
    redis.call('HINCRBY', KEYS[4], chip, 1)
    unknown = unknown + 1
    who = 'chip:' .. chip
  end
  local field = who .. '|' .. mat
  local cur = redis.call('HGET', KEYS[2], field)
  local times, strengths, fromb = {}, {}, {}
  if cur then
    for v in string.gmatch(cur, '[^,]+') do
      table.insert(times, tonumber(string.match(v, '^[%d%.]+')))
      table.insert(strengths, tonumber(string.match(v, 'r(%-?[%d%.]+)')) or false)
      table.insert(fromb, string.sub(v, -1) == 'b')
    end
  end
  local inserted, skip = true, false
  for i, v in ipairs(times) do
    if math.abs(v - t) <= window then
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
      table.insert(times, t)
      table.insert(strengths, rssi or false)
      table.insert(fromb, backup)
    end
    local order = {}
    for i = 1, #times do order[i] = i end
    table.sort(order, function(x, y) return times[x] < times[y] end)
    local parts, nums = {}, {}
    local changed = nil
    for j, i in ipairs(order) do
      nums[j] = string.format('%.3f', times[i])
      parts[j] = nums[j] .. (strengths[i] and ('r' .. strengths[i]) or '') .. (fromb[i] and 'b' or '')
      if changed == nil and times[i] == t then changed = j end
    end
    redis.call('HSET', KEYS[2], field, table.concat(parts, ','))
    if bib then
      if inserted then passings = passings + 1 end
      for j = changed, math.min(#nums, #tps) do
        redis.call('XADD', KEYS[3], '*', 'bib', bib, 'tp', tps[j], 't', nums[j])
        emitted = emitted + 1
      end
    end
  end
end
redis.call('HINCRBY', KEYS[5], 'reads', reads)
if passings > 0 then redis.call('HINCRBY', KEYS[5], 'passings', passings) end
if unknown > 0 then redis.call('HINCRBY', KEYS[5], 'unknown_reads', unknown) end
redis.call('HSET', KEYS[5], 'last_read_wall', wall)
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


@dataclass(frozen=True)
class RawRead:
    """One read of a chip at a mat, time already normalised to unix seconds."""

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
        self._apply = redis.register_script(_APPLY_READS)
        self._gun = redis.register_script(_RECORD_GUN)
        self._max_seq = redis.register_script(_MAX_SEQ)
        self._emit_once = redis.register_script(_EMIT_ONCE)
        self._void = redis.register_script(_VOID_CROSSING)
        self._assign = redis.register_script(_ASSIGN_CHIP)
        self._gps = redis.register_script(_NEWER_GPS)
        self._tps_of_mat = {m.id: ",".join(str(tp.index) for tp in race.timing_points_of(m.id)) for m in race.mats}
        self._main_of = {m.id: race.main_mat(m.id) for m in race.mats}
        self._peak_mats = {m.id for m in race.mats if m.pick == "peak_rssi"}

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

    async def journal_lines(self, proto: str, reader: str, wall_s: float, lines: Sequence[str], mat: str = "") -> str:
        """Append a batch of raw lines from one reader as one journal entry (``lines``, newline-joined)."""
        entry = {"proto": proto, "reader": reader, "wall": repr(float(wall_s)), "lines": "\n".join(lines),
                 "n": str(len(lines))}  # fmt: skip
        if mat:
            entry["mat"] = mat
        entry_id = await self.redis.xadd(self.keys.journal, entry)
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    async def apply_reads(self, reads: Iterable[RawRead], wall_s: float) -> int:
        """Apply raw reads: one Lua call per mat, all in one round trip; returns passings set or re-timed.

        Reads are applied in the order given within each mat; the result does not depend on it.
        """
        by_mat: dict[str, list[RawRead]] = {}
        for r in reads:
            by_mat.setdefault(r.mat, []).append(r)
        if not by_mat:
            return 0
        k = self.keys
        async with self.redis.pipeline(transaction=False) as pipe:
            for mat, group in by_mat.items():
                main = self._main_of[mat]
                args: list[object] = [main, BURST_WINDOW_S, self._tps_of_mat[mat], repr(float(wall_s)),
                                      "1" if main != mat else "0", "1" if main in self._peak_mats else "0"]  # fmt: skip
                for r in group:
                    args += [r.chip, repr(float(r.time)), "" if r.rssi is None else repr(float(r.rssi))]
                await self._apply(keys=[k.chips, k.crossings, k.passings, k.unknown_chips, k.mat(mat)], args=args,
                                  client=pipe)  # fmt: skip
            results = await pipe.execute()
        return sum(int(x) for x in results)

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
        await self._max_seq(keys=[self.keys.reader_seq], args=[x for kv in last.items() for x in kv])
        for mat, n in gaps.items():
            if mat and n:
                await self.redis.hincrby(self.keys.mat(mat), "seq_gaps", n)

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
        data = {**data, "key": key}
        result = await self._emit_once(
            keys=[self.keys.event_keys, self.keys.events],
            args=[key, kind, repr(float(time_s)), text, orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY).decode()],
        )
        if not result:
            return None
        return result.decode() if isinstance(result, bytes) else str(result)

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
