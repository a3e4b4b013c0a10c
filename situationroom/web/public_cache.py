"""Answers of the citizens' view served from memory: computed (and gzipped) at most once per period per process
(concurrent askers share one computation), with a strong ETag, 304 to a matching If-None-Match, and Cache-Control
for proxies."""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass

from async_lru import alru_cache
from fastapi import Request
from fastapi.responses import Response

GZIP_MIN = 1024
"""Bytes below which an answer is sent as it is."""


@dataclass(frozen=True, slots=True)
class Body:
    content: bytes
    etag: str
    """A strong validator: the hash of the exact bytes, so equal answers from two processes share it."""
    gzipped: bytes | None
    """The same bytes gzipped once here, not once per request: the map's geometry makes a page of about 90 KB, a
    phone on a crowded mobile network during a typhoon gets about a fifth of it. None for a body under GZIP_MIN,
    which gzip would hardly shorten."""

    @property
    def gzip_etag(self) -> str:
        """A strong validator names exact bytes, so the gzipped body has one of its own (RFC 9110 8.8.3)."""
        return self.etag[:-1] + '-gz"'


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
        zipped = gzip.compress(content, compresslevel=6, mtime=0) if len(content) >= GZIP_MIN else None
        return Body(content, etag_of(content), zipped)

    async def respond(self, request: Request, *args: Hashable) -> Response:
        body = await self.body(*args)
        zipped = body.gzipped is not None and accepts_gzip(request.headers.get("accept-encoding"))
        etag = body.gzip_etag if zipped else body.etag
        headers = {"ETag": etag, "Cache-Control": cache_control(self.period), "Vary": "Accept-Encoding"}
        if matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        if zipped and body.gzipped is not None:
            headers["Content-Encoding"] = "gzip"
            return Response(body.gzipped, media_type=self.media_type, headers=headers)
        return Response(body.content, media_type=self.media_type, headers=headers)


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an Accept-Encoding header takes gzip (not refused with q=0)."""
    for part in (accept_encoding or "").split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            q = params.strip().removeprefix("q=").strip() if params.strip().startswith("q=") else "1"
            try:
                return float(q) > 0
            except ValueError:
                return False
    return False
