-- Replace a record if nobody changed it since it was read (same revision):
-- the whole value (user data included), its timer, its active count and its
-- capacity place, in one step. The same script undoes a change Postgres
-- refused and repairs a record from Postgres (forced capacity). Claims are
-- the monitor's to clear (it clears its own at the end of each batch).
-- KEYS: 1 record, 2 due, 3 active counts, 4 old slot, 5 new slot
-- ARGV: 1 id, 2 expected rev, 3 value, 4 due score ('' = none, '-' = leave it), 5 next final ('1'),
--       6 seconds to keep a final record, 7 old active field, 8 new active field,
--       9 release old slot ('1'), 10 new slot capacity (-1 = take none, -2 = take without check),
--       11 new slot key expiry (unix ms), 12 prev final ('1'),
--       13 old queue field, 14 new queue field ('' = not in the queue)
local cur = redis.call('GET', KEYS[1])
if not cur then return 'MISSING' end
local rev = string.match(cur, '^(%d+):')
if not rev then return 'MISSING' end
if rev ~= ARGV[2] then return 'CONFLICT' end
local cap = tonumber(ARGV[10])
if cap >= 0 then
  local used = tonumber(redis.call('GET', KEYS[5]) or '0')
  if KEYS[4] == KEYS[5] and ARGV[9] == '1' then used = used - 1 end
  if used >= cap then return 'FULL' end
end
if ARGV[9] == '1' and tonumber(redis.call('GET', KEYS[4]) or '0') > 0 then redis.call('DECR', KEYS[4]) end
if cap >= 0 or cap == -2 then
  redis.call('INCR', KEYS[5])
  redis.call('PEXPIREAT', KEYS[5], ARGV[11])
end
local wasActive, isActive = ARGV[12] ~= '1', ARGV[5] ~= '1'
if isActive then
  redis.call('SET', KEYS[1], ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[6])
end
if ARGV[4] == '' then
  redis.call('ZREM', KEYS[2], ARGV[1])
elseif ARGV[4] ~= '-' then
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
end
if not (wasActive and isActive and ARGV[7] == ARGV[8]) then
  if wasActive and redis.call('HINCRBY', KEYS[3], ARGV[7], -1) <= 0 then redis.call('HDEL', KEYS[3], ARGV[7]) end
  if isActive then redis.call('HINCRBY', KEYS[3], ARGV[8], 1) end
end
if ARGV[13] ~= ARGV[14] then
  if ARGV[13] ~= '' and redis.call('HINCRBY', KEYS[3], ARGV[13], -1) <= 0 then redis.call('HDEL', KEYS[3], ARGV[13]) end
  if ARGV[14] ~= '' then redis.call('HINCRBY', KEYS[3], ARGV[14], 1) end
end
return 'OK'
