-- KEYS: chips, crossings, passings stream, unknown chips. ARGV: chip, bib, window, then pairs
-- (mat, timing point indexes). Moves an unknown chip's crossings onto the bib, merging bursts.
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
