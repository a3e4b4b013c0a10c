"""`GET /api/v1/export`: history of one or several indicators as a CSV, XLSX or Parquet file, streamed."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from situationroom import export
from situationroom.export import Layout, Part, Row
from situationroom.history.seam import Ask, Past
from situationroom.web import clearance
from situationroom.web.auth import audited
from situationroom.web.errors import ApiError, documented
from situationroom.web.indicators_api import READ_ERRORS, Reader, checked_range, entities_asked, series_past

router = APIRouter()

CHUNK_MS = {"raw": 86_400_000, "1m": 86_400_000, "1h": 31 * 86_400_000, "1d": 2**53}
"""How much event time one read of the past covers: a day of raw samples or minutes (30 series of minutes are
43,200 rows), a month of hours, every local day at once (a year of 30 series is 11,000 rows). Each is a multiple
of its bucket, so a piece starts on a bucket's start and no bucket is read twice."""

EXPORT_MAX_S = 10 * 366 * 86_400
"""The longest range one export covers: ten years (3,660 pieces of a day, each read even when empty)."""

_FILE = {"csv": "text/csv", "xlsx": export.MEDIA["xlsx"], "parquet": export.MEDIA["parquet"]}


def _file_responses() -> dict[int | str, dict[str, Any]]:
    out = documented(*READ_ERRORS, answers_json=False)
    out[200] = {"description": "the file, streamed", "content": {
        media: {"schema": {"type": "string", "format": "binary"}} for media in _FILE.values()}}
    return out


class Asked:
    """An export request, checked: who may read every indicator of it, its range and its layout."""

    def __init__(self, request: Request, caller: Any, indicator: list[str] | None, entity: list[str] | None,
                 district: str | None, gu: str | None, start: str | None, end: str | None, resolution: str,
                 aggregate: str | None, mode: str, lang: str) -> None:
        catalog = request.app.state.ctx.catalog
        if not indicator:
            raise ApiError(422, "give at least one indicator", field="indicator", value=None)
        parts = []
        for iid in dict.fromkeys(indicator):
            ind = catalog.indicators.get(iid)
            if ind is None:
                raise ApiError(422, "unknown indicator", field="indicator", value=iid)
            clearance.check_read(request, caller, ind)
            parts.append(Part(ind, tuple(entities_asked(catalog, ind, entity or [], district, gu))))
        t_start, t_end = checked_range(start, end, resolution, aggregate, capped=False)
        if t_end - t_start > EXPORT_MAX_S:
            raise ApiError(422, "an export covers at most ten years: ask for a shorter range", field="from",
                           value=start)
        self.layout = Layout(parts, t_start, t_end, resolution, aggregate, mode, lang, catalog.city.timezone)

    def estimate(self) -> int:
        """Rows the export will hold at most (raw samples counted at each indicator's interval)."""
        span = self.layout.end - self.layout.start
        total = 0
        for p in self.layout.parts:
            step = p.indicator.interval if self.layout.resolution == "raw" else export_bucket_s(self.layout.resolution)
            total += (1 if self.layout.aggregate else len(p.entities)) * (math.floor(span / max(step, 1)) + 1)
        return total


def export_bucket_s(resolution: str) -> int:
    return {"1m": 60, "1h": 3600, "1d": 86_400}[resolution]


Format = Annotated[Literal["csv", "xlsx", "parquet"], Query(description="csv (UTF-8 with BOM), xlsx or parquet")]
Lang = Annotated[Literal["ko", "en"], Query(description="language of the headers and the manifest")]
ExportMode = Annotated[Literal["real", "exercise"], Query(description="real data, or exercise data only")]
Indicators = Annotated[list[str] | None, Query(description="indicator id, repeatable")]
Entities = Annotated[list[str] | None, Query(description="entity id, repeatable; optional when each indicator has "
                                                         "one, or with district or gu")]
District = Annotated[str | None, Query(description="every entity of each indicator in this district (행정동 or gu)")]
Gu = Annotated[str | None, Query(description="every entity of each indicator in this gu")]
From = Annotated[str | None, Query(alias="from", description="epoch seconds or ISO 8601; default 1 h before to")]
To = Annotated[str | None, Query(alias="to", description="epoch seconds or ISO 8601; default now")]
Resolution = Annotated[Literal["raw", "1m", "1h", "1d"],
                       Query(description="raw samples, or buckets of a minute, an hour or a local day")]
Aggregate = Annotated[Literal["mean", "min", "max", "sum", "count", "last"] | None,
                      Query(description="one value per bucket over every entity asked for")]


@router.get("/api/v1/export", tags=["indicators"], responses=_file_responses(), response_class=Response,
            summary="History of one or several indicators as a file (CSV, XLSX, Parquet), streamed; every export "
                    "is audited")
async def get_export(request: Request, caller: Reader, indicator: Indicators = None, entity: Entities = None,
                     district: District = None, gu: Gu = None, start: From = None, end: To = None,
                     resolution: Resolution = "1h", aggregate: Aggregate = None, mode: ExportMode = "real",
                     lang: Lang = "ko", format: Format = "csv") -> Response:
    asked = Asked(request, caller, indicator, entity, district, gu, start, end, resolution, aggregate, mode, lang)
    if format == "xlsx" and asked.estimate() > export.XLSX_MAX_ROWS:
        raise ApiError(422, f"up to {asked.estimate():,} rows do not fit a worksheet ({export.XLSX_MAX_ROWS:,} "
                            "rows): ask for csv or parquet, a coarser resolution or a shorter range",
                       field="format", value=format)
    layout = asked.layout
    stamp = time.strftime("%Y%m%d", time.localtime(layout.start))
    name = f"situationroom-{stamp}-{layout.resolution}.{format}"
    return StreamingResponse(_stream(request, caller, layout, format), media_type=export.MEDIA[format],
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/api/v1/export/manifest", tags=["indicators"], responses=documented(*READ_ERRORS, answers_json=False),
            response_class=Response, summary="The manifest of an export as CSV: each indicator's name, unit, source "
                                             "and licence, and the range")
async def get_export_manifest(request: Request, caller: Reader, indicator: Indicators = None,
                              entity: Entities = None, district: District = None, gu: Gu = None,
                              start: From = None, end: To = None, resolution: Resolution = "1h",
                              aggregate: Aggregate = None, mode: ExportMode = "real", lang: Lang = "ko") -> Response:
    asked = Asked(request, caller, indicator, entity, district, gu, start, end, resolution, aggregate, mode, lang)
    return Response(export.manifest_csv(asked.layout), media_type=export.MEDIA["csv"],
                    headers={"Content-Disposition": 'attachment; filename="situationroom-manifest.csv"'})


def _pieces(start_ms: int, end_ms: int, resolution: str) -> list[tuple[int, int]]:
    """[start, end] cut into inclusive pieces of CHUNK_MS, each after the first starting on a multiple of it."""
    step = CHUNK_MS[resolution]
    out = []
    a = start_ms
    while a <= end_ms:
        b = min(a - a % step + step - 1, end_ms)
        out.append((a, b))
        a = b + 1
    return out


def _rows(past: Past, ind: str, aggregate: str | None) -> list[Row]:
    rows: list[Row] = []
    if past.raw:
        for entity, points in past.raw.items():
            rows += [(t, ind, entity, v, None, None, None) for t, v in points]
    elif aggregate is not None:
        rows = [(b.start, ind, "*", _finite(b.value(aggregate)), b.min, b.max, b.count)
                for b in past.buckets.get(None, [])]
    else:
        for entity, buckets in past.buckets.items():
            rows += [(b.start, ind, str(entity), b.mean, b.min, b.max, b.count) for b in buckets]
    rows.sort(key=lambda r: (r[0], r[2]))
    return rows


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


async def _stream(request: Request, caller: Any, layout: Layout, fmt: str) -> AsyncIterator[bytes]:
    writer = export.writer_for(fmt, layout)
    past = series_past(request)
    sent = 0
    complete = False
    try:
        for piece in writer.begin():
            yield piece
        for part in layout.parts:
            for a, b in _pieces(int(layout.start * 1000), int(layout.end * 1000), layout.resolution):
                ask = Ask(part.indicator.id, part.entities, a, b, layout.resolution,
                          combined=layout.aggregate is not None, exercise=layout.mode == "exercise")
                rows = _rows(await past.read(ask), part.indicator.id, layout.aggregate)
                if not rows:
                    continue
                sent += len(rows)
                # Formatting a piece is CPU work: off the event loop, so other requests are answered meanwhile.
                for out in await asyncio.to_thread(lambda r=rows: list(writer.feed(r))):
                    yield out
        # The end is read a piece at a time off the event loop: an XLSX is saved, then sent, from a temporary file.
        ending = writer.end()
        while (piece := await asyncio.to_thread(next, ending, None)) is not None:
            yield piece
        complete = True
    finally:
        # Written when the stream ends, finished or cut off by the client, with the rows sent.
        detail = {"indicators": [p.indicator.id for p in layout.parts],
                  "entities": sorted({e for p in layout.parts for e in p.entities}),
                  "from": layout.start, "to": layout.end, "resolution": layout.resolution,
                  "aggregate": layout.aggregate, "mode": layout.mode, "format": fmt, "lang": layout.lang,
                  "rows": sent, "complete": complete}
        await asyncio.shield(audited(request, caller, "data.export", ",".join(detail["indicators"]), detail))
