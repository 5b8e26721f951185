-- KEYS: the pool's sorted set (member -> expiry, ms on the server's clock). ARGV: member, ttl ms (0: leave).
-- Renew this member's heartbeat (or remove it), drop every lapsed one, and return how many are alive.
-- The server's clock alone decides: engines on hosts whose clocks differ count each other alike.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if tonumber(ARGV[2]) > 0 then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
else
  redis.call('ZREM', KEYS[1], ARGV[1])
end
redis.call('PEXPIRE', KEYS[1], 60000)
return redis.call('ZCARD', KEYS[1])
