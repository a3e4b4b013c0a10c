"""Who is asking: a bearer token, or a browser's signed-in session cookie (CSRF-checked on changes); failed
token checks are counted per address (web.lockout), and `audited` records what an identified caller changed."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from starlette.requests import HTTPConnection

from situationroom import audit, tokens
from situationroom.web import session
from situationroom.web.errors import ApiError

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"


def address(request: HTTPConnection) -> str:
    """The client's address (uvicorn puts a trusted local proxy's X-Forwarded-For here)."""
    return request.client.host if request.client else "unknown"


async def check_token(request: HTTPConnection, token: str) -> dict[str, Any]:
    """The record of a bearer token, or 401; an address past its failed checks gets 429 with Retry-After, and its
    tokens are not even looked at until then (a right guess must not be told from a wrong one)."""
    ctx = request.app.state.ctx
    lockout = request.app.state.lockout
    addr = address(request)
    # Both in one round trip: the lockout check costs nothing extra on the hot path (push ingest).
    pipe = ctx.client.pipeline(transaction=False)
    lockout.queue_check(pipe, addr)
    token_digest = tokens.queue_lookup(pipe, token)
    count, pttl, raw = await pipe.execute()
    wait, record = lockout.retry_after_of(count, pttl), tokens.record_of(raw, token_digest)
    if wait is not None:
        raise ApiError(429, f"too many failed token checks from {addr}; try again in {wait} s",
                       headers={"Retry-After": str(wait)})
    if record is None:
        if await lockout.failed(addr):
            log.warning("%s made %d failed token checks within %d s: refused until the window ends", addr,
                        lockout.limit, lockout.window)
            await audit.record(ctx.client, "auth.lockout", actor=audit.Actor("unknown", "none", addr), target=addr,
                               detail={"failures": lockout.limit, "window_s": lockout.window},
                               maxlen=ctx.settings.audit_maxlen)
        raise ApiError(401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"})
    return record


async def identify(request: HTTPConnection) -> dict[str, Any] | None:
    """The token record behind a request (bearer header first, else the session cookie), None when it has neither.

    A request that changes something on the strength of a cookie must come from the product's own page: its
    Origin (when the browser sends one) is this server, and it carries the session's anti-CSRF token."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "a bearer token is required (Authorization: Bearer <token>)",
                           headers={"WWW-Authenticate": "Bearer"})
        return await check_token(request, token.strip())
    sid = request.cookies.get(session.COOKIE)
    if not sid:
        return None
    ctx = request.app.state.ctx
    found = await session.lookup(ctx.client, sid, ctx.settings.session_ttl)
    if found is None:
        raise ApiError(401, "this sign-in has ended (signed out, expired, or its token was revoked); sign in again",
                       headers={"WWW-Authenticate": "Bearer"})
    record, csrf = found
    if request.scope["type"] == "websocket":
        # A socket changes nothing, but what it reads may be restricted: another site's page must not ride the cookie.
        check_same_origin(request)
    elif request.scope.get("method") not in SAFE_METHODS:
        check_same_origin(request)
        if not hmac.compare_digest(request.headers.get(CSRF_HEADER, ""), csrf):
            raise ApiError(403, f"a change made with a signed-in browser needs the {CSRF_HEADER} header its page "
                                "was given (GET /api/v1/session); bearer tokens need none", field=CSRF_HEADER)
    return record


def check_same_origin(request: HTTPConnection) -> None:
    """Refuse a browser request sent from another site's page (the Origin header names the page's site)."""
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        raise ApiError(403, "a request from another site's page is refused", field="Origin", value=origin)


def require(scope: str) -> Callable[[Request], Awaitable[dict[str, Any] | None]]:
    """A dependency that admits requests whose token (or signed-in session) has `scope`; reads may be public.

    It returns the token record: `name`, `role`, `scopes` and `staff` (the staff id a staff token is
    bound to, else None), so handlers know who acts; None only for a public read without a token (a public read
    with a token or a signed-in session gets its record, so restricted indicators open to those who may read them).
    """

    async def check(request: Request) -> dict[str, Any] | None:
        ctx = request.app.state.ctx
        record = await identify(request)
        if scope == "read" and ctx.settings.public_read and record is None:
            # Reads are open, but a caller who shows a token is still known: restricted indicators ask who it is.
            return None
        if record is None:
            raise ApiError(401, "a bearer token is required (Authorization: Bearer <token>), or sign in on the page",
                           headers={"WWW-Authenticate": "Bearer"})
        if scope not in record["scopes"]:
            raise ApiError(403, f"the token's role ({record['role']}) does not have the {scope} scope")
        return record

    return check


def actor(record: dict[str, Any] | None) -> str | None:
    """Who a request acts as, for the record of an acknowledgement or silence: the staff id, else the token name."""
    if record is None:
        return None
    return record.get("staff") or record.get("name")


async def audited(request: Request, record: Mapping[str, Any] | None, action: str, target: str = "",
                  detail: Mapping[str, Any] | None = None) -> None:
    """Record in the audit log that the caller behind `record` did `action` (see situationroom.audit)."""
    ctx = request.app.state.ctx
    await audit.record(ctx.client, action, actor=audit.Actor.of_token(record, address(request)), target=target,
                       detail=detail, maxlen=ctx.settings.audit_maxlen)
