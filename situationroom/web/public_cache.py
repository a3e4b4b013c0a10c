"""Answers of the citizens' view served from memory: computed at most once per period per process (concurrent askers
share one computation), with a strong ETag, 304 to a matching If-None-Match, and Cache-Control for proxies."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass

from async_lru import alru_cache
from fastapi import Request
from fastapi.responses import Response


@dataclass(frozen=True, slots=True)
class Body:
    content: bytes
    etag: str
    """A strong validator: the hash of the exact bytes, so equal answers from two processes share it."""


def etag_of(content: bytes) -> str:
    return '"' + hashlib.blake2b(content, digest_size=16).hexdigest() + '"'


def matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an If-None-Match header names this ETag (RFC 9110: weak comparison, `*` for any)."""
    if not if_none_match:
        return False
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or etag in tags


def cache_control(period: float) -> str:
    """Fresh for one period in any cache (a city's proxy, the browser); then a stale copy may be served for four
    more while it is fetched again, so a crowd arriving at expiry is not all sent through to the server."""
    return f"public, max-age={round(period)}, stale-while-revalidate={round(period * 4)}"


class Cached:
    """One kind of answer (a route's), by its arguments: `make(*args)` runs at most once per `period` seconds for the
    same arguments, and askers arriving while it runs wait for that one run (async-lru's single flight)."""

    def __init__(self, make: Callable[..., Awaitable[bytes]], period: float, media_type: str) -> None:
        self._make = make
        self.period = period
        self.media_type = media_type
        self.body = alru_cache(maxsize=256, ttl=period)(self._body)

    async def _body(self, *args: Hashable) -> Body:
        content = await self._make(*args)
        return Body(content, etag_of(content))

    async def respond(self, request: Request, *args: Hashable) -> Response:
        body = await self.body(*args)
        headers = {"ETag": body.etag, "Cache-Control": cache_control(self.period)}
        if matches(request.headers.get("if-none-match"), body.etag):
            return Response(status_code=304, headers=headers)
        return Response(body.content, media_type=self.media_type, headers=headers)
