-- KEYS: lease, feed seq, frames stream, feed state.
-- ARGV: token, ttl ms, seq, body, snapshot (1: the body is a snapshot message), maxlen, state, epoch.
-- Only the lease holder publishes (a leader that lost its lease is fenced off), and it extends its
-- lease by doing so; a seq must be above every seq published before it. Returns 1 when appended,
-- 0 when the lease is not ours, -1 when the seq is stale.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if tonumber(ARGV[3]) <= tonumber(redis.call('GET', KEYS[2]) or '0') then return -1 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[3])
redis.call('XADD', KEYS[3], 'MAXLEN', ARGV[6], '*', 'seq', ARGV[3], 'body', ARGV[4], 'snapshot', ARGV[5],
  'epoch', ARGV[8])
redis.call('SET', KEYS[4], ARGV[7])
return 1
