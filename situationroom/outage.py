"""Losing what a role needs (Redis, most often) and getting it back: said once each way, never on every retry."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from situationroom import aio

RETRY = 1.0
"""Seconds between tries while Redis is away or refuses."""


class Outage:
    """Logs the first failure of a run of failures, and the recovery after it; what comes between is a retry."""

    def __init__(self, log: logging.Logger, recovered: str) -> None:
        self.log = log
        self.recovered_message = recovered
        self.down = False

    def failed(self, message: str, *args: Any, level: int = logging.ERROR) -> None:
        """One more failure: logged only when it starts an outage."""
        if not self.down:
            self.log.log(level, message, *args)
            self.down = True

    def reached(self) -> None:
        """A success: logs the recovery when it ends an outage."""
        if self.down:
            self.log.info(self.recovered_message)
            self.down = False


def missing_group(exc: ResponseError) -> bool:
    """The streams or their consumer group are gone (FLUSHDB, an operator deleting keys): create them again."""
    return "NOGROUP" in str(exc) or "UNBLOCKED" in str(exc)


async def run_stream_reader(name: str, step: Callable[[], Awaitable[bool]], stop: asyncio.Event, *,
                            regroup: Callable[[], Awaitable[None]], log: logging.Logger,
                            recover: Callable[[], Awaitable[object]] | None = None) -> None:
    """The loop of a role that reads streams through a consumer group (the aggregator, the alert role): `step`
    until `stop` or until it returns False, through Redis outages and lost groups. After an outage, `recover` runs
    before the next step: a failover can leave entries delivered to this consumer whose processing the promoted
    replica never got, pending under its name until they would be reclaimed as a dead consumer's."""
    outage = Outage(log, f"{name} recovered")
    while aio.running(stop):
        try:
            if outage.down and recover is not None:
                await recover()
            if not await step():
                return
            outage.reached()
        except ResponseError as exc:
            # A client library may turn a cancellation into a failed command as it closes the connection under
            # way (the cluster client does): a cancelled reader ends rather than retries.
            aio.check_cancelled()
            if missing_group(exc):
                await regroup()
                continue
            outage.failed("%s: Redis refused a command: %s; retrying", name, exc)
            await aio.wait_event(stop, RETRY)
        except (OSError, RedisConnectionError, RedisTimeoutError) as exc:
            aio.check_cancelled()
            outage.failed("%s lost Redis: %s; retrying", name, exc)
            await aio.wait_event(stop, RETRY)

