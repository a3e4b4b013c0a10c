"""Request bodies are read one way on every route that takes one: a form post, a body that is not JSON, one
nested past the parser's limit or one too large gets a 4xx in the API's error shape, never a 500."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from situationroom import tokens
from situationroom.redisconn import sync_client
from situationroom.web.jsonio import BODY_LIMIT
from tests.http_support import assert_error
from tests.servers_support import Served, serve
from tests.site_support import MINI, settings_for


@pytest.fixture
def admin(embedded_url: str) -> Iterator[tuple[httpx.Client, dict[str, str], Served]]:
    client = sync_client(embedded_url)
    try:
        token = tokens.create(client, "admin", "admin")
    finally:
        client.close()
    with serve(settings_for(embedded_url, site=MINI, ingest_max_items=10)) as served, \
            httpx.Client(base_url=served.url, timeout=30) as http:
        yield http, {"Authorization": f"Bearer {token}"}, served


def _body_routes(http: httpx.Client) -> list[tuple[str, str]]:
    """Every operation /openapi.json says takes a body, with its path parameters filled in."""
    out = []
    for path, ops in http.get("/openapi.json").json()["paths"].items():
        for method, op in ops.items():
            if "requestBody" in op:
                out.append((method.upper(), re.sub(r"\{[^}]+\}", "x", path)))
    return out


def test_every_body_route_refuses_bad_bodies_with_a_4xx(admin: tuple[httpx.Client, dict[str, str], Served]) -> None:
    http, auth, _ = admin
    routes = _body_routes(http)
    assert {("POST", "/api/v1/samples"), ("POST", "/api/v1/alerts/x/ack"), ("POST", "/api/v1/silences"),
            ("POST", "/api/v1/subscriptions"), ("PUT", "/api/v1/subscriptions/x")} <= set(routes)
    as_json = {**auth, "Content-Type": "application/json"}
    for method, path in routes:
        # Plain `curl -d` sends a form: these answered 500 before (the bytes could not be echoed back).
        form = {**auth, "Content-Type": "application/x-www-form-urlencoded"}
        err = assert_error(http.request(method, path, content=b"comment=hi", headers=form), 415, "content-type",
                            "application/x-www-form-urlencoded")
        assert "application/json" in err["message"]
        assert_error(http.request(method, path, content=b"{\"a\": ", headers=as_json), 400, "body")
        assert_error(http.request(method, path, content=b"[" * 2000 + b"]" * 2000, headers=as_json), 400, "body")
        assert_error(http.request(method, path, content=b"{\"\\ud800\": 1}", headers=as_json), 400, "body")
    for method, path in routes:
        if path == "/api/v1/samples":
            continue  # its limit follows ingest_max_items (test_web_ingest_api)
        big = b'{"comment": "' + b"x" * BODY_LIMIT + b'"}'
        assert_error(http.request(method, path, content=big, headers=as_json), 413, "body")
        # A body without a content type is not guessed at.
        assert_error(http.request(method, path, content=b"{}", headers=auth), 415, "content-type", None)


def test_an_oversized_value_is_echoed_cut(admin: tuple[httpx.Client, dict[str, str], Served]) -> None:
    http, auth, _ = admin
    reason = "가" * 20_000  # 60 KB of UTF-8, under the body limit, far over the field's 1,000 characters
    resp = http.post("/api/v1/silences", json={"matchers": {"rule": "dust"}, "duration": "1h", "reason": reason},
                     headers=auth)
    err = assert_error(resp, 422, "reason")
    assert err["value_bytes"] == len(reason.encode()) and reason.startswith(err["value"].removesuffix("…"))
    assert len(err["value"].encode()) <= 1024 + 3 and len(resp.content) < 4096
    assert err["errors"][0]["field"] == "reason"
