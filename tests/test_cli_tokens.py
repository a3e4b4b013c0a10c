"""`situationroom tokens`: a token printed once, listed by id and revoked; a warning when no running server uses
the store it was made in."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.servers_support import cli, serve
from tests.site_support import settings_for

pytestmark = pytest.mark.cluster


def test_tokens_are_printed_once_listed_by_id_and_revoked(redis_url: str) -> None:
    created = cli("tokens", "create", "--role", "ingest", "--name", "gyeongbuk-province", "--redis-url", redis_url)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("sr_")
    listed = cli("tokens", "list", "--redis-url", redis_url)
    assert "gyeongbuk-province" in listed.stdout and token not in listed.stdout
    token_id = listed.stdout.split()[0]
    assert cli("tokens", "revoke", token_id, "--redis-url", redis_url).returncode == 0
    assert "gyeongbuk-province" not in cli("tokens", "list", "--redis-url", redis_url).stdout
    bad = cli("tokens", "create", "--role", "mayor", "--redis-url", redis_url)
    assert bad.returncode == 2 and "viewer, ingest, staff, operator, admin" in bad.stderr


def test_tokens_create_warns_when_no_running_server_uses_its_store(redis_url: str, tmp_path: Path) -> None:
    # Made for a store nobody serves (today's `up` uses another --data-dir): the token alone on stdout, a warning
    # naming the store and how to start a server on it.
    lonely = cli("tokens", "create", "--role", "staff", "--staff", "ds-lee", "--data-dir", str(tmp_path / "var"))
    assert lonely.returncode == 0, lonely.stderr
    assert lonely.stdout.strip().startswith("sr_") and len(lonely.stdout.split()) == 1
    assert "warning: no running `situationroom up`" in lonely.stderr
    assert f"--data-dir {tmp_path / 'var'}" in lonely.stderr
    # With a web role on that Redis, no warning.
    with serve(settings_for(redis_url), lifespan="on"):
        served = cli("tokens", "create", "--role", "viewer", "--name", "wall", "--redis-url", redis_url)
    assert served.returncode == 0 and served.stderr == "", served.stderr
    # Once it stops, it no longer counts as running.
    after = cli("tokens", "create", "--role", "viewer", "--name", "wall-2", "--redis-url", redis_url)
    assert "warning: no running" in after.stderr and "--redis-url" in after.stderr
