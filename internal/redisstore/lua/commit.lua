-- Replace a record's header if nobody changed it since it was read (same
-- revision), keep its user data, set its timer and move its capacity
-- place, in one step.
-- KEYS: 1 record, 2 due, 3 lease, 4 active counts, 5 old slot, 6 new slot
-- ARGV: 1 id, 2 expected rev, 3 new rev, 4 header, 5 due score ('' = none), 6 final ('1'),
--       7 seconds to keep a final record, 8 old active field, 9 new active field,
--       10 release old slot ('1'), 11 new slot capacity (-1 = take none), 12 new slot key expiry (unix ms)
local cur = redis.call('GET', KEYS[1])
if not cur then return 'MISSING' end
local rev, hlen, rest = string.match(cur, '^(%d+):(%d+):(.*)$')
if rev ~= ARGV[2] then return 'CONFLICT' end
local cap = tonumber(ARGV[11])
if cap >= 0 then
  local used = tonumber(redis.call('GET', KEYS[6]) or '0')
  if KEYS[5] == KEYS[6] and ARGV[10] == '1' then used = used - 1 end
  if used >= cap then return 'FULL' end
end
if ARGV[10] == '1' and tonumber(redis.call('GET', KEYS[5]) or '0') > 0 then redis.call('DECR', KEYS[5]) end
if cap >= 0 then
  redis.call('INCR', KEYS[6])
  redis.call('PEXPIREAT', KEYS[6], ARGV[12])
end
local ud = string.sub(rest, tonumber(hlen) + 1)
redis.call('SET', KEYS[1], ARGV[3] .. ':' .. #ARGV[4] .. ':' .. ARGV[4] .. ud)
redis.call('ZREM', KEYS[3], ARGV[1])
if ARGV[5] == '' then
  redis.call('ZREM', KEYS[2], ARGV[1])
else
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
end
local function dec(field)
  if redis.call('HINCRBY', KEYS[4], field, -1) <= 0 then redis.call('HDEL', KEYS[4], field) end
end
if ARGV[6] == '1' then
  dec(ARGV[8])
  redis.call('EXPIRE', KEYS[1], ARGV[7])
elseif ARGV[8] ~= ARGV[9] then
  dec(ARGV[8])
  redis.call('HINCRBY', KEYS[4], ARGV[9], 1)
end
return 'OK'
