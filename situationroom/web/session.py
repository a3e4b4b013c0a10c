"""Browser sign-ins: a random session id in an HTTP-only cookie, bound in Redis to the token it was opened with."""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

import orjson
import redis.asyncio as aioredis

from situationroom import keys, tokens

COOKIE = "sr_session"


def _key(sid: str) -> str:
    # Only the id's hash is a key: a copy of Redis does not hand out live sign-ins.
    return keys.session(hashlib.sha256(sid.encode()).hexdigest())


async def open_session(client: aioredis.Redis, record: dict[str, Any], address: str, ttl: float) -> tuple[str, str]:
    """Start a session for the token behind `record`; returns (session id for the cookie, anti-CSRF token)."""
    sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    data = {"token": record["digest"], "csrf": csrf, "created": time.time(), "address": address}
    await client.set(_key(sid), orjson.dumps(data), ex=max(1, int(ttl)))
    return sid, csrf


async def lookup(client: aioredis.Redis, sid: str, ttl: float) -> tuple[dict[str, Any], str] | None:
    """(token record, anti-CSRF token) of a live session, its expiry pushed back by `ttl`; None when it has ended
    or its token was revoked since."""
    if len(sid) > 100:
        return None
    raw = await client.getex(_key(sid), ex=max(1, int(ttl)))
    if raw is None:
        return None
    data = orjson.loads(raw)
    record = await tokens.lookup_digest(client, data["token"])
    if record is None:
        await client.delete(_key(sid))
        return None
    return record, data["csrf"]


async def close(client: aioredis.Redis, sid: str) -> None:
    await client.delete(_key(sid))
