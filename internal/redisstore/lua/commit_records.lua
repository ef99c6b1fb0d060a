-- Replace records whose change moves no limit, no capacity place and no
-- finality (a hand-off, most ORS reports), each only if nobody changed it
-- since it was read (same revision): the cheap form of commit.lua, for one
-- record or a whole batch. SET ... GET swaps and reads in one command; a
-- record found at another revision is put back as it was (KEEPTTL: with
-- its expiry too) in the same atomic step, so no reader ever sees the swap.
-- The one count such a change can move is its service's queue count (a
-- scheduled callback handed to ORS joins the queue).
-- KEYS: 1 due, 2 active counts, then the record keys
-- ARGV: per record: id, expected rev, value, due score ('' = none, '-' = leave it),
--       queue move ('' = none, '+' or '-' then the queue field)
-- Returns per record: 1 done, 0 another revision, -1 missing; then, for
-- each record not done, the value found (false: none).
local out, found = {}, {}
local timed, untimed = {}, {}
for i = 3, #KEYS do
  local a = (i - 3) * 5
  local id, rev, val, due, move = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5]
  local old = redis.call('SET', KEYS[i], val, 'KEEPTTL', 'GET')
  local cur = old and string.match(old, '^(%d+):')
  if cur == rev then
    out[#out + 1] = 1
    if move ~= '' then
      local f = string.sub(move, 2)
      if string.sub(move, 1, 1) == '+' then
        redis.call('HINCRBY', KEYS[2], f, 1)
      elseif redis.call('HINCRBY', KEYS[2], f, -1) <= 0 then
        redis.call('HDEL', KEYS[2], f)
      end
    end
    if due == '' then
      untimed[#untimed + 1] = id
    elseif due ~= '-' then
      timed[#timed + 1] = due
      timed[#timed + 1] = id
    end
  else
    if old then redis.call('SET', KEYS[i], old, 'KEEPTTL') else redis.call('DEL', KEYS[i]) end
    out[#out + 1] = cur and 0 or -1
    found[#found + 1] = old
  end
end
if #untimed > 0 then redis.call('ZREM', KEYS[1], unpack(untimed)) end
if #timed > 0 then redis.call('ZADD', KEYS[1], unpack(timed)) end
for _, v in ipairs(found) do out[#out + 1] = v end
return out
