"""Asyncio waits that stay cancellable on Python 3.11, where `asyncio.wait_for` can swallow a cancellation."""

from __future__ import annotations

import asyncio

# On 3.11, `wait_for` drops a cancellation that arrives as the awaited thing completes (fixed in 3.12:
# python/cpython#86296). A loop of `wait_for(event.wait(), t)` then carries on after it was cancelled and a
# role never ends; `asyncio.timeout` uncancels correctly, so every timed wait goes through it.


async def wait_event(event: asyncio.Event, seconds: float) -> bool:
    """Wait until `event` is set or `seconds` pass; True when it was set."""
    if event.is_set():
        return True
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True
