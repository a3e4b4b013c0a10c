"""Scheduling with APScheduler actually running: isolation, timeouts, retries, no overlap, health in Redis."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from pathlib import Path
from typing import ClassVar

import orjson
import pytest
import redis.asyncio as aioredis

from situationroom import keys
from situationroom.catalog import Catalog
from situationroom.collectors import health, registry
from situationroom.collectors.base import CollectError, CollectorKind, CollectResult, Params
from situationroom.collectors.definition import load_collector
from situationroom.collectors.runtime import CollectorRunner
from situationroom.embedded import EmbeddedRedis
from situationroom.errors import ConfigError
from situationroom.redisconn import async_client
from situationroom.samples import Rejection, Sample
from tests.publicdata_support import PAYLOADS, public_api
from tests.site_support import MINI, REPO, settings_for
from tests.stream_support import stream_samples

pytestmark = pytest.mark.cluster

CALLS: dict[str, int] = defaultdict(int)
RUNNING: dict[str, int] = defaultdict(int)
MAX_RUNNING: dict[str, int] = defaultdict(int)
GATES: dict[str, asyncio.Event] = {}


class ValueParams(Params):
    value: float = 1.0
    entity: str = "chaeun"
    fail_times: int = 0
    sleep: float = 0.0
    gate: bool = False
    """Wait for the test to open GATES[collector id] first."""


@registry.register
class OkKind(CollectorKind):
    """Returns one river level each run (and sleeps a while first when told to)."""

    name: ClassVar[str] = "test-ok"
    Params: ClassVar[type[Params]] = ValueParams

    async def collect(self, now: float) -> list[Sample]:
        cid = self.context.collector_id
        CALLS[cid] += 1
        RUNNING[cid] += 1
        MAX_RUNNING[cid] = max(MAX_RUNNING[cid], RUNNING[cid])
        try:
            p = self.params
            assert isinstance(p, ValueParams)
            if p.sleep:
                await asyncio.sleep(p.sleep)
            return [Sample("river.level", p.entity, now, p.value, cid)]
        finally:
            RUNNING[cid] -= 1


@registry.register
class RaisingKind(CollectorKind):
    name: ClassVar[str] = "test-raise"

    async def collect(self, now: float) -> list[Sample]:
        CALLS[self.context.collector_id] += 1
        raise RuntimeError("the source answered 500")


@registry.register
class HangingKind(CollectorKind):
    name: ClassVar[str] = "test-hang"

    async def collect(self, now: float) -> list[Sample]:
        CALLS[self.context.collector_id] += 1
        await asyncio.sleep(3600)
        return []


@registry.register
class FlakyKind(CollectorKind):
    """Fails its first `fail_times` attempts, then works (each after its test opens the gate, if told to)."""

    name: ClassVar[str] = "test-flaky"
    Params: ClassVar[type[Params]] = ValueParams

    async def collect(self, now: float) -> list[Sample]:
        cid = self.context.collector_id
        CALLS[cid] += 1
        p = self.params
        assert isinstance(p, ValueParams)
        if p.gate:
            await GATES[cid].wait()
        if CALLS[cid] <= p.fail_times:
            raise ConnectionError(f"attempt {CALLS[cid]} refused")
        return [Sample("river.level", p.entity, now, p.value, cid)]


@registry.register
class MixedKind(CollectorKind):
    """Returns a good sample, an invalid one, and a rejection of its own."""

    name: ClassVar[str] = "test-mixed"

    async def collect(self, now: float) -> CollectResult:
        return CollectResult(
            [Sample("river.level", "chaeun", now, 1.0), Sample("river.level", "chaeun", now, 99.0),
             "not a sample"],  # type: ignore[list-item]
            [Rejection("payload", "row 3 has no station code", "<row/>")],
        )


@registry.register
class SyncKind(CollectorKind):
    """A plugin written without async: runs in a thread so it blocks nobody."""

    name: ClassVar[str] = "test-sync"

    def collect(self, now: float) -> list[Sample]:  # type: ignore[override]
        CALLS[self.context.collector_id] += 1
        time.sleep(0.3)
        return [Sample("river.level", "hyeongsan", now, 0.5)]


def _site(tmp_path: Path, collectors: dict[str, str], seeds: Path = MINI / "seeds") -> Path:
    site = tmp_path / "site"
    (site / "collectors").mkdir(parents=True)
    (site / "seeds").symlink_to(seeds)
    for name, text in collectors.items():
        (site / "collectors" / f"{name}.yaml").write_text(text, encoding="utf-8")
    return site


@pytest.fixture(autouse=True)
def _reset_counts() -> None:
    CALLS.clear()
    RUNNING.clear()
    MAX_RUNNING.clear()


async def _entries(client: aioredis.Redis, partitions: int = 8) -> list[Sample]:
    """Every sample the collectors wrote."""
    return await stream_samples(client, partitions=partitions)


async def test_failing_and_hanging_collectors_do_not_block_a_healthy_one(
        aclient: aioredis.Redis, redis_url: str, mini_catalog: Catalog, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    site = _site(tmp_path, {
        "healthy": "kind: test-ok\nschedule: {interval: 0.2s}\nparams: {value: 1.5}\n",
        "broken": "kind: test-raise\nschedule: {interval: 0.2s}\nretries: 0\n",
        "stuck": "kind: test-hang\nschedule: {interval: 0.2s}\ntimeout: 0.3s\nretries: 0\n",
    })
    runner = CollectorRunner(aclient, mini_catalog, settings_for(redis_url, site=site))
    await runner.load()
    assert set(runner.collectors) == {"healthy", "broken", "stuck"}
    caplog.set_level(logging.INFO, logger="situationroom")
    started = time.time()
    runner.start()
    try:
        await asyncio.sleep(1.5)
    finally:
        await runner.stop()
    elapsed = time.time() - started

    # The healthy collector kept its 0.2 s schedule the whole time.
    assert CALLS["healthy"] >= int(elapsed / 0.2) - 2
    states = await health.read_all(aclient)
    ok = states["healthy"]
    assert ok["state"] == "ok" and ok["consecutive_failures"] == 0
    assert ok["samples_total"] == CALLS["healthy"] and ok["samples_last_run"] == 1
    assert ok["last_success"] >= started and ok["next_run"] > ok["last_run"]
    assert ok["schedule"] == "every 0.2s" and ok["kind"] == "test-ok"
    entries = await _entries(aclient)
    assert len(entries) == CALLS["healthy"] and all(e.source == "healthy" for e in entries)

    bad = states["broken"]
    assert bad["state"] == "failing" and bad["last_error"] == "RuntimeError: the source answered 500"
    assert bad["consecutive_failures"] == bad["failures"] == CALLS["broken"] >= 5
    assert bad["last_success"] is None and bad["next_run"] is not None

    stuck = states["stuck"]
    assert stuck["state"] == "failing" and stuck["last_error"] == "timed out after 0.3s"
    assert 3 <= CALLS["stuck"] <= 6  # one run at a time, each cut at 0.3 s
    assert stuck["skipped"] >= 1, "runs due while one hangs are skipped, not stacked"
    assert stuck["duration_ms"] >= 290

    # One log line per change of state, not one per run.
    failing_logs = [r for r in caplog.records if "failing" in r.getMessage()]
    assert sorted(r.getMessage().split()[1] for r in failing_logs) == ["broken", "stuck"]
    assert not [r for r in caplog.records if r.name.startswith("apscheduler") and r.levelno < logging.ERROR]


async def test_retries_with_backoff_then_recovery(aclient: aioredis.Redis, redis_url: str,
                                                  mini_catalog: Catalog, tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    site = _site(tmp_path, {
        "flaky": "kind: test-flaky\nschedule: {interval: 1h}\nretries: 3\nbackoff: 0.1s\nparams: {fail_times: 2}\n",
        "hopeless": "kind: test-flaky\nschedule: {interval: 1h}\nretries: 2\nbackoff: 0.05s\n"
                    "params: {fail_times: 1000}\n",
    })
    runner = CollectorRunner(aclient, mini_catalog, settings_for(redis_url, site=site))
    await runner.load()
    caplog.set_level(logging.INFO, logger="situationroom")
    t0 = time.monotonic()
    outcome = await runner.run_once("flaky")
    took = time.monotonic() - t0
    assert outcome.ok and outcome.attempts == 3 and outcome.written == 1
    assert took >= 0.1 + 0.2 - 0.02, "waits 0.1 s, then 0.2 s (doubling) between attempts"
    h = (await health.read_all(aclient))["flaky"]
    assert h["attempts_last_run"] == 3 and h["state"] == "ok"

    outcome = await runner.run_once("hopeless")
    assert not outcome.ok and outcome.attempts == 3 and CALLS["hopeless"] == 3
    assert outcome.error == "ConnectionError: attempt 3 refused"
    await runner.run_once("hopeless")
    h = (await health.read_all(aclient))["hopeless"]
    assert h["consecutive_failures"] == 2 and h["runs"] == 2
    assert len([r for r in caplog.records if "hopeless failing" in r.getMessage()]) == 1

    # It recovers: health resets the consecutive failures and the log says so once.
    runner.collectors["hopeless"].instance.params = ValueParams(fail_times=0)
    outcome = await runner.run_once("hopeless")
    assert outcome.ok
    h = (await health.read_all(aclient))["hopeless"]
    assert h["consecutive_failures"] == 0 and h["failures"] == 2 and h["last_error"].startswith("ConnectionError")
    assert len([r for r in caplog.records if "hopeless recovered" in r.getMessage()]) == 1
    await runner.stop()


async def test_no_overlapping_runs(aclient: aioredis.Redis, redis_url: str, mini_catalog: Catalog,
                                   tmp_path: Path) -> None:
    site = _site(tmp_path, {
        "slow": "kind: test-ok\nschedule: {interval: 0.1s}\ntimeout: 5s\nparams: {sleep: 0.45}\n",
        "jittery": "kind: test-ok\nschedule: {interval: 0.1s, jitter: 0.05s}\nparams: {entity: hyeongsan}\n",
    })
    runner = CollectorRunner(aclient, mini_catalog, settings_for(redis_url, site=site))
    await runner.load()
    runner.start()
    try:
        await asyncio.sleep(1.2)
    finally:
        await runner.stop()
    assert MAX_RUNNING["slow"] == 1
    assert 2 <= CALLS["slow"] <= 4
    assert (await health.read_all(aclient))["slow"]["skipped"] >= 3
    assert CALLS["jittery"] >= 5


async def test_stop_cancels_a_hanging_run_cleanly(aclient: aioredis.Redis, redis_url: str,
                                                  mini_catalog: Catalog, tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    site = _site(tmp_path, {"stuck": "kind: test-hang\nschedule: {interval: 1h}\ntimeout: 1h\n"})
    runner = CollectorRunner(aclient, mini_catalog, settings_for(redis_url, site=site))
    await runner.load()
    runner.start()
    await asyncio.sleep(0.2)
    assert CALLS["stuck"] == 1
    t0 = time.monotonic()
    await runner.stop(grace=0.2)
    assert time.monotonic() - t0 < 2
    assert not runner.scheduler.running
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "no CancelledError tracebacks"


async def test_validation_rejects_to_the_deadletter(aclient: aioredis.Redis, redis_url: str,
                                                    mini_catalog: Catalog, tmp_path: Path) -> None:
    site = _site(tmp_path, {"mixed": "kind: test-mixed\nschedule: {interval: 1h}\n"})
    runner = CollectorRunner(aclient, mini_catalog, settings_for(redis_url, site=site))
    await runner.load()
    outcome = await runner.run_once("mixed")
    assert outcome.ok and outcome.written == 1 and outcome.rejected == 3
    dead = [{k.decode(): v.decode() for k, v in f.items()} for _, f in await aclient.xrange(keys.deadletter())]
    assert sorted(d["field"] for d in dead) == ["payload", "sample", "value"]
    assert all(d["source"] == "mixed" for d in dead)
    assert any("outside the possible range" in d["reason"] for d in dead)
    h = (await health.read_all(aclient))["mixed"]
    assert h["rejected_last_run"] == 3 and h["samples_last_run"] == 1


async def test_a_sync_plugin_runs_in_a_thread(aclient: aioredis.Redis, redis_url: str, mini_catalog: Catalog,
                                              tmp_path: Path) -> None:
    site = _site(tmp_path, {
        "blocking": "kind: test-sync\nschedule: {interval: 1h}\n",
        "healthy": "kind: test-ok\nschedule: {interval: 0.1s}\n",
    })
    runner = CollectorRunner(aclient, mini_catalog, settings_for(redis_url, site=site))
    await runner.load()
    runner.start()
    try:
        await asyncio.sleep(0.5)
    finally:
        await runner.stop()
    assert CALLS["blocking"] == 1 and CALLS["healthy"] >= 4


async def test_paused_collector_does_not_run(aclient: aioredis.Redis, redis_url: str, mini_catalog: Catalog,
                                             tmp_path: Path) -> None:
    site = _site(tmp_path, {"healthy": "kind: test-ok\nschedule: {interval: 1h}\n"})
    runner = CollectorRunner(aclient, mini_catalog, settings_for(redis_url, site=site))
    await runner.load()
    await aclient.hset(keys.collector_control("healthy"), "paused", "1")
    assert (await runner.run_once("healthy")).ok
    assert CALLS["healthy"] == 0
    assert (await health.read_all(aclient))["healthy"]["state"] == "paused"
    assert (await health.read_all(aclient))["healthy"]["paused"] is True


@pytest.mark.parametrize("fail", [False, True], ids=["run succeeds", "run fails"])
async def test_a_pause_during_a_run_stays_shown_after_the_run_ends(
        aclient: aioredis.Redis, redis_url: str, mini_catalog: Catalog, tmp_path: Path, fail: bool) -> None:
    """An operator pauses a collector while it is running: the run finishes (a run in progress wins),
    and health still says paused afterwards, not the run's ok or failing."""
    site = _site(tmp_path, {"gated": f"kind: test-flaky\nschedule: {{interval: 1h}}\nretries: 0\n"
                                     f"params: {{gate: true, fail_times: {int(fail)}}}\n"})
    GATES["gated"] = asyncio.Event()
    runner = CollectorRunner(aclient, mini_catalog, settings_for(redis_url, site=site), watch=False)
    await runner.load()
    run = asyncio.create_task(runner.run_once("gated"))

    async def collecting() -> bool:
        return CALLS["gated"] == 1
    await _until(collecting)
    await aclient.hset(keys.collector_control("gated"), "paused", "1")
    await runner.poll_controls()
    assert (await health.read_all(aclient))["gated"]["state"] == "paused"
    GATES["gated"].set()
    outcome = await run
    assert outcome.ok is not fail
    shown = (await health.read_all(aclient))["gated"]
    assert shown["state"] == "paused"
    assert shown["runs"] == 1
    if fail:
        assert "attempt 1 refused" in shown["last_error"]
    else:
        assert len(await _entries(aclient)) == 1  # what the run collected is written all the same


async def test_invalid_and_disabled_files_are_reported_in_health(
        aclient: aioredis.Redis, redis_url: str, mini_catalog: Catalog, tmp_path: Path) -> None:
    site = _site(tmp_path, {
        "good": "kind: test-ok\nschedule: {interval: 1m}\n",
        "nokind": "kind: no-such-kind\nschedule: {interval: 1m}\n",
        "badparams": "kind: test-ok\nschedule: {interval: 1m}\nparams:\n  value: high\n",
        "off": "kind: test-ok\nenabled: false\nschedule: {interval: 1m}\n",
        "twice": "kind: test-ok\nschedule: {interval: 1m, cron: '* * * * *'}\n",
    })
    runner = CollectorRunner(aclient, mini_catalog, settings_for(redis_url, site=site))
    await runner.load()
    assert list(runner.collectors) == ["good"]
    states = await health.read_all(aclient)
    assert states["off"]["state"] == "disabled"
    assert states["nokind"]["state"] == "invalid" and "unknown collector kind" in states["nokind"]["last_error"]
    assert states["badparams"]["state"] == "invalid"
    assert "badparams.yaml:4: params.value" in states["badparams"]["last_error"]
    assert "exactly one of interval or cron" in states["twice"]["last_error"]
    problems = [str(p) for p in runner.problems]
    assert any("nokind.yaml:1: kind" in p and "'no-such-kind'" in p for p in problems)


def test_definition_errors_name_file_line_field_value(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("kind: test-ok\nschedule:\n  interval: soon\ntimeout: 0s\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_collector(path)
    text = str(err.value)
    assert f"{path}:3: schedule.interval" in text and "'soon'" in text
    assert f"{path}:4: timeout" in text


def test_a_file_cannot_take_a_drills_id(tmp_path: Path) -> None:
    """`drill-<id>` is the collector a running drill plays its scenario as: a file of that name would be ended
    with every drill."""
    path = tmp_path / "drill-feed.yaml"
    path.write_text("kind: test-ok\nschedule: {interval: 1s}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_collector(path)
    assert "drill-" in str(err.value) and "rename the file" in str(err.value)


async def test_redis_outage_keeps_samples_for_the_next_run(mini_catalog: Catalog, tmp_path: Path) -> None:
    site = _site(tmp_path, {"healthy": "kind: test-ok\nschedule: {interval: 1h}\n"})
    server = EmbeddedRedis(tmp_path / "own-redis")
    url = server.start()
    client = async_client(url)
    try:
        runner = CollectorRunner(client, mini_catalog, settings_for(url, site=site))
        await runner.load()
        assert (await runner.run_once("healthy")).ok
        server.stop()
        outcome = await runner.run_once("healthy")
        assert not outcome.ok and "Redis unreachable" in (outcome.error or "")
        assert len(runner.collectors["healthy"].backlog) == 1
        server.start()
        outcome = await runner.run_once("healthy")
        assert outcome.ok and not runner.collectors["healthy"].backlog
        assert len(await _entries(client)) == 3, "the sample of the run during the outage is written too"
        await runner.stop()
    finally:
        await client.aclose()
        server.stop()


# --- secrets, live kinds, operator controls (issue 6) ------------------------------------------

SECRET = "k3y-SECRET-7f9a2b"


class UrlParams(Params):
    url: str


@registry.register
class UrlKind(CollectorKind):
    """Fetches a URL (with the key in its query string, as data.go.kr wants) and logs it."""

    name: ClassVar[str] = "test-url"
    Params: ClassVar[type[Params]] = UrlParams

    async def collect(self, now: float) -> list[Sample]:
        import httpx

        p = self.params
        assert isinstance(p, UrlParams)
        self.context.log.info("fetching %s", p.url)
        async with httpx.AsyncClient(timeout=5) as http:
            answer = await http.get(p.url)
            answer.raise_for_status()  # the error names the URL, key included
        return [Sample("river.level", "chaeun", now, float(answer.text))]


class _Answer500:
    """A real HTTP server that answers 500 to everything."""

    def __enter__(self) -> str:
        import http.server
        import threading

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(500)
                self.end_headers()
                self.wfile.write(b"boom")

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


async def test_a_secret_is_never_printed(aclient: aioredis.Redis, redis_url: str, mini_catalog: Catalog,
                                         tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_SR_KEY", SECRET)
    caplog.set_level(logging.DEBUG)
    with _Answer500() as base:
        site = _site(tmp_path, {
            "keyed": f"kind: test-url\nschedule: {{interval: 1h}}\nretries: 0\n"
                     f"params:\n  url: '{base}/data?serviceKey=${{TEST_SR_KEY}}&n=1'\n",
            # an invalid value built from the secret: the error shows the reference, not the value
            "badkey": "kind: test-ok\nschedule: {interval: 1h}\nparams:\n  value: ${TEST_SR_KEY}\n",
        })
        runner = CollectorRunner(aclient, mini_catalog, settings_for(redis_url, site=site))
        await runner.load()
        outcome = await runner.run_once("keyed")
        await runner.stop()
    assert not outcome.ok and outcome.error is not None
    assert "500" in outcome.error and "serviceKey=***" in outcome.error, outcome.error
    states = await health.read_all(aclient)
    assert "serviceKey=***" in states["keyed"]["last_error"]
    assert "${TEST_SR_KEY}" in states["badkey"]["last_error"]
    stored = [v for cid in ("keyed", "badkey") for v in (await aclient.hgetall(keys.collector_health(cid))).values()]
    assert stored and not [v for v in stored if SECRET.encode() in v]
    assert "fetching" in caplog.text and "HTTP Request" in caplog.text  # the kind's and httpx's own lines
    assert SECRET not in caplog.text
    assert not [p for p in runner.problems if SECRET in str(p)]


async def test_an_unset_variable_fails_an_enabled_collector_but_not_a_disabled_one(
        aclient: aioredis.Redis, redis_url: str, mini_catalog: Catalog, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_SR_NOT_SET", raising=False)
    site = _site(tmp_path, {
        "on": "kind: test-url\nschedule: {interval: 1h}\nparams:\n  url: 'http://x/?key=${TEST_SR_NOT_SET}'\n",
        "off": "kind: test-url\nenabled: false\nschedule: {interval: 1h}\n"
               "params:\n  url: 'http://x/?key=${TEST_SR_NOT_SET}'\n",
    })
    runner = CollectorRunner(aclient, mini_catalog, settings_for(redis_url, site=site))
    await runner.load()
    assert list(runner.collectors) == []
    problems = [str(p) for p in runner.problems]
    assert problems == [f"{site / 'collectors' / 'on.yaml'}:4: params.url: environment variable TEST_SR_NOT_SET "
                        "is not set"]
    states = await health.read_all(aclient)
    assert states["off"]["state"] == "disabled" and states["off"]["needs_env"] == "TEST_SR_NOT_SET"
    assert states["on"]["state"] == "invalid" and "TEST_SR_NOT_SET" in states["on"]["last_error"]
    assert states["off"]["file"] == "collectors/off.yaml"


def test_schedule_is_required_except_for_live_kinds(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("kind: test-ok\ntimeout: 5s\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_collector(path)
    assert f"{path}:1: schedule: required field is missing" in str(err.value)
    path.write_text("kind: test-live\nparams: {per_emit: 1}\n", encoding="utf-8")
    assert load_collector(path).definition.schedule is None
    path.write_text("kind: test-live\nschedule: {interval: 1m}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_collector(path)
    assert f"{path}:2: schedule: test-live is a live kind" in str(err.value)


class LiveParams(Params):
    period: float = 0.05
    crash_after: int = 0
    """Raise after this many emits (0: never), as a dropped broker connection would."""
    per_emit: int = 1


STARTS: dict[str, int] = defaultdict(int)


@registry.register
class LiveKind(CollectorKind):
    """A subscription: says it is connected, emits a river level every `period`, may crash."""

    name: ClassVar[str] = "test-live"
    Params: ClassVar[type[Params]] = LiveParams
    live: ClassVar[bool] = True

    async def run(self, emit, stop: asyncio.Event) -> None:  # type: ignore[no-untyped-def]
        p = self.params
        assert isinstance(p, LiveParams)
        cid = self.context.collector_id
        STARTS[cid] += 1
        self.context.set_state("connected")
        emitted = 0
        while not stop.is_set():
            now = time.time()
            await emit(CollectResult([Sample("river.level", "chaeun", now, 1.0 + emitted % 3)] * p.per_emit,
                                     [Rejection("payload", "topic sensors/x has no mapping", "{}")]))
            emitted += 1
            if p.crash_after and emitted >= p.crash_after:
                raise ConnectionError("broker went away")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), p.period)


async def _until(check, within: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def test_a_live_kind_writes_what_it_emits_and_restarts_after_a_crash(
        aclient: aioredis.Redis, redis_url: str, mini_catalog: Catalog, tmp_path: Path) -> None:
    STARTS.clear()
    site = _site(tmp_path, {"sensors": "kind: test-live\nbackoff: 0.2s\nparams: {crash_after: 5}\n"})
    runner = CollectorRunner(aclient, mini_catalog, settings_for(redis_url, site=site), watch=False)
    await runner.load()
    runner.start()
    try:
        async def restarted() -> bool:
            return STARTS["sensors"] >= 3
        await _until(restarted)
        h = (await health.read_all(aclient))["sensors"]
        assert h["schedule"] == "live" and h["state"] in ("connected", "disconnected")
        assert h["last_error"] == "ConnectionError: broker went away" and h["failures"] >= 2
        assert h["samples_last_run"] == 1 and h["rejected_last_run"] == 1
    finally:
        await runner.stop()
    entries = await _entries(aclient)
    assert len(entries) >= 10 and all(e.source == "sensors" for e in entries)
    dead = await aclient.xrange(keys.deadletter())
    assert len(dead) >= 10 and dead[0][1][b"reason"] == b"topic sensors/x has no mapping"


async def test_pausing_a_live_kind_stops_its_emits_and_resuming_brings_them_back(
        aclient: aioredis.Redis, redis_url: str, mini_catalog: Catalog, tmp_path: Path) -> None:
    site = _site(tmp_path, {"sensors": "kind: test-live\n"})
    runner = CollectorRunner(aclient, mini_catalog, settings_for(redis_url, site=site), watch=False)
    await runner.load()
    runner.start()
    try:
        async def connected() -> bool:
            return (await health.read_all(aclient))["sensors"]["state"] == "connected" \
                and len(await _entries(aclient)) > 2
        await _until(connected)
        await aclient.hset(keys.collector_control("sensors"), "paused", "1")

        async def paused() -> bool:
            return (await health.read_all(aclient))["sensors"]["state"] == "paused"
        await _until(paused)
        await asyncio.sleep(0.1)  # an emit already past the check may still land
        count = len(await _entries(aclient))
        await asyncio.sleep(0.6)
        assert len(await _entries(aclient)) == count, "a paused live collector wrote samples"
        await aclient.hdel(keys.collector_control("sensors"), "paused")
        await _until(connected)

        async def more() -> bool:
            return len(await _entries(aclient)) > count + 2
        await _until(more)
    finally:
        await runner.stop()


async def test_run_now_runs_a_collector_at_once_unless_paused(
        aclient: aioredis.Redis, redis_url: str, mini_catalog: Catalog, tmp_path: Path) -> None:
    site = _site(tmp_path, {"healthy": "kind: test-ok\nschedule: {interval: 1h}\n"})
    runner = CollectorRunner(aclient, mini_catalog, settings_for(redis_url, site=site), watch=False)
    await runner.load()
    runner.start()
    try:
        async def ran(n: int):  # type: ignore[no-untyped-def]
            async def check() -> bool:
                return CALLS["healthy"] >= n and (await health.read_all(aclient))["healthy"]["runs"] >= n
            return check
        await _until(await ran(1))
        first_next = (await health.read_all(aclient))["healthy"]["next_run"]
        assert first_next > time.time() + 3000
        await aclient.hset(keys.collector_control("healthy"), "run_now", str(time.time()))
        await _until(await ran(2), within=3)
        assert not await aclient.hexists(keys.collector_control("healthy"), "run_now")

        await aclient.hset(keys.collector_control("healthy"), mapping={"paused": "1", "run_now": str(time.time())})

        async def consumed() -> bool:
            return not await aclient.hexists(keys.collector_control("healthy"), "run_now")
        await _until(consumed, within=3)
        await asyncio.sleep(0.3)
        assert CALLS["healthy"] == 2, "paused wins over run now"
        assert (await health.read_all(aclient))["healthy"]["state"] == "paused"
    finally:
        await runner.stop()


async def test_a_collect_error_is_the_health_error_and_the_scheduler_goes_on(
        aclient: aioredis.Redis, redis_url: str, mini_catalog: Catalog, tmp_path: Path) -> None:
    site = _site(tmp_path, {"env": "kind: test-envelope\nschedule: {interval: 0.2s}\nretries: 0\n"})
    runner = CollectorRunner(aclient, mini_catalog, settings_for(redis_url, site=site), watch=False)
    await runner.load()
    runner.start()
    try:
        await asyncio.sleep(0.7)
    finally:
        await runner.stop()
    h = (await health.read_all(aclient))["env"]
    assert h["state"] == "failing" and h["runs"] >= 3
    assert h["last_error"] == "the source answered resultCode 30 SERVICE_KEY_IS_NOT_REGISTERED_ERROR"


@registry.register
class EnvelopeKind(CollectorKind):
    name: ClassVar[str] = "test-envelope"

    async def collect(self, now: float) -> list[Sample]:
        raise CollectError("the source answered resultCode 30 SERVICE_KEY_IS_NOT_REGISTERED_ERROR")


# --- the types a plugin's samples carry -----------------------------------------------------------

LOOSE_PLUGIN = '''from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction

from situationroom.collectors.plugin import Context, Params, Sample, collector_kind


@collector_kind("test-loose-types")
async def collect(params: Params, ctx: Context, now: float) -> list[Sample]:
    return [
        Sample("river.level", "chaeun", now, Decimal("1.5")),        # a database driver's NUMERIC
        Sample("river.level", "hyeongsan", Fraction(now), Fraction(3, 4)),
        Sample("river.level", "chaeun", now - 60, True),             # a flag is no measurement
        Sample("river.level", "hyeongsan", now - 60, "42"),          # forgot to parse its source
        Sample("river.level", "chaeun", datetime.now(UTC), 1.0),     # a datetime, not epoch seconds
        Sample("river.level", "hyeongsan", now - 120, 1.0, interval="10m"),
    ]
'''


async def test_sample_fields_of_any_numeric_type_are_written_as_numbers_and_others_are_dead_letters(
        aclient: aioredis.Redis, redis_url: str, mini_catalog: Catalog, tmp_path: Path) -> None:
    from situationroom.aggregator import Aggregator
    from situationroom.streams import ensure_groups

    site = _site(tmp_path, {"loose": "kind: test-loose-types\nschedule: {interval: 1h}\n"})
    (site / "collectors" / "loose.py").write_text(LOOSE_PLUGIN, encoding="utf-8")
    settings = settings_for(redis_url, site=site)
    runner = CollectorRunner(aclient, mini_catalog, settings, watch=False)
    await runner.load()
    try:
        outcome = await runner.run_once("loose")
    finally:
        await runner.stop()
    assert outcome.ok and outcome.written == 2 and outcome.rejected == 4
    written = sorted((e.entity, e.value) for e in await _entries(aclient))
    assert written == [("chaeun", 1.5), ("hyeongsan", 0.75)]

    dead = [{k.decode(): v.decode() for k, v in f.items()} for _, f in await aclient.xrange(keys.deadletter())]
    got = sorted((d["field"], d["reason"], d["value"]) for d in dead)
    assert got[0] == ("interval", "must be a number, not str (seconds)", '"\'10m\'"')
    assert got[1][:2] == ("ts", "event time must be a number, not datetime (epoch seconds)")
    assert got[1][2].startswith('"datetime.datetime(')
    assert got[2:] == [("value", "must be a number, not bool", '"True"'),
                       ("value", "must be a number, not str", '"\'42\'"')]
    assert all(d["source"] == "loose" and d["item"] for d in dead)
    h = (await health.read_all(aclient))["loose"]
    assert h["state"] == "ok" and h["samples_last_run"] == 2 and h["rejected_last_run"] == 4

    # The aggregator applies the Decimal and the Fraction as the numbers they are (no malformed entry).
    await ensure_groups(aclient, settings.partitions)
    aggregator = Aggregator(aclient, mini_catalog, settings, consumer="loose")
    while await aggregator.step(None):
        continue  # until the stream is drained
    live = {k.decode(): orjson.loads(v) for k, v in (await aclient.hgetall(keys.live("river.level"))).items()}
    assert {e: s["v"] for e, s in live.items()} == {"chaeun": 1.5, "hyeongsan": 0.75}
    assert len(await aclient.xrange(keys.deadletter())) == 4, "the aggregator dead-lettered a written sample"


# --- refusals that asking again cannot change ------------------------------------------------------

KMA_OP = "/1360000/VilageFcstInfoService_2.0/getUltraSrtNcst"


@pytest.mark.parametrize(("answer", "asked", "error"), [
    # data.go.kr's gateway: the key is not registered for the service (XML whatever was asked for)
    ((200, "text/xml", (PAYLOADS / "airkorea" / "gateway-error.xml").read_bytes()), 1,
     "KMA answered returnReasonCode 30 SERVICE_KEY_IS_NOT_REGISTERED_ERROR"),
    ((403, "application/json", (PAYLOADS / "airkorea" / "gateway-error-403.json").read_bytes()), 1,
     "KMA answered returnReasonCode 30 SERVICE_KEY_IS_NOT_REGISTERED_ERROR"),
    ((200, "text/xml", (PAYLOADS / "kma" / "gateway-error.xml").read_bytes()), 1,
     "KMA answered returnReasonCode 22 LIMITED_NUMBER_OF_SERVICE_REQUESTS_EXCEEDS_ERROR"),
    ((200, "application/json",
      b'{"response": {"header": {"resultCode": "31", "resultMsg": "DEADLINE_HAS_EXPIRED_ERROR"}}}'),
     1, "KMA answered resultCode 31 DEADLINE_HAS_EXPIRED_ERROR"),
    # ... while a server error may be gone at the next attempt: retried
    ((500, "text/plain", b"Internal Server Error"), 3, "KMA answered HTTP 500 Internal Server Error"),
    ((200, "text/xml", b"<OpenAPI_ServiceResponse><cmmMsgHeader><returnReasonCode>05</returnReasonCode>"
                       b"<returnAuthMsg>SERVICETIME_OUT</returnAuthMsg></cmmMsgHeader></OpenAPI_ServiceResponse>"),
     3, "KMA answered returnReasonCode 05 SERVICETIME_OUT"),
])
async def test_a_refused_key_or_a_spent_quota_is_asked_once_per_run_not_retried(
        aclient: aioredis.Redis, redis_url: str, site_catalog: Catalog, tmp_path: Path,
        answer: tuple[int, str, bytes], asked: int, error: str) -> None:
    with public_api() as server:
        server.routes[KMA_OP] = answer
        site = _site(tmp_path, {"kma": "kind: kma_nowcast\nschedule: {interval: 1h}\nretries: 2\nbackoff: 0.01s\n"
                                       f"params:\n  service_key: k3y-not-registered\n"
                                       f"  base_url: {server.url}/1360000/VilageFcstInfoService_2.0\n"
                                       "  cells: ['102,94']\n"})
        runner = CollectorRunner(aclient, site_catalog, settings_for(redis_url, site=site), watch=False)
        await runner.load()
        try:
            first = await runner.run_once("kma")
            assert len(server.requests) == asked
            second = await runner.run_once("kma")
            assert len(server.requests) == 2 * asked, "the next run asks again"
        finally:
            await runner.stop()
    for outcome in (first, second):
        assert not outcome.ok and outcome.attempts == asked
        assert (outcome.error or "").startswith(error)
    h = (await health.read_all(aclient))["kma"]
    assert h["state"] == "failing" and h["attempts_last_run"] == asked and h["consecutive_failures"] == 2


async def test_a_dead_letter_of_a_run_that_failed_is_reported_by_the_next_run_that_is_delivered(
        aclient: aioredis.Redis, redis_url: str, site_catalog: Catalog, tmp_path: Path) -> None:
    """A public-data kind reports each dead letter once, but only once it is written: a run that fails
    after rejecting an item (a refused request for the next cell, Redis refusing the dead letter) does
    not count as having reported it."""
    with public_api() as server:
        site = _site(tmp_path, {"kma": "kind: kma_nowcast\nschedule: {interval: 1h}\nretries: 0\n"
                                       f"params:\n  service_key: k3y\n"
                                       f"  base_url: {server.url}/1360000/VilageFcstInfoService_2.0\n"
                                       "  cells: ['60,127', '102,94']\n"})  # 60,127 is none of the site's cells
        runner = CollectorRunner(aclient, site_catalog, settings_for(redis_url, site=site), watch=False)
        await runner.load()

        async def unmapped() -> list[str]:
            return [f[b"value"].decode() for _, f in await aclient.xrange(keys.deadletter()) if f[b"field"] == b"nx,ny"]
        try:
            # 60,127 is rejected, then the request for 102,94 is refused: the run fails.
            server.file(KMA_OP, "kma", "gateway-error.xml")
            assert not (await runner.run_once("kma")).ok
            # The source answers, but Redis refuses the dead letters (a key of the wrong type).
            server.file(KMA_OP, "kma", "normal.json")
            await aclient.set(keys.deadletter(), "not a stream")
            refused = await runner.run_once("kma")
            assert not refused.ok and "WRONGTYPE" in (refused.error or "")
            await aclient.delete(keys.deadletter())
            assert (await runner.run_once("kma")).ok
            assert await unmapped() == ['{"cell":"60,127"}'], "the dead letter of the failed runs is lost"
            assert (await runner.run_once("kma")).ok
            assert await unmapped() == ['{"cell":"60,127"}'], "a delivered dead letter is reported again"
        finally:
            await runner.stop()


async def test_what_an_exercise_collector_delivers_is_exercise_data(
        aclient: aioredis.Redis, redis_url: str, site_catalog: Catalog, tmp_path: Path) -> None:
    """A drill feed (`exercise: true`) marks its samples; a real collector's stay real; a simulator is always
    exercise and records its simulated clock for the wall."""
    station = "{value: 1.0, entity: hrfco-2101690}"
    site = _site(tmp_path, {
        "real": f"kind: test-ok\nschedule: {{interval: 0.2s}}\nparams: {station}\n",
        "exercise-feed": f"kind: test-ok\nexercise: true\nschedule: {{interval: 0.2s}}\nparams: {station}\n",
        "sim": "kind: simulator\nschedule: {interval: 0.2s}\nparams: {indicators: [river.level], speed: 60}\n",
    }, seeds=REPO / "seeds")
    runner = CollectorRunner(aclient, site_catalog, settings_for(redis_url, site=site))
    await runner.load()
    runner.start()
    try:
        await asyncio.sleep(0.8)
    finally:
        await runner.stop()
    marks = {(e.source, e.exercise) for e in await _entries(aclient)}
    assert marks == {("real", False), ("exercise-feed", True), ("sim", True)}
    states = await health.read_all(aclient)
    assert not states["real"]["exercise"] and states["exercise-feed"]["exercise"] and states["sim"]["exercise"]
    clock = states["sim"]["clock"]
    assert clock["scenario"] == "ordinary" and clock["speed"] == 60 and clock["anchor"] >= time.time() - 5
    assert states["real"]["clock"] is None
