"""End to end on the real site: `situationroom up` replays Typhoon Hinnamnor (exercise data) at 1800x, an operator
declares a typhoon exercise level from the command line, and the incident's timeline, gathered by the follower the
alert role runs beside it, holds the alerts that fire, the acknowledgement, a note, the disaster texts, the alerts'
resolution and the end, in order."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx

from situationroom.catalog import Catalog
from situationroom.incidents.hazards import site_hazards
from tests.http_support import bearer
from tests.servers_support import Up, cli
from tests.site_support import REPO


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
