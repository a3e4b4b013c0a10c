"""Sign in once with a token, stay signed in: POST/GET/DELETE /api/v1/session (docs/access.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from situationroom.web import schemas, session
from situationroom.web.auth import address, audited, check_same_origin, check_token, identify
from situationroom.web.errors import ApiError, documented
from situationroom.web.jsonio import JSON, JSONBodyRoute

router = APIRouter(tags=["session"], route_class=JSONBodyRoute)


def _who(record: dict[str, Any]) -> dict[str, Any]:
    return {"name": record["name"], "role": record["role"], "staff": record.get("staff"),
            "scopes": sorted(record["scopes"])}


def _cookie(request: Request, response: Response, sid: str, max_age: int) -> None:
    response.set_cookie(session.COOKIE, sid, max_age=max_age, path="/", httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")


@router.post("/api/v1/session", response_class=JSON, response_model=schemas.SessionOut,
             responses=documented(400, 401, 403, 413, 415, 422, 503),
             summary="Sign in with a token: an HTTP-only, SameSite=Strict session cookie and the anti-CSRF token "
                     "its changes must carry (X-CSRF-Token)")
async def sign_in(request: Request, body: schemas.SessionIn) -> JSON:
    check_same_origin(request)
    record = await check_token(request, body.token.strip())
    ctx = request.app.state.ctx
    sid, csrf = await session.open_session(ctx.client, record, address(request), ctx.settings.session_ttl)
    await audited(request, record, "session.signin", target=record["name"])
    out = JSON({"signed_in": True, **_who(record), "csrf": csrf})
    _cookie(request, out, sid, int(ctx.settings.session_ttl))
    return out


@router.get("/api/v1/session", response_class=JSON, response_model=schemas.SessionOut,
            responses=documented(401, 503), summary="Who this browser is signed in as (signed_in false when it is not)")
async def current(request: Request) -> JSON:
    if request.headers.get("authorization") is None and request.cookies.get(session.COOKIE):
        ctx = request.app.state.ctx
        found = await session.lookup(ctx.client, request.cookies[session.COOKIE], ctx.settings.session_ttl)
        if found is None:
            out = JSON({"signed_in": False})
            out.delete_cookie(session.COOKIE, path="/")
            return out
        record, csrf = found
        return JSON({"signed_in": True, **_who(record), "csrf": csrf})
    who = await identify(request)
    return JSON({"signed_in": False} if who is None else {"signed_in": True, **_who(who), "csrf": None})


@router.delete("/api/v1/session", status_code=204, responses=documented(401, 403, 503),
               summary="Sign out: the session ends and its cookie is cleared")
async def sign_out(request: Request) -> Response:
    sid = request.cookies.get(session.COOKIE)
    out = Response(status_code=204)
    if not sid:
        return out
    try:
        record = await identify(request)  # checks the anti-CSRF token: another site must not sign staff out
    except ApiError as exc:
        if exc.status != 401:
            raise
        record = None
    await session.close(request.app.state.ctx.client, sid)
    out.delete_cookie(session.COOKIE, path="/")
    if record is not None:
        await audited(request, record, "session.signout", target=record["name"])
    return out
