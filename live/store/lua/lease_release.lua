-- KEYS: lease. ARGV: token. Let the lease go only if this token holds it.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
