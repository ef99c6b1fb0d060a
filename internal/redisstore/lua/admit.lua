-- Insert a callback if the per-number limit, the slot capacity and the
-- service's rate windows allow, in one step. The callback is pending, not
-- due: it becomes due (activate.lua) once its Postgres commit is done, and
-- the reconciler resolves a pending entry whose deadline passed.
-- KEYS: 1 record, 2 pending, 3 active counts, 4 slot, 5 rate window 1, 6 rate window 2,
--       7 the number's creates today
-- ARGV: 1 id, 2 value, 3 pending deadline (unix ms), 4 max per number (0 = none), 5 active field,
--       6 slot capacity (-1 = no slot), 7 slot key expiry (unix ms),
--       8 rate limit 1 (0 = none), 9 rate window 1 end (unix ms), 10 rate limit 2, 11 rate window 2 end,
--       12 queue field ('' = the callback does not enter the queue), 13 max queued (0 = none),
--       14 creates per number per day (0 = none), 15 end of the day (unix ms)
-- The record is written first (SET NX also tells an id in use, a refused
-- create's tombstone included) and taken back if a limit refuses: most
-- creates are admitted.
if not redis.call('SET', KEYS[1], ARGV[2], 'NX') then return 'EXISTS' end
local function refuse(why)
  redis.call('DEL', KEYS[1])
  return why
end
local max = tonumber(ARGV[4])
if max > 0 and tonumber(redis.call('HGET', KEYS[3], ARGV[5]) or '0') >= max then return refuse('LIMIT') end
for i = 0, 1 do
  local limit = tonumber(ARGV[8 + 2 * i])
  if limit > 0 and tonumber(redis.call('GET', KEYS[5 + i]) or '0') >= limit then return refuse('RATE' .. (i + 1)) end
end
local cap = tonumber(ARGV[6])
if cap >= 0 and tonumber(redis.call('GET', KEYS[4]) or '0') >= cap then return refuse('FULL') end
-- The queue and the day's counts are taken first and given back on a
-- refusal, which is rare: an admitted create costs one command each.
local queued, maxq = ARGV[12] ~= '', tonumber(ARGV[13])
if queued then
  local n = redis.call('HINCRBY', KEYS[3], ARGV[12], 1)
  if maxq > 0 and n > maxq then
    redis.call('HINCRBY', KEYS[3], ARGV[12], -1)
    return refuse('QUEUED')
  end
end
local daily = tonumber(ARGV[14])
if daily > 0 then
  local n = redis.call('INCR', KEYS[7])
  if n == 1 then redis.call('PEXPIREAT', KEYS[7], ARGV[15]) end
  if n > daily then
    redis.call('DECR', KEYS[7])
    if queued and redis.call('HINCRBY', KEYS[3], ARGV[12], -1) <= 0 then redis.call('HDEL', KEYS[3], ARGV[12]) end
    return refuse('DAILY')
  end
end
if cap >= 0 then
  redis.call('INCR', KEYS[4])
  redis.call('PEXPIREAT', KEYS[4], ARGV[7])
end
for i = 0, 1 do
  if tonumber(ARGV[8 + 2 * i]) > 0 then
    redis.call('INCR', KEYS[5 + i])
    redis.call('PEXPIREAT', KEYS[5 + i], ARGV[9 + 2 * i])
  end
end
redis.call('HINCRBY', KEYS[3], ARGV[5], 1)
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 'OK'
