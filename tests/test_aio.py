"""A timed wait on an event ends its loop when the task is cancelled, even on Python 3.11."""

from __future__ import annotations

import asyncio
import sys

from situationroom.aio import wait_event


async def _loop_until_cancelled(event: asyncio.Event, wait: object) -> None:
    # A role's loop: only a cancellation ends it.
    while True:
        await wait(event)  # type: ignore[operator]
        event.clear()


async def _cancel_as_the_event_is_set(wait: object) -> bool:
    """True when the loop ended on the cancel that came in the same moment as the event."""
    event = asyncio.Event()
    task = asyncio.create_task(_loop_until_cancelled(event, wait))
    await asyncio.sleep(0.01)
    event.set()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=1)
    if not done:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return False
    return task.cancelled()


async def test_a_cancel_that_arrives_as_the_event_is_set_ends_the_loop() -> None:
    assert await _cancel_as_the_event_is_set(lambda e: wait_event(e, 10))


async def test_wait_for_is_why_it_exists_on_this_python() -> None:
    # Documents the hazard wait_event avoids; on Python 3.12+ wait_for is fixed and the loop ends either way.
    ended = await _cancel_as_the_event_is_set(lambda e: asyncio.wait_for(e.wait(), 10))
    assert ended is (sys.version_info >= (3, 12))


async def test_the_wait_says_whether_the_event_was_set() -> None:
    event = asyncio.Event()
    assert await wait_event(event, 0.01) is False
    event.set()
    assert await wait_event(event, 0.01) is True
