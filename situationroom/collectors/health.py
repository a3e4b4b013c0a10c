"""Each collector's health in Redis (last run, last error, samples, next run) and its recent rejections."""

from __future__ import annotations

import time
from typing import Any

import orjson
import redis
import redis.asyncio as aioredis

from situationroom import keys
from situationroom.collectors import control

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


def _with_control(raw: dict[bytes, bytes], answer: list[bytes | None]) -> dict[str, Any]:
    health = _parse(raw)
    state = control.parse(answer)
    health["paused"] = state.paused
    health["run_now_requested"] = state.run_now_requested
    return health


async def read_all(client: aioredis.Redis) -> dict[str, dict[str, Any]]:
    """Every collector's health, with what operators asked of it (`paused`, `run_now_requested`)."""
    ids = sorted(m.decode() for m in await client.smembers(keys.collectors_index()))
    pipe = client.pipeline(transaction=False)
    for cid in ids:
        pipe.hgetall(keys.collector_health(cid))
        control.queue_read(pipe, cid)
    results = await pipe.execute()
    return {cid: _with_control(results[2 * n], results[2 * n + 1]) for n, cid in enumerate(ids)}


async def read_one(client: aioredis.Redis, collector: str) -> dict[str, Any] | None:
    """One collector's health, as `read_all` shows it; None when it has never reported (not in the index)."""
    pipe = client.pipeline(transaction=False)
    pipe.sismember(keys.collectors_index(), collector)
    pipe.hgetall(keys.collector_health(collector))
    control.queue_read(pipe, collector)
    known, raw, answer = await pipe.execute()
    if not known:
        return None
    return _with_control(raw, answer)


def has_reported(client: redis.Redis, collector: str) -> bool:
    """Whether a collect role has reported the collector's health (a synchronous client, for the command line)."""
    return bool(client.sismember(keys.collectors_index(), collector))


async def forget(client: aioredis.Redis, collector: str) -> None:
    pipe = client.pipeline(transaction=False)
    pipe.srem(keys.collectors_index(), collector)
    pipe.delete(keys.collector_health(collector))
    await pipe.execute()



DEADLETTER_SCAN = 2000
"""How far back the dead-letter stream is searched for one collector's rejections."""


async def recent_rejections(client: aioredis.Redis, collector: str, limit: int) -> list[dict[str, Any]]:
    """The collector's latest rejections in the dead-letter stream, newest first (its value parsed when JSON)."""
    entries = await client.xrevrange(keys.deadletter(), count=DEADLETTER_SCAN)
    out: list[dict[str, Any]] = []
    for entry_id, fields in entries:
        if fields.get(b"source", b"").decode() != collector:
            continue
        value = fields.get(b"value", b"").decode()
        try:
            parsed: Any = orjson.loads(value) if value else None
        except orjson.JSONDecodeError:
            parsed = value
        out.append({"id": entry_id.decode(), "at": int(fields.get(b"at", b"0")) / 1000,
                    "field": fields.get(b"field", b"").decode() or None,
                    "reason": fields.get(b"reason", b"").decode(), "value": parsed})
        if len(out) >= limit:
            break
    return out
