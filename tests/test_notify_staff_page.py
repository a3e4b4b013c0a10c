"""The staff page in real Chromium: a new alert pops up at once (in the page and through the browser's
Notification API), acknowledging works, a subscription is added from the form; Korean and English."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import orjson
import pytest
from playwright.sync_api import Browser, Page

from situationroom import keys, tokens
from situationroom.alerts.state import Alert
from situationroom.catalog import load_catalog
from situationroom.embedded import EmbeddedRedis
from situationroom.notify.deliver import Notifier
from situationroom.redisconn import async_client, sync_client
from situationroom.settings import Settings
from tests.browser import needs_chromium, signed_in_page
from tests.notify_support import alert, notification
from tests.redis_support import empty_url
from tests.servers_support import free_port, in_thread, serve, wait_for
from tests.site_support import REPO

pytestmark = needs_chromium
# Observe what the page hands to the browser's Notification API (the real one still shows it).
WATCH_NOTIFICATIONS = """
window.__notified = [];
const Real = window.Notification;
window.Notification = class extends Real {
  constructor(title, options) { super(title, options); window.__notified.push({title, body: options && options.body}); }
};
window.Notification.requestPermission = Real.requestPermission.bind(Real);
Object.defineProperty(window.Notification, "permission", {get: () => Real.permission});
"""


@dataclass
class Staffroom:
    url: str
    redis_url: str
    settings: Settings


@pytest.fixture(scope="module")
def staffroom(embedded_redis: EmbeddedRedis) -> Iterator[Staffroom]:
    """The web role and the notify role on the Pohang site, in this process."""
    url = embedded_redis.url
    empty_url(url)
    settings = Settings(site=REPO, redis_url=url, port=free_port(), block_ms=50, notify_backoff=0.05)
    catalog = load_catalog(settings.seeds)

    async def notify(stop: asyncio.Event) -> None:
        aclient = async_client(url)
        await Notifier(aclient, catalog, settings).run(stop)
        await aclient.aclose()

    with serve(settings, lifespan="on", port=settings.port) as web, in_thread(notify, "the notify role"):
        yield Staffroom(web.url, url, settings)


def staff_page(browser: Browser, room: Staffroom, staff: str, lang: str = "ko",
               size: tuple[int, int] = (1920, 1080)) -> Page:
    client = sync_client(room.redis_url)
    token = tokens.create(client, "staff", staff, staff=staff)
    client.close()
    return signed_in_page(browser, f"{room.url}/staff?lang={lang}", "header.top",
                          token=token, size=size,
                          notifications_for=room.url, scripts=[WATCH_NOTIFICATIONS])


def publish_alert(room: Staffroom, a: dict) -> None:
    """An alert as the alert role keeps and publishes it (state hash + `a` entry on the update stream)."""
    known = Alert.__dataclass_fields__
    record = Alert(**{k: v for k, v in a.items() if k in known})
    client = sync_client(room.redis_url)
    client.hset(keys.alerts(), record.fingerprint, record.encode())
    client.xadd(keys.updates(), {"a": orjson.dumps({"type": "alert", **record.public()})})
    client.close()


def test_a_new_alert_pops_up_at_once_and_can_be_acknowledged(browser: Browser, staffroom: Staffroom) -> None:
    page = staff_page(browser, staffroom, "ds-park")
    assert "박서연" in page.inner_text("header.top") and "재난안전과" in page.inner_text("header.top")
    wait_for(lambda: page.evaluate("document.querySelector('header.top .conn.on') !== null"), 10, "the websocket")

    a = alert(fingerprint="fp-page-1", rule="catalog.river.level", level=3)
    publish_alert(staffroom, a)
    client = sync_client(staffroom.redis_url)
    sent = time.monotonic()
    client.xadd(keys.notifications(), {"n": orjson.dumps(notification("page-n1", a))})
    client.close()
    page.wait_for_selector(".toast", timeout=5000)
    popped = time.monotonic() - sent
    assert popped < 3, f"the pop-up took {popped:.1f} s"
    toast = page.inner_text(".toast")
    assert "[경계] 하천 수위 — 형산교" in toast
    wait_for(lambda: page.evaluate("window.__notified.length") == 1, 5, "the browser notification")
    shown = page.evaluate("window.__notified[0]")
    assert shown["title"].startswith("[경계] 하천 수위 — 형산교") and "형산강" in shown["body"]
    assert "하천 수위" in page.inner_text("#history")

    card = page.locator('article.alert[data-fp="fp-page-1"]')
    # The level as the wall names it, with its mark: never the colour alone.
    assert card.locator(".badge.l3").inner_text() == "◆경계"
    card.get_by_role("button", name="확인").click()
    page.wait_for_selector('article.alert[data-fp="fp-page-1"] .done')
    assert "확인함" in card.inner_text() and "ds-park" in card.inner_text()
    acks = sync_client(staffroom.redis_url)
    assert orjson.loads(acks.hget(keys.alert_acks(), "fp-page-1"))["by"] == "ds-park"
    acks.close()
    assert page.errors == []  # type: ignore[attr-defined]
    assert {urlsplit(u).hostname for u in page.urls} <= {"127.0.0.1"}  # type: ignore[attr-defined]
    page.context.close()


def test_a_subscription_is_added_from_the_form_in_english_on_a_phone(browser: Browser,
                                                                    staffroom: Staffroom) -> None:
    page = staff_page(browser, staffroom, "env-kwon", lang="en", size=(390, 844))
    assert "Kwon Ha-eun" in page.inner_text("header.top")
    before = page.locator("#subs .sub").count()
    page.get_by_role("button", name="+ Add subscription").click()
    form = page.locator("form.subform")
    form.locator("input[name=name]").fill("Nam-gu fine dust")
    form.locator("select[name=min_severity]").select_option("경계")
    form.get_by_label("Environment").check()
    form.get_by_label("Nam-gu").check()
    form.get_by_role("button", name="Save").click()
    page.wait_for_function(f"document.querySelectorAll('#subs .sub').length === {before + 1}")
    text = page.inner_text("#subs")
    assert "Nam-gu fine dust" in text and "critical+" in text
    client = sync_client(staffroom.redis_url)
    subs = [orjson.loads(v) for v in client.hvals(keys.subscriptions())]
    client.close()
    made = next(s for s in subs if s["name"] == "Nam-gu fine dust")
    assert made["owner"] == "env-kwon" and made["districts"] == ["47111"] and made["min_severity"] == "경계"
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_staff_sign_in_once_on_the_form_and_stay_signed_in(browser: Browser, staffroom: Staffroom) -> None:
    client = sync_client(staffroom.redis_url)
    token = tokens.create(client, "staff", "lee-phone", staff="ds-lee")
    client.close()
    page = signed_in_page(browser, f"{staffroom.url}/staff", "form#login", token=None)
    page.fill("form#login input[name=token]", "sr_not-a-token")
    page.get_by_role("button", name="로그인").click()
    page.wait_for_selector("form#login .error")
    assert "토큰이 맞지 않습니다" in page.inner_text("form#login .error")
    page.fill("form#login input[name=token]", token)
    page.get_by_role("button", name="로그인").click()
    page.wait_for_selector("header.top")
    assert "이도윤" in page.inner_text("header.top")
    # The browser holds an HTTP-only, SameSite=Strict cookie the page's scripts cannot read; the token is kept nowhere.
    assert page.evaluate("document.cookie") == "" and page.evaluate("Object.keys(localStorage)") == []
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "sr_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and token not in cookie["value"]
    page.reload()
    page.wait_for_selector("header.top")

    # A staff member's silence lasts a day at most: the form offers no more. A silenced alert stays in the list,
    # saying who silenced it and until when.
    a = alert(fingerprint="fp-page-mute", rule="catalog.river.level", level=3, entity="hrfco-2101690")
    publish_alert(staffroom, a)
    card = page.locator('article.alert[data-fp="fp-page-mute"]')
    card.get_by_role("button", name="무음").click()
    form = page.locator('form.silence[data-fp="fp-page-mute"]')
    assert form.locator("option").evaluate_all("os => os.map(o => o.value)") == ["1h", "4h", "12h", "1d"]
    form.locator("select[name=duration]").select_option("4h")
    form.locator("input[name=reason]").fill("현장 확인 중")
    form.get_by_role("button", name="적용").click()
    page.wait_for_selector('form.silence[data-fp="fp-page-mute"]', state="detached")
    client = sync_client(staffroom.redis_url)
    (made,) = [orjson.loads(v) for v in client.hvals(keys.silences())]
    client.close()
    assert (made["by"], made["matchers"], made["ends"] - made["starts"]) == (
        "ds-lee", {"rule": "catalog.river.level", "entity": "hrfco-2101690"}, 4 * 3600)
    publish_alert(staffroom, {**a, "silenced": [made["id"]], "muted": {
        "id": made["id"], "by": "ds-lee", "by_name": {"ko": "이도윤", "en": "Lee Do-yoon"},
        "until": int(made["ends"] * 1000), "reason": "현장 확인 중"}})
    page.wait_for_function("document.querySelector('article.alert[data-fp=\"fp-page-mute\"] .meta')"
                           ".textContent.includes('무음 중 이도윤')")
    assert "까지" in card.locator(".meta").inner_text()

    page.get_by_role("button", name="로그아웃").click()
    page.wait_for_selector("form#login")
    page.reload()
    page.wait_for_selector("form#login")
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_an_exercise_alert_is_marked_and_a_band_says_so(browser: Browser, staffroom: Staffroom) -> None:
    """During a drill the staff page says so over everything, and tags the drill's alert apart from a real one."""
    page = staff_page(browser, staffroom, "ds-lee", lang="en")
    wait_for(lambda: page.evaluate("document.querySelector('header.top .conn.on') !== null"), 10, "the websocket")
    assert page.get_by_test_id("exercise-band").count() == 0, "no band while nothing is an exercise"
    real = alert(fingerprint="fp-real-river", rule="catalog.river.level", level=3)
    drill = alert(fingerprint="fp-drill-river", rule="catalog.river.level", level=3, exercise=True)
    publish_alert(staffroom, real)
    publish_alert(staffroom, drill)
    page.wait_for_selector('article.alert[data-fp="fp-drill-river"]', timeout=10000)
    band = page.get_by_test_id("exercise-band")
    assert band.is_visible() and "EXERCISE" in band.inner_text()
    tagged = page.locator('article.alert[data-fp="fp-drill-river"]')
    assert "exercise" in (tagged.get_attribute("class") or "")
    assert tagged.locator(".what").inner_text().startswith("[EXERCISE] ")
    plain = page.locator('article.alert[data-fp="fp-real-river"]')
    assert not plain.locator(".what").inner_text().startswith("[EXERCISE]")
    # Its pop-up says it is an exercise before anything else.
    client = sync_client(staffroom.redis_url)
    client.xadd(keys.notifications(), {"n": orjson.dumps({**notification("drill-n1", drill), "exercise": True})})
    client.close()
    page.wait_for_selector(".toast", timeout=5000)
    assert page.inner_text(".toast .t").startswith("[EXERCISE] [critical] River level")
    page.context.close()
