-- The front of each record (its revision comes first), without the rest:
-- a monitor that checked records earlier asks whether they changed since.
-- '' for a record that is gone.
-- KEYS: the record keys
local out = {}
for i, k in ipairs(KEYS) do
  out[i] = redis.call('GETRANGE', k, 0, 20)
end
return out
