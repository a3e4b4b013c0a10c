-- Apply a batch of samples of ONE indicator to its series, atomically (docs/streams.md).
-- All keys carry the indicator's hash tag, so this runs on one Redis Cluster slot.
-- The update is atomic and keyed by event time: aggregators may apply samples of a series in any
-- order and get the same value, windows, change rate and status as one aggregator would.
--
-- KEYS[1] = live hash, KEYS[2] = due zset (entity -> ms when it turns stale);
--           then per entity: raw zset, 1m history zset, 1s bucket zset
-- ARGV: indicator, late_ms, h1m_ret_s, default_interval_s, force, now_ms, grace,
--       n_entities, exercise ("1": the keys are the exercise series, and states carry x = 1),
--       then per entity: entity, direction, info, warning, critical, severe, source, samples
--       where the four thresholds are the crisis levels 관심 주의 경계 심각 (empty when not given; all
--       empty: the series has no thresholds), samples is "ts_ms,value,interval;" repeated, sorted by
--       ts_ms ascending (interval empty when the sample has none) and source that of the batch's newest sample
-- Returns {changed states (JSON), rejected {entity, ts_ms, reason}, accepted, duplicates}

local indicator = ARGV[1]
local late_ms = tonumber(ARGV[2])
local h1m_ret = tonumber(ARGV[3])
local default_interval = tonumber(ARGV[4])
local force = ARGV[5] == "1"
local now = tonumber(ARGV[6])
local grace = tonumber(ARGV[7])
local n_entities = tonumber(ARGV[8])
local exercise = ARGV[9] == "1"

-- The 1 h window is computed from raw samples at its edge plus 1-minute buckets, so both must
-- reach back at least that far whatever the configured retentions.
local WINDOW_MS = 3600000
local raw_keep = math.max(late_ms, WINDOW_MS)
h1m_ret = math.max(h1m_ret, WINDOW_MS / 1000 + 60)

local live = KEYS[1]
local due = KEYS[2]
local out_changed = {}
local out_rejected = {}
local dups = 0
local accepted = 0

-- The shortest of 15 or 17 significant digits that reads back as the same number: members stay short (a reading
-- of 72.1 is "72.1", not "72.099999999999994"), which is most of what a series costs Redis (docs/history.md).
local function fmt(x)
  local short = string.format("%.15g", x)
  if tonumber(short) == x then return short end
  return string.format("%.17g", x)
end

-- A bucket member: start:count:sum:min:max:last_ms:last, where last is the value of the bucket's newest sample
-- and last_ms its event time. Members written before buckets kept their newest sample lack the last two
-- (start:count:sum:min:max): they parse with last_ms and last nil.
local function parse_bucket(m)
  local b, c, s, a, x, rest = string.match(m, "^([^:]+):([^:]+):([^:]+):([^:]+):([^:]+)(.*)$")
  local lt, lv = string.match(rest, "^:([^:]+):([^:]+)$")
  return tonumber(b), tonumber(c), tonumber(s), tonumber(a), tonumber(x), tonumber(lt), tonumber(lv)
end

-- start, count, sum, min and max of a bucket member, in one match: what the windows read.
local function parse_agg(m)
  local b, c, s, a, x = string.match(m, "^([^:]+):([^:]+):([^:]+):([^:]+):([^:]+)")
  return tonumber(b), tonumber(c), tonumber(s), tonumber(a), tonumber(x)
end

-- Merge the batch's per-bucket aggregates into the history zset: one read and one write per bucket. Members keep
-- the newest sample (last_ms, last) when `with_last`. Returns bucket start -> {count before, count after}.
local function flush_buckets(key, buckets, with_last)
  local counts = {}
  for start, agg in pairs(buckets) do
    local found = redis.call("ZRANGEBYSCORE", key, start, start, "LIMIT", 0, 1)
    local count, sum, mn, mx, lt, lv = agg[1], agg[2], agg[3], agg[4], agg[5], agg[6]
    local before = 0
    if found[1] then
      local _, c, s, a, x, flt, flv = parse_bucket(found[1])
      before = c
      count = count + c
      sum = sum + s
      mn = math.min(mn, a)
      mx = math.max(mx, x)
      -- The newest sample by event time, so a late sample never replaces it whatever the arrival order.
      if flt ~= nil and flt > lt then lt, lv = flt, flv end
      redis.call("ZREM", key, found[1])
    end
    if with_last then
      redis.call("ZADD", key, start, string.format("%d:%d:%s:%s:%s:%d:%s", start, count, fmt(sum), fmt(mn), fmt(mx),
        lt, fmt(lv)))
    else
      redis.call("ZADD", key, start, string.format("%d:%d:%s:%s:%s", start, count, fmt(sum), fmt(mn), fmt(mx)))
    end
    counts[start] = {before, count}
  end
  return counts
end

local function bucket_acc(buckets, start, v, ts)
  local agg = buckets[start]
  if agg then
    agg[1] = agg[1] + 1
    agg[2] = agg[2] + v
    if v < agg[3] then agg[3] = v end
    if v > agg[4] then agg[4] = v end
    if ts > agg[5] then agg[5], agg[6] = ts, v end
  else
    buckets[start] = {1, v, v, v, ts, v}
  end
end

-- A minute with more samples than this (two a second) also keeps 1-second buckets (start:count:sum:min:max), which
-- the windows read their partial first minute from (head_from_seconds); up to this many, one scan of its raw
-- samples is the cheaper read (measured: a bucket costs about as much to read as two raw samples), and a series
-- sampled every second or slower costs Redis no more than before.
local RAW_HEAD_MAX = 120

-- A minute keeps 1-second buckets once it has more than RAW_HEAD_MAX samples, complete from then on: when it crosses,
-- or has none yet (written by a version without them), they are made from its raw samples, which hold this batch's
-- already; after that each batch adds its own. A minute whose raw samples may be partly trimmed (a late sample, with
-- late_limit over an hour) keeps none. `minutes`: flush_buckets' answer for the 1-minute buckets.
local function flush_seconds(kraw, k1s, b1s, minutes, kept_from_ms)
  local out, rebuilt = {}, {}
  for minute_s, c in pairs(minutes) do
    if c[2] > RAW_HEAD_MAX and minute_s * 1000 >= kept_from_ms and (c[1] <= RAW_HEAD_MAX or
        not redis.call("ZRANGEBYSCORE", k1s, minute_s, minute_s + 59, "LIMIT", 0, 1)[1]) then
      rebuilt[minute_s] = true
      for _, m in ipairs(redis.call("ZRANGEBYSCORE", kraw, minute_s * 1000, "(" .. fmt((minute_s + 60) * 1000))) do
        local colon = string.find(m, ":", 1, true)
        local ts = tonumber(string.sub(m, 1, colon - 1))
        bucket_acc(out, math.floor(ts / 1000), tonumber(string.sub(m, colon + 1)), ts)
      end
    end
  end
  for start_s, agg in pairs(b1s) do
    local minute_s = math.floor(start_s / 60) * 60
    if minutes[minute_s][1] > RAW_HEAD_MAX and not rebuilt[minute_s] and minute_s * 1000 >= kept_from_ms then
      out[start_s] = agg
    end
  end
  flush_buckets(k1s, out, false)
end

-- include: status.lua

-- Adds raw samples with lo < ts < hi (or <= hi when hi_inclusive) to acc = {count, sum, min,
-- max, first ts, first value}.
local function raw_window(kraw, lo, hi, hi_inclusive, acc)
  local hi_arg = hi_inclusive and fmt(hi) or ("(" .. fmt(hi))
  local members = redis.call("ZRANGEBYSCORE", kraw, "(" .. fmt(lo), hi_arg)
  -- The hot loop of a fast series (every raw sample of up to three head minutes, for each batch): a plain find
  -- and one substring cost a third less than a pattern with two captures, and the time is read only once.
  for _, m in ipairs(members) do
    local colon = string.find(m, ":", 1, true)
    local v = tonumber(string.sub(m, colon + 1))
    if acc[5] == nil then acc[5], acc[6] = tonumber(string.sub(m, 1, colon - 1)), v end
    acc[1] = acc[1] + 1
    acc[2] = acc[2] + v
    if acc[3] == nil or v < acc[3] then acc[3] = v end
    if acc[4] == nil or v > acc[4] then acc[4] = v end
  end
end

-- A window's partial first minute, (lo, head_end), from 1-second buckets: the raw samples of lo's own second, then
-- the whole seconds after it. Scanning every raw sample of the head instead costs time in proportion to the series'
-- rate (half a minute of samples on average, for each of three windows, on every batch): at 17 samples a second
-- that was most of Redis' time (docs/benchmarks.md). Returns false when the minute keeps no seconds (flush_seconds):
-- the raw scan is then the cheaper read, or the only one there is.
local function head_from_seconds(kraw, k1s, minute_count, lo, head_end, acc)
  if minute_count == nil or minute_count <= RAW_HEAD_MAX then return false end
  local minute_s = head_end / 1000 - 60
  local lo_s = math.floor(lo / 1000)
  local secs = redis.call("ZRANGEBYSCORE", k1s, lo_s + 1, minute_s + 59)
  if not secs[1] and not redis.call("ZRANGEBYSCORE", k1s, minute_s, lo_s, "LIMIT", 0, 1)[1] then return false end
  raw_window(kraw, lo, (lo_s + 1) * 1000, false, acc)
  for _, m in ipairs(secs) do
    local _, c, sum, mn, mx = parse_agg(m)
    acc[1] = acc[1] + c
    acc[2] = acc[2] + sum
    if acc[3] == nil or mn < acc[3] then acc[3] = mn end
    if acc[4] == nil or mx > acc[4] then acc[4] = mx end
  end
  return true
end

-- A window (newest - span, newest]: the samples in its partial first minute, then the whole
-- 1-minute buckets after it (`buckets`: parsed buckets of the last hour and the minute before it, oldest first;
-- `counts`: bucket start s -> its count).
local function window(kraw, k1s, buckets, counts, newest, span)
  local acc = {0, 0, nil, nil, nil, nil}
  local lo = newest - span
  local head_end = (math.floor(lo / 60000) + 1) * 60000
  if head_end > newest then
    raw_window(kraw, lo, newest, true, acc)
  else
    if not head_from_seconds(kraw, k1s, counts[head_end / 1000 - 60], lo, head_end, acc) then
      raw_window(kraw, lo, head_end, false, acc)
    end
    local from_s = head_end / 1000
    for _, b in ipairs(buckets) do
      if b[1] >= from_s then
        acc[1] = acc[1] + b[2]
        acc[2] = acc[2] + b[3]
        if acc[3] == nil or b[4] < acc[3] then acc[3] = b[4] end
        if acc[4] == nil or b[5] > acc[4] then acc[4] = b[5] end
      end
    end
  end
  if acc[1] == 0 then return nil, acc end
  return {acc[1], acc[2] / acc[1], acc[3], acc[4]}, acc
end

local a = 10
for j = 1, n_entities do
  local entity = ARGV[a]
  local th = {ARGV[a + 1], tonumber(ARGV[a + 5]), tonumber(ARGV[a + 4]), tonumber(ARGV[a + 3]), tonumber(ARGV[a + 2])}
  local source = ARGV[a + 6]
  local packed = ARGV[a + 7]
  a = a + 8
  local kraw, kh1m, kh1s = KEYS[3 + (j - 1) * 3], KEYS[4 + (j - 1) * 3], KEYS[5 + (j - 1) * 3]

  local prev_json = redis.call("HGET", live, entity)
  local prev = nil
  local newest = -1
  if prev_json then
    prev = cjson.decode(prev_json)
    newest = prev.t
  end
  local last_v = prev and prev.v or nil
  local interval = prev and prev.n or default_interval
  local prev_status = prev and prev.st or "unknown"
  local cur_status = prev_status
  local since = prev and prev.since or nil
  local src = prev and prev.s or nil
  local added = 0
  local late_added = false
  local b1m = {}
  local b1s = {}

  for ts_s, v_s, hint_s in string.gmatch(packed, "([^,;]+),([^,;]+),([^,;]*);") do
    local ts = tonumber(ts_s)
    local v = tonumber(v_s)
    local hint = tonumber(hint_s)
    if newest >= 0 and ts < newest - late_ms then
      table.insert(out_rejected, {entity, string.format("%d", ts),
        "event time is older than the late-arrival limit (" .. (late_ms / 1000) .. "s behind the newest sample)"})
    elseif redis.call("ZRANGEBYSCORE", kraw, ts, ts, "LIMIT", 0, 1)[1] then
      dups = dups + 1
    else
      redis.call("ZADD", kraw, ts, string.format("%d:%s", ts, fmt(v)))
      bucket_acc(b1m, math.floor(ts / 60000) * 60, v, ts)
      bucket_acc(b1s, math.floor(ts / 1000), v, ts)
      added = added + 1
      if ts > newest then
        local gap = newest >= 0 and ts - newest > (hint or default_interval) * 1000 * grace
        newest = ts
        last_v = v
        interval = hint or default_interval
        -- Who delivered the newest sample: alerting puts a series' silence down to its source.
        if source ~= "" then src = source end
        -- Samples come sorted by event time, so each status change within a batch is seen and
        -- `since` does not depend on how the stream was cut into batches. A gap longer than
        -- the staleness limit starts a new run, as the stale sweep would have.
        local s = status_of(v, th)
        if s ~= cur_status or gap then
          cur_status = s
          since = ts
        end
      else
        late_added = true
      end
    end
  end
  accepted = accepted + added

  if added > 0 then
    flush_seconds(kraw, kh1s, b1s, flush_buckets(kh1m, b1m, true), newest - raw_keep)
    -- Trimming moves by whole minutes: once per minute of event time is enough, and the
    -- windows below are bounded by range, not by what the sets still hold.
    if prev == nil or math.floor(newest / 60000) ~= math.floor(prev.t / 60000) then
      local newest_s = math.floor(newest / 1000)
      redis.call("ZREMRANGEBYSCORE", kraw, "-inf", "(" .. fmt(newest - raw_keep))
      redis.call("ZREMRANGEBYSCORE", kh1m, "-inf", "(" .. fmt(newest_s - h1m_ret))
      -- Seconds go by whole minutes too, so the oldest window's first minute keeps all of its seconds.
      redis.call("ZREMRANGEBYSCORE", kh1s, "-inf", "(" .. fmt(math.floor((newest - raw_keep) / 60000) * 60))
    end

    -- Windows end at the newest event time of the series, so late samples count where they
    -- belong and a replay gives the same windows as live data.
    local buckets, counts = {}, {}
    local hour_head_end = (math.floor((newest - WINDOW_MS) / 60000) + 1) * 60000
    -- From the hour window's first (partial) minute: a first minute's count tells whether it keeps seconds.
    for _, m in ipairs(redis.call("ZRANGEBYSCORE", kh1m, hour_head_end / 1000 - 60, "+inf")) do
      local b = {parse_agg(m)}
      table.insert(buckets, b)
      counts[b[1]] = b[2]
    end
    local windows = {}
    local w1 = window(kraw, kh1s, buckets, counts, newest, 60000)
    if w1 then windows["1m"] = w1 end
    local w5, acc5 = window(kraw, kh1s, buckets, counts, newest, 300000)
    if w5 then windows["5m"] = w5 end
    local w60 = window(kraw, kh1s, buckets, counts, newest, WINDOW_MS)
    if w60 then windows["1h"] = w60 end

    -- Change per minute over the 5-minute window: first sample in it to the newest.
    local rate = 0
    local ft, fv = acc5[5], acc5[6]
    if ft == nil then  -- the window's partial first minute is empty: look the first one up
      local first = redis.call("ZRANGEBYSCORE", kraw, "(" .. fmt(newest - 300000), "+inf", "LIMIT", 0, 1)[1]
      if first then
        local t_s, v_s = string.match(first, "^([^:]+):(.+)$")
        ft, fv = tonumber(t_s), tonumber(v_s)
      end
    end
    if ft ~= nil and newest > ft then rate = (last_v - fv) / ((newest - ft) / 60000) end

    if late_added then
      -- A late sample may split or extend the current run of one status: find where the run
      -- starts by walking back from the newest sample, so the result is the same in any order.
      local gap_ms = interval * 1000 * grace
      local members = redis.call("ZREVRANGEBYSCORE", kraw, fmt(newest), "-inf")
      local run_start, after, complete = newest, newest, true
      for _, m in ipairs(members) do
        local mt, mv = string.match(m, "^([^:]+):(.+)$")
        mt, mv = tonumber(mt), tonumber(mv)
        if after - mt > gap_ms or status_of(mv, th) ~= cur_status then
          complete = false
          break
        end
        run_start, after = mt, mt
      end
      since = run_start
      if complete and prev and prev.st == cur_status and prev.since and prev.since < since then
        since = prev.since  -- the run began before the raw samples kept
      end
    end

    local status = cur_status
    if now - newest > interval * 1000 * grace then
      -- Catching up on old data: the series is still stale until a fresh sample arrives.
      status = "stale"
      if prev_status == "stale" and prev.since then since = prev.since else since = now end
    end
    local state = {i = indicator, e = entity, v = last_v, t = newest, st = status, ps = prev_status,
                   since = since, n = interval, w = windows, r = rate, s = src}
    if exercise then state.x = 1 end
    local encoded = cjson.encode(state)
    redis.call("HSET", live, entity, encoded)
    -- The stale sweep looks only at series past their deadline, not at every series.
    if status == "stale" then
      redis.call("ZREM", due, entity)
    else
      redis.call("ZADD", due, newest + interval * 1000 * grace, entity)
    end
    if encoded ~= prev_json or force then
      table.insert(out_changed, encoded)
    end
  elseif force and prev_json then
    -- Re-delivered entries (another aggregator died after writing, before publishing): publish
    -- the stored state again, since its update may never have reached the update stream.
    table.insert(out_changed, prev_json)
  end
end

return {out_changed, out_rejected, accepted, dups}
