-- KEYS: gps hash. ARGV: lat, lon, t. Out-of-order fixes never move the pursuer back in time.
local t = redis.call('HGET', KEYS[1], 't')
if t and tonumber(t) >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], 'lat', ARGV[1], 'lon', ARGV[2], 't', ARGV[3])
return 1
