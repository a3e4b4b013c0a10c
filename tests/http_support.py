"""Calling the HTTP API as a client does: a token's Authorization header, and what every error answer carries."""

from __future__ import annotations

from typing import Any

import httpx

from situationroom import tokens
from situationroom.redisconn import sync_client


def bearer(url: str, role: str, name: str | None = None, *, staff: str | None = None) -> dict[str, str]:
    """The Authorization header of a new token of `role` in the Redis at `url`, named `name` (default: the staff
    member it signs in, else the role)."""
    client = sync_client(url)
    try:
        return {"Authorization": f"Bearer {tokens.create(client, role, name or staff or role, staff=staff)}"}
    finally:
        client.close()


def assert_error(resp: httpx.Response, status: int, field: str | None = None, value: Any = ...) -> dict:
    """An error answer as docs/access.md and the API promise: the status, JSON, a message and no traceback, and
    the field and value named when given."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    err = resp.json()["error"]
    assert err["message"] and "Traceback" not in resp.text
    if field is not None:
        assert err["field"] == field
    if value is not ...:
        assert err["value"] == value
    return err
