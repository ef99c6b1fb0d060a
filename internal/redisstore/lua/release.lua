-- Give a claimed callback back to the timer set (a hand-off to retry later),
-- unless another writer already took it out of the lease set.
-- KEYS: 1 due, 2 lease   ARGV: 1 id, 2 due score
if redis.call('ZREM', KEYS[2], ARGV[1]) == 1 then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
  return 1
end
return 0
