-- KEYS: lease. ARGV: token, ttl ms. Extend the lease only if this token holds it.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
