"""Failed token checks counted per client address: past the limit an address gets 429 until its window ends.

The counts live in Redis (a fixed window: one counter per address under keys.auth_failures, created with the
window as its time to live), so every web role behind a load balancer sees the same count and a restart does not
reset it; an address's window starts at its first failure and its key expires with it, so the state is bounded by
the addresses failing right now. One key per command, so it works alike on one server and on a Redis Cluster.
"""

from __future__ import annotations

import math
from typing import Any

from situationroom import keys
from situationroom.redisconn import AsyncClient
from situationroom.settings import Settings

# Count one failure; the first one starts the window. In one script so a counter can never be left without its
# time to live (a crash between INCR and PEXPIRE would lock the address out for good).
_HIT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 or redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
"""


class Lockout:
    def __init__(self, client: AsyncClient, settings: Settings) -> None:
        self.client = client
        self.window = max(1, int(settings.auth_fail_window))
        self.limit = settings.auth_fail_limit
        self._hit = client.register_script(_HIT)

    async def retry_after(self, address: str) -> int | None:
        """Seconds until `address` may try again, or None when it is not locked out."""
        pipe = self.client.pipeline(transaction=False)
        self.queue_check(pipe, address)
        return self.retry_after_of(*await pipe.execute())

    @staticmethod
    def queue_check(pipe: Any, address: str) -> None:
        """Queue `retry_after`'s two reads on a pipeline shared with other reads (the token look-up: one round
        trip for both on push ingest's hot path); `retry_after_of` reads their answers."""
        key = keys.auth_failures(address)
        pipe.get(key)
        pipe.pttl(key)

    def retry_after_of(self, count: bytes | None, pttl: int) -> int | None:
        if count is None or int(count) < self.limit:
            return None
        return max(1, math.ceil(max(pttl, 0) / 1000))

    async def failed(self, address: str) -> bool:
        """Count a failed check; True when this one locked the address out (the moment to log it, once)."""
        count = await self._hit(keys=[keys.auth_failures(address)], args=[self.window * 1000])
        return int(count) == self.limit
