-- KEYS: chips, crossings, passings stream, unknown chips, then the health hash of each mat read
-- ARGV: burst window, wall time, the mats as JSON [[main mat, timing point indexes (comma list),
-- backup mat?, peak-RSSI mat?], …] in KEYS order, the reads as one JSON array [mat number (1-based),
-- chip, time, rssi or null, mat number, chip, …].
-- One JSON argument instead of three per read: redis-py packed those one by one and that was most of
-- the Python time of a batch. Reads apply one after the other in the order given, exactly as if
-- each came in its own call; the bibs of the batch's chips and the crossing lists it touches are
-- read with a few HMGETs up front, held in Lua while the reads apply, and the changed lists written
-- back with one HSET at the end, so a burst of one chip's reads in a batch costs no more Redis
-- commands than one read. Only a passing set or re-timed is a command per read (its XADD).
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
