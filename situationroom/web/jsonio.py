"""JSON in and out of the HTTP API: the response class every route answers with, and request bodies
read one way everywhere (JSON content type, a size limit, orjson's parser), so a bad body is a 4xx."""

from __future__ import annotations

import email.message
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute

from situationroom.web.errors import ApiError

BODY_LIMIT = 64 * 1024
"""Largest body of the routes whose body FastAPI reads (acknowledgements, silences, subscriptions):
each is a small form, so anything larger is refused unread."""


class JSON(JSONResponse):
    """A JSON answer written by orjson (documented in OpenAPI as JSON, with the route's response model)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def is_json(content_type: str) -> bool:
    """Whether a Content-Type header names JSON (application/json, application/<something>+json)."""
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it is longer than `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"body is larger than {limit} bytes", field="body", value=int(declared))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"body is larger than {limit} bytes", field="body", value=size)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, limit: int, *, type_required: bool = True) -> Any:
    """The request body parsed as JSON: 415 for another content type (or none, when `type_required`),
    413 beyond `limit` bytes, 400 for a body that is not JSON (malformed, or nested past 1024 levels)."""
    check_type(request, type_required)
    return parse(await read_body(request, limit))


def check_type(request: Request, required: bool = True) -> None:
    content_type = request.headers.get("content-type")
    if (content_type is None and required) or (content_type is not None and not is_json(content_type)):
        raise ApiError(415, "send the body as JSON, with Content-Type: application/json", field="content-type",
                       value=content_type)


def parse(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"body is not valid JSON: {exc}", field="body") from None


class JSONBodyRoute(APIRoute):
    """A route whose body FastAPI validates: the body is read here first, the way `read_json` reads it,
    so a form post, a body too large or nested too deeply gets a 4xx in the API's error shape."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def checked(request: Request) -> Response:
            if _has_body(request):
                check_type(request)
                body = await read_body(request, BODY_LIMIT)
                parsed = parse(body) if body else None
                # FastAPI reads the body and its JSON from the request again: it gets what was read here.
                request._body = body
                if body:
                    request._json = parsed
            return await handler(request)

        return checked


def _has_body(request: Request) -> bool:
    if "transfer-encoding" in request.headers:
        return True
    declared = request.headers.get("content-length", "0")
    return not declared.isdigit() or int(declared) > 0
