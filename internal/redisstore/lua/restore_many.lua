-- Put back many callbacks of one tenant read from Postgres (a restore), each
-- unless Redis has it, in one call: the restore of a large store is bound by
-- round trips and script calls, not by the work of each record.
-- KEYS: 1 due, 2 active counts, then for record i: 2+2i-1 record, 2+2i slot
-- ARGV: for record i, 7 values from 7(i-1)+1: id, value, due score ('' = none),
--       active ('1'), active field, holds a slot place ('1'), slot key expiry (unix ms)
local put = 0
local n = (#KEYS - 2) / 2
for i = 1, n do
  local rk, sk, a = KEYS[1 + 2 * i], KEYS[2 + 2 * i], 7 * (i - 1)
  if redis.call('EXISTS', rk) == 0 then
    redis.call('SET', rk, ARGV[a + 2])
    if ARGV[a + 4] == '1' then redis.call('HINCRBY', KEYS[2], ARGV[a + 5], 1) end
    if ARGV[a + 3] ~= '' then redis.call('ZADD', KEYS[1], ARGV[a + 3], ARGV[a + 1]) end
    if ARGV[a + 6] == '1' then
      redis.call('INCR', sk)
      redis.call('PEXPIREAT', sk, ARGV[a + 7])
    end
    put = put + 1
  end
end
return put
