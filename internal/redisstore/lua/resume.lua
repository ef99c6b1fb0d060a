-- Resume a service: it leaves the paused set and its held callbacks go
-- back to their timers with the due times they were held at, so they are
-- claimed in due order.
-- KEYS: 1 paused services, 2 held, 3 held services, 4 due
-- ARGV: 1 service
-- Returns the number moved back and the earliest due time (-1: none).
redis.call('SREM', KEYS[1], ARGV[1])
local all = redis.call('HGETALL', KEYS[3])
local moved, earliest = 0, -1
for i = 1, #all, 2 do
  local id = all[i]
  if all[i + 1] == ARGV[1] then
    local due = redis.call('ZSCORE', KEYS[2], id)
    if due then
      redis.call('ZADD', KEYS[4], due, id)
      local d = tonumber(due)
      if earliest < 0 or d < earliest then earliest = d end
      moved = moved + 1
    end
    redis.call('ZREM', KEYS[2], id)
    redis.call('HDEL', KEYS[3], id)
  end
end
return {moved, earliest}
