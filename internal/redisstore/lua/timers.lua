-- Give a timer back to live records that have none: a record is live only
-- with a timer (due, claimed or pending), and one without is never looked
-- at again. A restore or a wipe racing with a create can leave one so.
-- A callback held back by a paused service (held set) has its timer there.
-- KEYS: 1 due, 2 lease, 3 pending, 4 held, then one record key per callback
-- ARGV: for callback i: 2i-1 id, 2i due score
-- Returns the ids given a timer.
local fixed = {}
for i = 5, #KEYS do
  local a = 2 * (i - 5)
  local id = ARGV[a + 1]
  if redis.call('EXISTS', KEYS[i]) == 1 and not redis.call('ZSCORE', KEYS[1], id)
    and not redis.call('ZSCORE', KEYS[2], id) and not redis.call('ZSCORE', KEYS[3], id)
    and not redis.call('ZSCORE', KEYS[4], id) then
    local v = redis.call('GET', KEYS[i])
    if string.match(v, '^%d+:') then
      redis.call('ZADD', KEYS[1], ARGV[a + 2], id)
      fixed[#fixed + 1] = id
    end
  end
end
return fixed
