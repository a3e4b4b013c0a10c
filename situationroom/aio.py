"""Asyncio waits that stay cancellable on Python 3.11, where `asyncio.wait_for` can swallow a cancellation."""

from __future__ import annotations

import asyncio

# On 3.11, `wait_for` drops a cancellation that arrives as the awaited thing completes (fixed in 3.12:
# python/cpython#86296). A loop of `wait_for(event.wait(), t)` then carries on after it was cancelled and a
# role never ends; `asyncio.timeout` uncancels correctly, so every timed wait goes through it.


def check_cancelled() -> None:
    """Raise the current task's cancellation if something swallowed it. redis-py writes every command under
    `wait_for` (its socket timeout), so on 3.11 a role cancelled just as a write completes carries on with the
    cancellation pending; the loop that would never end then holds the event loop's close for ever."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def running(stop: asyncio.Event) -> bool:
    """A role loop's condition: `stop` is not set (and the task's cancellation, if swallowed, goes on)."""
    check_cancelled()
    return not stop.is_set()


async def wait_event(event: asyncio.Event, seconds: float) -> bool:
    """Wait until `event` is set or `seconds` pass; True when it was set."""
    check_cancelled()
    if event.is_set():
        return True
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True
