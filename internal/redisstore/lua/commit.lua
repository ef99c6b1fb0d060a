-- Replace a record's header if nobody changed it since it was read (same
-- revision), keep its user data, and set its timer, in one step.
-- KEYS: 1 record, 2 due, 3 lease, 4 active counts
-- ARGV: 1 id, 2 expected rev, 3 new rev, 4 header, 5 due score ('' = none), 6 final ('1'),
--       7 seconds to keep a final record, 8 old active field, 9 new active field
local cur = redis.call('GET', KEYS[1])
if not cur then return 'MISSING' end
local rev, hlen, rest = string.match(cur, '^(%d+):(%d+):(.*)$')
if rev ~= ARGV[2] then return 'CONFLICT' end
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
