"""One JSON error shape for every HTTP error: what is wrong, in which field, with which value (and its OpenAPI)."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, Field
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from situationroom.echo import cut, shown
from situationroom.errors import Refused
from situationroom.streams import NotReplicated

log = logging.getLogger(__name__)

ECHO_BYTES = 1024
"""Bytes of an offending value an error echoes back; a longer one is cut, its length in `value_bytes`."""
MAX_PROBLEMS = 20
"""Problems of one request listed in `errors`: a body with thousands of bad fields gets a bounded answer."""


class ApiError(Exception):
    def __init__(self, status: int, message: str, *, field: str | None = None, value: Any = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.value = value
        self.headers = headers


def error_body(message: str, field: str | None = None, value: Any = None, **extra: Any) -> dict[str, Any]:
    err: dict[str, Any] = {"message": cut(message, 4 * ECHO_BYTES)}
    if field is not None:
        err["field"] = cut(field, ECHO_BYTES)
        err["value"], size = shown(value, ECHO_BYTES)
        if size is not None:
            err["value_bytes"] = size
    err.update(extra)
    return {"error": err}


def _answer(body: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers=headers, media_type="application/json")


# ---------------------------------------------------------------------------------------------- OpenAPI

class Problem(BaseModel):
    """One problem of a request that FastAPI validated."""

    field: str | None = Field(description="the parameter or body field, dotted (e.g. `quiet_hours.start`)")
    message: str
    value: Any = Field(default=None, description="the value given")


class ErrorDetail(BaseModel):
    message: str = Field(description="what is wrong, in words")
    field: str | None = Field(default=None, description="which parameter, body field or header")
    value: Any = Field(default=None, description=f"the value given (a value longer than {ECHO_BYTES} bytes is "
                                                 "cut: a string of its start)")
    value_bytes: int | None = Field(default=None, description="the length of a value that was cut")
    errors: list[Problem] | None = Field(default=None, description="every problem, for a request FastAPI validated")


class ErrorOut(BaseModel):
    """Every error the API answers: `{"error": {"message", "field", "value"}}`."""

    error: ErrorDetail


MEANING = {
    400: "the body is not valid JSON",
    401: "no token, or an unknown or revoked one (with WWW-Authenticate: Bearer)",
    403: "the token's role may not do this",
    404: "no such thing",
    409: "the request conflicts with the current state",
    413: "the body is too large",
    415: "the body is not sent as JSON (Content-Type: application/json)",
    422: "a parameter or a field of the body is wrong: `field` and `value` name it",
    429: "too many failed token checks from this address: try again after Retry-After seconds (docs/access.md)",
    503: "the data store (Redis) is unavailable (with Retry-After)",
}


def documented(*statuses: int, answers_json: bool = True) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the errors a route answers with, each in the error shape (429 comes with 401).

    A route that answers something else (XML) names the shape by reference: given as a model, FastAPI
    would document the error in the route's own media type."""
    if 401 in statuses:
        # Whatever checks a token may find its address locked out after too many failed checks.
        statuses = (*statuses, 429)
    if answers_json:
        return {status: {"model": ErrorOut, "description": MEANING[status]} for status in statuses}
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
    return {status: {"description": MEANING[status], "content": content} for status in statuses}


# ---------------------------------------------------------------------------------------------- handlers

def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> Response:
        return _answer(error_body(exc.message, exc.field, exc.value), exc.status, exc.headers)

    @app.exception_handler(Refused)
    async def _refused(_: Request, exc: Refused) -> Response:
        # A rule's refusal (access, incidents) is answered as it stands: status, message, field and value.
        return _answer(error_body(exc.message, exc.field, exc.value), exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> Response:
        problems, inputs = [], []
        for e in exc.errors()[:MAX_PROBLEMS]:
            loc = [str(p) for p in e["loc"] if p not in ("query", "path", "body")]
            # A validator's own message comes prefixed by pydantic ("Value error, ..."): the reason is the rest.
            message = str(e["msg"]).removeprefix("Value error, ")
            problems.append({"field": ".".join(loc) or None, "message": message,
                             "value": shown(e.get("input"), ECHO_BYTES)[0]})
            inputs.append(e.get("input"))
        if not problems:
            return _answer(error_body("invalid request"), 422)
        first = problems[0]
        return _answer(error_body(first["message"], first["field"], inputs[0], errors=problems), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        return _answer(error_body(str(exc.detail)), exc.status_code, exc.headers)

    @app.exception_handler(NotReplicated)
    async def _not_replicated(_: Request, exc: NotReplicated) -> Response:
        log.warning("ingest not confirmed by a replica: %s", exc)
        return _answer(error_body(f"not stored safely yet: {exc}"), 503, {"Retry-After": "1"})

    @app.exception_handler(RedisConnectionError)
    @app.exception_handler(RedisTimeoutError)
    async def _redis_down(_: Request, exc: Exception) -> Response:
        log.error("Redis unavailable: %s", exc)
        return _answer(error_body("the data store (Redis) is unavailable; try again shortly"), 503,
                       {"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return _answer(error_body("internal error; the server log has the details"), 500)
