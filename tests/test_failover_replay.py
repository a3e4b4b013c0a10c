"""A Redis master dies (SIGKILL) in the middle of typhoon Hinnamnor replayed at 60x, with every role running
(`situationroom up --redis-url`, ingest durability `replica`), on a Sentinel set and on a Redis Cluster of its own.

What must hold, as the city would see it: pushes are refused only for a few seconds and then confirmed again; every
sample confirmed to its sender is in the live state, the raw last hour and the Parquet history afterwards; every
notification the alert role handed over reached the department's webhook, and a repeat carries the same
idempotency key; the wall in Chromium covers itself with its banner during the outage and clears it by itself, with
new values arriving."""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import orjson
import pytest
import redis
from playwright.sync_api import Browser, Page

from situationroom import keys, tokens
from situationroom.catalog import load_catalog
from situationroom.redisconn import sync_client
from tests.browser import needs_chromium
from tests.cluster_support import ClusterServers
from tests.cluster_support import tools as cluster_tools
from tests.failover_support import NotificationWatch, Pusher, in_threads
from tests.notify_support import http_receiver
from tests.sentinel_support import SentinelServers
from tests.servers_support import Up, site_copy, wait_for
from tests.wall_support import PROBE

pytestmark = needs_chromium

START = "2022-09-06 04:10"
"""Simulated KST: rain near its worst and rivers rising, so alerts fire and resolve within the test's minutes."""
SPEED = 60
QUIET = ["weather.humidity", "weather.wind_direction", "population.spot_visitors", "traffic.buses_running",
         "weather.pressure", "population.floating", "economy.gift_card_transactions", "traffic.bus_boardings"]
"""What the pusher may send (real data beside the replay's exercise data, with no threshold or rule to alert on): one
whose sample stream is on the master that dies, so the pushes measure how long that master's writes are away. Between
them they cover the eight partitions."""
ROOM = "/disaster-safety/disaster-safety-webhook"
PARTITIONS = 8
"""The sample streams' partitions (the default)."""
"""How the idempotency key of a delivery to 재난안전과's webhook ends (recipient, channel)."""


@dataclass
class Redis:
    """A Redis set-up of the test's own and how to kill its (busiest) master."""

    name: str
    url: str
    kill: Callable[[], int]
    """SIGKILL the master; its port."""
    promoted: Callable[[int], int]
    """Wait until a replica has taken over from the killed master; the new master's port."""
    dies_with: Callable[[str], bool]
    """Whether a key is on the master `kill` kills."""


# On the cluster, the master that dies is the one holding one of the shared records, each in a slot of its own
# (on three masters, these three are on three different ones): the update stream, which every role writes and every
# wall reads; the notification stream and its deliveries; the alert states and the alert role's lock.
CLUSTER_VICTIMS = {"cluster": keys.updates(), "cluster-notify": keys.notifications(), "cluster-alerts": keys.alerts()}


@pytest.fixture(params=["sentinel", *CLUSTER_VICTIMS])
def ha_redis(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Redis]:
    if cluster_tools() is None:
        pytest.skip("no redis-server/redis-cli on this machine (.ci/run installs them)")
    if request.param == "sentinel":
        sentinels = SentinelServers(tmp_path / "sentinel").start()
        try:
            yield Redis("sentinel", sentinels.url, sentinels.kill_master, sentinels.wait_new_master, lambda _: True)
        finally:
            sentinels.stop()
        return
    # Not the session's cluster: other tests share it. A short node timeout, as the Sentinels' down-after. Two
    # replicas a master: with one, the promoted replica has none left, and durable writes to its slots are refused
    # until one is back (docs/high-availability.md).
    cluster = ClusterServers(tmp_path / "cluster", replicas=2, node_timeout_ms=1000).start()
    victim = CLUSTER_VICTIMS[request.param]
    try:
        yield Redis(request.param, cluster.url, lambda: cluster.kill_master(victim),
                    lambda old: cluster.wait_promoted(victim, old),
                    lambda key: cluster.master_of(key) == cluster.master_of(victim))
    finally:
        cluster.stop()


def test_the_city_goes_on_through_the_death_of_a_redis_master(ha_redis: Redis, browser: Browser,
                                                              tmp_path: Path) -> None:
    site = site_copy(tmp_path / "site", every="1s", jitter="0.1s", start=START)
    # The probe board, its banner after 1 s: a cluster's failover is over within seconds.
    (site / "dashboards" / "probe.yaml").write_text(PROBE.replace("disconnect_banner: 2s", "disconnect_banner: 1s"),
                                                    encoding="utf-8")
    catalog = load_catalog(site / "seeds")
    # The pushed series' samples die with the master when one of them can (its partition's stream is there).
    indicator = next((i for i in QUIET if ha_redis.dies_with(keys.samples(keys.partition_of(i, PARTITIONS)))),
                     QUIET[0])
    entity = sorted(catalog.entity_sets[indicator])[0]
    client = sync_client(ha_redis.url)
    token = tokens.create(client, "ingest", "failover-pusher")
    data = tmp_path / "data"
    with http_receiver() as rx:
        # A receiver that takes its time, so deliveries are under way when the master dies: one whose record the
        # failover loses goes out again (after `claim_idle`), with the same idempotency key.
        rx.delay = 1.5
        env = {"SITUATIONROOM_CLAIM_IDLE": "5s", "SITUATIONROOM_INGEST_DURABILITY": "replica",
               "SITUATIONROOM_ALERT_MIN_INTERVAL": "1s",
               "SITUATIONROOM_HISTORY_FLUSH_EVERY": "2s", "SITUATIONROOM_STALE_GRACE": "2.5",
               "DISASTER_SAFETY_WEBHOOK_URL": f"{rx.url}/room"}
        up = Up(site=site, redis_url=ha_redis.url, data_dir=data, scenario="typhoon-hinnamnor", speed=SPEED,
                env=env, cwd=site, log=tmp_path / "up.log").start(timeout=120)
        pusher = Pusher(up.url, token, indicator, entity, base=catalog.indicators[indicator].range[0])
        watch = NotificationWatch(ha_redis.url)
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        try:
            page.goto(up.url + "/dashboards/probe?rotate=0")
            wait_for(lambda: page.evaluate("!!(window.__wall && window.__wall.connected && window.__wall.lastId)"),
                     60, "a connected wall")
            with in_threads(pusher, watch):
                wait_for(lambda: len(pusher.confirmed()) >= 20 and rx.requests, 90,
                         f"pushes confirmed and a first notification delivered:\n{up.output[-3000:]}")
                # Killed while deliveries are under way (when the replay makes one in time).
                with contextlib.suppress(AssertionError):
                    wait_for(lambda: rx.in_flight, 20, "a delivery under way", every=0.01)
                # The wall loses its data only with the update stream's master; with another master it goes on.
                dark = ha_redis.dies_with(keys.updates())
                banner, banner_at, cleared_at = "", None, None
                page.evaluate(BANNER_WATCH)
                killed_at = time.monotonic()
                old = ha_redis.kill()
                if dark:
                    page.wait_for_selector("#banner.on", timeout=30000)
                    banner_at = time.monotonic()
                    banner = page.locator("#banner").inner_text()
                    page.screenshot(path=tmp_path / f"banner-{ha_redis.name}.png")
                new = ha_redis.promoted(old)
                promoted_at = time.monotonic()
                resumed = wait_for(lambda: pusher.resumed_after(killed_at), 60,
                                   f"pushes confirmed again:\n{up.output[-3000:]}")
                if dark:
                    page.wait_for_selector("#banner:not(.on)", state="attached", timeout=60000)
                    cleared_at = time.monotonic()
                else:
                    # The wall's data did not stop, but the web process's read of it may stall while its cluster
                    # client learns the new layout (seen under the whole suite's load): the banner may then show
                    # for that moment, and must be gone by itself.
                    page.wait_for_selector("#banner:not(.on)", state="attached", timeout=60000)
                banner_seen = page.evaluate("window.__bannerSeen")
                arriving_after_the_outage(page)
                refused = pusher.refused_after(killed_at)
                time.sleep(15)  # the replay goes on: alerts fire and resolve on the new master
            assert up.running(), up.output[-3000:]
            confirmed = pusher.confirmed()
            in_redis_afterwards(client, indicator, entity, [p.ts for p in confirmed])
            in_history_afterwards(data / "history", indicator, entity, [p.ts for p in confirmed])
            expected = {key for key, n in watch.seen.items() if for_the_room(n)}
            try:
                delivered = wait_for(lambda: expected <= (got := received_keys(rx)) and got, 60,
                                     "every notification for the room delivered")
            except AssertionError:
                raise AssertionError(f"never delivered: {sorted(expected - received_keys(rx))}") from None
        finally:
            page.close()
            up.stop()
            client.close()
    if dark:
        assert "연결 끊김" in banner and "Connection lost" in banner, banner
    assert errors == [], errors
    duplicates = repeats_carry_their_key(rx.requests)
    wall = (f"the wall's banner at {banner_at - killed_at:.1f} s, cleared at {cleared_at - killed_at:.1f} s"
            if banner_at is not None and cleared_at is not None else
            "the wall's banner on for a moment, and off" if banner_seen else "the wall live throughout")
    print(f"\n{ha_redis.name}: master {old} killed, {new} promoted after {promoted_at - killed_at:.1f} s; pushes "
          f"confirmed again after {resumed:.1f} s ({len(refused)} refused meanwhile, {len(confirmed)} confirmed in "
          f"all); {wall}; "
          f"{len(expected)} notifications for the room handed over, {len(delivered)} delivered, "
          f"{duplicates} delivered twice; on the killed master: {indicator} "
          f"{', '.join(k for k in (keys.alerts(), keys.notifications()) if ha_redis.dies_with(k)) or ''}")


BANNER_WATCH = """() => {
  window.__bannerSeen = false;
  const banner = document.getElementById("banner");
  new MutationObserver(() => { if (banner.classList.contains("on")) window.__bannerSeen = true; })
    .observe(banner, {attributes: true, attributeFilter: ["class"]});
}"""
"""Remember whether the wall's connection banner came on at any moment from now."""


def arriving_after_the_outage(page: Page) -> None:
    """New updates reach the wall once it has cleared its banner, without a reload."""
    last_id = page.evaluate("window.__wall.lastId")
    wait_for(lambda: page.evaluate("window.__wall.lastId") != last_id and page.evaluate("window.__wall.connected"),
             30, "new values on the wall after the outage")


def in_redis_afterwards(client: redis.Redis, indicator: str, entity: str, confirmed: list[float]) -> None:
    """The newest confirmed sample is the live state, and every confirmed one is in the raw last hour."""
    newest_ms = round(max(confirmed) * 1000)

    def live_ms() -> int:
        try:
            raw = client.hget(keys.live(indicator), entity)
        except redis.RedisError:
            return 0
        return int(orjson.loads(raw)["t"]) if raw else 0

    wait_for(lambda: live_ms() >= newest_ms, 30, "the newest confirmed sample in the live state")
    assert live_ms() == newest_ms
    stored = {int(m.decode().split(":", 1)[0]) for m in client.zrange(keys.raw(indicator, entity), 0, -1)}
    lost = [ts for ts in confirmed if round(ts * 1000) not in stored]
    assert lost == [], f"{len(lost)} of {len(confirmed)} confirmed samples are not in the raw last hour"


def in_history_afterwards(history: Path, indicator: str, entity: str, confirmed: list[float]) -> None:
    """Every confirmed sample is in the Parquet history, once."""
    def stored() -> list[int]:
        if not list((history / "samples").rglob("*.parquet")):
            return []
        return [r[0] for r in duckdb.execute(
            "SELECT epoch_ms(ts) FROM read_parquet(?, hive_partitioning = true) WHERE indicator = ? AND entity = ?",
            [str(history / "samples" / "**" / "*.parquet"), indicator, entity]).fetchall()]

    wanted = {round(ts * 1000) for ts in confirmed}
    wait_for(lambda: wanted <= set(stored()), 60,
             f"every confirmed sample in the history ({len(wanted - set(stored()))} of {len(wanted)} missing)")


def for_the_room(notification: dict) -> bool:
    """Whether 재난안전과's webhook subscription (its department's alerts from 주의 up) gets this notification."""
    if notification.get("kind") not in ("firing", "repeat", "resolved") or notification.get("tier"):
        return False
    return any(a.get("department") == "disaster-safety" and int(a.get("level") or 0) >= 2
               for a in notification.get("alerts") or [])


def received_keys(rx: object) -> set[str]:
    return {r.headers["idempotency-key"].removesuffix(ROOM) for r in list(rx.requests)}  # type: ignore[attr-defined]


def repeats_carry_their_key(requests: list) -> int:
    """Every delivery has its idempotency key, and one sent twice is the same message both times; how many
    deliveries were repeats."""
    by_key: dict[str, list[bytes]] = defaultdict(list)
    for r in requests:
        key = r.headers.get("idempotency-key", "")
        assert key.endswith(ROOM), r.headers
        assert r.json()["text"], r.body
        by_key[key].append(r.json()["text"])
    for key, texts in by_key.items():
        assert len(set(texts)) == 1, (key, texts)
    return sum(len(texts) - 1 for texts in by_key.values())
