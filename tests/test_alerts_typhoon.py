"""End to end on the real site: `situationroom up` replaying Typhoon Hinnamnor at 1800x fires the river-level
and rainfall alerts of 재난안전과 and resolves them when the rain stops and the water falls."""

from __future__ import annotations

import time
from pathlib import Path

import orjson

from situationroom import keys
from situationroom.redisconn import sync_client
from tests.servers_support import Up
from tests.site_support import REPO


def test_the_typhoon_fires_river_and_rain_alerts_and_resolves_them(embedded_url: str, tmp_path: Path) -> None:
    env = {"SITUATIONROOM_LOG_LEVEL": "WARNING",
           # Thirty hours of typhoon pass in a minute: let an alert resolve a second after it fired. (At 3600x
           # the rain stayed past 30 mm/h for 6 s, close to the rule's 5 s group_wait: on a loaded machine it
           # could end before the group was sent, and nothing was told.)
           "SITUATIONROOM_ALERT_MIN_INTERVAL": "1s"}
    up = Up(site=REPO, redis_url=embedded_url, scenario="typhoon-hinnamnor", speed=1800, env=env,
            log=tmp_path / "up.log").start()
    client = sync_client(embedded_url)
    told: dict[str, list[str]] = {}
    departments: set[str] = set()
    try:
        deadline = time.monotonic() + 150
        last = "0-0"
        while time.monotonic() < deadline:
            assert up.running(), up.output[-3000:]
            for _, entries in client.xread({keys.notifications(): last}, count=100, block=500) or []:
                for entry_id, fields in entries:
                    last = entry_id
                    n = orjson.loads(fields[b"n"])
                    told.setdefault(n["rule"], []).append(n["kind"])
                    departments |= {a["department"] for a in n["alerts"]}
            river = told.get("river.hyeongsan-stage", [])
            rain = told.get("rain.hourly-heavy", [])
            if "resolved" in river and "resolved" in rain:
                break
    finally:
        up.stop()
        client.close()
    err = up.output
    river = told.get("river.hyeongsan-stage", [])
    rain = told.get("rain.hourly-heavy", [])
    assert river and river[0] == "firing" and river[-1] == "resolved", (told, err[-2000:])
    assert rain and rain[0] == "firing" and rain[-1] == "resolved", (told, err[-2000:])
    assert "disaster-safety" in departments
    # Nothing else cried wolf: no source went down during the replay.
    assert "source.down" not in told, told
