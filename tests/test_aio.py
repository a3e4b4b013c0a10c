"""A timed wait on an event ends its loop when the task is cancelled, even on Python 3.11."""

from __future__ import annotations

import asyncio
import sys

from situationroom.aio import running, wait_event


async def _loop_until_cancelled(event: asyncio.Event, wait: object) -> None:
    # A role's loop: only a cancellation ends it.
    while True:
        await wait(event)  # type: ignore[operator]
        event.clear()


async def _cancel_as_the_event_is_set(wait: object) -> bool:
    """True when the loop ended on the cancel that came in the same moment as the event."""
    return await _ends_on_the_cancel(lambda event: _loop_until_cancelled(event, wait))


async def _ends_on_the_cancel(loop_body: object) -> bool:
    """True when `loop_body(event)` ended on the one cancel, sent in the same moment as the event is set."""
    event = asyncio.Event()
    task = asyncio.create_task(loop_body(event))  # type: ignore[operator]
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


async def _swallow_one_cancel(event: asyncio.Event) -> None:
    """What redis-py's write does on 3.11: its `wait_for` returns the finished write and drops the cancel."""
    await asyncio.wait_for(event.wait(), 10)
    event.clear()


async def test_a_loop_whose_cancel_a_library_swallowed_ends_at_its_next_wait() -> None:
    async def role(event: asyncio.Event) -> None:
        while True:
            await _swallow_one_cancel(event)
            await wait_event(asyncio.Event(), 0.05)

    assert await _ends_on_the_cancel(role)


async def test_a_role_loop_ends_on_a_swallowed_cancel_at_its_next_round() -> None:
    async def role(event: asyncio.Event) -> None:
        stop = asyncio.Event()
        while running(stop):
            await _swallow_one_cancel(event)

    assert await _ends_on_the_cancel(role)


async def test_a_loop_with_nothing_cancelled_runs_until_stopped() -> None:
    stop = asyncio.Event()
    assert running(stop)
    stop.set()
    assert not running(stop)
