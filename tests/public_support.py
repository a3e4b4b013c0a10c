"""A served site for the citizens' view tests: reads need a token (public_read False), and Redis holds live states of
public, officials-only and restricted indicators, and disaster texts and a CAP alert, so a test can check that only
the public ones reach /public and its API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import orjson

from situationroom import keys
from situationroom.catalog import Catalog
from situationroom.messages import Message
from situationroom.redisconn import async_client, sync_client
from situationroom.updates import MessagePublisher
from tests.servers_support import Served, serve
from tests.site_support import settings_for

PERIOD = 2.0
"""The answers' period in these tests: short, so a test sees a new answer after waiting for it."""


def station_in_a_dong(catalog: Catalog, indicator: str) -> tuple[str, str]:
    """(entity, 행정동 code) of the first entity of `indicator` that lies in a 행정동 and is not one itself."""
    for e in catalog.entities_of(indicator):
        ent = catalog.entities[e]
        district = catalog.entities.get(ent.district or "")
        if ent.kind != "dong" and district is not None and district.kind == "dong":
            return e, district.id
    raise AssertionError(f"no entity of {indicator} lies in a 행정동")


def state(ind: str, ent: str, value: float, st: str, *, exercise: bool = False, age: float = 0.0) -> bytes:
    now_ms = int((time.time() - age) * 1000)
    out = {"i": ind, "e": ent, "v": value, "t": now_ms, "st": st, "ps": "normal", "since": now_ms, "n": 600,
           "w": {}, "r": None}
    if exercise:
        out["x"] = 1
    return orjson.dumps(out)


def non_public(catalog: Catalog) -> list[str]:
    """Every id and name (both languages) of the indicators that are not public: none may reach a citizen."""
    return [s for i in catalog.indicators.values() if not i.public for s in (i.id, i.name_ko, i.name_en)]


@contextmanager
def public_site(redis_url: str, tmp: Path, *, exercise: bool = False) -> Iterator[Served]:
    """The site served with tokens required, states written for every indicator (public or not), messages published."""
    settings = settings_for(redis_url, history_dir=tmp / "history", public_read=False, public_cache=PERIOD)
    with serve(settings) as served:
        catalog = served.catalog
        r = sync_client(redis_url)
        for ind in catalog.indicators.values():
            for e in catalog.entities_of(ind.id):
                r.hset(keys.live(ind.id, exercise), e, state(ind.id, e, 1.0, "normal", exercise=exercise))
        station, _ = station_in_a_dong(catalog, "air.pm10")
        r.hset(keys.live("air.pm10", exercise), station, state("air.pm10", station, 120.0, "warning",
                                                                exercise=exercise))
        r.close()
        now = time.time()
        texts = [Message("m-new", now - 60, "test", "disaster_text", "warning", "포항시 호우경보 발효", "Heavy rain",
                         ("47111",), exercise=exercise),
                 Message("m-old", now - 30 * 3600, "test", "disaster_text", "info", "어제 안내", "Yesterday",
                         exercise=exercise),
                 Message("m-cap", now - 30, "test", "cap", "critical", "CAP 내부 경보", "CAP internal")]

        async def publish() -> None:
            client = async_client(redis_url)
            try:
                await MessagePublisher(client).publish(texts, maxlen=1000)
            finally:
                await client.aclose()

        # In a thread of its own: a Playwright test's thread already runs an event loop.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, publish()).result()
        yield served
