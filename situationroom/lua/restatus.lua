-- Judge the live states of ONE indicator again against the catalog's thresholds as they are now: run by
-- an aggregator at start, so a state written before the thresholds changed (or before the scale had
-- 관심, 심각 and 기준 없음) does not show its old status until the series' next sample. Idempotent.
-- KEYS[1] = live hash; ARGV: n, then per entity: entity, direction, info, warning, critical, severe
-- Returns the changed states (JSON), for the update stream.

-- include: status.lua

local n = tonumber(ARGV[1])
local changed = {}
local a = 2
for _ = 1, n do
  local entity = ARGV[a]
  local th = {ARGV[a + 1], tonumber(ARGV[a + 5]), tonumber(ARGV[a + 4]), tonumber(ARGV[a + 3]), tonumber(ARGV[a + 2])}
  a = a + 6
  local raw = redis.call("HGET", KEYS[1], entity)
  if raw then
    local state = cjson.decode(raw)
    -- A stale series keeps saying so; its next sample is judged by apply.lua with the same thresholds.
    if state.st ~= "stale" then
      local st = status_of(state.v, th)
      if st ~= state.st then
        -- 정상 that is now 기준 없음 is the same run under its right name; any other change starts a run
        -- at the newest sample, the first one known to have the new status.
        if not (state.st == "normal" and st == "none") then state.since = state.t end
        state.ps = state.st
        state.st = st
        local encoded = cjson.encode(state)
        redis.call("HSET", KEYS[1], entity, encoded)
        table.insert(changed, encoded)
      end
    end
  end
end
return changed
