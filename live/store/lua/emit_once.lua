-- KEYS: event dedupe hash, events stream. ARGV: key, kind, time, text, data JSON.
-- Several web processes detect the same event; only the first appends it.
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[3]) == 0 then return false end
return redis.call('XADD', KEYS[2], '*', 'kind', ARGV[2], 'time', ARGV[3], 'text', ARGV[4], 'data', ARGV[5])
