-- Apply a batch of samples of ONE indicator to its series, atomically (docs/streams.md).
-- All keys carry the indicator's hash tag, so this runs on one Redis Cluster slot.
-- Because the update is atomic and keyed by event time, any number of aggregators may apply
-- samples of the same series in any order and the state is the same as with one aggregator.
--
-- KEYS[1] = live hash; then per entity: raw zset, 1m history zset, 1h history zset
-- ARGV: indicator, late_ms, h1m_ret_s, h1h_ret_s, default_interval_s, force, n_entities,
--       then per entity: entity, direction, warning, critical, n, then n x (ts_ms, value, interval)

local indicator = ARGV[1]
local late_ms = tonumber(ARGV[2])
local h1m_ret = tonumber(ARGV[3])
local h1h_ret = tonumber(ARGV[4])
local default_interval = tonumber(ARGV[5])
local force = ARGV[6] == "1"
local n_entities = tonumber(ARGV[7])

local live = KEYS[1]
local out_changed = {}
local out_rejected = {}
local dups = 0
local accepted = 0

local function bucket_add(key, start, v)
  local found = redis.call("ZRANGEBYSCORE", key, start, start, "LIMIT", 0, 1)
  local count, sum, mn, mx = 1, v, v, v
  if found[1] then
    local c, s, a, b = string.match(found[1], "^[^:]+:([^:]+):([^:]+):([^:]+):([^:]+)$")
    count = tonumber(c) + 1
    sum = tonumber(s) + v
    mn = math.min(tonumber(a), v)
    mx = math.max(tonumber(b), v)
    redis.call("ZREM", key, found[1])
  end
  redis.call("ZADD", key, start,
    string.format("%d:%d:%.17g:%.17g:%.17g", start, count, sum, mn, mx))
end

local function status_of(v, dir, warn, crit)
  local sign = 1
  if dir == "below" then sign = -1 end
  if crit ~= nil and sign * (v - crit) >= 0 then return "critical" end
  if warn ~= nil and sign * (v - warn) >= 0 then return "warning" end
  return "normal"
end

local a = 8
for j = 1, n_entities do
  local entity = ARGV[a]
  local dir = ARGV[a + 1]
  local warn = tonumber(ARGV[a + 2])
  local crit = tonumber(ARGV[a + 3])
  local n = tonumber(ARGV[a + 4])
  a = a + 5
  local kraw, kh1m, kh1h = KEYS[2 + (j - 1) * 3], KEYS[3 + (j - 1) * 3], KEYS[4 + (j - 1) * 3]

  local prev_json = redis.call("HGET", live, entity)
  local prev = nil
  local newest = -1
  if prev_json then
    prev = cjson.decode(prev_json)
    newest = prev.t
  end
  local last_v = prev and prev.v or nil
  local interval = prev and prev.n or default_interval
  local added = 0

  for k = 1, n do
    local ts = tonumber(ARGV[a])
    local v = tonumber(ARGV[a + 1])
    local hint = tonumber(ARGV[a + 2])
    a = a + 3
    if newest >= 0 and ts < newest - late_ms then
      table.insert(out_rejected, {entity, tostring(ts), "event time is older than the late-arrival limit"})
    elseif redis.call("ZRANGEBYSCORE", kraw, ts, ts, "LIMIT", 0, 1)[1] then
      dups = dups + 1
    else
      redis.call("ZADD", kraw, ts, string.format("%d:%.17g", ts, v))
      bucket_add(kh1m, math.floor(ts / 60000) * 60, v)
      bucket_add(kh1h, math.floor(ts / 3600000) * 3600, v)
      added = added + 1
      if ts >= newest then
        newest = ts
        last_v = v
        if hint then interval = hint else interval = default_interval end
      end
    end
  end
  accepted = accepted + added

  if added > 0 or (force and prev) then
    redis.call("ZREMRANGEBYSCORE", kraw, "-inf", "(" .. (newest - late_ms))
    redis.call("ZREMRANGEBYSCORE", kh1m, "-inf", "(" .. (math.floor(newest / 1000) - h1m_ret))
    redis.call("ZREMRANGEBYSCORE", kh1h, "-inf", "(" .. (math.floor(newest / 1000) - h1h_ret))
    -- Rolling windows end at the newest event time of the series, so late samples count where
    -- they belong and a replay gives the same windows as live data.
    local members = redis.call("ZRANGEBYSCORE", kraw, newest - 3600000, newest)
    local spans = {60000, 300000, 3600000}
    local c, s, mn, mx = {0, 0, 0}, {0, 0, 0}, {}, {}
    local first_t, first_v = nil, nil
    for _, m in ipairs(members) do
      local ts_s, v_s = string.match(m, "^([^:]+):(.+)$")
      local ts, v = tonumber(ts_s), tonumber(v_s)
      for w = 1, 3 do
        if ts > newest - spans[w] then
          c[w] = c[w] + 1
          s[w] = s[w] + v
          if mn[w] == nil or v < mn[w] then mn[w] = v end
          if mx[w] == nil or v > mx[w] then mx[w] = v end
        end
      end
      if ts > newest - 300000 and first_t == nil then first_t, first_v = ts, v end
    end
    local windows = {}
    local names = {"1m", "5m", "1h"}
    for w = 1, 3 do
      if c[w] > 0 then
        windows[names[w]] = {c[w], s[w] / c[w], mn[w], mx[w]}
      end
    end
    local rate = 0
    if first_t ~= nil and newest > first_t then
      rate = (last_v - first_v) / ((newest - first_t) / 60000)
    end
    local status = status_of(last_v, dir, warn, crit)
    local prev_status = prev and prev.st or "unknown"
    local since = prev and prev.since or newest
    if status ~= prev_status then since = newest end
    local state = {i = indicator, e = entity, v = last_v, t = newest, st = status, ps = prev_status,
                   since = since, n = interval, w = windows, r = rate}
    local encoded = cjson.encode(state)
    if added > 0 then
      redis.call("HSET", live, entity, encoded)
    end
    if encoded ~= prev_json or force then
      table.insert(out_changed, encoded)
    end
  end
end

return {out_changed, out_rejected, accepted, dups}
