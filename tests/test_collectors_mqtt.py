"""The mqtt kind live against Mosquitto: the broker at 127.0.0.1:1883, and one the test starts and restarts."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from situationroom.catalog import Catalog
from situationroom.collectors.base import CollectorContext, CollectResult
from situationroom.collectors.definition import load_collector
from situationroom.collectors.kinds.mqtt import Mqtt
from situationroom.configfile import validate
from situationroom.envref import Redactor
from situationroom.errors import ConfigError
from situationroom.samples import Sample
from tests.servers_support import free_port
from tests.stream_support import stream_samples

pytestmark = pytest.mark.cluster  # also run on the suite's Redis Cluster

REPO = Path(__file__).resolve().parent.parent
BROKER = ("127.0.0.1", 1883)
MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)


def _answers(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


@dataclass
class Live:
    """A running mqtt collector: what it emitted and the states it reported."""

    kind: Mqtt
    stop: asyncio.Event
    task: asyncio.Task[None]
    results: list[CollectResult] = field(default_factory=list)
    states: list[tuple[str, str | None]] = field(default_factory=list)

    @property
    def samples(self) -> list[Any]:
        return [s for r in self.results for s in r.samples]

    @property
    def rejected(self) -> list[Any]:
        return [x for r in self.results for x in r.rejected]

    async def until(self, check: Callable[[], bool], within: float = 10.0) -> None:
        deadline = time.monotonic() + within
        while not check():
            if self.task.done():
                self.task.result()
                raise AssertionError("the collector stopped")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; states {self.states}, results {self.results}")
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def live(params: Any, catalog: Catalog, secrets: set[str] | None = None) -> AsyncIterator[Live]:
    if isinstance(params, dict):
        params = validate(Mqtt.Params, params, prefix=("params",))
    states: list[tuple[str, str | None]] = []
    ctx = CollectorContext("mqtt-test", catalog, REPO, logging.getLogger("test.mqtt"),
                           redact=Redactor(secrets or set()),
                           set_state=lambda state, error=None: states.append((state, error)))
    kind = Mqtt(params, ctx)
    stop = asyncio.Event()
    results: list[CollectResult] = []

    async def emit(result: CollectResult) -> None:
        results.append(result)

    task = asyncio.create_task(kind.run(emit, stop))
    running = Live(kind, stop, task, results, states)
    try:
        yield running
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
        await kind.close()


async def publish(port: int, *messages: tuple[str, bytes | str]) -> None:
    async with aiomqtt.Client(BROKER[0], port) as client:
        for topic, payload in messages:
            await client.publish(topic, payload, qos=1)


def connected(run: Live) -> Callable[[], bool]:
    return lambda: bool(run.states) and run.states[-1][0] == "connected"


@pytest.fixture
def prefix() -> str:
    if not _answers(*BROKER):
        pytest.skip("no MQTT broker answers at 127.0.0.1:1883")
    return f"test-{uuid.uuid4().hex[:8]}"


async def test_the_example_maps_json_and_plain_number_payloads_from_topics(prefix: str,
                                                                           site_catalog: Catalog) -> None:
    loaded = load_collector(REPO / "collectors" / "examples" / "mqtt.yaml", env={"MQTT_PASSWORD": "pw"})
    assert loaded.definition.kind == "mqtt" and loaded.live and loaded.definition.schedule is None
    assert isinstance(loaded.params, Mqtt.Params)
    # The local broker allows anonymous clients: the example's account is not needed here.
    params = loaded.params.model_copy(update={
        "host": BROKER[0], "port": BROKER[1], "username": None, "password": None, "client_id": None,
        "topics": [t.replace("pohang/", f"{prefix}/") for t in loaded.params.topics]})
    items = [item.model_dump(exclude_defaults=True) for item in loaded.params.map.root]
    for item in items:
        if "entity_match" in item:
            item["entity_match"] = item["entity_match"].replace("pohang/", f"{prefix}/")
    params = params.model_copy(update={"map": validate(Mqtt.Params, {"topics": ["x"], "map": items}).map})
    async with live(params, site_catalog) as run:
        await run.until(connected(run))
        await publish(BROKER[1],
                      (f"{prefix}/air/airkorea-jangnyang/pm", '{"pm10": 41, "pm25": 22.5, "ts": 1773529200}'),
                      (f"{prefix}/river/2101690/level", "1.25"),
                      (f"{prefix}/air/airkorea-songdo/pm", "{not json"),
                      (f"{prefix}/air/nowhere/pm", '{"pm10": 10, "pm25": 5, "ts": 1773529200}'),
                      (f"{prefix}/river/2101690/level", "high"),
                      (f"{prefix}/other/x", "1"))
        await run.until(lambda: len(run.samples) >= 3 and len(run.rejected) >= 3)
        await asyncio.sleep(0.2)
    got = sorted((s.indicator, s.entity, s.value) for s in run.samples)
    assert got == [("air.pm10", "airkorea-jangnyang", 41.0), ("air.pm25", "airkorea-jangnyang", 22.5),
                   ("river.level", "hrfco-2101690", 1.25)]
    assert {s.ts for s in run.samples if s.indicator.startswith("air.")} == {1773529200.0}
    assert all(s.source == "mqtt-test" for s in run.samples)
    why = sorted((r.field, str(r.value), r.reason) for r in run.rejected)
    assert why == [
        ("payload", "high", f"payload is neither JSON nor a number (topic {prefix}/river/2101690/level)"),
        ("payload", "{not json", f"payload is neither JSON nor a number (topic {prefix}/air/airkorea-songdo/pm)"),
        ("topic_segments[2]", "nowhere", "source id not mapped to an entity of air.pm10 (a catalog id or source_id) "
                                         f"(topic {prefix}/air/nowhere/pm)")]
    assert run.task.done() and run.states[0] == ("connected", None)


async def test_arrays_records_and_stop_returns_promptly(prefix: str, site_catalog: Catalog) -> None:
    params = {"port": BROKER[1], "topics": [f"{prefix}/gauges/#"], "payload": "json", "records": "readings",
              "map": [{"indicator": "river.level", "value": "cm", "entity_from": "id", "from_unit": "cm"}]}
    async with live(params, site_catalog) as run:
        await run.until(connected(run))
        await publish(BROKER[1], (f"{prefix}/gauges/a", '{"readings": [{"id": "2101690", "cm": 125}, '
                                                      '{"id": "2101687", "cm": 40}, 7]}'),
                      (f"{prefix}/gauges/b", "12"))
        await run.until(lambda: len(run.samples) == 2 and len(run.rejected) == 2)
        started = time.monotonic()
        run.stop.set()
        await asyncio.wait_for(run.task, 5)
        assert time.monotonic() - started < 1.0
    assert sorted((s.entity, round(s.value, 3)) for s in run.samples) == [("hrfco-2101687", 0.4),
                                                                           ("hrfco-2101690", 1.25)]
    # A bare number inside the array is {"value": 7} without an id; a number where an object with readings was
    # expected has no records.
    assert sorted(r.field for r in run.rejected) == ["id", "payload"]


async def test_a_cancel_from_outside_leaves_no_error_unretrieved(prefix: str, site_catalog: Catalog) -> None:
    """A hard cancel (a shutdown that stops waiting) while the collector waits for a message: the pending read
    is cancelled with it, not left to fail on its own once the client disconnects."""
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        params = {"port": BROKER[1], "topics": [f"{prefix}/levels/+"],
                  "map": [{"indicator": "river.level", "value": "value", "entity_from": "topic_segments[2]"}]}
        states: list[tuple[str, str | None]] = []
        kind = Mqtt(validate(Mqtt.Params, params, prefix=("params",)),
                    CollectorContext("mqtt-test", site_catalog, REPO, logging.getLogger("test.mqtt"),
                                     set_state=lambda state, error=None: states.append((state, error))))
        results: list[CollectResult] = []

        async def emit(result: CollectResult) -> None:
            results.append(result)

        stop = asyncio.Event()
        run = Live(kind, stop, asyncio.create_task(kind.run(emit, stop)), results, states)
        await run.until(connected(run))
        await asyncio.sleep(0.2)  # waiting for the next message
        run.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run.task
        await run.kind.close()
        await asyncio.sleep(0.3)  # the client's disconnect settles; a read left pending would fail now
        gc.collect()
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(previous)
    assert [c.get("message") for c in reported] == [], reported


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    """Start (and restart) a Mosquitto of the test's own on a free port."""
    if MOSQUITTO is None:
        pytest.skip("no mosquitto binary to start a broker of the test's own")
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(proc)
        deadline = time.monotonic() + 5
        while not _answers("127.0.0.1", port):
            if time.monotonic() > deadline:
                raise RuntimeError("mosquitto did not start")
            time.sleep(0.05)
        return proc

    start.port = port  # type: ignore[attr-defined]
    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(5)


async def test_it_waits_for_a_broker_and_reconnects_after_a_restart(own_broker: Any, site_catalog: Catalog) -> None:
    port = own_broker.port
    params = {"port": port, "topics": ["levels/+"], "reconnect_min": "0.1s", "reconnect_max": "0.4s",
              "map": [{"indicator": "river.level", "value": "value", "entity_from": "topic_segments[1]"}]}
    async with live(params, site_catalog) as run:
        await run.until(lambda: len(run.states) >= 2)  # no broker yet: it keeps trying
        assert {s for s, _ in run.states} == {"disconnected"}
        assert f"127.0.0.1:{port}" in (run.states[0][1] or "")
        broker = await asyncio.to_thread(own_broker)
        await run.until(connected(run))
        await publish(port, ("levels/2101690", "1.0"))
        await run.until(lambda: len(run.samples) == 1)

        broker.terminate()
        await asyncio.to_thread(broker.wait, 5)
        await run.until(lambda: run.states[-1][0] == "disconnected")
        await asyncio.to_thread(own_broker)
        await run.until(connected(run))
        await publish(port, ("levels/2101690", "2.0"))  # subscribed again after the restart
        await run.until(lambda: len(run.samples) == 2)
    assert [s.value for s in run.samples] == [1.0, 2.0]
    assert [s for s, _ in run.states].count("connected") == 2


def test_bad_params_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("kind: mqtt\nschedule: {interval: 1m}\nparams:\n  topics: [a/#]\n"
                    "  map: [{indicator: river.level, value: v, entity: hrfco-2101690}]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="live kind"):
        load_collector(path)
    path.write_text("kind: mqtt\nparams:\n  topics: ['a/#/b', 'a/x+']\n  password: p\n"
                    "  map: [{indicator: river.level, value: v, entity: hrfco-2101690}]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_collector(path)
    assert [(p.line, p.field) for p in err.value.problems] == [(3, "params.topics")]
    assert "'#' must be a whole level and the last one" in str(err.value)
    path.write_text("kind: mqtt\nparams:\n  topics: ['a/+/b']\n  password: p\n"
                    "  map: [{indicator: river.level, value: v, entity: hrfco-2101690}]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="password goes with username"):
        load_collector(path)


async def test_collect_is_not_used_for_a_live_kind(site_catalog: Catalog) -> None:
    kind = Mqtt(validate(Mqtt.Params, {"topics": ["a"], "map": [
        {"indicator": "river.level", "value": "v", "entity": "hrfco-2101690"}]}),
        CollectorContext("m", site_catalog, REPO, logging.getLogger("m")))
    with pytest.raises(NotImplementedError):
        await kind.collect(0)


async def test_a_dry_run_of_the_live_kind_prints_what_arrived(prefix: str, tmp_path: Path,
                                                              site_catalog: Catalog) -> None:
    from situationroom.collectors.runtime.dryrun import dry_run
    from situationroom.settings import Settings

    # Retained: the subscription made by the dry run receives it at once.
    async with aiomqtt.Client(*BROKER) as client:
        await client.publish(f"{prefix}/levels/2101690", "1.5", qos=1, retain=True)
    try:
        (tmp_path / "collectors").mkdir()
        (tmp_path / "collectors" / "iot.yaml").write_text(
            f"kind: mqtt\nparams:\n  topics: ['{prefix}/levels/+']\n  map:\n    - indicator: river.level\n"
            "      value: value\n      entity_from: topic_segments[2]\n", encoding="utf-8")
        result = await dry_run(tmp_path, "iot", seconds=1.0, settings=Settings(site=tmp_path), catalog=site_catalog)
    finally:
        async with aiomqtt.Client(*BROKER) as client:
            await client.publish(f"{prefix}/levels/2101690", b"", qos=1, retain=True)  # clears the retained one
    assert result.error is None
    assert [(s.entity, s.value) for s in result.samples] == [("hrfco-2101690", 1.5)]


async def test_through_the_runtime_messages_become_samples_in_redis(
        prefix: str, aclient: Any, redis_url: str, site_catalog: Catalog, tmp_path: Path) -> None:
    from situationroom import keys
    from situationroom.collectors import health
    from situationroom.collectors.runtime import CollectorRunner
    from tests.site_support import settings_for

    site = tmp_path / "site"
    (site / "collectors").mkdir(parents=True)
    (site / "seeds").symlink_to(REPO / "seeds")
    (site / "collectors" / "iot.yaml").write_text(
        f"kind: mqtt\nparams:\n  topics: ['{prefix}/+/level']\n  map:\n    - indicator: river.level\n"
        "      value: value\n      entity_from: topic_segments[1]\n", encoding="utf-8")
    runner = CollectorRunner(aclient, site_catalog, settings_for(redis_url, site=site), watch=False)
    await runner.load()
    runner.start()

    async def entries() -> list[Sample]:
        return await stream_samples(aclient)

    try:
        deadline = time.monotonic() + 10
        while (await health.read_all(aclient)).get("iot", {}).get("state") != "connected":
            assert time.monotonic() < deadline, await health.read_all(aclient)
            await asyncio.sleep(0.05)
        await publish(BROKER[1], (f"{prefix}/2101690/level", "1.75"), (f"{prefix}/2101690/level", "n/a"))
        while len(await entries()) < 1 or not await aclient.xlen(keys.deadletter()):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
    finally:
        await runner.stop()
    [entry] = await entries()
    assert (entry.indicator, entry.entity, entry.value) == ("river.level", "hrfco-2101690", 1.75)
    [(_, dead)] = await aclient.xrange(keys.deadletter())
    assert dead[b"field"] == b"payload" and dead[b"source"] == b"iot"
