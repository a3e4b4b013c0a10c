"""The benches' load goes out on its clock: a slow server is measured as slow, not given a lighter load."""

from __future__ import annotations

import time

import httpx
import pytest

from situationroom.bench import load
from tests.notify_support import http_receiver


def _batches(seconds: float) -> tuple[list[float], object, object]:
    sent: list[float] = []
    start = time.perf_counter()

    def next_batch() -> list[dict[str, object]]:
        sent.append(time.perf_counter())
        return [{"indicator": "river.level", "entity": "hrfco-2101690", "value": float(len(sent))}]

    return sent, next_batch, lambda: time.perf_counter() - start >= seconds


async def test_a_server_slower_than_the_tick_still_gets_a_batch_every_tick() -> None:
    with http_receiver() as rx:
        rx.delay = 0.05  # five ticks per answer: a sender that waited would send a fifth of the load
        sent, next_batch, done = _batches(0.5)
        async with httpx.AsyncClient(base_url=rx.url) as http:
            seconds = await load.push_on_clock(http, next_batch, done)
        assert 45 <= len(sent) <= 51
        assert len(rx.requests) == len(sent), "every batch was answered before the push ended"
        assert 0.5 <= seconds < 0.7


async def test_past_the_pushes_allowed_under_way_the_load_falls_short_and_says_how_long_it_took() -> None:
    with http_receiver() as rx:
        rx.delay = 0.4  # 16 under way at 0.4 s each: at most 40 batches a second, not 100
        sent, next_batch, done = _batches(0.8)
        async with httpx.AsyncClient(base_url=rx.url) as http:
            seconds = await load.push_on_clock(http, next_batch, done)
        assert len(sent) <= 2 * load.IN_FLIGHT + 1
        assert len(sent) / seconds < 50, "the rate sent shows the shortfall"


async def test_a_refused_batch_ends_the_load_with_the_servers_answer() -> None:
    with http_receiver() as rx:
        rx.fail_next(1, status=422, body=b'{"detail": "samples[0].value: not a number"}')
        sent, next_batch, done = _batches(2.0)
        async with httpx.AsyncClient(base_url=rx.url) as http:
            with pytest.raises(RuntimeError, match=r"ingest answered 422: .*samples\[0\]\.value"):
                await load.push_on_clock(http, next_batch, done)
        assert len(sent) < 50, "the load stopped at the refusal, not at its end"


async def test_a_server_that_goes_away_ends_the_load_with_what_happened() -> None:
    with http_receiver() as rx:
        url = rx.url
    # The receiver is shut: nothing listens on its port any more.
    sent, next_batch, done = _batches(2.0)
    async with httpx.AsyncClient(base_url=url) as http:
        with pytest.raises(RuntimeError, match="ingest could not be reached: ConnectError"):
            await load.push_on_clock(http, next_batch, done)
    assert len(sent) < 50
