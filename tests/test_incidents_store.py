"""The incident records on a real Redis: one open incident per hazard, area and kind; concurrent level changes both
land, in order; a closed incident frees its place and stays readable."""

from __future__ import annotations

import asyncio
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis.asyncio as aioredis

from situationroom.clock import now_ms
from situationroom.incidents import store
from situationroom.incidents.store import Incident, Refused

pytestmark = pytest.mark.cluster

SEOUL = ZoneInfo("Asia/Seoul")


async def _open(client: aioredis.Redis, area: str = "47111", exercise: bool = False) -> Incident:
    at = now_ms()
    incident = Incident(await store.new_id(client, "flood", at, SEOUL), "flood", area, 1, exercise, at, "op", "비")
    return await store.open_incident(client, incident, [{"at": at, "kind": "declared", "by": "op"}], {})


async def test_one_open_incident_per_hazard_area_and_kind(aclient: aioredis.Redis) -> None:
    first = await _open(aclient)
    assert first.id.endswith("-flood-1")
    with pytest.raises(Refused) as refused:
        await _open(aclient)
    assert refused.value.status == 409 and first.id in refused.value.message
    drill = await _open(aclient, exercise=True)  # an exercise incident beside the real one
    assert [i.id for i in await store.read_open(aclient)] == [first.id, drill.id]


async def test_concurrent_changes_both_land_and_a_closed_incident_frees_its_place(aclient: aioredis.Redis) -> None:
    incident = await _open(aclient)

    def bump(by: str) -> Any:
        def apply(i: Incident) -> dict[str, Any]:
            i.level += 1
            return {"at": now_ms(), "kind": "level", "by": by, "level": i.level}
        return apply

    await asyncio.gather(*(store.change(aclient, incident.id, bump(f"op{n}")) for n in range(5)))
    assert (await store.read(aclient, incident.id)).level == 6
    levels = [e.get("level") for e in await store.read_timeline(aclient, incident.id)]
    assert levels == [None, 2, 3, 4, 5, 6]

    def close(i: Incident) -> dict[str, Any]:
        i.state = "closed"
        return {"at": now_ms(), "kind": "ended", "by": "op"}

    await store.change(aclient, incident.id, close)
    assert await store.read_open(aclient) == []
    with pytest.raises(Refused, match="closed"):
        await store.change(aclient, incident.id, close)
    assert (await store.read(aclient, incident.id)).state == "closed"
    assert (await _open(aclient)).id.endswith("-flood-2")
    with pytest.raises(Refused) as missing:
        await store.change(aclient, "nope", close)
    assert missing.value.status == 404
