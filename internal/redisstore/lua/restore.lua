-- Put back a callback read from Postgres, unless Redis has it (a newer
-- copy written since, or the tombstone of a refused create).
-- KEYS: 1 record, 2 due, 3 active counts, 4 slot
-- ARGV: 1 id, 2 value, 3 due score ('' = none), 4 active ('1'), 5 active field,
--       6 holds a slot place ('1'), 7 slot key expiry (unix ms), 8 queue field ('' = not in the queue)
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
if ARGV[4] == '1' then redis.call('HINCRBY', KEYS[3], ARGV[5], 1) end
if ARGV[8] ~= '' then redis.call('HINCRBY', KEYS[3], ARGV[8], 1) end
if ARGV[3] ~= '' then redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1]) end
if ARGV[6] == '1' then
  redis.call('INCR', KEYS[4])
  redis.call('PEXPIREAT', KEYS[4], ARGV[7])
end
return 1
