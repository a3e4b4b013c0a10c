"""Drills as the duty officer runs them: `situationroom drill start` plays a scenario as exercise data beside
real data, `drill stop` ends it and writes the report of who acknowledged what how fast."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest
import redis

from situationroom import drill as drill_mod
from situationroom import drill_report, keys
from situationroom.alerts import store
from situationroom.catalog import load_catalog
from situationroom.collectors import control
from situationroom.notify.people import load_people
from situationroom.redisconn import async_client, sync_client
from situationroom.samples import Sample
from tests.alerts_support import City
from tests.servers_support import Command, cli
from tests.site_support import REPO
from tests.stream_support import stream_samples_sync

pytestmark = pytest.mark.cluster


def _until(check: object, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _drill_samples(client: redis.Redis, collector: str) -> list[Sample]:
    return [s for s in stream_samples_sync(client) if s.source == collector]


def test_a_drill_plays_its_scenario_as_exercise_data_and_its_end_writes_the_report(
        embedded_url: str, tmp_path: Path) -> None:
    client = sync_client(embedded_url)
    env = {"REDIS_URL": embedded_url, "SITUATIONROOM_SITE": str(REPO),
           "SITUATIONROOM_LOG_LEVEL": "WARNING", "SITUATIONROOM_DATA_DIR": str(tmp_path)}
    collect = Command("run", "collect", env=env, log=tmp_path / "collect.log").start()
    try:
        _until(lambda: client.scard(keys.collectors_index()) >= 7)
        run = lambda *a: cli("drill", *a, env=env)  # noqa: E731
        started = run("start", "--scenario", "typhoon-hinnamnor", "--speed", "600")
        assert started.returncode == 0, started.stderr
        assert "started: scenario typhoon-hinnamnor at 600x as exercise data" in started.stdout
        assert "the collect role is playing it" in started.stdout, started.stdout + started.stderr
        current = drill_mod.current(client)
        assert current is not None and current.started_by.endswith("(cli)")
        # The site's own simulators are held: the drill is the only exercise data meanwhile.
        assert sorted(current.held) == sorted(p.stem for p in (REPO / "collectors").glob("sim-*.yaml"))
        assert all(client.hget(keys.collector_control(c), "paused") == b"1" for c in current.held)
        _until(lambda: _drill_samples(client, current.collector))
        assert all(s.exercise for s in _drill_samples(client, current.collector))
        clock = orjson.loads(client.hget(keys.collector_health(current.collector), "clock") or b"null")
        assert clock is not None and clock["scenario"] == "typhoon-hinnamnor" and clock["speed"] == 600

        again = run("start", "--scenario", "fine-dust")
        assert again.returncode == 2 and f"drill {current.id} is running; stop it first" in again.stderr

        stopped = run("stop")
        assert stopped.returncode == 0, stopped.stderr
        assert f"drill {current.id} stopped" in stopped.stdout and "report:" in stopped.stdout
        report = tmp_path / "drills" / current.id
        assert (report / "report.md").read_text(encoding="utf-8").startswith("# [훈련] 훈련 결과 보고서")
        assert orjson.loads((report / "report.json").read_bytes())["drill"]["id"] == current.id
        assert not any(client.hget(keys.collector_control(c), "paused") for c in current.held), "they resume"
        _until(lambda: not client.sismember(keys.collectors_index(), current.collector))

        none = run("stop")
        assert none.returncode == 2 and "no drill is running" in none.stderr
        recorded = [(f[b"action"], f[b"target"]) for _, f in client.xrange(keys.audit())]
        assert recorded == [(b"drill.start", current.id.encode()), (b"drill.stop", current.id.encode())], \
            "who started and stopped the drill is on record"
    finally:
        collect.stop()
        client.close()


def _pause(client: redis.Redis, collector: str) -> None:
    pipe = client.pipeline(transaction=False)
    control.queue_hold(pipe, collector)
    pipe.execute()


async def _held(url: str, *collectors: str) -> list[bool]:
    client = async_client(url)
    try:
        return [await control.is_paused(client, c) for c in collectors]
    finally:
        await client.aclose()


async def _seen_running(url: str) -> drill_mod.Drill | None:
    client = async_client(url)
    try:
        return await drill_mod.read_current(client)
    finally:
        await client.aclose()


async def test_a_stop_cut_short_is_over_for_the_roles_and_finished_by_the_next_stop(redis_url: str) -> None:
    """Starting and stopping a drill touch keys of several slots of a cluster, so they are steps, not one
    transaction: a stop that wrote its record and died before releasing the simulators and removing the running
    mark is already over for the roles, and `drill stop` again finishes it, keeping the first stop's time; a start
    that died before writing its record is cleared by `drill stop`."""
    client = sync_client(redis_url)
    _pause(client, "sim-b")  # the operator paused it before: not the drill's
    drill = drill_mod.start(client, "storm", 2.0, 7, "kim", ["sim-a", "sim-b"])
    assert drill.held == ["sim-a"] and await _held(redis_url, "sim-a", "sim-b") == [True, True]
    with pytest.raises(drill_mod.DrillError, match="is running"):
        drill_mod.start(client, "storm", 2.0, 7, "lee", ["sim-a"])
    drill.stopped, drill.stopped_by = 1_000.0, "kim"
    client.hset(keys.drills(), drill.id, drill.encode())  # the stop's first step, and then it died
    assert drill_mod.current(client) is not None and await _seen_running(redis_url) is None
    finished = drill_mod.stop(client, "lee")
    assert (finished.id, finished.stopped, finished.stopped_by) == (drill.id, 1_000.0, "kim")
    assert await _held(redis_url, "sim-a", "sim-b") == [False, True]
    assert client.get(keys.drill()) is None and drill_mod.get(client, drill.id).stopped == 1_000.0
    with pytest.raises(drill_mod.DrillError, match="no drill"):
        drill_mod.stop(client, "lee")
    # A start that died after taking the running mark, before its record: `drill stop` lets go of the mark.
    client.set(keys.drill(), "20261207-0300-dead")
    with pytest.raises(drill_mod.DrillError, match="is running"):
        drill_mod.start(client, "storm", 1.0, 8, "lee", [])
    with pytest.raises(drill_mod.DrillError, match="20261207-0300-dead never finished starting"):
        drill_mod.stop(client, "lee")
    assert drill_mod.start(client, "storm", 1.0, 8, "lee", []).running
    client.close()


def test_a_drill_needs_a_known_scenario_and_a_running_situationroom(embedded_url: str, tmp_path: Path) -> None:
    env = {"REDIS_URL": embedded_url, "SITUATIONROOM_SITE": str(REPO)}
    run = lambda *a, **e: cli("drill", *a, env={**env, **e})  # noqa: E731
    unknown = run("start", "--scenario", "tsunami")
    assert unknown.returncode == 2
    assert "--scenario tsunami" in unknown.stderr and "typhoon-hinnamnor" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    fast = run("start", "--scenario", "fine-dust", "--speed", "0")
    assert fast.returncode == 2 and "--speed 0" in fast.stderr
    nobody = run("start", "--scenario", "fine-dust", REDIS_URL="", SITUATIONROOM_DATA_DIR=str(tmp_path / "nothing"))
    assert nobody.returncode == 1 and "no running situationroom answers" in nobody.stderr
    assert "Traceback" not in nobody.stderr


RIVER = """
rules:
  - id: river.stage
    kind: threshold
    indicator: river.level
    levels: {주의: 2.0, 경계: 3.0}
    department: disaster-safety
    escalate_after: 5m
  - {id: catalog.river.level, enabled: false}
  - {id: catalog.air.pm10, enabled: false}
  - id: dust
    kind: threshold
    indicator: air.pm10
    levels: {주의: 100}
    department: environment
"""


@pytest.mark.parametrize("redis_url", ["embedded"], indirect=True)
async def test_the_report_says_who_acknowledged_what_how_fast_and_who_never_did(
        redis_url: str, tmp_path: Path) -> None:
    city = await City.open(redis_url, tmp_path, RIVER)
    sync = sync_client(redis_url)
    try:
        drill = drill_mod.start(sync, "typhoon-hinnamnor", 60, 0, "cli:duty", [])
        await city.send("river.level", "hyeongsan", 3.4, source=drill.collector, exercise=True)
        await city.send("air.pm10", "daesong", 150, source=drill.collector, exercise=True)
        await city.send("river.level", "chaeun", 3.3, source=drill.collector, exercise=True)
        await city.send("river.level", "chaeun", 3.2)  # real: not the drill's
        river = await city.alert("river.stage", "hyeongsan", exercise=True)
        assert river is not None and river.state == "firing"
        await store.acknowledge(city.client, river, "ds-park", None, updates_maxlen=city.settings.updates_maxlen)
        await city.later(6 * 60)  # past escalate_after: the unacknowledged 경계 goes to the department head
        drill = drill_mod.stop(sync, "cli:duty")
        people = load_people(REPO / "seeds")
        report = drill_report.build(drill, drill_report.collect(sync, drill, people), people,
                                    load_catalog(city.settings.seeds))
    finally:
        sync.close()
        await city.close()
    assert report["summary"]["alerts"] == 3, "only the drill's exercise alerts, not the real one"
    assert report["summary"]["acknowledged"] == 1 and report["summary"]["unacknowledged"] == 2
    (escalated,) = [a for a in report["alerts"] if a["escalation_tier"]]
    assert escalated["entity"] == "chaeun" and escalated["escalated_to"] == ["ds-kim"]  # the head of 재난안전과
    (acked,) = [a for a in report["alerts"] if a["acknowledged_by"]]
    assert acked["acknowledged_by"] == "ds-park" and 0 <= acked["ack_seconds"] < 30
    assert [p["id"] for p in report["people"]] == ["ds-park"]
    deps = {d["id"]: d for d in report["departments"]}
    assert deps["disaster-safety"]["acknowledged"] == 1
    assert deps["disaster-safety"]["staff_who_never_acknowledged"] == ["ds-kim", "ds-lee"]
    assert deps["environment"]["unacknowledged"] == 1
    assert deps["environment"]["staff_who_never_acknowledged"] == ["env-choi", "env-kwon", "env-lee"]
    md = drill_report.markdown(report)
    assert "박서연 (ds-park)" in md and "**미확인**" in md
