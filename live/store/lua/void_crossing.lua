-- Crossing lists hold "1730369100.250", with "r-61" when the read's RSSI counts (peak-RSSI mats)
-- and a final "b" for a crossing only a backup mat saw: "1730369100.250r-61b".
-- KEYS: crossings, passings stream. ARGV: who (bib), mat, time to void, tolerance, timing point indexes.
-- Removes the crossing nearest the given time and re-emits the mat's timing points ("nan" = none).
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
