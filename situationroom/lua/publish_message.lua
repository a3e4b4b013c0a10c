-- Publish a text message to the update stream once: a message id already seen is skipped, so a
-- re-run, a restart or a second collector of the same source never shows it twice.
-- All keys carry the {updates} hash tag (one Redis Cluster slot).
-- KEYS[1] = update stream, KEYS[2] = recent messages list, KEYS[3] = seen ids zset (score = ms)
-- ARGV: id, message JSON, stream maxlen, now_ms, keep_ids_ms, recent, the entry's field (updates.MESSAGE)
if redis.call("ZSCORE", KEYS[3], ARGV[1]) then
  return 0
end
local now = tonumber(ARGV[4])
redis.call("ZADD", KEYS[3], now, ARGV[1])
redis.call("ZREMRANGEBYSCORE", KEYS[3], "-inf", "(" .. (now - tonumber(ARGV[5])))
redis.call("XADD", KEYS[1], "MAXLEN", "~", ARGV[3], "*", ARGV[7], ARGV[2])
redis.call("LPUSH", KEYS[2], ARGV[2])
redis.call("LTRIM", KEYS[2], 0, tonumber(ARGV[6]) - 1)
return 1
