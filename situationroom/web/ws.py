"""The websocket endpoint `/ws` (docs/websocket.md): hello, subscriptions with snapshot or resume, heartbeats."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, WebSocket, WebSocketDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from situationroom import __version__
from situationroom.clock import now_ms
from situationroom.web import auth, clearance
from situationroom.web.errors import ApiError
from situationroom.web.fanout import Client, Fanout, Frame, TopicError

RAW_SEND = "situationroom.raw_send"
"""Scope key under which the server's own ASGI `send` of a websocket is kept (see CaptureSend)."""
SUBSCRIBE_KEYS = frozenset({"type", "topics", "resume", "ref"})
FRAME_TYPES = "subscribe, ping, pong"
MAX_ECHO = 200
"""Characters of an offending value echoed in an error frame."""


class CaptureSend:
    """ASGI middleware that keeps the server's `send` of each websocket in the scope, before the
    framework wraps it, so the fan-out can share encoded frames on uvicorn's transport."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            scope[RAW_SEND] = send
        await self.app(scope, receive, send)


def install(app: FastAPI) -> None:
    """Add `/ws` to the app; the fan-out is `app.state.fanout` (others push control frames through it)."""
    ctx = app.state.ctx
    app.state.fanout = Fanout(ctx.client, ctx.catalog, ctx.settings)
    app.add_middleware(CaptureSend)
    app.include_router(router)


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The fan-out's reader runs while the server does."""
    fanout: Fanout = app.state.fanout
    await fanout.start()
    try:
        yield
    finally:
        await fanout.stop()


router = APIRouter(lifespan=lifespan)


class BadFrame(Exception):
    def __init__(self, message: str, field: str, value: Any) -> None:
        super().__init__(message)
        self.message, self.field, self.value = message, field, value


def _short(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_ECHO:
        return value[:MAX_ECHO] + "…"
    if isinstance(value, (dict, list)):
        text = orjson.dumps(value, default=str).decode()
        return value if len(text) <= MAX_ECHO else text[:MAX_ECHO] + "…"
    return value


def error_frame(message: str, field: str, value: Any, ref: dict[str, Any]) -> Frame:
    return Frame(orjson.dumps({"type": "error", "message": message, "field": field, "value": _short(value), **ref},
                              default=str))


@router.websocket("/ws")
async def websocket_endpoint(websocket: WebSocket) -> None:
    fanout: Fanout = websocket.app.state.fanout
    await websocket.accept()
    if not fanout.running:
        await websocket.close(code=1011, reason="live updates are not running on this server")
        return
    hidden = await _hidden_from_caller(websocket, fanout)
    if hidden is None:
        return
    client = fanout.connect(websocket, websocket.scope.get(RAW_SEND), hidden)
    try:
        build = getattr(websocket.app.state, "build", __version__)
        await client.send(Frame.of({"type": "hello", "version": __version__, "build": build,
                                    "heartbeat_s": fanout.settings.ws_heartbeat,
                                    "beat_s": fanout.settings.ws_client_beat, "server_time": now_ms(),
                                    "max_frame": fanout.settings.ws_max_frame, "store_ok": fanout.store_ok,
                                    # What the screen will never be sent, so it can say so rather than show blanks.
                                    "withheld": sorted(hidden)}))
        while not client.closed:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            client.last_heard = time.monotonic()
            await _handle(fanout, client, message)
    except WebSocketDisconnect:
        pass
    except (RuntimeError, OSError):
        # Sending after the peer went away: nothing left to answer.
        if not client.closed:
            raise
    finally:
        fanout.disconnect(client)


async def _hidden_from_caller(websocket: WebSocket, fanout: Fanout) -> frozenset[str] | None:
    """The restricted indicators the caller may not read (docs/access.md): who it is comes from the handshake's
    `Authorization: Bearer` header or the browser's signed-in session, as for the HTTP API. None when the caller
    is refused: the socket is then closed with 1008 and the reason (an error frame says it first)."""
    try:
        record = await auth.identify(websocket)
        if record is None and not fanout.settings.public_read:
            raise ApiError(401, "a bearer token is required (Authorization: Bearer <token>), or sign in on a page")
    except ApiError as exc:
        await websocket.send_text(error_frame(exc.message, exc.field or "Authorization", exc.value, {}).text)
        await websocket.close(code=1008, reason=exc.message[:120])
        return None
    return clearance.hidden(websocket, record)


async def _handle(fanout: Fanout, client: Client, message: dict[str, Any]) -> None:
    ref: dict[str, Any] = {}
    try:
        obj = _parse(message, fanout.settings.ws_max_frame)
        if "ref" in obj:
            ref = {"ref": obj["ref"]}
        kind = obj.get("type")
        if kind == "ping":
            await client.send(Frame.of({"type": "pong", "t": obj.get("t"), "server_time": now_ms()}))
        elif kind == "pong":
            pass  # hearing from the client is all a pong is for
        elif kind == "subscribe":
            unknown = sorted(set(obj) - SUBSCRIBE_KEYS)
            if unknown:
                raise BadFrame(f"unknown key in subscribe; keys: {', '.join(sorted(SUBSCRIBE_KEYS))}", unknown[0],
                               obj[unknown[0]])
            if "topics" not in obj:
                raise BadFrame("subscribe needs topics", "topics", None)
            try:
                topics = fanout.router.parse(obj["topics"])
            except TopicError as exc:
                raise BadFrame(exc.message, exc.field, exc.value) from None
            resume = obj.get("resume")
            if resume is not None and not isinstance(resume, str):
                raise BadFrame("resume must be an update-stream id (a string such as \"1790000000000-0\") or null",
                               "resume", resume)
            await fanout.subscribe(client, topics, resume, obj.get("ref"), "ref" in obj)
        elif kind is None:
            raise BadFrame(f"a frame needs a type: {FRAME_TYPES}", "type", None)
        else:
            raise BadFrame(f"unknown frame type; types: {FRAME_TYPES}", "type", kind)
    except BadFrame as exc:
        await client.send(error_frame(exc.message, exc.field, exc.value, ref))


def _parse(message: dict[str, Any], limit: int) -> dict[str, Any]:
    text = message.get("text")
    if text is None:
        data = message.get("bytes") or b""
        raise BadFrame("binary frames are not part of the protocol; send JSON text frames", "frame",
                       f"{len(data)} bytes")
    if len(text) > limit:
        raise BadFrame(f"frame too large: at most {limit} bytes", "frame", f"{len(text)} characters")
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise BadFrame(f"not valid JSON: {exc}", "frame", text) from None
    if not isinstance(obj, dict):
        raise BadFrame(f"a frame is a JSON object with a type ({FRAME_TYPES})", "frame", text)
    return obj
