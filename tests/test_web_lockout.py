"""Failed token checks per client address (docs/access.md): past the limit an address gets 429 with
Retry-After — even for a right token, so a guess cannot be told from a miss — logged and audited once per
lockout; other addresses are not held up, and the address may try again once its window ends."""

from __future__ import annotations

import logging
import time

import httpx
import pytest

from situationroom import audit, keys, tokens
from situationroom.redisconn import sync_client
from tests.servers_support import serve
from tests.site_support import settings_for

pytestmark = pytest.mark.cluster


def _from(address: str, base: str) -> httpx.Client:
    """An HTTP client whose requests come from `address` (any 127.x.y.z is this machine)."""
    return httpx.Client(base_url=base, timeout=10, transport=httpx.HTTPTransport(local_address=address))


def test_an_address_past_its_failed_checks_gets_429_until_its_window_ends(redis_url: str,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    r = sync_client(redis_url)
    good = {"Authorization": f"Bearer {tokens.create(r, 'operator', 'it-team')}"}
    bad = {"Authorization": "Bearer sr_guess"}
    caplog.set_level(logging.WARNING, logger="situationroom.web.auth")
    settings = settings_for(redis_url, auth_fail_limit=3, auth_fail_window=2)
    with serve(settings) as site, _from("127.0.0.2", site.url) as guesser, _from("127.0.0.3", site.url) as other:
        for _ in range(3):
            assert guesser.get("/api/v1/notify/deadletter", headers=bad).status_code == 401
        locked = guesser.get("/api/v1/notify/deadletter", headers=bad)
        assert locked.status_code == 429
        wait = int(locked.headers["retry-after"])
        assert 1 <= wait <= 2 and "127.0.0.2" in locked.json()["error"]["message"]
        # A right token is refused too while locked, and so is signing in; another address is not held up.
        assert guesser.get("/api/v1/notify/deadletter", headers=good).status_code == 429
        assert guesser.post("/api/v1/session", json={"token": "sr_guess"}).status_code == 429
        assert other.get("/api/v1/notify/deadletter", headers=good).status_code == 200
        assert other.get("/api/v1/notify/deadletter", headers=bad).status_code == 401
        time.sleep(wait + 0.2)
        assert guesser.get("/api/v1/notify/deadletter", headers=good).status_code == 200
    lockouts = [rec for rec in caplog.records if "failed token checks" in rec.getMessage()]
    assert len(lockouts) == 1 and "127.0.0.2" in lockouts[0].getMessage()
    entries = [f for _, f in r.xrange(keys.audit())]
    assert [(f[b"action"], f[b"target"], f[b"address"]) for f in entries] == [
        (b"auth.lockout", b"127.0.0.2", b"127.0.0.2")]
    assert audit.ACTIONS["auth.lockout"]
    r.close()
