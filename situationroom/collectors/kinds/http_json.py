"""The `http_json` collector kind: any JSON API, records picked by JMESPath, pages followed, mapped to samples."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urljoin

import httpx
import orjson
from pydantic import Field, field_validator, model_validator

from situationroom.collectors import base
from situationroom.collectors.base import CollectError, CollectorContext, CollectorKind, CollectResult
from situationroom.collectors.http import USER_AGENT, check_http_url, encoded_too, excerpt, fetch, where
from situationroom.collectors.mapping import Mapping, compile_path, search
from situationroom.collectors.registry import register
from situationroom.durations import Duration


class Pagination(base.Params):
    """Either page numbers (`page_param`, stopping by `total`, `has_more` or a short page) or a next URL (`next`)."""

    page_param: str | None = None
    """Query parameter carrying the page number (data.go.kr: pageNo)."""
    start: int = 1
    size_param: str | None = None
    """Query parameter carrying the page size (data.go.kr: numOfRows)."""
    size: int = Field(default=100, ge=1, le=100_000)
    total: str | None = None
    """JMESPath giving the total number of records (response.body.totalCount): stop once that many are read."""
    has_more: str | None = None
    """JMESPath that is true while more pages follow."""
    next: str | None = None
    """JMESPath giving the next page's URL (absolute or relative); stop when it is empty."""
    max_pages: int = Field(default=20, ge=1, le=1000)
    """A safety stop: a source that never says "last page" is not read forever."""

    @field_validator("total", "has_more", "next")
    @classmethod
    def _jmespath(cls, v: str | None) -> str | None:
        if v is not None:
            compile_path(v)
        return v

    @model_validator(mode="after")
    def _style(self) -> Pagination:
        if (self.page_param is None) == (self.next is None):
            raise ValueError("give either page_param (page numbers) or next (a next-page URL)")
        if self.next is not None and (self.total or self.has_more or self.size_param):
            raise ValueError("total, has_more and size_param go with page_param, not with next")
        if self.total is not None and self.has_more is not None:
            raise ValueError("give total or has_more, not both")
        return self


class HttpJsonParams(base.Params):
    url: str
    method: Literal["GET", "POST"] = "GET"
    query: dict[str, str | int | float | bool] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    body: dict[str, Any] | list[Any] | None = None
    """A JSON body for POST."""
    records: str = "@"
    """JMESPath giving the list of records (an object is one record); finding nothing is an error."""
    ok: str | None = None
    """JMESPath that must be true for an answer to be good (`response.header.resultCode == '00'`)."""
    error_text: str | None = None
    """JMESPath quoted in the error when `ok` is false (`response.header.resultMsg`)."""
    pagination: Pagination | None = None
    timeout: Duration = 20.0
    """Per request."""
    verify_tls: bool = True
    map: Mapping

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return check_http_url(v)

    @field_validator("records", "ok", "error_text")
    @classmethod
    def _jmespath(cls, v: str | None) -> str | None:
        if v is not None:
            compile_path(v)
        return v

    @field_validator("timeout")
    @classmethod
    def _positive(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("timeout must be longer than 0s")
        return v

    @model_validator(mode="after")
    def _body(self) -> HttpJson.Params:
        if self.body is not None and self.method != "POST":
            raise ValueError("body goes with method: POST")
        if self.error_text is not None and self.ok is None:
            raise ValueError("error_text goes with ok")
        return self


@register
class HttpJson(CollectorKind[HttpJsonParams]):
    """Fetches a JSON document (and its further pages), takes the records, maps them to samples."""

    name = "http_json"

    Params = HttpJsonParams

    def __init__(self, params: HttpJsonParams, context: CollectorContext) -> None:
        super().__init__(params, context)
        self.p = params
        params.map.check_catalog(context.catalog)
        self._records = compile_path(params.records)
        self._ok = compile_path(params.ok) if params.ok else None
        self._error_text = compile_path(params.error_text) if params.error_text else None
        pg = params.pagination
        self._total = compile_path(pg.total) if pg and pg.total else None
        self._has_more = compile_path(pg.has_more) if pg and pg.has_more else None
        self._next = compile_path(pg.next) if pg and pg.next else None
        self._client: httpx.AsyncClient | None = None
        self.redact = encoded_too(context.redact)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.p.timeout, verify=self.p.verify_tls,
                                             follow_redirects=True,
                                             headers={"User-Agent": USER_AGENT, "Accept": "application/json",
                                                      **self.p.headers})
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _request(self, url: str, query: dict[str, Any] | None) -> httpx.Request:
        params = {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in (query or {}).items()}
        kwargs: dict[str, Any] = {"params": params} if query is not None else {}
        if self.p.body is not None:
            kwargs["json"] = self.p.body
        return self._http().build_request(self.p.method, url, **kwargs)

    async def _page(self, request: httpx.Request) -> tuple[Any, list[Any]]:
        redact = self.redact
        response = await fetch(self._http(), request, redact)
        src = where(str(request.url))
        try:
            doc = orjson.loads(response.content.removeprefix(b"\xef\xbb\xbf"))  # some portals send a BOM
        except orjson.JSONDecodeError as exc:
            # Where JSON broke helps with a cut-off document; for an XML or HTML page the text says more.
            detail = f" ({exc})" if response.content.lstrip()[:1] in (b"{", b"[") else ""
            raise CollectError(redact(f"{src} answered something that is not JSON{detail}: "
                                      f"{excerpt(response.content)}")) from None
        if self._ok is not None and not search(self._ok, doc):
            said = search(self._error_text, doc) if self._error_text else None
            text = said if isinstance(said, str | int | float) else excerpt(orjson.dumps(doc))
            raise CollectError(redact(f"{src} answered an error: {text}"))
        found = search(self._records, doc)
        if found is None:
            raise CollectError(redact(f"{src}: records ({self.p.records}) found nothing in the answer: "
                                      f"{excerpt(orjson.dumps(doc))}"))
        return doc, found if isinstance(found, list) else [found]

    async def fetch_records(self) -> list[Any]:
        """Every record of every page."""
        p, pg = self.p, self.p.pagination
        if pg is None:
            return (await self._page(self._request(p.url, p.query)))[1]
        records: list[Any] = []
        if pg.next is not None:
            url: str | None = p.url
            query: dict[str, Any] | None = dict(p.query)
            for _ in range(pg.max_pages):
                assert url is not None
                doc, page = await self._page(self._request(url, query))
                records += page
                nxt = search(self._next, doc) if self._next else None
                if not nxt or not isinstance(nxt, str):
                    return records
                url, query = urljoin(url, nxt), None  # the next URL carries its own query
            self._too_many_pages(pg)
            return records
        assert pg.page_param is not None
        number = pg.start
        for _ in range(pg.max_pages):
            query = {**p.query, pg.page_param: number}
            if pg.size_param:
                query[pg.size_param] = pg.size
            doc, page = await self._page(self._request(p.url, query))
            records += page
            if self._total is not None:
                total = search(self._total, doc)
                try:
                    more = len(records) < int(total) and bool(page)
                except (TypeError, ValueError):
                    raise CollectError(self.redact(
                        f"{where(p.url)}: pagination.total ({pg.total}) is not a number: {total!r}")) from None
            elif self._has_more is not None:
                more = bool(search(self._has_more, doc)) and bool(page)
            else:  # no hint from the source: a short page is the last one
                more = len(page) >= pg.size
            if not more:
                return records
            number += 1
        self._too_many_pages(pg)
        return records

    def _too_many_pages(self, pg: Pagination) -> None:
        self.context.log.warning("stopped after pagination.max_pages (%d) pages; more may follow", pg.max_pages)

    async def collect(self, now: float) -> CollectResult:
        records = await self.fetch_records()
        catalog = self.context.catalog
        return self.p.map.apply(records, now=now, source=self.context.collector_id, catalog=catalog,
                                tz=catalog.city.timezone)

