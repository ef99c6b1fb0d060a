-- Insert a callback if the per-number limit allows, in one step.
-- KEYS: 1 record, 2 due, 3 active counts
-- ARGV: 1 id, 2 value, 3 due score, 4 max per number (0 = none), 5 active field
if redis.call('EXISTS', KEYS[1]) == 1 then return 'EXISTS' end
local max = tonumber(ARGV[4])
if max > 0 and tonumber(redis.call('HGET', KEYS[3], ARGV[5]) or '0') >= max then return 'LIMIT' end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('HINCRBY', KEYS[3], ARGV[5], 1)
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 'OK'
