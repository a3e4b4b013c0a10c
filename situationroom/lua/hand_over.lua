-- Hand one notification to the notify role once: a key already handed over is skipped, so the alert role
-- finishing a hand-over again after a crash (docs/alerts.md) never adds a notification twice.
-- Both keys carry the {notify} hash tag (one Redis Cluster slot).
-- KEYS[1] = notification stream, KEYS[2] = handed-over keys zset (score = ms)
-- ARGV: the notification's idempotency key, its JSON, stream maxlen, now_ms, keep_ms
if redis.call("ZSCORE", KEYS[2], ARGV[1]) then
  return 0
end
-- The entry first: a script that fails part way keeps what it did, and a key marked handed over whose entry
-- failed would be a lost notification.
redis.call("XADD", KEYS[1], "MAXLEN", "~", ARGV[3], "*", "n", ARGV[2])
local now = tonumber(ARGV[4])
redis.call("ZADD", KEYS[2], now, ARGV[1])
redis.call("ZREMRANGEBYSCORE", KEYS[2], "-inf", "(" .. (now - tonumber(ARGV[5])))
return 1
