"""The lock that makes one alert role the active one; a second one waits as a standby."""

from __future__ import annotations

import contextlib

import redis.asyncio as aioredis

from situationroom import keys

LOCK_MS = 10_000

_REFRESH = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


class RoleLock:
    """Held by `owner` while it refreshes it at least every LOCK_MS."""

    def __init__(self, client: aioredis.Redis, owner: str) -> None:
        self.client = client
        self.owner = owner
        self._refresh = client.register_script(_REFRESH)

    async def take(self) -> bool:
        """Take the lock unless another role holds it."""
        return bool(await self.client.set(keys.alert_lock(), self.owner, nx=True, px=LOCK_MS))

    async def keep(self) -> bool:
        """Extend the lock; False when it was lost (run out and taken by another role)."""
        return bool(await self._refresh(keys=[keys.alert_lock()], args=[self.owner, LOCK_MS]))

    async def release(self) -> None:
        with contextlib.suppress(Exception):
            if await self.client.get(keys.alert_lock()) == self.owner.encode():
                await self.client.delete(keys.alert_lock())
