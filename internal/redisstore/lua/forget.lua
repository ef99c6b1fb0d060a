-- Undo an admission whose Postgres commit failed: give the reservations
-- back and leave a tombstone, so that a commit which still lands (a timeout
-- whose transaction went through) is recognised as refused instead of
-- being restored and dialled.
-- KEYS: 1 record, 2 due, 3 lease, 4 active counts, 5 slot, 6 pending
-- ARGV: 1 id, 2 active field, 3 holds a slot place ('1'), 4 tombstone seconds,
--       5 queue field ('' = not in the queue)
local cur = redis.call('GET', KEYS[1])
if cur and string.match(cur, '^%d+:') then
  if redis.call('HINCRBY', KEYS[4], ARGV[2], -1) <= 0 then redis.call('HDEL', KEYS[4], ARGV[2]) end
  if ARGV[5] ~= '' and redis.call('HINCRBY', KEYS[4], ARGV[5], -1) <= 0 then redis.call('HDEL', KEYS[4], ARGV[5]) end
  if ARGV[3] == '1' and tonumber(redis.call('GET', KEYS[5]) or '0') > 0 then redis.call('DECR', KEYS[5]) end
end
redis.call('SET', KEYS[1], 'x', 'EX', ARGV[4])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[6], ARGV[1])
return 1
