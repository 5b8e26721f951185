-- KEYS: the pool's sorted set (member -> expiry, ms on the server's clock; '~beat' -> the last beat's
-- time). ARGV: member, ttl ms (0: leave), quiet ms, member ttl ms.
-- Renew this member's heartbeat (or remove it), drop every lapsed one, and return how many are alive.
-- The server's clock alone decides: engines on hosts whose clocks differ count each other alike.
-- Members beat every fraction of a second, so a set nobody wrote for ``quiet`` ms means Redis was away
-- (a master's failover), not that its members died: each is given a fresh ttl from now instead of
-- being dropped, and those really gone lapse one ttl later. Without this every member, back from the
-- outage, counted itself alone and bid for every race, then gave them back.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local last = tonumber(redis.call('ZSCORE', KEYS[1], '~beat'))
redis.call('ZREM', KEYS[1], '~beat')
if last and now - last > tonumber(ARGV[3]) then
  local members = redis.call('ZRANGE', KEYS[1], 0, -1)
  for _, m in ipairs(members) do
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), m)
  end
else
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
end
if tonumber(ARGV[2]) > 0 then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
else
  redis.call('ZREM', KEYS[1], ARGV[1])
end
local alive = redis.call('ZCARD', KEYS[1])
redis.call('ZADD', KEYS[1], now, '~beat')
redis.call('PEXPIRE', KEYS[1], 60000)
return alive
