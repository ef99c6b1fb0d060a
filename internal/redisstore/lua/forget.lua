-- Undo an admission. KEYS: 1 record, 2 due, 3 lease, 4 active counts, 5 slot
-- ARGV: 1 id, 2 active field, 3 holds a slot place ('1')
if redis.call('DEL', KEYS[1]) == 1 then
  if redis.call('HINCRBY', KEYS[4], ARGV[2], -1) <= 0 then redis.call('HDEL', KEYS[4], ARGV[2]) end
  if ARGV[3] == '1' and tonumber(redis.call('GET', KEYS[5]) or '0') > 0 then redis.call('DECR', KEYS[5]) end
end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
