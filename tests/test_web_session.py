"""Signing in once from a browser (docs/access.md): the token is posted once, the answer is an HTTP-only,
SameSite=Strict session cookie; a change made with the cookie needs the session's anti-CSRF token and this site's
Origin; revoking the token ends its sessions; bearer tokens keep working for API clients."""

from __future__ import annotations

import httpx
import pytest

from situationroom import keys, tokens
from situationroom.alerts.state import Alert
from situationroom.redisconn import sync_client
from tests.notify_support import alert
from tests.servers_support import serve
from tests.site_support import settings_for

pytestmark = pytest.mark.cluster  # also run on the suite's Redis Cluster


def _setup(url: str) -> str:
    """A firing alert of 재난안전과 and a staff token of that department; returns the token."""
    r = sync_client(url)
    a = Alert(**{k: v for k, v in alert(fingerprint="fp-session").items() if k in Alert.__dataclass_fields__})
    r.hset(keys.alerts(), a.fingerprint, a.encode())
    token = tokens.create(r, "staff", "park-phone", staff="ds-park")
    r.close()
    return token


def test_a_browser_signs_in_once_and_its_changes_need_the_csrf_token(redis_url: str) -> None:
    token = _setup(redis_url)
    with serve(settings_for(redis_url)) as site, httpx.Client(base_url=site.url, timeout=10) as http:
        assert http.post("/api/v1/session", json={"token": "sr_wrong"}).status_code == 401
        assert http.post("/api/v1/session", json={"token": token},
                         headers={"Origin": "https://evil.example"}).status_code == 403
        signed = http.post("/api/v1/session", json={"token": token}, headers={"Origin": site.url})
        assert signed.status_code == 200, signed.text
        cookie = signed.headers["set-cookie"]
        assert cookie.startswith("sr_session=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert "Path=/" in cookie and "Max-Age=1209600" in cookie
        body = signed.json()
        assert (body["name"], body["role"], body["staff"]) == ("park-phone", "staff", "ds-park")
        assert token not in signed.text and len(body["csrf"]) > 20
        # The cookie alone answers reads, and says who is signed in (a page asks on load).
        assert http.get("/api/v1/staff/me").json()["staff"]["id"] == "ds-park"
        assert http.get("/api/v1/session").json() | {"csrf": None} == {
            "signed_in": True, "name": "park-phone", "role": "staff", "staff": "ds-park",
            "scopes": ["read", "staff"], "csrf": None}
        assert http.get("/api/v1/session").json()["csrf"] == body["csrf"]
        # A change: refused without the anti-CSRF token, or from another site's page; done with both.
        ack = "/api/v1/alerts/fp-session/ack"
        forged = http.post(ack, json={})
        assert forged.status_code == 403 and forged.json()["error"]["field"] == "X-CSRF-Token"
        assert http.post(ack, json={}, headers={"X-CSRF-Token": "guess"}).status_code == 403
        other = http.post(ack, json={}, headers={"X-CSRF-Token": body["csrf"], "Origin": "https://evil.example"})
        assert other.status_code == 403 and other.json()["error"]["field"] == "Origin"
        done = http.post(ack, json={}, headers={"X-CSRF-Token": body["csrf"], "Origin": site.url})
        assert done.status_code == 200 and done.json()["alert"]["acked"]["by"] == "ds-park"
        # Sign out: needs the anti-CSRF token too; afterwards the cookie opens nothing.
        assert http.delete("/api/v1/session").status_code == 403
        old = http.cookies.get("sr_session")
        assert http.delete("/api/v1/session", headers={"X-CSRF-Token": body["csrf"]}).status_code == 204
        assert http.get("/api/v1/session").json() == {"signed_in": False}
        with httpx.Client(base_url=site.url, timeout=10, cookies={"sr_session": old or ""}) as kept:
            stale = kept.get("/api/v1/staff/me")
        assert stale.status_code == 401 and "sign in again" in stale.json()["error"]["message"]
        # Bearer tokens keep working for API clients, with no CSRF header.
        assert http.post(ack, headers={"Authorization": f"Bearer {token}"}).json()["already"] is True


def test_revoking_the_token_ends_its_signed_in_sessions(redis_url: str) -> None:
    token = _setup(redis_url)
    with serve(settings_for(redis_url)) as site, httpx.Client(base_url=site.url, timeout=10) as http:
        assert http.post("/api/v1/session", json={"token": token}).status_code == 200
        assert http.get("/api/v1/staff/me").status_code == 200
        r = sync_client(redis_url)
        assert tokens.revoke(r, tokens.digest(token)[:12]) == 1
        r.close()
        assert http.get("/api/v1/staff/me").status_code == 401
        gone = http.get("/api/v1/session")
        assert gone.json() == {"signed_in": False} and "sr_session=" in gone.headers.get("set-cookie", "")
        # Sessions are stored by the hash of their id only: the cookie's value is nowhere in Redis.
        r = sync_client(redis_url)
        assert not [k for k in r.keys("sr:session:*") if http.cookies.get("sr_session", "x") in k.decode()]
        r.close()
