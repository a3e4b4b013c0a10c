-- Mark the series of one indicator stale whose newest sample is older than interval x grace.
-- Atomic with apply.lua, so a sample arriving at the same moment is never overwritten as stale.
-- KEYS[1] = live hash; ARGV: now_ms, grace
local now = tonumber(ARGV[1])
local grace = tonumber(ARGV[2])
local all = redis.call("HGETALL", KEYS[1])
local changed = {}
for k = 1, #all, 2 do
  local state = cjson.decode(all[k + 1])
  if state.st ~= "stale" and now - state.t > state.n * 1000 * grace then
    state.ps = state.st
    state.st = "stale"
    state.since = now
    local encoded = cjson.encode(state)
    redis.call("HSET", KEYS[1], all[k], encoded)
    table.insert(changed, encoded)
  end
end
return changed
