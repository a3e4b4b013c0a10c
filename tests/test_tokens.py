"""API tokens against real Redis: shown once, stored only as a hash, looked up, revoked."""

from __future__ import annotations

import hashlib

import pytest
import redis
import redis.asyncio as aioredis

from situationroom import keys, redisconn, tokens

pytestmark = pytest.mark.cluster


@pytest.fixture
def sync_client(redis_url: str) -> redis.Redis:
    client = redisconn.sync_client(redis_url)
    yield client
    client.close()


async def test_create_lookup_revoke(sync_client: redis.Redis, aclient: aioredis.Redis) -> None:
    token = tokens.create(sync_client, "ingest", "kepco")
    other = tokens.create(sync_client, "viewer", "wall")
    assert token.startswith("sr_") and len(token) > 40 and token != other

    # Only the sha256 of the token is stored; the token itself appears nowhere in Redis.
    stored = sync_client.hgetall(keys.tokens())
    assert hashlib.sha256(token.encode()).hexdigest().encode() in stored
    for key in sync_client.keys("*"):
        dump = sync_client.dump(key) or b""
        assert token.encode() not in dump and token.encode() not in key
    assert all(token.encode() not in v for v in stored.values())

    rec = await tokens.lookup(aclient, token)
    assert rec is not None and rec["name"] == "kepco" and rec["role"] == "ingest"
    assert rec["scopes"] == frozenset({"read", "ingest"})
    assert await tokens.lookup(aclient, token + "x") is None
    assert await tokens.lookup(aclient, "") is None

    listed = tokens.list_tokens(sync_client)
    assert [r["name"] for r in listed] == ["kepco", "wall"]
    assert all(len(r["id"]) == 12 and token not in str(r) for r in listed)

    with pytest.raises(ValueError, match="at least 8"):
        tokens.revoke(sync_client, "abc")
    assert tokens.revoke(sync_client, listed[0]["id"]) == 1
    assert await tokens.lookup(aclient, token) is None
    assert (await tokens.lookup(aclient, other))["role"] == "viewer"
    assert tokens.revoke(sync_client, listed[0]["id"]) == 0


def test_roles_and_unknown_role(sync_client: redis.Redis) -> None:
    assert tokens.ROLES["viewer"] == frozenset({"read"})
    assert "admin" in tokens.ROLES["admin"] and "ingest" not in tokens.ROLES["viewer"]
    with pytest.raises(ValueError, match="unknown role 'root'; roles: viewer, ingest, staff, operator, admin"):
        tokens.create(sync_client, "root", "x")
    assert sync_client.hlen(keys.tokens()) == 0
