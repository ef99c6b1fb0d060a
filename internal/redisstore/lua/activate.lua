-- Make an admitted callback due: its Postgres commit is done. Only a
-- pending callback is activated, so a late or repeated call (the
-- reconciler got there first and the monitor already moved the timer) does
-- nothing.
-- KEYS: 1 pending, 2 due   ARGV: 1 id, 2 due score ('' = none)
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
if ARGV[2] ~= '' then redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1]) end
return 1
