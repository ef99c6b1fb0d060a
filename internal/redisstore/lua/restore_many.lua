-- Put back many callbacks of one tenant read from Postgres (a restore), each
-- unless Redis has it, in one call: the restore of a large store is bound by
-- round trips and script calls, not by the work of each record.
-- A record Redis has keeps it, but gets its timer back if it has none (a
-- create racing with the wipe before the restore can leave it so).
-- KEYS: 1 due, 2 active counts, 3 lease, 4 pending, then for record i: 4+2i-1 record, 4+2i slot
-- ARGV: for record i, 8 values from 8(i-1)+1: id, value, due score ('' = none),
--       active ('1'), active field, holds a slot place ('1'), slot key expiry (unix ms),
--       queue field ('' = not in the queue)
local put = 0
local n = (#KEYS - 4) / 2
for i = 1, n do
  local rk, sk, a = KEYS[3 + 2 * i], KEYS[4 + 2 * i], 8 * (i - 1)
  local id = ARGV[a + 1]
  if redis.call('EXISTS', rk) == 1 then
    if ARGV[a + 3] ~= '' and string.match(redis.call('GET', rk), '^%d+:') and not redis.call('ZSCORE', KEYS[1], id)
      and not redis.call('ZSCORE', KEYS[3], id) and not redis.call('ZSCORE', KEYS[4], id) then
      redis.call('ZADD', KEYS[1], ARGV[a + 3], id)
    end
  else
    redis.call('SET', rk, ARGV[a + 2])
    if ARGV[a + 4] == '1' then redis.call('HINCRBY', KEYS[2], ARGV[a + 5], 1) end
    if ARGV[a + 8] ~= '' then redis.call('HINCRBY', KEYS[2], ARGV[a + 8], 1) end
    if ARGV[a + 3] ~= '' then redis.call('ZADD', KEYS[1], ARGV[a + 3], ARGV[a + 1]) end
    if ARGV[a + 6] == '1' then
      redis.call('INCR', sk)
      redis.call('PEXPIREAT', sk, ARGV[a + 7])
    end
    put = put + 1
  end
end
return put
