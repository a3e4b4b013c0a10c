"""One JSON error shape for every HTTP error: what is wrong, in which field, with which value."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


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
    err: dict[str, Any] = {"message": message}
    if field is not None:
        err["field"] = field
        err["value"] = value
    err.update(extra)
    return {"error": err}


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.message, exc.field, exc.value), exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for e in exc.errors():
            loc = [str(p) for p in e["loc"] if p not in ("query", "path", "body")]
            errors.append({"field": ".".join(loc) or None, "message": e["msg"], "value": e.get("input")})
        first = errors[0] if errors else {"message": "invalid request", "field": None, "value": None}
        return JSONResponse(error_body(first["message"], first["field"], first["value"], errors=errors), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(error_body(str(exc.detail)), exc.status_code, headers=exc.headers)

    @app.exception_handler(RedisConnectionError)
    @app.exception_handler(RedisTimeoutError)
    async def _redis_down(_: Request, exc: Exception) -> JSONResponse:
        log.error("Redis unavailable: %s", exc)
        return JSONResponse(error_body("the data store (Redis) is unavailable; try again shortly"), 503,
                            headers={"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("internal error; the server log has the details"), 500)
