"""The alert role as a process: restarted in the middle of a stream without a lost or doubled notification,
one active role at a time, reading the update stream through its consumer group."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from pathlib import Path

import orjson
import pytest
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from situationroom import keys
from situationroom.alerts.role import AlertRole
from situationroom.alerts.store import CONSUMER
from tests.alerts_support import City, make_site, summary
from tests.servers_support import Command

pytestmark = pytest.mark.cluster

RULES = """
rules:
  - id: high
    kind: threshold
    indicator: river.level
    levels: {주의: 2.0}
    clear: 0
  - {id: catalog.river.level, enabled: false}
  - {id: catalog.air.pm10, enabled: false}
  - {id: catalog.weather.visibility, enabled: false}
"""


def _alert_role(site: Path, url: str, log: Path) -> Command:
    """`situationroom run alert` on the site, not yet started."""
    return Command("run", "alert", log=log, env={
        "REDIS_URL": url, "SITUATIONROOM_SITE": str(site), "SITUATIONROOM_ALERT_MIN_INTERVAL": "0",
        "SITUATIONROOM_LOG_LEVEL": "WARNING"})


async def _until(check: object, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not await check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def _caught_up(client: aioredis.Redis) -> bool:
    groups = await client.xinfo_groups(keys.updates())
    mine = [g for g in groups if g["name"] == keys.ALERT_GROUP.encode()]
    return bool(mine) and mine[0]["pending"] == 0 and mine[0].get("lag", 0) == 0


async def test_a_restart_in_the_middle_neither_loses_nor_doubles_a_notification(
        redis_url: str, tmp_path: Path) -> None:
    site = make_site(tmp_path, RULES)
    city = await City.open(redis_url, tmp_path, RULES)
    role = _alert_role(site, redis_url, tmp_path / "alert.log").start()
    try:
        await _until(lambda: city.client.exists(keys.alert_lock()))
        gauges = ["hyeongsan", "chaeun"]
        rounds = 12

        async def crossings(start: int, stop: int) -> None:
            # Each round every gauge goes above 2 m and back: one episode, a firing and a resolved.
            for r in range(start, stop):
                for half, value in ((0, 2.5), (1, 1.0)):
                    # One aggregator batch publishes one state per series: a step per value.
                    await city.writer.write([_sample(g, value, r, half) for g in gauges])
                    await city.aggregator.step()

        await crossings(0, 4)
        await _until(lambda: _caught_up(city.client))
        await crossings(4, 8)
        # Killed without warning while it works through the updates.
        role.kill()
        await crossings(8, 10)
        await city.client.delete(keys.alert_lock())  # the lock would run out by itself after 10 s
        role.start()
        await crossings(10, rounds)
        await _until(lambda: _caught_up(city.client))
        await asyncio.sleep(0.3)
    finally:
        role.stop(15)
    err = role.output
    notes = await city.all_notifications()
    keys_seen = [n["key"] for n in notes]
    assert len(keys_seen) == len(set(keys_seen)), "a notification was sent twice"
    told: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for n in notes:
        for a in n["alerts"]:
            told[a["entity"]].append((a["episode"], n["kind"]))
    for g in gauges:
        assert told[g] == [(e, k) for e in range(1, rounds + 1) for k in ("firing", "resolved")], (g, err[-2000:])
    await city.close()


def _sample(gauge: str, value: float, round_: int, half: int) -> object:
    from situationroom.samples import Sample

    # Event times a second apart, all in the recent past, in order.
    ts = time.time() - 600 + round_ * 2 + half
    return Sample("river.level", gauge, ts, value, "test", 3600)


async def test_updates_read_but_not_committed_are_evaluated_after_a_restart(
        redis_url: str, tmp_path: Path) -> None:
    city = await City.open(redis_url, tmp_path, RULES)
    await city.writer.write([_sample("hyeongsan", 2.5, 0, 0)])
    await city.aggregator.step()
    # The role read the update and died before writing anything.
    got = await city.client.xreadgroup(keys.ALERT_GROUP, CONSUMER, {keys.updates(): ">"}, count=10)
    assert got and got[0][1]
    assert await city.notifications() == []
    city.role = city.new_role()
    await city.role.start()
    assert summary(await city.notifications()) == [("firing", "주의", ["hyeongsan"])]
    pending = await city.client.xpending(keys.updates(), keys.ALERT_GROUP)
    assert pending["pending"] == 0
    # And the same update, were it read again, changes nothing.
    await city.role.evaluate_snapshot()
    assert await city.notifications() == []
    await city.close()


async def _cut_off_after_the_state(redis_url: str, tmp_path: Path) -> City:
    """A city whose alert role fired on hyeongsan and was cut off right after writing the alert state: the
    notifications stream fails for real (a key of the wrong type), which the caller deletes again."""
    city = await City.open(redis_url, tmp_path, RULES)
    await city.client.set(keys.notifications(), "not a stream")
    await city.writer.write([_sample("hyeongsan", 2.5, 0, 0)])
    await city.aggregator.step()
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await city.role.step()
    return city


async def test_a_commit_cut_off_between_its_steps_is_finished_once_at_restart(redis_url: str,
                                                                              tmp_path: Path) -> None:
    """A batch's commit is ordered steps (docs/alerts.md): the alert state with a hand-over record, then the
    notifications and the `a` updates and the acknowledgement (other Redis Cluster slots), then the record's
    delete. Cut off after any step, the next start finishes it: each notification once."""
    city = await _cut_off_after_the_state(redis_url, tmp_path)
    alert = await city.alert("high", "hyeongsan")
    assert alert is not None and alert.state == "firing" and alert.notified, "the state says it was sent"
    assert (await city.client.xpending(keys.updates(), keys.ALERT_GROUP))["pending"] == 1
    record = await city.client.hgetall(keys.alert_handover())
    assert len(record) == 1
    await city.client.delete(keys.notifications())

    # The next start finishes the hand-over before it evaluates anything (which would find nothing new to send).
    city.role = city.new_role()
    await city.role.start()
    assert summary(await city.notifications()) == [("firing", "주의", ["hyeongsan"])]
    assert [(a["state"], a["entity"]) for a in await city.published_alerts()] == [("firing", "hyeongsan")]
    assert (await city.client.xpending(keys.updates(), keys.ALERT_GROUP))["pending"] == 0
    assert await city.client.hlen(keys.alert_handover()) == 0

    # Cut off again just before the record's delete: the whole hand-over is carried out a second time.
    await city.client.hset(keys.alert_handover(), mapping=record)
    city.role = city.new_role()
    await city.role.start()
    assert await city.notifications() == [], "a notification was handed over twice"
    assert await city.client.hget(keys.counters(), "alert_notifications") == b"1"
    assert await city.client.hlen(keys.alert_handover()) == 0
    # What a repeat may add is the same alert state announced again, which a wall shows as it was.
    assert {(a["state"], a["seq"]) for a in await city.published_alerts()} == {("firing", alert.seq)}

    # And the role goes on as before: the level falls, one resolved notification.
    await city.send("river.level", "hyeongsan", 1.0)
    assert summary(await city.notifications()) == [("resolved", "주의", ["hyeongsan"])]
    await city.close()


async def test_a_hand_over_redis_refused_goes_out_at_the_next_tick(redis_url: str, tmp_path: Path) -> None:
    city = await _cut_off_after_the_state(redis_url, tmp_path)
    await city.client.delete(keys.notifications())
    # Nothing changes after it: the running role's timer finishes the hand-over all the same.
    await city.role.tick()
    assert summary(await city.notifications()) == [("firing", "주의", ["hyeongsan"])]
    assert (await city.client.xpending(keys.updates(), keys.ALERT_GROUP))["pending"] == 0
    assert await city.client.hlen(keys.alert_handover()) == 0
    await city.close()


async def test_a_second_alert_role_waits_as_a_standby(redis_url: str, tmp_path: Path) -> None:
    city = await City.open(redis_url, tmp_path, RULES)
    stop_first, stop_second = asyncio.Event(), asyncio.Event()
    first = AlertRole(city.client, city.catalog, city.settings, owner="first")
    second = AlertRole(city.client, city.catalog, city.settings, owner="second")
    t1 = asyncio.create_task(first.run(stop_first))
    await asyncio.sleep(0.3)
    t2 = asyncio.create_task(second.run(stop_second))
    await asyncio.sleep(0.3)
    assert await city.client.get(keys.alert_lock()) == b"first"
    stop_first.set()
    await t1
    # The active one stopped and let go: the standby takes over.
    await _until(lambda: _lock_is(city.client, b"second"), within=5)
    # Only the active role evaluates (the test's own role stays out of it).
    await city.writer.write([_sample("hyeongsan", 2.5, 0, 0)])
    await city.aggregator.step()
    await _until(lambda: _kinds_are(city, ["firing"]), within=5)
    stop_second.set()
    await t2
    await city.close()


async def test_an_alert_role_whose_lock_ran_out_takes_it_again_and_goes_on(redis_url: str, tmp_path: Path) -> None:
    city = await City.open(redis_url, tmp_path, RULES)
    stop = asyncio.Event()
    role = AlertRole(city.client, city.catalog, city.settings, owner="first")
    task = asyncio.create_task(role.run(stop))
    await _until(lambda: _lock_is(city.client, b"first"), within=5)
    # Run out while Redis was away longer than the lock (a double failover), and nobody else took it.
    await city.client.delete(keys.alert_lock())
    await _until(lambda: _lock_is(city.client, b"first"), within=5)
    assert not task.done()
    await city.writer.write([_sample("hyeongsan", 2.5, 0, 0)])
    await city.aggregator.step()
    await _until(lambda: _kinds_are(city, ["firing"]), within=5)
    stop.set()
    await task
    await city.close()


async def _kinds_are(city: City, kinds: list[str]) -> bool:
    return [n["kind"] for n in await city.all_notifications()] == kinds


async def _lock_is(client: aioredis.Redis, owner: bytes) -> bool:
    return await client.get(keys.alert_lock()) == owner


async def test_every_change_of_an_alert_is_published_for_the_walls(redis_url: str, tmp_path: Path) -> None:
    city = await City.open(redis_url, tmp_path, RULES)
    await city.send("river.level", "hyeongsan", 2.5, 1.0)
    states = [(a["type"], a["state"], a["severity"]) for a in await city.published_alerts()]
    assert states == [("alert", "firing", "주의"), ("alert", "resolved", "주의")]
    raw = await city.client.hget(keys.alerts(), (await city.alert("high", "hyeongsan")).fingerprint)
    assert orjson.loads(raw)["state"] == "resolved"
    await city.close()


async def test_a_rules_file_reloaded_while_running_is_recorded_in_the_audit_log(redis_url: str,
                                                                              tmp_path: Path) -> None:
    from situationroom import audit

    city = await City.open(redis_url, tmp_path, RULES)
    stop = asyncio.Event()
    task = asyncio.create_task(AlertRole(city.client, city.catalog, city.settings, owner="watching").run(stop))
    await asyncio.sleep(0.5)
    (city.settings.rules_dir / "test.yaml").write_text(RULES.replace("주의: 2.0", "주의: 2.2"), encoding="utf-8")

    async def recorded() -> bool:
        return bool(await audit.read(city.client, action="rules.reload"))

    await _until(recorded, within=15)
    stop.set()
    await task
    entry = (await audit.read(city.client, action="rules.reload"))[0]
    assert (entry["actor"], entry["address"]) == ("system", "file watcher")
    assert entry["detail"]["files"] == ["rules/test.yaml"] and entry["detail"]["valid"] is True
    await city.close()
