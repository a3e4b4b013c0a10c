"""`situationroom incident`: declare, note, raise, lower and end a typhoon level on the Pohang site from the
command line; the API reads the same incident and timeline, the audit log names the OS user; bad input exits 2
saying what."""

from __future__ import annotations

import re

import httpx
import pytest

from situationroom import keys
from situationroom.redisconn import sync_client
from tests.http_support import bearer
from tests.servers_support import cli, serve
from tests.site_support import REPO, settings_for

pytestmark = pytest.mark.cluster  # also run on the suite's Redis Cluster


def test_a_typhoon_declared_noted_raised_lowered_and_ended_from_the_command_line(redis_url: str) -> None:
    site = ("--site", str(REPO), "--redis-url", redis_url)
    declared = cli("incident", "declare", "--hazard", "typhoon", "--area", "pohang", "--level", "1",
                   "--reason", "태풍 힌남노 북상, 태풍주의보", *site)
    assert declared.returncode == 0, declared.stderr
    assert "태풍 (Typhoon) in 포항시 — 비상 1단계 (Emergency level 1), open" in declared.stdout
    iid = re.match(r"(\S+):", declared.stdout).group(1)
    noted = cli("incident", "note", iid, "--text", "형산강 수위 관측 강화", "--at", "2022-09-06T04:50",
                "--indicator", "river.level", *site)
    assert noted.returncode == 0, noted.stderr
    raised = cli("incident", "level", iid, "--level", "비상 3단계", "--reason", "태풍경보, 하천 범람", *site)
    assert "비상 3단계" in raised.stdout, raised.stderr
    lowered = cli("incident", "level", iid, "--level", "2", "--reason", "태풍 동해상 진출", *site)
    assert lowered.returncode == 0 and "비상 2단계 (Emergency level 2), open" in lowered.stdout, lowered.stderr
    listed = cli("incident", "list", *site)
    assert iid in listed.stdout and "declared by" in listed.stdout
    ended = cli("incident", "end", iid, "--reason", "태풍 소멸", *site)
    assert ended.returncode == 0 and "closed" in ended.stdout
    assert "no open incidents" in cli("incident", "list", *site).stdout
    assert iid in cli("incident", "list", "--all", *site).stdout

    # The API reads what the command wrote.
    with serve(settings_for(redis_url)) as srv, httpx.Client(base_url=srv.url) as http:
        body = http.get(f"/api/v1/incidents/{iid}/timeline").json()
        assert [(e["kind"], e.get("event")) for e in body["entries"]] == [
            ("declared", None), ("note", None), ("level", "raised"), ("level", "lowered"), ("ended", None)]
        assert (body["entries"][3]["text"], body["entries"][3]["previous"]) == ("태풍 동해상 진출", 3)
        assert body["entries"][0]["by"].endswith("(cli)")
        assert body["entries"][1]["pinned"] == 1662407400000  # what the note is about: 2022-09-06 04:50 KST
        assert body["incident"]["dashboards"] == ["typhoon", "safety", "weather"]
        audit = http.get("/api/v1/audit", params={"action": "incident"},
                         headers=bearer(redis_url, "admin", "chief")).json()["entries"]
    assert [(e["action"], e["role"], e["address"]) for e in reversed(audit)] == [
        ("incident.declare", "cli", "cli"), ("incident.note", "cli", "cli"), ("incident.level", "cli", "cli"),
        ("incident.level", "cli", "cli"), ("incident.end", "cli", "cli")]


def test_bad_input_exits_2_saying_what_is_wrong(redis_url: str) -> None:
    site = ("--site", str(REPO), "--redis-url", redis_url)

    def declare(*change: str) -> tuple[int, str]:
        given = {"--hazard": "heat", "--area": "47113", "--level": "주의", "--reason": "폭염경보"}
        given.update(dict(zip(change[::2], change[1::2], strict=True)))
        done = cli("incident", "declare", *[x for kv in given.items() for x in kv], *site)
        return done.returncode, done.stdout + done.stderr

    code, out = declare("--level", "5")
    assert code == 2 and "level '5'" in out and "1 관심, 2 주의, 3 경계, 4 심각" in out
    code, out = declare("--hazard", "tsunami")
    assert code == 2 and "hazard 'tsunami'" in out and "typhoon" in out
    code, out = declare("--area", "seoul")
    assert code == 2 and "area 'seoul'" in out
    code, out = declare("--reason", "")
    assert code == 2 and "--reason" in out
    code, out = declare()
    assert code == 0, out
    code, out = declare("--level", "경계")
    assert code == 2 and "already has an open incident" in out
    iid = re.search(r"open incident \((\S+)\)", out).group(1)
    bad_time = cli("incident", "note", iid, "--text", "x", "--at", "yesterday", *site)
    assert bad_time.returncode == 2 and "at 'yesterday'" in bad_time.stderr
    missing = cli("incident", "end", "20260101-heat-99", "--reason", "x", *site)
    assert missing.returncode == 2 and "no such incident" in missing.stderr
    client = sync_client(redis_url)
    try:
        assert client.hlen(keys.incidents()) == 1  # nothing of the refused ones was written
    finally:
        client.close()
