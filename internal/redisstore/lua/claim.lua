-- Claim up to a batch of callbacks for one monitor: first leases that
-- expired (their node died), then timers due by the horizon (a monitor
-- claims shortly ahead so that a burst is ready when it falls due).
-- Claimed ids move to the lease set until the lease ends. Returns the ids,
-- their records (one MGET: the caller needs them all), the due time of each
-- ('' for an expired lease: due now), and the tenant's next due time and
-- lease end.
-- KEYS: 1 due, 2 lease, 3 record key prefix (the ids follow it)
-- ARGV: 1 now (ms), 2 lease end (ms), 3 batch size, 4 horizon (ms)
local batch = tonumber(ARGV[3])
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, batch)
local dues = {}
for i = 1, #ids do dues[i] = '' end
if #ids < batch then
  local more = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[4], 'WITHSCORES', 'LIMIT', 0, batch - #ids)
  if #more > 0 then
    local members = {}
    for i = 1, #more, 2 do members[#members + 1] = more[i] end
    redis.call('ZREM', KEYS[1], unpack(members))
    -- a callback changed while claimed may have a timer and a claim
    local seen = {}
    for _, id in ipairs(ids) do seen[id] = true end
    for i = 1, #more, 2 do
      if not seen[more[i]] then
        ids[#ids + 1] = more[i]
        dues[#ids] = more[i + 1]
      end
    end
  end
end
local vals = {}
if #ids > 0 then
  local args, keys = {}, {}
  for i, id in ipairs(ids) do
    args[2 * i - 1] = ARGV[2]
    args[2 * i] = id
    keys[i] = KEYS[3] .. id
  end
  redis.call('ZADD', KEYS[2], unpack(args))
  vals = redis.call('MGET', unpack(keys))
end
local nd = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local nl = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
return {ids, vals, dues, nd[2] or '', nl[2] or ''}
