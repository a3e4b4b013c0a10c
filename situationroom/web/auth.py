"""Bearer-token checks for the API: a token's role gives its scopes (situationroom.tokens)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request

from situationroom import tokens
from situationroom.web.errors import ApiError


def require(scope: str) -> Callable[[Request], Awaitable[dict[str, Any] | None]]:
    """A dependency that admits requests whose token has `scope` (reads may be public, see settings).

    It returns the token record: `name`, `role`, `scopes` and `staff` (the staff id a staff token is
    bound to, else None), so handlers know who acts; None only for a public read without a token.
    """

    async def check(request: Request) -> dict[str, Any] | None:
        ctx = request.app.state.ctx
        if scope == "read" and ctx.settings.public_read:
            return None
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "a bearer token is required (Authorization: Bearer <token>)",
                           headers={"WWW-Authenticate": "Bearer"})
        record = await tokens.lookup(ctx.client, token.strip())
        if record is None:
            raise ApiError(401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"})
        if scope not in record["scopes"]:
            raise ApiError(403, f"the token's role ({record['role']}) does not have the {scope} scope")
        return record

    return check


def actor(record: dict[str, Any] | None) -> str | None:
    """Who a request acts as, for the record of an acknowledgement or silence: the staff id, else the token name."""
    if record is None:
        return None
    return record.get("staff") or record.get("name")
