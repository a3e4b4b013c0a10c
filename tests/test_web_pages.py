"""The wall display in real headless Chromium (Debian's, driven by Playwright) against a real
`situationroom up` on a copy of the Pohang site whose simulators deliver every second at 3600×.

What a person in the mayor's office would see: values that change, a panel that says it is late when
its source stops, a banner when the connection is gone and recovery when the server is back, a clear
error for a broken dashboard file while the last good version stays up, and nothing fetched from
anywhere but the server itself."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import orjson
import pytest
from playwright.sync_api import Browser, Page

from situationroom import keys, tokens
from situationroom.alerts.state import fingerprint
from situationroom.embedded import EmbeddedRedis
from situationroom.redisconn import sync_client
from situationroom.settings import Settings
from situationroom.web.pages import STATIC, WALL_SCRIPTS
from tests.browser import needs_chromium
from tests.redis_support import empty_url
from tests.servers_support import free_port, serve, wait_for
from tests.wall_support import PROBE, WallSite

pytestmark = needs_chromium
HANGUL = re.compile(r"[가-힣]")

@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, embedded_redis: EmbeddedRedis) -> Iterator[WallSite]:
    empty_url(embedded_redis.url)
    with WallSite(tmp_path_factory.mktemp("wall-site"), embedded_redis.url) as served:
        yield served


class Recorder:
    """Every request and websocket a page opens, so a test can say none left the machine."""

    def __init__(self) -> None:
        self.urls: list[str] = []
        self.errors: list[str] = []

    def hosts(self) -> set[str]:
        return {urlsplit(u).hostname or u for u in self.urls if not u.startswith(("data:", "blob:", "about:"))}


@pytest.fixture
def page(browser: Browser, site: WallSite) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    tab = context.new_page()
    seen = Recorder()
    tab.on("request", lambda r: seen.urls.append(r.url))
    tab.on("websocket", lambda ws: seen.urls.append(ws.url))
    tab.on("pageerror", lambda e: seen.errors.append(str(e)))
    tab.seen = seen  # type: ignore[attr-defined]
    yield tab
    context.close()
    assert seen.hosts() <= {"127.0.0.1"}, f"requests left the machine: {seen.hosts()}"
    assert seen.errors == [], seen.errors


def kpi_value(tab: Page, panel_id: str) -> str:
    return tab.locator(f"#{panel_id} .value").inner_text()


def test_the_wall_shows_the_city_in_korean_and_its_values_change(page: Page, site: WallSite) -> None:
    page.goto(site.url + "/")
    assert page.locator("html").get_attribute("lang") == "ko"
    page.wait_for_selector("header.top h1:has-text('포항시 디지털 통합상황실')")
    page.wait_for_selector(".kind-map svg path", timeout=20000)
    first = page.locator(".kind-kpi").first
    wait_for(lambda: first.locator(".value").inner_text() != "–", what="a first value")
    panel_id = first.get_attribute("id")
    before = {pid: kpi_value(page, pid) for pid in page.eval_on_selector_all(
        "main.page:not([hidden]) .kind-kpi", "els => els.map(e => e.id)")}
    wait_for(lambda: any(kpi_value(page, pid) != v for pid, v in before.items()), what="a value to change")
    assert panel_id
    # Status is never colour alone: every domain tile carries a word of the one scale.
    words = page.locator(".domain .chip").all_inner_texts()
    scale = {"정상", "관심", "주의", "경계", "심각", "기준 없음", "지연", "자료 없음"}
    assert words and all(w.strip() in scale for w in words)
    # A kiosk: the page fits the screen exactly, with nothing to scroll.
    size = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
    assert size == [1920, 1080]
    assert page.locator("#banner").is_hidden()


def test_english_pages_show_no_korean_units(page: Page, site: WallSite) -> None:
    page.goto(site.url + "/dashboards/economy?lang=en")
    page.wait_for_selector("header.top h1:has-text('Local economy')")
    wait_for(lambda: page.locator(".kind-kpi .value").first.inner_text() != "–", what="economy values")
    units = page.locator(".kind-kpi .unit").all_inner_texts()
    assert units and not [u for u in units if HANGUL.search(u)], units
    assert not HANGUL.search(page.locator("main.page:not([hidden]) h2").all_inner_texts().__str__())


def test_a_panel_turns_stale_when_its_collector_stops(page: Page, site: WallSite) -> None:
    page.goto(site.url + "/dashboards/probe")
    economy, traffic = page.locator("#p0-1"), page.locator("#p0-0")
    wait_for(lambda: kpi_value(page, "p0-1") != "–" and economy.get_attribute("data-stale") == "false",
             what="live economy values")
    site.pause("sim-economy", True)
    try:
        try:
            wait_for(lambda: economy.get_attribute("data-stale") == "true", timeout=20, what="the panel to turn stale")
        except AssertionError:
            client = sync_client(site.redis_url)
            shown = page.evaluate(
                "JSON.stringify(window.__wall.live.get('economy.gift_card_transactions\\u0000pohang'))")
            raise AssertionError(f"not stale; health {client.hgetall(keys.collector_health('sim-economy'))}; live "
                                 f"{client.hget(keys.live('economy.gift_card_transactions'), 'pohang')}; page "
                                 f"{shown}") from None
        assert "지연" in economy.locator(".stale-badge").inner_text()
        # The other source still delivers (on a loaded machine its next sample may be a moment late).
        wait_for(lambda: traffic.get_attribute("data-stale") == "false", timeout=20, what="traffic still fresh")
    finally:
        site.pause("sim-economy", False)
    wait_for(lambda: economy.get_attribute("data-stale") == "false", timeout=20, what="the panel to recover")


WATCH_NOTIFICATIONS = """
window.__notified = [];
const Real = window.Notification;
window.Notification = class extends Real {
  constructor(title, options) { super(title, options); window.__notified.push({title, body: options && options.body}); }
};
Object.defineProperty(window.Notification, "permission", {get: () => Real.permission});
"""


def test_a_chart_on_a_hidden_page_stays_in_step_and_one_never_shown_holds_nothing(page: Page,
                                                                                  site: WallSite) -> None:
    # Rotation off: the overview's second page (rain by place) is not shown until asked for.
    page.goto(site.url + "/?rotate=0")
    page.wait_for_function("window.__wall && window.__wall.connected && window.__wall.live.size > 0")

    def charts(n: int) -> list[dict[str, object]]:
        return [c for c in page.evaluate("window.__wall.charts()") if c["page"] == n]

    wait_for(lambda: charts(0) and all(c["inStep"] for c in charts(0)), what="page 1's chart drawn")
    time.sleep(2)  # the simulators deliver every second
    never_shown = charts(1)
    assert never_shown and all(c["points"] > 0 and c["backlog"] == 0 and c["drawn"] is None for c in never_shown), \
        never_shown

    page.evaluate("window.__wall.showPage(1)")
    wait_for(lambda: all(c["inStep"] for c in charts(1)), what="page 2's chart drawn from its rings")
    page.evaluate("window.__wall.showPage(0)")
    # Hidden, it keeps the changes for its next render instead of drawing them...
    wait_for(lambda: all(c["backlog"] > 0 and not c["inStep"] for c in charts(1)), what="page 2 to fall behind")
    page.evaluate("window.__wall.showPage(1)")
    # ...and shown again, it draws them: what the rings hold, newest point included.
    wait_for(lambda: all(c["inStep"] and c["backlog"] == 0 for c in charts(1)), timeout=5,
             what="page 2's chart in step on its next show")


def push(site: WallSite, indicator: str, entity: str, value: float) -> None:
    """One sample through the push API, as an integrator sends it."""
    client = sync_client(site.redis_url)
    token = tokens.create(client, "ingest", "wall-test")
    client.close()
    resp = httpx.post(site.url + "/api/v1/samples", headers={"Authorization": f"Bearer {token}"},
                      json={"samples": [{"indicator": indicator, "entity": entity, "value": value}]})
    assert resp.status_code == 200 and resp.json()["accepted"] == 1, resp.text


def test_the_alerts_panel_shows_what_the_alert_role_fires_and_notifies_the_room(browser: Browser,
                                                                                site: WallSite) -> None:
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    context.grant_permissions(["notifications"], origin=site.url)
    context.add_init_script(WATCH_NOTIFICATIONS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    surge = page.locator('#p0-4 li[data-rule="test.gift-card-surge"]')
    try:
        page.goto(site.url + "/dashboards/probe")
        wait_for(lambda: page.evaluate("!!(window.__wall && window.__wall.connected)"), what="a connected page")
        assert surge.count() == 0
        site.pause("sim-economy", True)
        try:
            push(site, "economy.gift_card_transactions", "pohang", 800_000)
            try:
                surge.wait_for(timeout=20000)
            except Exception:
                stored = sync_client(site.redis_url).hget(keys.alerts(),
                                                                   fingerprint("test.gift-card-surge", "pohang"))
                raise AssertionError(f"no row; the alert: {stored!r}; the panel: "
                                     f"{page.locator('#p0-4').inner_html()[:2000]}") from None
            row = surge.inner_text()
            assert "상품권 결제 폭증" in row and "경계" in row and "800,000" in row, row
            assert page.locator("#p0-4").get_attribute("data-status") == "critical"
            fp = surge.get_attribute("data-fingerprint")
            stored = sync_client(site.redis_url).hget(keys.alerts(), fp or "")
            assert stored and orjson.loads(stored)["state"] == "firing"
            # The room is told once, as the alert starts firing.
            wait_for(lambda: page.evaluate("window.__notified.length") >= 1, 10, "the browser notification")
            told = page.evaluate("window.__notified")
            # Only the economy alert: the board's one alert panel covers economy, not the typhoon's floods.
            assert len(told) == 1 and told[0]["title"].startswith("[경계] 상품권 결제 폭증"), told
            assert "800,000" in told[0]["body"], told
            # A reload lists it again from the snapshot, without telling the room a second time.
            frames: list[str] = []
            page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(str(f)[:300])))
            page.reload()
            try:
                surge.wait_for(timeout=20000)
            except Exception:
                raise AssertionError(f"after reload: {page.locator('#p0-4').inner_html()[:1500]}\n" +
                                     "\n".join(x for x in frames if "snapshot" in x or "error" in x)) from None
            page.wait_for_timeout(1500)
            again = [n for n in page.evaluate("window.__notified") if "상품권 결제 폭증" in n["title"]]
            assert again == [], again
            # A silence mutes notifications only: the row stays, marked 무음 with who set it and until when.
            desk = tokens.create(sync_client(site.redis_url), "operator", "duty-desk")
            made = httpx.post(site.url + "/api/v1/silences", headers={"Authorization": f"Bearer {desk}"}, json={
                "matchers": {"rule": "test.gift-card-surge"}, "duration": "2h", "reason": "행사 결제"})
            assert made.status_code == 201, made.text
            muted = page.locator('#p0-4 li.muted[data-rule="test.gift-card-surge"]')
            muted.wait_for(timeout=15000)
            text = muted.inner_text()
            assert "무음 · duty-desk · " in text and "까지" in text and "상품권 결제 폭증" in text, text
            # Back to normal: the row goes.
            push(site, "economy.gift_card_transactions", "pohang", 1000)
            surge.wait_for(state="detached", timeout=30000)
        finally:
            site.pause("sim-economy", False)
        assert errors == [], errors
    finally:
        context.close()


def test_the_page_says_when_the_connection_is_lost_and_recovers_after_a_restart(page: Page, site: WallSite) -> None:
    page.goto(site.url + "/dashboards/probe")
    wait_for(lambda: page.evaluate("!!(window.__wall && window.__wall.connected)") and kpi_value(page, "p0-0") != "–",
             what="a connected page")
    site.stop()
    try:
        page.wait_for_selector("#banner.on", timeout=15000)
        banner = page.locator("#banner").inner_text()
        assert "연결 끊김" in banner and "Connection lost" in banner and "마지막 데이터" in banner
        assert page.locator(".fresh").get_attribute("data-state") == "down"
    finally:
        site.start()
    page.wait_for_selector("#banner:not(.on)", state="attached", timeout=40000)
    wait_for(lambda: page.evaluate("!!(window.__wall && window.__wall.connected)"), what="the page to reconnect")
    before = kpi_value(page, "p0-0")
    last_id = page.evaluate("window.__wall.lastId")
    wait_for(lambda: kpi_value(page, "p0-0") != before and page.evaluate("window.__wall.lastId") != last_id,
             what="live values after the restart")
    assert page.locator(".fresh").get_attribute("data-state") == "ok"


def test_a_broken_dashboard_file_shows_its_error_and_keeps_the_last_good_version(page: Page, site: WallSite) -> None:
    path = site.root / "dashboards" / "probe.yaml"
    page.goto(site.url + "/dashboards/probe")
    wait_for(lambda: kpi_value(page, "p0-0") != "–", what="the probe board")
    try:
        path.write_text(PROBE.replace("indicator: economy.gift_card_transactions", "indicator: economy.nope"),
                        encoding="utf-8")
        strip = page.locator(".config-error")
        strip.wait_for(timeout=15000)
        text = strip.inner_text()
        assert f"{path}:11: pages[0].panels[1].indicator: unknown indicator" in text and "economy.nope" in text
        assert "마지막 정상 버전" in text
        # The last good version is still there and still live.
        assert page.locator("#p0-1 h2").inner_text().startswith("포항사랑상품권")
        before = kpi_value(page, "p0-0")
        wait_for(lambda: kpi_value(page, "p0-0") != before, what="values under the error strip")
        listing = httpx.get(site.url + "/api/v1/dashboards").json()
        probe = next(d for d in listing["dashboards"] if d["name"] == "probe")
        assert probe["valid"] is False and probe["error"]["problems"][0]["line"] == 11
    finally:
        path.write_text(PROBE, encoding="utf-8")
    page.locator(".config-error").wait_for(state="detached", timeout=15000)


def test_every_page_and_asset_is_served_by_the_product(page: Page, site: WallSite) -> None:
    index = page.goto(site.url + "/dashboards")
    assert index is not None and index.ok
    links = page.eval_on_selector_all(".dashboards li > a:first-child", "els => els.map(e => e.getAttribute('href'))")
    assert {"/dashboards/overview?lang=ko", "/dashboards/safety?lang=ko", "/dashboards/environment?lang=ko",
            "/dashboards/traffic?lang=ko", "/dashboards/economy?lang=ko",
            "/dashboards/administration?lang=ko"} <= set(links)
    for link in links:
        page.goto(site.url + link)
        page.wait_for_selector("main.page:not([hidden]) .panel")
        wait_for(lambda: page.evaluate("!!(window.__wall && window.__wall.connected)"), what=f"{link} to connect")
        assert page.evaluate("document.fonts.check('700 20px \"Pretendard Variable\"', '포항')")
    assets = [u for u in page.seen.urls if "/assets/" in u]  # type: ignore[attr-defined]
    assert any(u.endswith("vega.min.js") for u in assets) and any(u.endswith(".woff2") for u in assets)
    # The wall's scripts, one job each: every one of them loaded from this server, and none left out of the page.
    loaded = {u.rsplit("/", 1)[1] for u in assets}
    assert set(WALL_SCRIPTS) <= loaded, set(WALL_SCRIPTS) - loaded
    assert {p.name for p in STATIC.glob("wall*.js")} == {*WALL_SCRIPTS, "wall-compare.js"}
    cached = httpx.get(assets[0])
    assert cached.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert httpx.get(site.url + "/dashboards/nowhere").status_code == 404


@contextlib.contextmanager
def web_only(site: WallSite, port: int, build: str | None = None) -> Iterator[None]:
    """Just the web role of the site, in this process, optionally claiming another asset build (an upgrade)."""
    with serve(Settings(site=site.root, redis_url=site.redis_url, port=port), lifespan="on", port=port, build=build):
        yield


def test_the_wall_keeps_its_own_heartbeat_and_the_server_never_pings_it(page: Page, site: WallSite) -> None:
    """While updates flow, the wall's heartbeat is a pong that asks nothing back every `beat_s`, with a ping every
    fourth beat for the clock; the updates are its sign that the line is alive, so the server sends it no ping
    (docs/websocket.md, "Heartbeats")."""
    port = free_port()
    with serve(Settings(site=site.root, redis_url=site.redis_url, port=port, ws_heartbeat=2,
                        ws_client_beat=4), lifespan="on",
               port=port):
        sent: list[str] = []
        received: list[str] = []

        def watch(ws: object) -> None:
            ws.on("framesent", lambda f: sent.append(f if isinstance(f, str) else f.decode()))  # type: ignore[attr-defined]
            ws.on("framereceived", lambda f: received.append(f if isinstance(f, str) else f.decode()))  # type: ignore[attr-defined]
        page.on("websocket", watch)
        page.goto(f"http://127.0.0.1:{port}/dashboards/probe")
        wait_for(lambda: page.evaluate("!!(window.__wall && window.__wall.connected)"), what="a connected page")
        page.wait_for_timeout(16500)
        kinds = [orjson.loads(f)["type"] for f in sent]
        beats = [k for k in kinds if k in ("ping", "pong")]
        # One every four seconds (every second heartbeat; timers in a loaded browser may slip), pongs but for one.
        assert 3 <= len(beats) <= 5 and beats.count("pong") >= 2 and beats.count("ping") <= 2, kinds
        from_server = [orjson.loads(f)["type"] for f in received]
        assert "delta" in from_server and "ping" not in from_server, from_server
        assert page.evaluate("window.__wall.connected")


def test_the_page_reloads_itself_when_the_server_is_upgraded(page: Page, site: WallSite) -> None:
    port = free_port()
    with web_only(site, port):
        page.goto(f"http://127.0.0.1:{port}/dashboards/probe")
        wait_for(lambda: page.evaluate("!!(window.__wall && window.__wall.connected)"), what="a connected page")
        assert page.evaluate("document.body.dataset.build") != "upgraded"
    with web_only(site, port, build="upgraded"):
        # The page retries with backoff (at most 30 s apart), so allow for one long wait.
        page.wait_for_function("document.body.dataset.build === 'upgraded'", timeout=60000)
        wait_for(lambda: page.evaluate("!!(window.__wall && window.__wall.connected)"),
                 what="the reloaded page to connect")
