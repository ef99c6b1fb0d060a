-- Claim up to a batch of due callbacks for one monitor: first leases that
-- expired (their node died), then due timers. Claimed ids move to the lease
-- set until the lease ends. Returns the ids and the tenant's next due time.
-- KEYS: 1 due, 2 lease
-- ARGV: 1 now (ms), 2 lease end (ms), 3 batch size
local batch = tonumber(ARGV[3])
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, batch)
if #ids < batch then
  local more = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, batch - #ids)
  for _, id in ipairs(more) do
    redis.call('ZREM', KEYS[1], id)
    ids[#ids + 1] = id
  end
end
for _, id in ipairs(ids) do
  redis.call('ZADD', KEYS[2], ARGV[2], id)
end
local nd = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local nl = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
return {ids, nd[2] or '', nl[2] or ''}
