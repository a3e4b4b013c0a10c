"""The audit log (docs/access.md): every change made through the product leaves one entry (who: token name and
role; what; when; from which address) in a capped stream that is only appended to; admins read it at
GET /api/v1/audit, filtered, as JSON or CSV."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import orjson
import pytest
import redis.asyncio as aioredis

from situationroom import audit, keys, tokens
from situationroom.alerts.state import Alert
from situationroom.redisconn import async_client, sync_client
from tests.collectors_support import collector
from tests.http_support import bearer
from tests.notify_support import alert, seed
from tests.servers_support import cli, serve
from tests.site_support import REPO, settings_for

pytestmark = pytest.mark.cluster  # also run on the suite's Redis Cluster


async def test_entries_are_read_newest_first_filtered_and_paged(aclient: aioredis.Redis) -> None:
    ops = audit.Actor("it-team", "operator", "10.1.2.3")
    kim = audit.Actor("kim-laptop", "staff", "10.1.2.4", staff="ds-kim")
    first = await audit.record(aclient, "collector.pause", actor=ops, target="parking", maxlen=1000)
    await asyncio.sleep(0.01)  # a later millisecond: `until` below falls between the first entry and the rest
    await audit.record(aclient, "silence.create", actor=kim, target="s1", detail={"reason": "점검"}, maxlen=1000)
    await audit.record(aclient, "silence.expire", actor=kim, target="s1", maxlen=1000)
    newest = await audit.record(aclient, "alert.ack", actor=ops, target="fp1", maxlen=1000)
    every = await audit.read(aclient)
    assert [e["action"] for e in every] == ["alert.ack", "silence.expire", "silence.create", "collector.pause"]
    assert every[2] | {"id": "", "at": 0} == {"id": "", "at": 0, "actor": "kim-laptop", "role": "staff",
                                              "staff": "ds-kim", "action": "silence.create", "target": "s1",
                                              "address": "10.1.2.4", "detail": {"reason": "점검"}}
    assert abs(every[0]["at"] - time.time()) < 5 and every[0]["id"] == newest
    # A family of actions, one actor (by token name or staff id), a time range, pages.
    assert [e["action"] for e in await audit.read(aclient, action="silence")] == ["silence.expire", "silence.create"]
    assert [e["target"] for e in await audit.read(aclient, actor="ds-kim")] == ["s1", "s1"]
    assert [e["action"] for e in await audit.read(aclient, actor="it-team", limit=1)] == ["alert.ack"]
    assert [e["id"] for e in await audit.read(aclient, until=int(first.split("-")[0]) / 1000)] == [first]
    assert await audit.read(aclient, since=time.time() + 60) == []
    page = await audit.read(aclient, limit=2)
    rest = await audit.read(aclient, limit=2, before=page[-1]["id"])
    assert [e["id"] for e in page + rest] == [e["id"] for e in every]
    # Bounds no entry can be within are an empty answer, not a range Redis refuses.
    assert await audit.read(aclient, before="0-0") == [] and await audit.read(aclient, until=-1) == []
    assert await audit.read(aclient, since=time.time() + 60, until=time.time()) == []
    assert len(await audit.read(aclient, before=f"{2**70}-0", until=1e300)) == 4


async def test_the_log_keeps_a_bounded_number_of_entries(aclient: aioredis.Redis) -> None:
    who = audit.Actor("loader", "admin", "cli")
    pipe_size = 3000
    for i in range(pipe_size):
        await audit.record(aclient, "collector.run", actor=who, target=f"c{i}", maxlen=1000)
    kept = await aclient.xlen(keys.audit())
    # Trimmed approximately (whole stream nodes at a time): about the bound, never the whole history.
    assert 1000 <= kept <= 1200
    assert (await audit.read(aclient, limit=1))[0]["target"] == f"c{pipe_size - 1}"


def test_csv_export_reads_in_a_spreadsheet_and_runs_no_formula() -> None:
    entries = [{"id": "1796000000000-0", "at": 1796000000.0, "actor": "=HYPERLINK(\"x\")", "role": "staff",
                "staff": "ds-kim", "action": "silence.create", "target": "s1", "address": "10.1.2.4",
                "detail": {"reason": "게이지 점검"}}]
    text = audit.to_csv(entries, ZoneInfo("Asia/Seoul"))
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == ["time", "id", "actor", "role", "staff", "action", "target", "address", "detail"]
    assert rows[1][0].endswith("+09:00") and rows[1][2] == "'=HYPERLINK(\"x\")"
    assert orjson.loads(rows[1][8]) == {"reason": "게이지 점검"}


def test_every_change_through_the_api_is_recorded_and_only_admins_read_it(redis_url: str) -> None:
    seed(redis_url)
    r = sync_client(redis_url)
    a = Alert(**{k: v for k, v in alert(fingerprint="fp-audit").items() if k in Alert.__dataclass_fields__})
    r.hset(keys.alerts(), a.fingerprint, a.encode())
    collector(r, "parking", state="ok", next_run=f"{time.time() + 60}")
    park, ops = bearer(redis_url, "staff", staff="ds-park"), bearer(redis_url, "operator")
    admin = bearer(redis_url, "admin")
    with serve(settings_for(redis_url)) as site, httpx.Client(base_url=site.url, timeout=10) as http:
        assert http.post("/api/v1/alerts/fp-audit/ack", headers=park, json={"comment": "현장 확인"}).status_code == 200
        made = http.post("/api/v1/silences", headers=park, json={
            "matchers": {"department": "disaster-safety"}, "duration": "2h", "reason": "게이지 점검"}).json()
        sid = made["silence"]["id"]
        assert http.delete(f"/api/v1/silences/{sid}", headers=park).status_code == 200
        sub = http.post("/api/v1/subscriptions", headers=park, json={"name": "하천", "indicators": ["river.level"],
                                                                    "channels": ["inapp"]}).json()
        changed = {**{k: v for k, v in sub.items() if k not in ("id", "owner", "updated")}, "min_severity": "경계"}
        assert http.put(f"/api/v1/subscriptions/{sub['id']}", headers=park, json=changed).status_code == 200
        assert http.delete(f"/api/v1/subscriptions/{sub['id']}", headers=park).status_code == 204
        for act in ("pause", "resume", "run"):
            assert http.post(f"/api/v1/collectors/parking/{act}", headers=ops).status_code in (200, 202)
        # A refused change is not a change: nothing recorded for it.
        assert http.post("/api/v1/collectors/parking/pause", headers=park).status_code == 403

        assert http.get("/api/v1/audit").status_code == 401
        assert http.get("/api/v1/audit", headers=ops).status_code == 403
        body = http.get("/api/v1/audit", headers=admin).json()
        got = [(e["action"], e["target"], e["actor"], e["role"]) for e in reversed(body["entries"])]
        assert got == [
            ("alert.ack", "fp-audit", "ds-park", "staff"), ("silence.create", sid, "ds-park", "staff"),
            ("silence.expire", sid, "ds-park", "staff"), ("subscription.create", sub["id"], "ds-park", "staff"),
            ("subscription.update", sub["id"], "ds-park", "staff"),
            ("subscription.delete", sub["id"], "ds-park", "staff"),
            ("collector.pause", "parking", "operator", "operator"),
            ("collector.resume", "parking", "operator", "operator"),
            ("collector.run", "parking", "operator", "operator")]
        entries = {e["action"]: e for e in body["entries"]}
        assert all(e["address"] == "127.0.0.1" for e in body["entries"])
        assert entries["alert.ack"]["staff"] == "ds-park" and entries["alert.ack"]["detail"]["comment"] == "현장 확인"
        assert entries["silence.create"]["detail"]["matchers"] == {"department": "disaster-safety"}
        update = entries["subscription.update"]["detail"]
        assert (update["before"]["min_severity"], update["after"]["min_severity"]) == ("주의", "경계")

        only = http.get("/api/v1/audit", headers=admin, params={"action": "collector", "limit": 2}).json()
        assert [e["action"] for e in only["entries"]] == ["collector.run", "collector.resume"]
        older = http.get("/api/v1/audit", headers=admin, params={"action": "collector", "before": only["next"]})
        assert [e["action"] for e in older.json()["entries"]] == ["collector.pause"]
        bad = http.get("/api/v1/audit", headers=admin, params={"since": "yesterday"})
        assert bad.status_code == 422 and bad.json()["error"]["field"] == "since"
        assert http.get("/api/v1/audit", headers=admin, params={"until": "inf"}).status_code == 422
        assert http.get("/api/v1/audit", headers=admin, params={"before": "0-0"}).json()["entries"] == []
        exported = http.get("/api/v1/audit", headers=admin, params={"format": "csv", "actor": "ds-park"})
        assert exported.headers["content-type"].startswith("text/csv")
        assert "attachment" in exported.headers["content-disposition"]
        rows = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
        assert len(rows) == 1 + 6 and {row[5] for row in rows[1:]} >= {"alert.ack", "subscription.delete"}
        assert "게이지 점검" in exported.text
    r.close()


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_audit_page_is_served_with_its_assets(redis_url: str, lang: str) -> None:
    with serve(settings_for(redis_url)) as site, httpx.Client(base_url=site.url, timeout=10) as http:
        page = http.get("/audit", params={"lang": lang})
        assert page.status_code == 200 and f'lang="{lang}"' in page.text
        assert ("감사 기록" if lang == "ko" else "audit log") in page.text
        for asset in ("session.js", "audit.js", "audit.css", "ops.css"):
            built = next(part for part in page.text.split('"') if part.endswith(f"/{asset}"))
            assert http.get(built).status_code == 200


def test_tokens_made_and_revoked_from_the_cli_are_recorded_as_the_os_user(redis_url: str) -> None:
    import getpass

    made = cli("tokens", "create", "--role", "staff", "--staff", "ds-lee", "--name", "lee-laptop",
               "--redis-url", redis_url)
    assert made.returncode == 0, made.stderr
    token_id = tokens.digest(made.stdout.strip())[:12]
    assert cli("tokens", "revoke", token_id, "--redis-url", redis_url).returncode == 0
    r = sync_client(redis_url)
    entries = [(f[b"action"].decode(), f[b"target"].decode(), f[b"actor"].decode(), f[b"address"].decode(),
                orjson.loads(f[b"detail"])) for _, f in r.xrange(keys.audit())]
    r.close()
    assert entries == [
        ("token.create", "lee-laptop", getpass.getuser(), "cli", {"role": "staff", "staff": "ds-lee", "id": token_id}),
        ("token.revoke", "lee-laptop", getpass.getuser(), "cli", {"id": token_id, "role": "staff", "staff": "ds-lee"})]


def _entries(url: str, action: str) -> list[dict[str, object]]:
    async def go() -> list[dict[str, object]]:
        client = async_client(url)
        try:
            return await audit.read(client, action=action)
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_a_dashboard_file_reloaded_by_the_web_role_is_recorded_as_the_system(redis_url: str, tmp_path: Path) -> None:
    import shutil

    site = tmp_path / "site"
    for part in ("seeds", "dashboards"):
        shutil.copytree(REPO / part, site / part)
    with serve(settings_for(redis_url, site=site), lifespan="on"):
        time.sleep(0.5)  # the watcher is up
        wall = site / "dashboards" / "safety.yaml"
        wall.write_text(wall.read_text(encoding="utf-8") + "\n# 글꼴 조정\n", encoding="utf-8")
        deadline = time.monotonic() + 15
        while not _entries(redis_url, "dashboards.reload"):
            assert time.monotonic() < deadline, "no dashboards.reload entry"
            time.sleep(0.1)
    entry = _entries(redis_url, "dashboards.reload")[0]
    assert (entry["actor"], entry["role"], entry["address"], entry["target"]) == (
        "system", "system", "file watcher", "safety")
    assert entry["detail"]["file"] == "dashboards/safety.yaml" and entry["detail"]["valid"] is True
