"""An open-loop load for the benches: batches pushed on a 10 ms clock, whether or not the ones before were answered."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson

TICK = 0.01
"""Seconds between two batches."""
IN_FLIGHT = 16
"""Pushes under way at once: enough to hold 10,000 samples/s (100 batches/s) on a server answering a batch within
160 ms; a slower one gets the load at the rate it takes, which the benches report."""
SHORT = 0.95
"""A load sent at less than this share of the rate asked does not test a target set at that rate."""


def short(sent_rate: float, asked: float) -> bool:
    """The load fell short of the rate asked (`SHORT`): its run does not test the target."""
    return sent_rate < asked * SHORT


async def push_on_clock(http: httpx.AsyncClient, next_batch: Callable[[], list[dict[str, Any]]],
                        done: Callable[[], bool]) -> float:
    """Push `next_batch()` to the ingest API every tick until `done()`; the seconds from the first push to the last
    answer. A server slower than the load shows in the times measured, not as a slower load (a closed loop, which
    waits for each answer, measures the server's pace instead). `next_batch` runs as its batch is sent, so times it
    records are send times; an empty batch sends nothing."""
    in_flight = asyncio.Semaphore(IN_FLIGHT)
    posts: set[asyncio.Task[None]] = set()
    failed: list[str] = []

    async def post(body: bytes) -> None:
        try:
            response = await http.post("/api/v1/samples", content=body)
            if response.status_code != 200:
                failed.append(f"ingest answered {response.status_code}: {response.text[:300]}")
        except httpx.HTTPError as exc:
            failed.append(f"ingest could not be reached: {exc!r}")
        finally:
            in_flight.release()

    began = tick = time.perf_counter()
    while not done() and not failed:
        await in_flight.acquire()
        batch = next_batch()
        if batch:
            task = asyncio.create_task(post(orjson.dumps({"samples": batch})))
            posts.add(task)
            task.add_done_callback(posts.discard)
        else:
            in_flight.release()
        tick += TICK
        await asyncio.sleep(max(0.0, tick - time.perf_counter()))
    if posts:
        await asyncio.wait(set(posts))
    if failed:
        raise RuntimeError(failed[0])
    return time.perf_counter() - began
