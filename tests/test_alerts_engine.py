"""Alert evaluation on real Redis: each rule kind firing and resolving, `for`, one alert per problem,
grouping, hysteresis and minimum intervals, and a stale source inhibiting what depends on it."""

from __future__ import annotations

import asyncio
import gc
import logging
import textwrap
import time
import tracemalloc
from pathlib import Path

import pytest

from situationroom import drill as drill_mod
from situationroom.alerts import engine as engine_mod
from situationroom.alerts.engine import Engine
from situationroom.alerts.rules import load_rules
from situationroom.catalog import load_catalog
from situationroom.collectors import health
from situationroom.history.store import HistoryStore
from situationroom.redisconn import sync_client
from situationroom.samples import Sample
from tests.alerts_support import City, make_site, summary
from tests.history_support import write_batch
from tests.site_support import settings_for

pytestmark = pytest.mark.cluster  # also run on the suite's Redis Cluster

RIVER = """
rules:
  - id: river.stage
    kind: threshold
    indicator: river.level
    levels: {주의: 2.0, 경계: 3.0}
    clear: 0.2
    department: disaster-safety
    message_ko: "{entity_name} 수위 {value}m ({threshold}m {direction})"
  - id: catalog.river.level      # the built-in rule on the same series, off for these tests
    enabled: false
"""


async def test_a_threshold_fires_once_for_many_samples_and_resolves_when_the_value_falls(
        redis_url: str, tmp_path: Path) -> None:
    city = await City.open(redis_url, tmp_path, RIVER)
    await city.send("river.level", "hyeongsan", 1.2, 1.8, 2.3, 2.4, 2.6, 2.5)
    # Four samples above 2.0 m: one alert, one notification.
    assert summary(await city.notifications()) == [("firing", "주의", ["hyeongsan"])]
    alert = await city.alert("river.stage", "hyeongsan")
    assert alert is not None and alert.state == "firing" and alert.level == 2
    assert alert.message_ko == "형산교 수위 2.30m (2.00m 이상)"
    assert alert.peak == 2.6 and alert.department == "disaster-safety" and alert.district == "4711125300"

    await city.send("river.level", "hyeongsan", 3.1)
    notes = await city.notifications()
    assert summary(notes) == [("firing", "경계", ["hyeongsan"])]
    assert notes[0]["alerts"][0]["threshold"] == 3.0
    # The idempotency key goes into HTTP headers: ASCII only.
    assert notes[0]["key"].isascii() and notes[0]["group"] == "river.stage/critical"

    await city.send("river.level", "hyeongsan", 1.5)
    assert summary(await city.notifications()) == [("resolved", "경계", ["hyeongsan"])]
    assert (await city.alert("river.stage", "hyeongsan")).state == "resolved"
    await city.close()


async def test_hysteresis_keeps_a_hovering_value_one_alert(redis_url: str, tmp_path: Path) -> None:
    city = await City.open(redis_url, tmp_path, RIVER)
    # Around the 2.0 m stage: once past it, the alert stays until the level is 0.2 m below.
    await city.send("river.level", "hyeongsan", 2.05, 1.95, 2.02, 1.85, 2.01, 1.9)
    assert summary(await city.notifications()) == [("firing", "주의", ["hyeongsan"])]
    await city.send("river.level", "hyeongsan", 1.79)
    assert summary(await city.notifications()) == [("resolved", "주의", ["hyeongsan"])]
    await city.close()


async def test_min_interval_holds_a_change_until_it_has_passed(redis_url: str, tmp_path: Path) -> None:
    city = await City.open(redis_url, tmp_path, RIVER.replace("clear: 0.2", "clear: 0\n    min_interval: 5m"))
    await city.send("river.level", "hyeongsan", 2.5)
    await city.send("river.level", "hyeongsan", 1.0)
    await city.send("river.level", "hyeongsan", 2.5)
    await city.send("river.level", "hyeongsan", 1.0)
    # Firing a moment ago: the fall is held back, and nothing flaps.
    assert summary(await city.notifications()) == [("firing", "주의", ["hyeongsan"])]
    assert (await city.alert("river.stage", "hyeongsan")).want == 0
    # The role's clock is the real one moved ahead, so the seconds the sends took count too: leave them
    # room on both sides of the 5 minutes (a loaded machine took over one).
    await city.later(290)
    assert await city.notifications() == []
    await city.later(20)
    assert summary(await city.notifications()) == [("resolved", "주의", ["hyeongsan"])]
    await city.close()


async def test_for_keeps_an_alert_pending_until_the_condition_has_held_long_enough(
        redis_url: str, tmp_path: Path) -> None:
    city = await City.open(redis_url, tmp_path, """
        rules:
          - id: fog
            kind: threshold
            indicator: weather.visibility
            levels: {주의: 1000}
            for: 20m
          - {id: catalog.weather.visibility, enabled: false}
        """)
    # A dip below 1 km shorter than 20 minutes is forgotten without anybody being told...
    await city.send("weather.visibility", "pohang", 5000, 800, 5000, every=300, ago=3000)
    assert await city.notifications() == []
    # ...fog from -30 to -10 minutes has held for 20: it fires.
    await city.send("weather.visibility", "pohang", 800, 700, 600, every=600, ago=600)
    alert = await city.alert("fog", "pohang")
    assert alert.state == "firing" and alert.value == 600
    assert summary(await city.notifications()) == [("firing", "주의", ["pohang"])]
    events = [e["event"] for e in reversed(await _history(city, "fog", "pohang"))]
    assert events == ["pending", "cancelled", "pending", "firing", "notified:firing"]
    await city.close()


async def _history(city: City, rule: str, entity: str) -> list[dict]:
    from situationroom.alerts import store

    a = await city.alert(rule, entity)
    return await store.read_history(city.client, a.fingerprint)


async def test_the_catalogs_thresholds_are_built_in_rules(redis_url: str, tmp_path: Path) -> None:
    city = await City.open(redis_url, tmp_path, "rules: []\n")
    # air.pm10 in the mini catalog: warning 81, critical 151 (direction above).
    await city.send("air.pm10", "daesong", 60, 90)
    assert summary(await city.notifications()) == [("firing", "주의", ["daesong"])]
    a = await city.alert("catalog.air.pm10", "daesong")
    assert a.message_en.startswith("[warning] Fine dust (PM10) at Daesong-myeon: 90")
    # Visibility is bad when low: 180 m is past the critical 200 m.
    await city.send("weather.visibility", "pohang", 180)
    assert summary(await city.notifications()) == [("firing", "경계", ["pohang"])]
    await city.close()


async def test_related_alerts_go_out_as_one_notification(redis_url: str, tmp_path: Path) -> None:
    city = await City.open(redis_url, tmp_path, """
        rules:
          - id: dust
            kind: threshold
            indicator: air.pm10
            levels: {주의: 100}
            group_wait: 30s
          - {id: catalog.air.pm10, enabled: false}
        """)
    await city.send("air.pm10", "daesong", 120)
    await city.later(10)
    await city.send("air.pm10", "yeonil", 130)
    assert await city.notifications() == []  # the group waits 30 s for the rest of the city
    await city.later(21)
    assert summary(await city.notifications()) == [("firing", "주의", ["daesong", "yeonil"])]
    await city.close()


async def test_a_rate_rule_fires_on_a_fast_rise_and_resolves_when_it_levels_off(
        redis_url: str, tmp_path: Path) -> None:
    city = await City.open(redis_url, tmp_path, """
        rules:
          - id: rising
            kind: rate
            indicator: river.level
            window: 30m
            rise: 1.0
            clear: 0.1
            severity: 경계
          - {id: catalog.river.level, enabled: false}
        """)
    # 0.1 m in 20 minutes is nothing; then 1.2 m in the next 10.
    await city.send("river.level", "chaeun", 1.0, 1.05, 1.1, every=600, ago=3600)
    assert await city.notifications() == []
    await city.send("river.level", "chaeun", 2.3, ago=3000)
    notes = await city.notifications()
    assert summary(notes) == [("firing", "경계", ["chaeun"])]
    # Thirty minutes of a steady level: the rise has left the window.
    await city.send("river.level", "chaeun", 2.3, 2.3, 2.3, every=900)
    assert summary(await city.notifications()) == [("resolved", "경계", ["chaeun"])]
    await city.close()


async def test_an_absence_rule_fires_when_a_series_goes_quiet_and_resolves_on_new_data(
        redis_url: str, tmp_path: Path) -> None:
    city = await City.open(redis_url, tmp_path, """
        rules:
          - id: gauge-silent
            kind: absence
            indicator: river.level
            entities: [hyeongsan]
            after: 2s
            severity: 주의
        """)
    await city.send("river.level", "hyeongsan", 1.0)
    await city.later(0)
    assert await city.notifications() == []
    await asyncio.sleep(2.1)
    await city.later(0)
    notes = await city.notifications()
    assert summary(notes) == [("firing", "주의", ["hyeongsan"])]
    assert "데이터 없음" in notes[0]["alerts"][0]["message_ko"]
    await city.send("river.level", "hyeongsan", 1.0)
    assert summary(await city.notifications()) == [("resolved", "주의", ["hyeongsan"])]
    await city.close()


def _store_hours(city: City, days: dict[int, float], *, exercise: bool = False) -> None:
    """Four samples averaging `mean` in this hour and the next of each day `days` ago (the store only: Redis has
    none of it), through the history role's own buffer."""
    hour = int(time.time()) // 3600
    samples = [Sample("economy.spending", "4711125000", (hour + h - 24 * day) * 3600 + 60 * k, mean + d, "test",
                      3600, exercise)
               for day, mean in days.items() for h in (0, 1) for k, d in enumerate((-2, -1, 1, 2))]
    write_batch(HistoryStore.local(city.settings.resolved_history_dir), city.catalog, samples,
                "1-0" if not exercise else "2-0")


async def test_an_anomaly_rule_compares_with_the_same_hour_of_past_days(redis_url: str, tmp_path: Path) -> None:
    city = await City.open(redis_url, tmp_path, """
        rules:
          - id: unusual-spending
            kind: anomaly
            indicator: economy.spending
            entities: ["4711125000"]
            z: 3
            min_spread: 5
            severity: 관심
        """)
    # A week of this hour of the day in the history store: 100 ± a little; a drill's week at 180.
    _store_hours(city, dict(enumerate((98, 102, 100, 101, 99, 100, 100), start=1)))
    _store_hours(city, dict(enumerate((178, 182, 180, 181, 179, 180, 180), start=1)), exercise=True)
    assert not await city.client.keys("*h1h*"), "Redis holds no hours of past days"
    await city.send("economy.spending", "4711125000", 180, exercise=True)
    assert await city.notifications() == [], "a drill's series is measured against the drill's own past"
    await city.send("economy.spending", "4711125000", 104)
    assert await city.notifications() == []
    await city.send("economy.spending", "4711125000", 180)
    notes = await city.notifications()
    assert summary(notes) == [("firing", "관심", ["4711125000"])]
    assert "100" in notes[0]["alerts"][0]["message_ko"]
    await city.send("economy.spending", "4711125000", 101)
    assert summary(await city.notifications()) == [("resolved", "관심", ["4711125000"])]
    await city.close()


async def test_an_anomaly_rule_without_a_past_in_the_store_stays_quiet(redis_url: str, tmp_path: Path) -> None:
    city = await City.open(redis_url, tmp_path, """
        rules:
          - id: unusual-spending
            kind: anomaly
            indicator: economy.spending
            entities: ["4711125000"]
            z: 3
            min_spread: 5
            severity: 관심
        """)
    # Only two days in the store, fewer than the rule's min_days: nothing to compare with yet.
    _store_hours(city, {1: 100, 2: 100})
    await city.send("economy.spending", "4711125000", 100, 500)
    assert await city.notifications() == []
    await city.close()


async def test_an_unreadable_store_leaves_the_baseline_unknown_until_it_reads_again(
        redis_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    city = await City.open(redis_url, tmp_path, """
        rules:
          - id: unusual-spending
            kind: anomaly
            indicator: economy.spending
            entities: ["4711125000"]
            z: 3
            min_spread: 5
            severity: 관심
        """)
    _store_hours(city, dict(enumerate((98, 102, 100, 101, 99, 100, 100), start=1)))
    files = sorted(city.settings.resolved_history_dir.rglob("*.parquet"))
    for f in files:
        f.write_bytes(b"not parquet")  # a damaged store: the role goes on, the rule has nothing to compare with
    with caplog.at_level(logging.WARNING, logger="situationroom.alerts.inputs"):
        await city.send("economy.spending", "4711125000", 180)
    assert await city.notifications() == []
    assert "anomaly baselines unreadable from the history store" in caplog.text
    for f in files:
        f.unlink()
    _store_hours(city, dict(enumerate((98, 102, 100, 101, 99, 100, 100), start=1)))
    await city.send("economy.spending", "4711125000", 181)
    assert summary(await city.notifications()) == [("firing", "관심", ["4711125000"])], \
        "the baseline is read again once the store can be read"
    await city.close()


def test_an_anomaly_rule_reads_each_hours_baseline_once_and_keeps_only_the_newest(tmp_path: Path) -> None:
    site = make_site(tmp_path, textwrap.dedent("""
        rules:
          - id: unusual-spending
            kind: anomaly
            indicator: economy.spending
            entities: ["4711125000"]
            z: 3
            min_spread: 5
            severity: 관심
        """))
    settings = settings_for("redis://unused", site=site)
    catalog = load_catalog(settings.seeds)
    engine = Engine(catalog, load_rules(settings.rules_dir, catalog, settings))
    first_hour = 490_000  # 2025-11

    def run_hour(hour: int) -> int:
        """Two states in the hour, as the role evaluates them; how many baselines the engine asked for."""
        asked = 0
        for minute in (0, 30):
            states = [{"i": "economy.spending", "e": "4711125000", "t": (hour * 60 + minute) * 60_000, "v": 101.0,
                       "st": "normal", "n": 3600}]
            for kind, key in engine.reads_for(states):
                if kind == "baseline":
                    asked += 1
                    engine.remember_baseline(key, (100.0, 2.0, 7))  # type: ignore[arg-type]
            engine.evaluate(states, (hour * 60 + minute) * 60_000)
            engine.take()
        return asked

    def held_by_the_engine() -> int:
        gc.collect()
        engine_files = str(Path(engine_mod.__file__).parent / "*")  # the engine and its parts
        snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(True, engine_files)])
        return sum(stat.size for stat in snapshot.statistics("filename"))

    tracemalloc.start()
    try:
        asked = [run_hour(first_hour + h) for h in range(100)]
        after_100_hours = held_by_the_engine()
        asked += [run_hour(first_hour + h) for h in range(100, 3100)]
        after_3100_hours = held_by_the_engine()
    finally:
        tracemalloc.stop()
    assert asked == [1] * 3100  # the second state of an hour uses the baseline read for the first
    # A role running for months keeps one baseline per series, not one per series and hour.
    assert after_3100_hours < after_100_hours + 16 * 1024


async def test_a_stale_source_gives_one_source_down_alert_instead_of_a_storm(redis_url: str, tmp_path: Path) -> None:
    city = await City.open(redis_url, tmp_path, """
        rules:
          - id: source.down
            for: 0s
            department: situation-room
          - id: no-dust-data
            kind: absence
            indicator: air.pm10
            after: 2s
            severity: 주의
          - id: no-river-data
            kind: absence
            indicator: river.level
            after: 2s
            severity: 주의
        """)
    # One push source delivers four series every second, then stops.
    for ind, ent in (("air.pm10", "daesong"), ("air.pm10", "yeonil"), ("river.level", "hyeongsan"),
                     ("river.level", "chaeun")):
        await city.send(ind, ent, 1, source="push:gauges", interval=1)
    await asyncio.sleep(2.6)
    await city.aggregator.sweep_stale()
    await city.evaluate()
    await city.later(0)
    notes = await city.notifications()
    assert summary(notes) == [("firing", "주의", ["push:gauges"])]
    assert notes[0]["alerts"][0]["rule"] == "source.down"
    held = await city.alert("no-dust-data", "daesong")
    assert held.state == "firing" and held.inhibited == "push:gauges"
    # Back: the source alert resolves, the absences end without anybody having heard of them.
    for ind, ent in (("air.pm10", "daesong"), ("air.pm10", "yeonil"), ("river.level", "hyeongsan"),
                     ("river.level", "chaeun")):
        await city.send(ind, ent, 1.1, source="push:gauges", interval=1)
    await city.later(0)
    assert summary(await city.notifications()) == [("resolved", "주의", ["push:gauges"])]
    assert (await city.alert("no-dust-data", "daesong")).state == "resolved"
    await city.close()


async def test_a_failing_collector_holds_back_the_alerts_of_its_series(redis_url: str, tmp_path: Path) -> None:
    city = await City.open(redis_url, tmp_path, """
        rules:
          - id: source.down
            for: 0s
          - id: dust
            kind: threshold
            indicator: air.pm10
            levels: {주의: 100}
          - {id: catalog.air.pm10, enabled: false}
        """)
    await health.record(city.client, "airkorea", {"state": "failing", "consecutive_failures": 3})
    await city.later(0)
    assert summary(await city.notifications()) == [("firing", "주의", ["airkorea"])]
    # What it still delivered before failing is not announced while its collector is down.
    await city.send("air.pm10", "daesong", 150, source="airkorea")
    await city.later(0)
    assert await city.notifications() == []
    assert (await city.alert("dust", "daesong")).inhibited == "airkorea"
    await health.record(city.client, "airkorea", {"state": "ok", "consecutive_failures": 0})
    await city.later(0)
    assert summary(await city.notifications()) == [("resolved", "주의", ["airkorea"]),
                                                   ("firing", "주의", ["daesong"])]
    await city.close()


async def test_real_and_exercise_alerts_never_group_together(redis_url: str, tmp_path: Path) -> None:
    """A drill beside real data: the same rule fires for both, each its own alert and its own notification,
    the exercise one marked [훈련] first in its message and flagged for the channels."""
    city = await City.open(redis_url, tmp_path, """
        rules:
          - id: dust
            kind: threshold
            indicator: air.pm10
            levels: {주의: 100}
            group_wait: 30s
            message_ko: "{entity_name} 미세먼지 {value}"
          - {id: catalog.air.pm10, enabled: false}
        """)
    await city.send("air.pm10", "daesong", 120)
    await city.send("air.pm10", "yeonil", 130, source="sim-environment", exercise=True)
    await city.later(31)
    notes = await city.notifications()
    assert sorted((n["exercise"], [a["entity"] for a in n["alerts"]]) for n in notes) == \
        [(False, ["daesong"]), (True, ["yeonil"])]
    drill = next(n for n in notes if n["exercise"])
    assert drill["group"].startswith("exercise/") and drill["alerts"][0]["message_ko"] == "[훈련] 연일읍 미세먼지 130"
    real = await city.alert("dust", "daesong")
    exercise = await city.alert("dust", "yeonil", exercise=True)
    assert real is not None and not real.exercise and real.message_ko == "대송면 미세먼지 120"
    assert exercise is not None and exercise.exercise and exercise.fingerprint != real.fingerprint
    assert await city.alert("dust", "yeonil") is None, "no real alert for a drill's value"
    await city.close()


async def test_the_alerts_of_a_drill_end_with_the_drill(redis_url: str, tmp_path: Path) -> None:
    city = await City.open(redis_url, tmp_path, RIVER)
    client = sync_client(redis_url)
    try:
        started = drill_mod.start(client, "typhoon-hinnamnor", 60, 0, "test", [])
        await city.send("river.level", "hyeongsan", 3.4, source=started.collector, exercise=True)
        await city.later(1)
        alert = await city.alert("river.stage", "hyeongsan", exercise=True)
        assert alert is not None and alert.state == "firing"
        drill_mod.stop(client, "test")
        await city.later(1)
        alert = await city.alert("river.stage", "hyeongsan", exercise=True)
        assert alert is not None and alert.state == "resolved", "its scenario will not come back to clear it"
        notes = await city.all_notifications()
        assert [(n["kind"], n["exercise"]) for n in notes] == [("firing", True), ("resolved", True)]
    finally:
        client.close()
    await city.close()
