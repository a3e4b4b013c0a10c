"""The assembled web app as a client meets it: /openapi.json tells the truth about every route (schemathesis
drives a live server from it), and /docs renders in a real Chromium with nothing fetched from outside."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, checks

from situationroom import tokens
from situationroom.embedded import EmbeddedRedis
from situationroom.redisconn import sync_client
from tests.browser import needs_chromium
from tests.redis_support import empty
from tests.servers_support import Served, serve
from tests.site_support import MINI, settings_for

if TYPE_CHECKING:
    from playwright.sync_api import Browser

EXAMPLES = 25
"""Requests generated per operation and mode: with about 35 operations, a run of well under a minute."""
CONFORMANCE = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
               checks.response_schema_conformance, checks.response_headers_conformance]
"""No 5xx, and every answer's status, media type, body and headers as /openapi.json documents them. Not
checked: that schema-valid data is accepted (the catalog, not the schema, says which indicator exists)."""


@pytest.fixture(scope="module")
def live(embedded_redis: EmbeddedRedis) -> Iterator[tuple[Served, str]]:
    """One server for the module, on the embedded Redis, and an admin token (every scope)."""
    client = sync_client(embedded_redis.url)
    try:
        empty(client)
        token = tokens.create(client, "admin", "schemathesis")
    finally:
        client.close()
    # Generated sign-ins use made-up tokens: past the failed-check limit every later request from this address
    # would get 429 (documented, so conforming, but testing nothing else); the lockout has tests of its own.
    with serve(settings_for(embedded_redis.url, site=MINI, partitions=2, ingest_max_items=20,
                            auth_fail_limit=10_000)) as served:
        yield served, token


def test_every_route_answers_as_documented(live: tuple[Served, str]) -> None:
    """Schemathesis generates requests for every operation from /openapi.json, valid ones and ones that break
    the documented parameters and bodies, and checks every answer against what the document says of it."""
    served, token = live
    schema = schemathesis.openapi.from_url(f"{served.url}/openapi.json")
    headers = {"Authorization": f"Bearer {token}"}
    failures: dict[str, str] = {}
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            def answers_as_documented(case: schemathesis.Case) -> None:
                case.call_and_validate(headers=headers, checks=CONFORMANCE, timeout=30)

            try:
                answers_as_documented()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing of it can be made invalid: no parameters, no body
            except Exception as exc:  # one operation's failure is reported with the others'
                failures[f"{operation.label} ({mode.value})"] = str(exc)[:3000]
    assert operations >= 30
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())


@needs_chromium
def test_docs_render_offline(live: tuple[Served, str], browser: Browser) -> None:
    """Swagger UI at /docs draws every operation from scripts and styles this server serves: a city network
    with no way out still has its API documentation."""
    served, _ = live
    origin = urlsplit(served.url).netloc
    page = browser.new_page()
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if urlsplit(r.url).scheme in ("http", "https", "ws", "wss")
            and urlsplit(r.url).netloc != origin else None)
    page.goto(f"{served.url}/docs")
    page.wait_for_selector(".opblock-summary-path")
    paths = {el.get_attribute("data-path") for el in page.query_selector_all(".opblock-summary-path")}
    assert {"/api/v1/samples", "/api/v1/indicators", "/api/v1/silences", "/api/v1/subscriptions/{sid}"} <= paths
    assert len(paths) >= 25
    assert outside == []
    page.close()
