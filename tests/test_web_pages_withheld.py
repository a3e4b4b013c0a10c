"""The wall in real headless Chromium for a screen that may not read a restricted indicator: its panel says
"열람 권한 없음" rather than look like a panel without data, and the same dashboard for the indicator's department
shows its figures (docs/access.md)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import orjson
import pytest
from playwright.sync_api import Browser

from situationroom import keys
from situationroom.redisconn import sync_client
from tests.browser import needs_chromium, signed_in_page
from tests.http_support import bearer
from tests.servers_support import Served, serve
from tests.site_support import settings_for

pytestmark = [needs_chromium, pytest.mark.cluster]
SECRET = "admin.complaints_open"
PANEL = "#p0-4"
"""administration.yaml's ranking of open complaints by department (page 0, fifth panel)."""


@pytest.fixture
def site(redis_url: str) -> Iterator[Served]:
    r = sync_client(redis_url)
    t = int(time.time() * 1000)
    for ind, ent, v in ((SECRET, "dept-roads", 37.0), ("admin.complaints", "pohang", 12.0)):
        r.hset(keys.live(ind), ent, orjson.dumps({"i": ind, "e": ent, "v": v, "t": t, "st": "normal", "ps": "normal",
                                                  "since": t, "n": 600, "w": {}, "r": None}))
    r.close()
    with serve(settings_for(redis_url), lifespan="on") as served:
        yield served


@pytest.mark.parametrize(("who", "lang", "note"), [(None, "ko", "열람 권한 없음"),
                                                   ("env-lee", "en", "Not yours to read")])
def test_a_panel_of_a_withheld_indicator_says_so(browser: Browser, site: Served, redis_url: str, who: str | None,
                                                lang: str, note: str) -> None:
    token = bearer(redis_url, "staff", staff=who)["Authorization"].removeprefix("Bearer ") if who else None
    page = signed_in_page(browser, f"{site.url}/dashboards/administration?lang={lang}&rotate=0",
                          f"{PANEL}.is-withheld .withheld-note", token=token)
    assert note in page.inner_text(f"{PANEL} .withheld-note")
    assert page.locator(f"{PANEL} .body").is_hidden(), "no empty chart under the note"
    assert page.locator("#p0-0.is-withheld").count() == 0, "an open indicator's panel is not marked"
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_the_indicator_s_department_sees_the_panel(browser: Browser, site: Served, redis_url: str) -> None:
    token = bearer(redis_url, "staff", staff="ca-seo")["Authorization"].removeprefix("Bearer ")
    page = signed_in_page(browser, f"{site.url}/dashboards/administration?rotate=0", f"{PANEL} .body", token=token)
    page.wait_for_function("window.__wall && window.__wall.connected && window.__wall.live.size >= 2")
    assert page.locator(f"{PANEL}.is-withheld").count() == 0 and page.locator(f"{PANEL} .withheld-note").count() == 0
    page.context.close()
