"""Each collector's health (last run, last success, last error, samples, next run) kept in Redis."""

from __future__ import annotations

import time
from typing import Any

import orjson
import redis.asyncio as aioredis

from situationroom import keys

INT_FIELDS = {"runs", "failures", "consecutive_failures", "samples_last_run", "samples_total",
              "rejected_last_run", "rejected_total", "duration_ms", "attempts_last_run", "skipped"}
FLOAT_FIELDS = {"last_run", "last_success", "last_error_at", "next_run", "updated_at", "config_error_at"}
TEXT_FIELDS = {"state", "kind", "name_ko", "name_en", "schedule", "last_error", "file", "config_error", "needs_env"}
"""`state`: scheduled, ok, failing, invalid, disabled, paused, or live/connected/disconnected (live kinds).
`file`: site-relative path. `config_error`: the file became invalid while the last good version keeps
running. `needs_env`: variables a disabled collector refers to that are not set."""
BOOL_FIELDS = {"exercise"}
"""`exercise`: what the collector delivers is exercise data (a simulator, a drill feed)."""
JSON_FIELDS = {"clock"}
"""`clock`: a simulator's simulated time, {scenario, speed, start, anchor, duration, loop} (docs/exercise.md)."""


async def record(client: aioredis.Redis, collector: str, fields: dict[str, Any],
                 incr: dict[str, int] | None = None) -> None:
    key = keys.collector_health(collector)
    pipe = client.pipeline(transaction=False)
    pipe.sadd(keys.collectors_index(), collector)
    values = {k: _text(k, v) for k, v in fields.items()}
    values["updated_at"] = f"{time.time():.3f}"
    pipe.hset(key, mapping=values)
    for name, n in (incr or {}).items():
        pipe.hincrby(key, name, n)
    await pipe.execute()


def _text(name: str, value: Any) -> str:
    if value is None:
        return ""
    if name in BOOL_FIELDS:
        return "1" if value else "0"
    if name in JSON_FIELDS:
        return orjson.dumps(value).decode()
    return str(value)


def _parse(raw: dict[bytes, bytes]) -> dict[str, Any]:
    # Every field is present in every answer (0 or None until known), so readers see one shape.
    out: dict[str, Any] = dict.fromkeys(sorted(TEXT_FIELDS | FLOAT_FIELDS | JSON_FIELDS))
    out.update(dict.fromkeys(sorted(INT_FIELDS), 0))
    out.update(dict.fromkeys(sorted(BOOL_FIELDS), False))
    for k, v in raw.items():
        name, text = k.decode(errors="replace"), v.decode(errors="replace")
        try:
            if name in INT_FIELDS:
                out[name] = int(text) if text else 0
            elif name in FLOAT_FIELDS:
                out[name] = float(text) if text else None
            elif name in BOOL_FIELDS:
                out[name] = text == "1"
            elif name in JSON_FIELDS:
                out[name] = orjson.loads(text) if text else None
            else:
                out[name] = text or None
        except (ValueError, orjson.JSONDecodeError):
            # Only the runtime writes this hash; a value someone set by hand that is not a number shows
            # as unknown rather than failing every reader of every collector's health.
            continue
    return out


async def read_all(client: aioredis.Redis) -> dict[str, dict[str, Any]]:
    ids = sorted(m.decode() for m in await client.smembers(keys.collectors_index()))
    pipe = client.pipeline(transaction=False)
    for cid in ids:
        pipe.hgetall(keys.collector_health(cid))
        pipe.hget(keys.collector_control(cid), "paused")
    results = await pipe.execute()
    out = {}
    for n, cid in enumerate(ids):
        health = _parse(results[2 * n])
        health["paused"] = results[2 * n + 1] == b"1"
        out[cid] = health
    return out


async def read_one(client: aioredis.Redis, collector: str) -> dict[str, Any] | None:
    """One collector's health, as `read_all` shows it; None when it has never reported (not in the index)."""
    pipe = client.pipeline(transaction=False)
    pipe.sismember(keys.collectors_index(), collector)
    pipe.hgetall(keys.collector_health(collector))
    pipe.hget(keys.collector_control(collector), "paused")
    known, raw, paused = await pipe.execute()
    if not known:
        return None
    health = _parse(raw)
    health["paused"] = paused == b"1"
    return health


async def forget(client: aioredis.Redis, collector: str) -> None:
    pipe = client.pipeline(transaction=False)
    pipe.srem(keys.collectors_index(), collector)
    pipe.delete(keys.collector_health(collector))
    await pipe.execute()


async def is_paused(client: aioredis.Redis, collector: str) -> bool:
    return await client.hget(keys.collector_control(collector), "paused") == b"1"
