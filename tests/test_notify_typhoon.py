"""End to end on the real site: `situationroom up` replaying Typhoon Hinnamnor sends the river-level and rainfall
alerts to 재난안전과's messenger webhook — signed, each once, every one marked [훈련] since a replay is an exercise —
and tells it again when the water falls."""

from __future__ import annotations

import hashlib
import hmac
import time
from pathlib import Path

from tests.notify_support import http_receiver
from tests.servers_support import Up
from tests.site_support import REPO

SECRET = "typhoon-room-secret"


def test_the_typhoon_reaches_the_disaster_safety_webhook_and_so_does_the_all_clear(embedded_url: str,
                                                                                   tmp_path: Path) -> None:
    with http_receiver() as rx:
        env = {"SITUATIONROOM_LOG_LEVEL": "WARNING", "SITUATIONROOM_ALERT_MIN_INTERVAL": "1s",
               "DISASTER_SAFETY_WEBHOOK_URL": f"{rx.url}/services/T0/B0/room",
               "DISASTER_SAFETY_WEBHOOK_SECRET": SECRET}
        up = Up(site=REPO, redis_url=embedded_url, scenario="typhoon-hinnamnor", speed=3600, env=env,
                log=tmp_path / "up.log").start()

        def texts() -> list[str]:
            return [r.json()["text"] for r in list(rx.requests)]

        def seen(prefix: str, what: str) -> bool:
            return any(t.startswith(f"[훈련] {prefix}") and what in t for t in texts())

        def fired(what: str) -> bool:
            return any(not t.startswith("[훈련] [해제]") and what in t for t in texts())

        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                assert up.running(), up.output[-3000:]
                # All four: a delivery that failed under load is retried with backoff, so the firing message
                # may arrive after the all-clear.
                if all(fired(w) and seen("[해제]", w) for w in ("하천 수위", "시간 강수량")):
                    break
                time.sleep(0.2)
        finally:
            up.stop()
        err = up.output
    got = texts()
    assert all(t.startswith("[훈련] ") for t in got), got
    firing = [t for t in got if not t.startswith("[훈련] [해제]")]
    assert any("하천 수위" in t for t in firing), (got, err[-2000:])
    assert any("시간 강수량" in t for t in firing), (got, err[-2000:])
    assert seen("[해제]", "하천 수위") and seen("[해제]", "시간 강수량"), (got, err[-2000:])
    for req in rx.requests:
        assert req.path == "/services/T0/B0/room"
        signature = hmac.new(SECRET.encode(), req.body, hashlib.sha256).hexdigest()
        assert req.headers["x-situationroom-signature-256"] == f"sha256={signature}"
        assert req.headers["idempotency-key"].endswith("/disaster-safety/disaster-safety-webhook")
    keys_sent = [r.headers["idempotency-key"] for r in rx.requests]
    assert len(keys_sent) == len(set(keys_sent)), "a notification reached the room twice"
