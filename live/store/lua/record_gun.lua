-- KEYS: guns hash. ARGV: time, duplicate window, then the gun targets in release order.
-- A gun marker from the wire starts the next pen that has no gun yet, then the pursuer; a marker
-- within the window of a recorded gun is a resend and changes nothing.
local t = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
for i = 3, #ARGV do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if v and math.abs(tonumber(v) - t) <= window then return false end
end
for i = 3, #ARGV do
  if redis.call('HSETNX', KEYS[1], ARGV[i], string.format('%.3f', t)) == 1 then return ARGV[i] end
end
return false
