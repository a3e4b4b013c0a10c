"""API tokens: roles and their scopes; a token is shown once and only its hash is stored."""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

import orjson
import redis
import redis.asyncio as aioredis

from situationroom import keys

ROLES: dict[str, frozenset[str]] = {
    "viewer": frozenset({"read"}),
    "ingest": frozenset({"read", "ingest"}),
    # Department staff: acknowledge, silence, and manage their own subscriptions (docs/alerts.md).
    "staff": frozenset({"read", "staff"}),
    "operator": frozenset({"read", "ingest", "operate", "staff"}),
    "admin": frozenset({"read", "ingest", "operate", "staff", "admin"}),
}
PREFIX = "sr_"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(client: redis.Redis, role: str, name: str, staff: str | None = None, *, exercise: bool = False) -> str:
    """Make a new token for `role` (bound to a staff id when given); returns the token, which is
    stored only as its hash. A `staff` token must name the staff member it belongs to. Samples pushed
    with an `exercise` token are exercise data (docs/exercise.md)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    if role == "staff" and not staff:
        raise ValueError("a staff token needs the staff id it belongs to (--staff ID)")
    token = PREFIX + secrets.token_urlsafe(32)
    record: dict[str, Any] = {"name": name, "role": role, "created": time.time()}
    if staff:
        record["staff"] = staff
    if exercise:
        record["exercise"] = True
    client.hset(keys.tokens(), digest(token), orjson.dumps(record))
    return token


def list_tokens(client: redis.Redis) -> list[dict[str, Any]]:
    out = []
    for h, raw in client.hgetall(keys.tokens()).items():
        rec = orjson.loads(raw)
        rec["id"] = h.decode()[:12]
        out.append(rec)
    return sorted(out, key=lambda r: r["created"])


def find(client: redis.Redis, token_id: str) -> list[dict[str, Any]]:
    """The tokens whose id (the start of their hash, as `tokens list` shows it) begins with `token_id`."""
    if len(token_id) < 8:
        raise ValueError("give at least 8 characters of the token id")
    return [{**orjson.loads(raw), "id": h.decode()[:12]} for h, raw in client.hgetall(keys.tokens()).items()
            if h.decode().startswith(token_id)]


def revoke(client: redis.Redis, token_id: str) -> int:
    """Remove tokens whose hash starts with `token_id` (as `tokens list` shows it); their browser sign-ins end
    with them (a session holds the token's hash and is checked against it on every request)."""
    if len(token_id) < 8:
        raise ValueError("give at least 8 characters of the token id")
    removed = 0
    for h in client.hkeys(keys.tokens()):
        if h.decode().startswith(token_id):
            removed += client.hdel(keys.tokens(), h)
    return removed


async def lookup(client: aioredis.Redis, token: str) -> dict[str, Any] | None:
    return await lookup_digest(client, digest(token))


async def lookup_digest(client: aioredis.Redis, token_digest: str) -> dict[str, Any] | None:
    """The record of the token with this hash (what a signed-in session holds), or None once it is revoked."""
    return record_of(await client.hget(keys.tokens(), token_digest), token_digest)


def queue_lookup(pipe: Any, token: str) -> str:
    """Queue the look-up of a token on a pipeline shared with other reads; returns the token's hash, for
    `record_of` to read the answer with."""
    token_digest = digest(token)
    pipe.hget(keys.tokens(), token_digest)
    return token_digest


def record_of(raw: bytes | None, token_digest: str) -> dict[str, Any] | None:
    """The token record in a look-up's answer, or None (unknown or revoked)."""
    if raw is None:
        return None
    rec = orjson.loads(raw)
    rec["scopes"] = ROLES.get(rec.get("role", ""), frozenset())
    rec.setdefault("staff", None)
    rec.setdefault("exercise", False)
    rec["digest"] = token_digest
    return rec
