-- Mark the series of one indicator stale that are past their deadline (newest sample older than
-- interval x grace). Only series in the due set whose deadline has passed are read, so a sweep
-- costs in proportion to the series turning stale, not to all series.
-- Atomic with apply.lua, so a sample arriving at the same moment is never overwritten as stale.
-- KEYS[1] = live hash, KEYS[2] = due zset; ARGV: now_ms, grace
local now = tonumber(ARGV[1])
local grace = tonumber(ARGV[2])
local overdue = redis.call("ZRANGEBYSCORE", KEYS[2], "-inf", now)
local changed = {}
for _, entity in ipairs(overdue) do
  redis.call("ZREM", KEYS[2], entity)
  local raw = redis.call("HGET", KEYS[1], entity)
  if raw then
    local state = cjson.decode(raw)
    if state.st ~= "stale" and now - state.t > state.n * 1000 * grace then
      state.ps = state.st
      state.st = "stale"
      state.since = now
      local encoded = cjson.encode(state)
      redis.call("HSET", KEYS[1], entity, encoded)
      table.insert(changed, encoded)
    elseif state.st ~= "stale" then
      -- The grace changed since the deadline was set: keep watching with the current one.
      redis.call("ZADD", KEYS[2], state.t + state.n * 1000 * grace, entity)
    end
  end
end
return changed
