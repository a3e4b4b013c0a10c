"""The notify role end to end on real Redis: routing, retries with backoff, dead letters, quiet hours, escalation,
and a restart in the middle that neither loses nor doubles a notification."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
import redis.asyncio as aioredis

from situationroom import keys
from situationroom.catalog import Catalog
from situationroom.notify.channels.base import ChannelContext
from situationroom.notify.channels.config import load_channels
from situationroom.notify.deliver import Notifier
from situationroom.notify.log import read_deliveries
from situationroom.notify.subscriptions import Store, Subscription
from situationroom.redisconn import async_client
from tests.notify_support import HttpReceiver, alert, http_receiver, notification, smtp_server
from tests.site_support import settings_for

pytestmark = pytest.mark.cluster

KST = ZoneInfo("Asia/Seoul")
FP = "fp-river.level-hrfco-2101690"


def channels_file(tmp_path: Path, rx: HttpReceiver, smtp_port: int = 1) -> Path:
    path = tmp_path / "channels.yaml"
    path.write_text(f"""channels:
  - {{id: inapp, kind: inapp}}
  - {{id: hook, kind: webhook, url: "{rx.url}/hook", secret: "${{HOOK_SECRET}}", timeout: 2}}
  - {{id: email, kind: email, host: 127.0.0.1, port: {smtp_port}, security: none, chart: none, timeout: 2,
     sender: "포항시 재난상황실 <situation-room@pohang.example>"}}
  - {{id: kakao, kind: sms, url: "{rx.url}/kakao", body: '{{"to": {{{{ to | tojson }}}}}}', fallback: sms, timeout: 2}}
  - {{id: sms, kind: sms, url: "{rx.url}/sms", body: '{{"to": {{{{ to | tojson }}}}}}', timeout: 2}}
""", encoding="utf-8")
    return path


def sub(sid: str, owner: str, channels: list[str], **fields: Any) -> Subscription:
    return Subscription(id=sid, owner=owner, channels=channels, **fields)


class Harness:
    """A notify role (or several, one after the other) on one Redis, with the test's channels and subscriptions."""

    def __init__(self, url: str, client: aioredis.Redis, catalog: Catalog, path: Path, **settings: Any) -> None:
        self.client = client
        self.catalog = catalog
        self.path = path
        values = {"notify_backoff": 0.05, "notify_backoff_max": 0.2, "block_ms": 50, "claim_idle": 1.0, **settings}
        self.settings = settings_for(url, **values)
        self.runs: list[tuple[asyncio.Task[None], asyncio.Event]] = []

    def notifier(self, consumer: str = "notify-1", clock: Any = None) -> Notifier:
        ctx = ChannelContext(self.client, self.catalog, self.settings)
        channels = load_channels(self.path, ctx, env={"HOOK_SECRET": "room-secret-123"})
        kwargs = {"clock": clock} if clock else {}
        return Notifier(self.client, self.catalog, self.settings, channels=channels, consumer=consumer, **kwargs)

    async def start(self, consumer: str = "notify-1", clock: Any = None) -> Notifier:
        n = self.notifier(consumer, clock)
        stop = asyncio.Event()
        self.runs.append((asyncio.create_task(n.run(stop)), stop))
        return n

    async def crash(self) -> None:
        """Stop the newest run the hard way: nothing it was doing gets finished or acknowledged."""
        task, _ = self.runs.pop()
        task.cancel()
        # asyncio.wait, not `await task`: a run that ignored the cancellation fails the test instead of hanging it.
        await asyncio.wait({task}, timeout=15)
        assert task.done(), "the notify role did not end when cancelled"

    async def stop_all(self) -> None:
        for _, stop in self.runs:
            stop.set()
        tasks = [task for task, _ in self.runs]
        self.runs.clear()
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=15)
            for task in late:
                task.cancel()
            assert not late, "the notify role did not stop within 15 s of being asked"
            for task in tasks:
                if not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]

    async def subscribe(self, *subs: Subscription) -> None:
        # Marked as seeded, so the role does not add the site's own seed subscriptions.
        await self.client.set(keys.subscriptions_seeded(), "1")
        for s in subs:
            await Store(self.client).put(s)

    async def send(self, n: dict[str, Any]) -> None:
        await self.client.xadd(keys.notifications(), {"n": orjson.dumps(n)})

    async def log(self, fingerprint: str = FP, count: int = 1) -> list[dict[str, Any]]:
        for _ in range(500):
            got = await read_deliveries(self.client, fingerprint)
            if len(got) >= count:
                return got
            await asyncio.sleep(0.02)
        raise AssertionError(f"expected {count} delivery events, got {await read_deliveries(self.client, fingerprint)}")

    async def pending(self) -> int:
        info = await self.client.xpending(keys.notifications(), keys.NOTIFY_GROUP)
        return int(info["pending"])


@pytest.fixture
async def harness_parts(redis_url: str, tmp_path: Path) -> AsyncIterator[tuple[str, aioredis.Redis, Path]]:
    client = async_client(redis_url)
    yield redis_url, client, tmp_path
    await client.aclose()


@contextlib.asynccontextmanager
async def harness(parts: tuple[str, aioredis.Redis, Path], catalog: Catalog, rx: HttpReceiver,
                  smtp_port: int = 1, **settings: Any) -> AsyncIterator[Harness]:
    url, client, tmp_path = parts
    h = Harness(url, client, catalog, channels_file(tmp_path, rx, smtp_port), **settings)
    try:
        yield h
    finally:
        await h.stop_all()


async def off_thread(fn: Any, *args: Any) -> Any:
    """Wait on a receiver without blocking the notify role running in this event loop."""
    return await asyncio.to_thread(fn, *args)


# ------------------------------------------------------------------------------------------ delivery

async def test_a_notification_reaches_the_subscribers_channels_once_with_its_idempotency_key(
        harness_parts: Any, site_catalog: Catalog) -> None:
    with http_receiver() as rx, smtp_server() as box:
        async with harness(harness_parts, site_catalog, rx, box.port) as h:
            await h.subscribe(sub("room", "disaster-safety", ["hook"], departments=["disaster-safety"]),
                              sub("kim", "ds-kim", ["inapp", "email"], min_severity="경계"),
                              sub("env", "env-choi", ["inapp"], domains=["environment"]))
            await h.start()
            await h.send(notification("n-1", alert()))
            (req,) = await off_thread(rx.wait_for, 1)
            assert req.headers["idempotency-key"] == "n-1/disaster-safety/hook"
            (mail,) = await off_thread(box.wait_for, 1)
            assert mail["X-Idempotency-Key"] == "n-1/ds-kim/email"
            log = await h.log(count=3)
            assert sorted((e["recipient"], e["channel"], e["status"]) for e in log) == [
                ("disaster-safety", "hook", "sent"), ("ds-kim", "email", "sent"), ("ds-kim", "inapp", "sent")]
            assert await h.client.xlen(keys.inbox("ds-kim")) == 1
            assert await h.client.xlen(keys.inbox("env-choi")) == 0  # not their domain
            for _ in range(100):
                if await h.pending() == 0:
                    break
                await asyncio.sleep(0.02)
            assert await h.pending() == 0


async def test_retry_after_the_receiver_fails_twice_then_succeeds(harness_parts: Any, site_catalog: Catalog) -> None:
    with http_receiver() as rx:
        rx.fail_next(2, 503)
        async with harness(harness_parts, site_catalog, rx) as h:
            await h.subscribe(sub("room", "disaster-safety", ["hook"]))
            await h.start()
            await h.send(notification("n-2", alert()))
            requests = await off_thread(rx.wait_for, 3)
            assert {r.headers["idempotency-key"] for r in requests} == {"n-2/disaster-safety/hook"}
            log = await h.log(count=3)
    # Newest first: two retries (each with the error and when the next attempt is due), then the success.
    assert [(e["status"], e["attempt"]) for e in log] == [("sent", 3), ("retrying", 2), ("retrying", 1)]
    assert "HTTP 503" in log[1]["error"] and log[2]["next"] > log[2]["at"]
    assert len(rx.processed) == 1
    await asyncio.sleep(0.3)
    assert len(rx.requests) == 3  # nothing more once it went through


async def test_dead_letter_after_the_last_retry(harness_parts: Any, site_catalog: Catalog) -> None:
    with http_receiver() as rx:
        rx.fail_next(100, 500, b"internal error")
        async with harness(harness_parts, site_catalog, rx, notify_attempts=3) as h:
            await h.subscribe(sub("room", "disaster-safety", ["hook"]))
            await h.start()
            await h.send(notification("n-3", alert()))
            log = await h.log(count=3)
            await asyncio.sleep(0.3)
            ((_, dead),) = await h.client.xrange(keys.notify_deadletter())
    assert len(rx.requests) == 3
    assert log[0]["status"] == "dead" and log[0]["attempt"] == 3
    assert dead[b"key"] == b"n-3/disaster-safety/hook" and dead[b"attempts"] == b"3"
    assert b"HTTP 500" in dead[b"reason"] and b"room-secret-123" not in b"".join(dead.values())


async def test_a_refusal_is_dead_at_once_and_a_malformed_entry_is_dead_lettered(
        harness_parts: Any, site_catalog: Catalog) -> None:
    with http_receiver() as rx:
        rx.fail_next(1, 422, b"unknown room")
        async with harness(harness_parts, site_catalog, rx) as h:
            await h.subscribe(sub("room", "disaster-safety", ["hook"]))
            await h.start()
            await h.client.xadd(keys.notifications(), {"n": b"{not json"})
            await h.send(notification("n-4", alert()))
            log = await h.log(count=1)
            await asyncio.sleep(0.2)
            dead = await h.client.xrange(keys.notify_deadletter())
    assert len(rx.requests) == 1 and log[0]["status"] == "dead" and "not retried" in log[0]["error"]
    reasons = [d[b"reason"].decode() for _, d in dead]
    assert any(r.startswith("malformed notification entry") for r in reasons)


# ------------------------------------------------------------------------------------------ quiet hours

async def test_quiet_hours_hold_back_warnings_but_not_critical_alerts(harness_parts: Any,
                                                                      site_catalog: Catalog) -> None:
    night = dt.datetime(2026, 11, 25, 23, 30, tzinfo=KST).timestamp()
    with http_receiver() as rx:
        async with harness(harness_parts, site_catalog, rx) as h:
            await h.subscribe(sub("lee", "ds-lee", ["inapp", "kakao"], min_severity="주의",
                                  quiet_hours={"start": "22:00", "end": "07:00"}))
            await h.start(clock=lambda: night)
            warning = alert(level=2, fingerprint="fp-warning")
            await h.send(notification("n-5", warning))
            log = await h.log("fp-warning", count=2)
            assert {(e["channel"], e["status"]) for e in log} == {("inapp", "sent"), ("kakao", "quiet")}
            assert rx.requests == []  # the phone stayed silent at 23:30 ...
            critical = alert(level=3, fingerprint="fp-critical")
            await h.send(notification("n-6", critical))
            log = await h.log("fp-critical", count=2)
            assert {(e["channel"], e["status"]) for e in log} == {("inapp", "sent"), ("kakao", "sent")}
            (req,) = await off_thread(rx.wait_for, 1)  # ... but rang for 경계
            assert req.path == "/kakao" and req.json() == {"to": "010-0000-1003"}
            assert await h.client.xlen(keys.inbox("ds-lee")) == 2  # the inbox has both, for the morning


# ------------------------------------------------------------------------------------------ escalation

async def test_escalation_goes_to_the_department_head_then_the_situation_room_duty_officer(
        harness_parts: Any, site_catalog: Catalog) -> None:
    with http_receiver() as rx, smtp_server() as box:
        async with harness(harness_parts, site_catalog, rx, box.port) as h:
            await h.subscribe(sub("lee", "ds-lee", ["inapp"]))
            await h.start()
            a = alert(level=3)
            await h.send(notification("n-7", a))
            await h.send(notification("n-7/esc1", a, kind="escalation", tier=1))
            await h.send(notification("n-7/esc2", a, kind="escalation", tier=2))
            await h.send(notification("n-7/esc3", a, kind="escalation", tier=3))
            log = await h.log(count=1 + 3 + 3 + 3)
            await off_thread(box.wait_for, 3)
    by_tier: dict[int, set[tuple[str, str]]] = {}
    for e in log:
        assert e["status"] == "sent"
        by_tier.setdefault(e["tier"], set()).add((e["recipient"], e["channel"]))
    assert by_tier[0] == {("ds-lee", "inapp")}  # the subscriber
    # 재난안전과장 on his escalation channels (staff.yaml), then 상황실 당직 — and again while nobody acknowledges.
    assert by_tier[1] == {("ds-kim", "inapp"), ("ds-kim", "kakao"), ("ds-kim", "email")}
    assert by_tier[2] == by_tier[3] == {("sr-hwang", "inapp"), ("sr-hwang", "kakao"), ("sr-hwang", "email")}
    assert {r.json()["to"] for r in rx.requests} == {"010-0000-1001", "010-0000-9002"}
    assert [m["X-Idempotency-Key"] for m in box.messages].count("n-7/esc2/sr-hwang/email") == 1
    assert all(str(m["Subject"]).startswith("[상향·미확인] [경계]") for m in box.messages)


# ------------------------------------------------------------------------------------------ restart

async def test_a_restart_in_the_middle_neither_loses_nor_doubles_a_notification(
        harness_parts: Any, site_catalog: Catalog) -> None:
    with http_receiver() as rx:
        rx.delay = 0.15  # a slow receiver, so the crash finds deliveries under way
        async with harness(harness_parts, site_catalog, rx, notify_concurrency=2) as h:
            await h.subscribe(sub("room", "disaster-safety", ["hook"]))
            await h.start("notify-a")
            expected = set()
            for i in range(12):
                await h.send(notification(f"n-r{i}", alert(fingerprint=f"fp-{i}")))
                expected.add(f"n-r{i}/disaster-safety/hook")
            await off_thread(rx.wait_for, 4)
            await h.crash()
            assert await h.pending() > 0  # read but not acknowledged: the crash left work behind
            # The same process comes back and picks up its own pending entries.
            await h.start("notify-a")
            for _ in range(600):
                if len(rx.processed) == len(expected) and await h.pending() == 0:
                    break
                await asyncio.sleep(0.05)
    keys_seen = [r.headers["idempotency-key"] for r in rx.requests]
    assert set(rx.processed) == expected  # nothing lost
    # A delivery under way at the crash may go out once more, with the same key, which the receiver drops;
    # everything recorded as done before the crash is never sent again.
    repeats = len(keys_seen) - len(set(keys_seen))
    assert repeats <= 2, keys_seen
    done = await h.client.zrange(keys.notify_done(), 0, -1)
    assert {d.decode() for d in done} == expected


async def test_a_delivery_recorded_done_but_not_logged_is_not_sent_again(harness_parts: Any,
                                                                         site_catalog: Catalog) -> None:
    """A delivery's state and its alerts' log are different Redis Cluster slots: the state is written first. Cut off
    between the two (here: the log key fails for real), the entry is read again after a restart and the delivery,
    done, is not sent again; only the log line is missing."""
    with http_receiver() as rx:
        async with harness(harness_parts, site_catalog, rx) as h:
            await h.subscribe(sub("room", "disaster-safety", ["hook"]))
            await h.client.set(keys.alert_deliveries(FP), "not a list")
            await h.start("notify-a")
            await h.send(notification("n-cut", alert()))
            (req,) = await off_thread(rx.wait_for, 1)
            assert req.headers["idempotency-key"] == "n-cut/disaster-safety/hook"
            for _ in range(200):
                if await h.client.zscore(keys.notify_done(), "n-cut/disaster-safety/hook") is not None:
                    break
                await asyncio.sleep(0.02)
            assert await h.pending() == 1, "the entry is not acknowledged: its record did not finish"
            await h.crash()
            await h.client.delete(keys.alert_deliveries(FP))
            await h.start("notify-a")
            for _ in range(200):
                if await h.pending() == 0:
                    break
                await asyncio.sleep(0.05)
            assert await h.pending() == 0
    assert [r.headers["idempotency-key"] for r in rx.requests] == ["n-cut/disaster-safety/hook"]
    assert await read_deliveries(h.client, FP) == []


async def test_another_notify_process_takes_over_what_a_dead_one_left(harness_parts: Any,
                                                                      site_catalog: Catalog) -> None:
    with http_receiver() as rx:
        rx.delay = 0.2
        async with harness(harness_parts, site_catalog, rx, notify_concurrency=1, claim_idle=0.6) as h:
            await h.subscribe(sub("room", "disaster-safety", ["hook"]))
            await h.start("notify-a")
            for i in range(5):
                await h.send(notification(f"n-t{i}", alert(fingerprint=f"fp-t{i}")))
            await off_thread(rx.wait_for, 1)
            await h.crash()
            await h.start("notify-b")  # a different process: it reclaims notify-a's entries once they sit idle
            for _ in range(600):
                if len(rx.processed) == 5 and await h.pending() == 0:
                    break
                await asyncio.sleep(0.05)
            pending = await h.pending()
    assert set(rx.processed) == {f"n-t{i}/disaster-safety/hook" for i in range(5)}, (rx.processed, pending)


async def test_a_notification_nobody_subscribed_to_says_so_on_the_alerts_log(harness_parts: Any,
                                                                             site_catalog: Catalog) -> None:
    with http_receiver() as rx:
        async with harness(harness_parts, site_catalog, rx) as h:
            await h.subscribe(sub("env", "env-choi", ["inapp"], domains=["environment"]))
            await h.start()
            await h.send(notification("n-u", alert()))
            (event,) = await h.log(count=1)
    assert event["status"] == "unrouted" and event["recipient"] is None and event["notification"] == "n-u"
