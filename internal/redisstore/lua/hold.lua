-- Hold back due callbacks of paused services: each is kept, with its due
-- time, in the tenant's held set, unless its service was resumed since the
-- monitor looked (then it goes back to its timer): checked in the same
-- step as resume.lua moves the held ones back, so none is left behind.
-- KEYS: 1 paused services, 2 held (id -> due ms), 3 held services (id -> service), 4 due
-- ARGV: per callback: service, id, due (unix ms)
local held = 0
for i = 1, #ARGV, 3 do
  local svc, id, due = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if redis.call('SISMEMBER', KEYS[1], svc) == 1 then
    redis.call('ZADD', KEYS[2], due, id)
    redis.call('HSET', KEYS[3], id, svc)
    held = held + 1
  else
    redis.call('ZADD', KEYS[4], due, id)
  end
end
return held
