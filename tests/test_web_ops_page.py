"""The operator page /ops in real headless Chromium (Debian's, driven by Playwright) against a real
`situationroom up` on a copy of the Pohang site whose simulators run every second.

What an operator sees and does: every collector listed with its state (colour, icon and word), pause
stops a collector's samples, resume brings them back, run now runs it, a briefing made now is archived, and a
viewer token is refused by the server; screenshots in Korean and English for the docs."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import orjson
import pytest
from playwright.sync_api import Browser, Page

from situationroom import keys, tokens
from situationroom.embedded import EmbeddedRedis
from situationroom.redisconn import sync_client
from tests.browser import needs_chromium, signed_in_page
from tests.redis_support import empty_url
from tests.servers_support import Up, serve, site_copy, wait_for
from tests.site_support import MINI, REPO, settings_for

pytestmark = needs_chromium
SCREENSHOTS_ENV = "SITUATIONROOM_SCREENSHOTS"
"""Folder the screenshots test writes into; unset, a temporary one, so a test run leaves the checkout as it
was. `SITUATIONROOM_SCREENSHOTS=docs/screenshots pytest tests/test_web_ops_page.py -k screenshots` renews the
docs' images."""
SIMULATORS = sorted(p.stem for p in (REPO / "collectors").glob("sim-*.yaml"))
HANGUL = re.compile(r"[가-힣]")
# The economy simulator runs once an hour here, so a run-now is the only thing that runs it again.
HOURLY = "sim-economy"
FAILING_PY = '''\
"""A parking system down for maintenance: its collector fails, saying what the source answered."""
from situationroom.collectors.plugin import CollectError, Context, Params, Sample, collector_kind


@collector_kind("parking-api")
def collect(params: Params, ctx: Context, now: float) -> list[Sample]:
    raise CollectError("the parking system answered status 'MAINTENANCE'")
'''
FAILING = """\
kind: parking-api
name_ko: 공영주차장
name_en: Public parking
schedule: {interval: 2s}
retries: 0
"""
BROKEN = """\
# A file with a mistake: listed on /ops as invalid, with the file, line and field.
kind: simulator
name_ko: 깨진 설정
schedule: {interval: soon}
"""


class Site(Up):
    """`situationroom up` on a copy of the repository's site (with its briefings) with fast simulators (the economy
    one hourly), a collector that fails and a file with a mistake."""

    def __init__(self, root: Path, redis_url: str) -> None:
        site_copy(root, every="1s", every_of={HOURLY: "1h"})
        (root / "collectors" / "parking_api.py").write_text(FAILING_PY, encoding="utf-8")
        (root / "collectors" / "parking.yaml").write_text(FAILING, encoding="utf-8")
        (root / "collectors" / "broken.yaml").write_text(BROKEN, encoding="utf-8")
        shutil.copytree(REPO / "briefings", root / "briefings")
        super().__init__(log=root / "up.log", site=root, redis_url=redis_url, cwd=root)
        self.root = root
        self.redis_url = redis_url
        self.redis = sync_client(redis_url)

    def stop(self, timeout: float = 20) -> int | None:
        self.redis.close()
        return super().stop(timeout)

    def health(self, cid: str) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self.redis.hgetall(keys.collector_health(cid)).items()}

    def token(self, role: str) -> str:
        return tokens.create(self.redis, role, f"ops-{role}")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, embedded_redis: EmbeddedRedis) -> Iterator[Site]:
    empty_url(embedded_redis.url)
    with Site(tmp_path_factory.mktemp("ops-site"), embedded_redis.url) as served:
        yield served


def ops_page(browser: Browser, site: Site, token: str | None, lang: str = "ko") -> Page:
    """/ops signed in with `token` (None: not signed in), once it lists the collectors."""
    return signed_in_page(browser, f"{site.url}/ops" + ("?lang=en" if lang == "en" else ""),
                          "table.collectors tbody tr[data-id]", token=token,
                          locale="ko-KR")


def done(page: Page) -> None:
    assert page.errors == []  # type: ignore[attr-defined]
    assert {urlsplit(u).hostname for u in page.urls} <= {"127.0.0.1"}  # type: ignore[attr-defined]
    page.context.close()


def state_word(page: Page, cid: str) -> str:
    return page.locator(f'tr[data-id="{cid}"] .state').inner_text().strip()


def test_the_page_lists_every_collector_with_its_state(browser: Browser, site: Site) -> None:
    page = ops_page(browser, site, None)
    assert page.locator("html").get_attribute("lang") == "ko"
    wait_for(lambda: set(SIMULATORS) | {"parking", "airkorea-pohang", "broken"} <= set(
        page.eval_on_selector_all("tr[data-id]", "els => els.map(e => e.dataset.id)")), 20, "every collector")
    for cid in SIMULATORS:
        wait_for(lambda cid=cid: state_word(page, cid).endswith("정상"), 20, f"{cid} ok")
        badge = page.locator(f'tr[data-id="{cid}"] .state')
        assert badge.get_attribute("data-state") == "ok" and badge.locator(".icon").inner_text() == "✓"
        assert "good" in (badge.get_attribute("class") or "")
    assert "기상 시뮬레이터" in page.locator('tr[data-id="sim-weather"]').inner_text()
    # A real source shipped disabled says which variable it needs (and never a value).
    assert state_word(page, "airkorea-pohang").endswith("꺼짐")
    assert "DATA_GO_KR_KEY" in page.locator('tr[data-id="airkorea-pohang"] td.error').inner_text()
    wait_for(lambda: state_word(page, "parking").endswith("실패"), 20, "the failing collector")
    failing = page.locator('tr[data-id="parking"]')
    assert failing.locator(".state").get_attribute("data-state") == "failing"
    assert "MAINTENANCE" in failing.locator(".err").inner_text()
    assert "parking-api" in failing.inner_text() and "collectors/parking.yaml" in failing.inner_text()
    broken = page.locator('tr[data-id="broken"]')
    assert state_word(page, "broken").endswith("설정 오류")
    error = broken.locator(".err").inner_text()
    assert error.startswith("collectors/broken.yaml:4") and "schedule" in error and "soon" in error
    # Samples per run show up, and without a token the buttons are offered to nobody.
    wait_for(lambda: page.locator('tr[data-id="sim-weather"] td.num b').count() == 1, 10, "samples per run")
    assert int(page.locator('tr[data-id="sim-weather"] td.num b').inner_text().replace(",", "")) > 0
    assert page.locator("tr[data-id] button[data-act=run]:enabled").count() == 0
    assert "운영자" in page.inner_text(".notice")
    # The simulators deliver exercise data: each is tagged 훈련, and a band says so over the page.
    for cid in SIMULATORS:
        assert page.locator(f'tr[data-id="{cid}"] .xtag').inner_text() == "훈련"
    assert page.locator('tr[data-id="parking"] .xtag').count() == 0
    band = page.get_by_test_id("exercise-band")
    assert band.is_visible() and "훈련 자료 수집 중" in band.inner_text() and "sim-safety" in band.inner_text()
    done(page)


def test_pause_stops_samples_resume_brings_them_back(browser: Browser, site: Site) -> None:
    page = ops_page(browser, site, site.token("operator"))
    cid = "sim-traffic"
    row = page.locator(f'tr[data-id="{cid}"]')
    wait_for(lambda: state_word(page, cid).endswith("정상"), 20, "traffic ok")
    row.get_by_role("button", name="일시정지").click()
    wait_for(lambda: state_word(page, cid).endswith("일시정지"), 5, "paused on the page")
    assert row.locator(".state").get_attribute("data-state") == "paused"
    assert site.redis.hget(keys.collector_control(cid), "paused") == b"1"
    wait_for(lambda: site.health(cid).get("state") == "paused", 10, "the runtime to skip its runs")
    before = site.health(cid)["samples_total"]
    time.sleep(3)  # three of its 1-second runs come due while paused
    assert site.health(cid)["samples_total"] == before
    assert row.get_by_role("button", name="지금 실행").is_disabled()

    row.get_by_role("button", name="재개").click()
    wait_for(lambda: site.redis.hget(keys.collector_control(cid), "paused") is None, 5, "resumed")
    wait_for(lambda: int(site.health(cid)["samples_total"]) > int(before), 10, "samples again")
    wait_for(lambda: state_word(page, cid).endswith("정상"), 10, "ok on the page again")
    done(page)


def test_run_now_runs_a_collector_before_its_time(browser: Browser, site: Site) -> None:
    page = ops_page(browser, site, site.token("operator"))
    wait_for(lambda: site.health(HOURLY).get("state") == "ok", 20, "the hourly collector's first run")
    runs = int(site.health(HOURLY)["runs"])
    page.locator(f'tr[data-id="{HOURLY}"]').get_by_role("button", name="지금 실행").click()
    page.wait_for_selector(".toast:has-text('실행을 요청했습니다')")
    polled = "run_now" in (REPO / "situationroom/collectors/runtime/commands.py").read_text(encoding="utf-8")
    if polled:
        wait_for(lambda: int(site.health(HOURLY)["runs"]) > runs, 10, "the requested run")
        wait_for(lambda: site.redis.hget(keys.collector_control(HOURLY), "run_now") is None, 5, "the request consumed")
    else:  # the runtime does not poll for it yet: the request is waiting in the control hash
        requested = site.redis.hget(keys.collector_control(HOURLY), "run_now")
        assert requested is not None and abs(float(requested) - time.time()) < 10
    done(page)


def test_make_now_archives_a_briefing_and_audits_it(browser: Browser, site: Site, tmp_path: Path) -> None:
    token = site.token("operator")
    page = ops_page(browser, site, token)
    row = page.locator('section.briefings tr[data-briefing="shift"]')
    row.wait_for()
    assert "교대 인수인계 보고" in row.inner_text() and "0 9 * * *" in row.inner_text()
    assert "아침 상황 보고" in page.inner_text("section.briefings")
    row.get_by_role("button", name="지금 작성").click()
    page.wait_for_selector(".toast:has-text('작성했습니다: shift-')", timeout=240_000)
    made = page.inner_text(".toast").split(": ")[-1].strip()
    link = row.locator("td.when a")
    assert link.get_attribute("href") == f"/briefings/{made}" and "ops-operator" in row.inner_text()
    page.locator("section.briefings").scroll_into_view_if_needed()
    shots = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "ops-briefings-ko.png"))
    with httpx.Client(base_url=site.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        archived = {b["id"]: b for b in http.get("/api/v1/briefings", params={"name": "shift"}).json()["briefings"]}
        assert archived[made]["by"] == "ops-operator"
        assert http.get(archived[made]["links"]["pdf"]).content.startswith(b"%PDF")
        audit = http.get("/api/v1/audit", params={"action": "briefing.run"},
                         headers={"Authorization": f"Bearer {site.token('admin')}"}).json()["entries"]
    assert [(e["actor"], e["target"]) for e in audit] == [("ops-operator", made)]
    done(page)
    # In English, and for a viewer the button is there but refused.
    viewer = ops_page(browser, site, site.token("viewer"), lang="en")
    button = viewer.locator('section.briefings tr[data-briefing="morning"]').get_by_role("button", name="Make now")
    button.wait_for()
    assert button.is_disabled() and "operator" in (button.get_attribute("title") or "")
    assert viewer.inner_text("section.briefings h2").startswith("Briefings")
    done(viewer)


def test_a_collectors_recent_rejections_open_under_its_row(browser: Browser, site: Site) -> None:
    cid = "sim-environment"
    site.redis.xadd(keys.deadletter(), {"source": cid, "field": "value", "reason": "missing at source (air.pm10)",
                                        "value": orjson.dumps("-"), "item": "", "at": str(int(time.time() * 1000))})
    page = ops_page(browser, site, None)
    page.locator(f'tr[data-id="{cid}"] button[data-act=open]').click()
    detail = page.locator(f'tr[data-id="{cid}"] + tr.detail')
    detail.locator("table.rejections").wait_for()
    assert "missing at source (air.pm10)" in detail.inner_text() and '"-"' in detail.inner_text()
    assert "최근 거부" in detail.inner_text()
    time.sleep(3.5)  # a refresh keeps it open
    assert detail.locator("table.rejections").count() == 1
    page.locator(f'tr[data-id="{cid}"] button[data-act=open]').click()
    page.wait_for_selector("tr.detail", state="detached")
    done(page)


def test_a_viewer_sees_the_state_but_the_server_refuses_its_buttons(browser: Browser, site: Site) -> None:
    page = ops_page(browser, site, site.token("viewer"), lang="en")
    cid = "sim-safety"
    wait_for(lambda: state_word(page, cid).endswith("ok"), 20, "safety ok")
    assert "viewer" in page.inner_text(".notice") and "operator" in page.inner_text(".notice")
    row = page.locator(f'tr[data-id="{cid}"]')
    for name in ("Run now", "Pause"):
        assert row.get_by_role("button", name=name).is_disabled()
    # Pressing them anyway (the page's own request, signed in as the viewer) is refused by the server.
    answers = page.evaluate("""async (cid) => {
        const out = [];
        for (const act of ['run', 'pause', 'resume']) {
          try { await window.SRSession.api('POST', `/api/v1/collectors/${cid}/${act}`); out.push([200, '']); }
          catch (err) { out.push([err.status, err.message]); }
        }
        return out;
    }""", cid)
    assert [a[0] for a in answers] == [403, 403, 403]
    assert all("operator or admin" in a[1] and "viewer" in a[1] for a in answers)
    assert site.redis.hgetall(keys.collector_control(cid)) == {}
    done(page)


def test_a_file_broken_while_running_keeps_its_last_version_and_says_so(browser: Browser, site: Site) -> None:
    page = ops_page(browser, site, site.token("operator"), lang="en")
    cid = "sim-weather"
    path = site.root / "collectors" / f"{cid}.yaml"
    good = path.read_text(encoding="utf-8")
    row = page.locator(f'tr[data-id="{cid}"]')
    try:
        path.write_text(good.replace("kind: simulator", "kind: simulator\nretries: many"), encoding="utf-8")
        wait_for(lambda: row.locator(".cfg").count() == 1, 20, "the file's error on the page")
        cfg = row.locator(".cfg").inner_text()
        assert "still running its last good version" in cfg and "retries" in cfg and "sim-weather.yaml" in cfg
        before = int(site.health(cid)["samples_total"])
        wait_for(lambda: int(site.health(cid)["samples_total"]) > before, 10, "the last good version to run on")
        assert state_word(page, cid).endswith("ok")
    finally:
        path.write_text(good, encoding="utf-8")
    wait_for(lambda: row.locator(".cfg").count() == 0, 20, "the error to clear once the file is fixed")
    done(page)


def test_an_operator_signs_in_when_reads_need_a_token(browser: Browser, site: Site) -> None:
    """With public reads off, the page asks for a token first; a wrong one is refused, an operator's works."""
    with serve(settings_for(site.redis_url, site=MINI, public_read=False)) as served:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{served.url}/ops")
        form = page.locator("form#login")
        form.wait_for()
        assert page.locator("table.collectors").count() == 0
        form.locator("input[name=token]").fill("sr_not-a-token")
        form.get_by_role("button", name="로그인").click()
        page.wait_for_selector("form#login :text('토큰이 맞지 않습니다')")
        page.locator("form#login input[name=token]").fill(site.token("operator"))
        page.locator("form#login").get_by_role("button", name="로그인").click()
        page.wait_for_selector("table.collectors tr[data-id]")
        assert page.locator("tr[data-id] button[data-act=run]:enabled").count() >= len(SIMULATORS) - 1
        assert "operator" in page.inner_text("header.top")
        # Signed in with an HTTP-only session cookie; the token is kept nowhere in the browser.
        assert [c["httpOnly"] for c in context.cookies() if c["name"] == "sr_session"] == [True]
        assert page.evaluate("Object.keys(localStorage)") == []
        page.get_by_role("button", name="로그아웃").click()
        page.wait_for_selector("form#login")
        assert [c for c in context.cookies() if c["name"] == "sr_session"] == []
        assert errors == []
        context.close()


def test_screenshots_in_korean_and_english(browser: Browser, site: Site, tmp_path: Path) -> None:
    """docs/screenshots/ops-{ko,en}.png: a paused collector, a disabled one and a broken file among the healthy."""
    token = site.token("operator")
    shots = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path)
    site.redis.hset(keys.collector_control("sim-population"), "paused", "1")
    try:
        shots.mkdir(parents=True, exist_ok=True)
        for lang in ("ko", "en"):
            page = ops_page(browser, site, token, lang=lang)
            wait_for(lambda page=page: all(state_word(page, c) for c in SIMULATORS)
                     and page.locator("tr[data-id] td.num b").count() >= len(SIMULATORS) - 1, 20, "a full table")
            text = page.inner_text("main")
            if lang == "en":
                assert not HANGUL.search(page.inner_text("thead")) and not HANGUL.search(page.inner_text(".summary"))
            else:
                assert "일시정지" in text and "정상" in text
            page.screenshot(path=str(shots / f"ops-{lang}.png"))
            size = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert size[0] <= size[1], f"the table is wider than the screen: {size}"
            done(page)
    finally:
        site.redis.hdel(keys.collector_control("sim-population"), "paused")
