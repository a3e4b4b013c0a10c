"""Failed token checks counted per client address: past the limit an address gets 429 until its window ends.

The counts live in Redis (the `limits` package's fixed window, keys under keys.AUTH_FAILURES_PREFIX), so every
web role behind a load balancer sees the same count and a restart does not reset it; an address's window starts
at its first failure and its key expires with it, so the state is bounded by the addresses failing right now.
"""

from __future__ import annotations

import math
import time

import redis.asyncio as aioredis
from limits import RateLimitItemPerSecond
from limits.aio.storage import RedisStorage
from limits.aio.strategies import FixedWindowRateLimiter

from situationroom import keys
from situationroom.settings import Settings


class Lockout:
    def __init__(self, client: aioredis.Redis, settings: Settings) -> None:
        self.window = max(1, int(settings.auth_fail_window))
        self.item = RateLimitItemPerSecond(settings.auth_fail_limit, self.window)
        # The app's own connection pool: no second connection setup, and the URL (unix socket, password) once.
        storage = RedisStorage("async+redis://", implementation="redispy", key_prefix=keys.AUTH_FAILURES_PREFIX,
                               connection_pool=client.connection_pool)
        self.limiter = FixedWindowRateLimiter(storage)

    async def retry_after(self, address: str) -> int | None:
        """Seconds until `address` may try again, or None when it is not locked out."""
        if await self.limiter.test(self.item, address):
            return None
        stats = await self.limiter.get_window_stats(self.item, address)
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def failed(self, address: str) -> bool:
        """Count a failed check; True when this one locked the address out (the moment to log it, once)."""
        await self.limiter.hit(self.item, address)
        return not await self.limiter.test(self.item, address)
