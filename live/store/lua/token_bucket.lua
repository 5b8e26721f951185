-- A token bucket shared by every process (live.store.buckets). KEYS: the bucket (hash: t tokens, at the
-- Redis time they were counted), optionally the gate a bucket not yet held must take a token from.
-- ARGV: burst, refill per second, '1' to take a token or '0' to look, the gate's burst and refill.
-- Returns, as a string (Redis would cut a number to an integer): '0' if the bucket has a token (and
-- one was taken, if asked), else the seconds until it has one; '-1' if the bucket was not held and
-- the gate had no token for it (nothing kept). A bucket expires once it would be full again, so a key
-- seen once costs Redis memory for at most burst / refill seconds.
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6

local function level(key, burst, per_s)
  local held = redis.call('HMGET', key, 't', 'at')
  if not held[1] then return nil end
  return math.min(burst, tonumber(held[1]) + math.max(0, now - tonumber(held[2])) * per_s)
end

local function keep(key, tokens, burst, per_s)
  redis.call('HSET', key, 't', string.format('%.6f', tokens), 'at', string.format('%.6f', now))
  redis.call('PEXPIRE', key, math.ceil((burst - tokens) / per_s * 1000) + 1000)
end

local burst, per_s = tonumber(ARGV[1]), tonumber(ARGV[2])
local tokens = level(KEYS[1], burst, per_s)
if ARGV[3] ~= '1' then
  if tokens == nil or tokens >= 1 then return '0' end
  return string.format('%.6f', (1 - tokens) / per_s)
end
if tokens == nil then
  if KEYS[2] then
    local gate_burst, gate_per_s = tonumber(ARGV[4]), tonumber(ARGV[5])
    local gate = level(KEYS[2], gate_burst, gate_per_s) or gate_burst
    if gate < 1 then return '-1' end
    keep(KEYS[2], gate - 1, gate_burst, gate_per_s)
  end
  tokens = burst
end
if tokens < 1 then return string.format('%.6f', (1 - tokens) / per_s) end
keep(KEYS[1], tokens - 1, burst, per_s)
return '0'
