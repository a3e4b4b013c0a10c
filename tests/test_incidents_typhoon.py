"""End to end on the real site: `situationroom up` replays Typhoon Hinnamnor (exercise data) at 1800x, an operator
declares a typhoon exercise level from the command line, and the incident's timeline, gathered by the follower the
alert role runs beside it, holds the alerts that fire, the acknowledgement, a note, the disaster texts, the alerts'
resolution and the end, in order; a briefing of that period, made from the command line, gives in its PDF the
acknowledgement and how fast it came as the incident's API has them."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from pypdf import PdfReader

from situationroom.briefings.definition import site_briefings
from situationroom.briefings.layout import number
from situationroom.briefings.make import period
from situationroom.catalog import Catalog
from situationroom.incidents.hazards import site_hazards
from tests.http_support import bearer
from tests.servers_support import Up, cli
from tests.site_support import REPO, settings_for


def _index(entries: list[dict[str, Any]], **match: Any) -> int:
    return next(i for i, e in enumerate(entries) if all(e.get(k) == v for k, v in match.items()))


def test_a_typhoon_replay_with_a_declaration_keeps_its_timeline_in_order(embedded_url: str, tmp_path: Path,
                                                                        site_catalog: Catalog) -> None:
    env = {"SITUATIONROOM_LOG_LEVEL": "WARNING", "SITUATIONROOM_ALERT_MIN_INTERVAL": "1s"}
    up = Up(site=REPO, redis_url=embedded_url, scenario="typhoon-hinnamnor", speed=1800, env=env,
            log=tmp_path / "up.log").start()
    site = ("--site", str(REPO), "--redis-url", embedded_url)
    try:
        declared = cli("incident", "declare", "--hazard", "typhoon", "--area", "pohang", "--level", "1",
                       "--reason", "태풍 힌남노 북상 (모의 재현)", "--exercise", *site)
        assert declared.returncode == 0, declared.stderr
        iid = re.match(r"(\S+):", declared.stdout).group(1)
        staff = bearer(embedded_url, "staff", staff="ds-kim")
        acked: str | None = None
        noted = False
        entries: list[dict[str, Any]] = []
        with httpx.Client(base_url=up.url, timeout=10) as http:
            deadline = time.monotonic() + 150
            while time.monotonic() < deadline:
                assert up.running(), up.output[-3000:]
                entries = http.get(f"/api/v1/incidents/{iid}/timeline").json()["entries"]
                firing = [e for e in entries if e["kind"] == "alert" and e["event"] == "fired"
                          and e["rule"] == "river.hyeongsan-stage"]
                if firing and acked is None:
                    answer = http.post(f"/api/v1/alerts/{firing[0]['fingerprint']}/ack", headers=staff,
                                       json={"comment": "형산교 현장 확인"})
                    assert answer.status_code == 200, answer.text
                    acked = firing[0]["fingerprint"]
                if acked and not noted and any(e.get("event") == "acknowledged" for e in entries):
                    done = cli("incident", "note", iid, "--text", "형산교 차량 통제", "--indicator", "river.level",
                               *site)
                    assert done.returncode == 0, done.stderr
                    noted = True
                if noted and any(e.get("event") == "resolved" and e.get("fingerprint") == acked for e in entries):
                    break
                time.sleep(0.5)
        ended = cli("incident", "end", iid, "--reason", "태풍 소멸", *site)
        assert ended.returncode == 0, ended.stderr
        with httpx.Client(base_url=up.url, timeout=10) as http:
            entries = http.get(f"/api/v1/incidents/{iid}/timeline").json()["entries"]
            incidents = http.get("/api/v1/incidents").json()["incidents"]
        pdf, briefing = _briefing_of(entries, embedded_url, tmp_path, site_catalog)
    finally:
        up.stop()
    assert acked, (entries, up.output[-2000:])
    fired = _index(entries, kind="alert", event="fired", fingerprint=acked)
    ack = _index(entries, kind="alert", event="acknowledged", fingerprint=acked)
    note = _index(entries, kind="note")
    resolved = _index(entries, kind="alert", event="resolved", fingerprint=acked)
    assert fired < ack < note < resolved < len(entries) - 1, [(e["kind"], e.get("event")) for e in entries]
    assert entries[ack]["by"] == "ds-kim" and entries[-1]["kind"] == "ended"
    # A drill's world only: every alert and message in it is exercise data.
    gathered = [e for e in entries if e["kind"] in ("alert", "message")]
    assert gathered and all(e["exercise"] for e in gathered)
    assert any(e["kind"] == "message" for e in entries), [(e["kind"], e.get("event")) for e in entries]
    # Only what concerns a typhoon: its indicators, and those of its domains (safety, weather).
    typhoon = site_hazards(REPO / "seeds", REPO / "dashboards", site_catalog).by_id["typhoon"]
    for e in entries:
        if e["kind"] == "alert":
            ind = site_catalog.indicators[e["indicator"]]
            assert ind.id in typhoon.indicators or ind.domain in typhoon.domains, e

    # The briefing of that period: the acknowledgement, who made it and how fast, as the incident's API gives them.
    assert briefing.returncode == 0, briefing.stderr
    text = re.sub(r"\s+", " ", " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages))
    for heading in ("분야별 종합 상황", "경보·사고 경과", "상황이 나쁜 지역", "기상·하천 전망"):
        assert heading in text, heading
    minutes = number(round((entries[ack]["at"] - entries[fired]["at"]) / 60_000, 1))
    assert f"확인 1건, 확인까지 걸린 시간(중앙값) {minutes}분" in text, text[:3000]
    assert f"진행 중이거나 기간에 걸친 사고 {len(incidents)}건" in text
    # Its rows are the period's newest (the briefing's `limit`), down to the end of the incident, in words.
    assert f"[훈련] 사고 종료 태풍 소멸 root (cli) {iid}" in text, text[text.index("경보·사고 경과"):][:3000]
    assert "[훈련]" in text


def _briefing_of(entries: list[dict[str, Any]], url: str, tmp_path: Path,
                 catalog: Catalog) -> tuple[bytes, Any]:
    """`situationroom briefing run` for a period that holds the whole incident: of the site's briefings, one whose
    period (from its scheduled time before now) began before the incident opened, whatever the hour the test runs."""
    settings = settings_for(url, site=REPO)
    now_ms = int(time.time() * 1000)
    opened = min(int(e["at"]) for e in entries)
    tz = ZoneInfo(catalog.city.timezone)
    name = next(n for n, b in sorted(site_briefings(settings, catalog).items())
                if period(b, now_ms, tz)[0] <= opened and any(s.kind == "timeline" for s in b.spec.sections))
    out = tmp_path / f"{name}.pdf"
    made = cli("briefing", "run", name, "--out", str(out), "--site", str(REPO), "--redis-url", url)
    return (out.read_bytes() if out.is_file() else b""), made
