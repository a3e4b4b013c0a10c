"""The `kma_nowcast` collector kind: KMA ultra-short-term nowcast per grid cell (getUltraSrtNcst)."""

from __future__ import annotations

import contextlib
import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr

from situationroom.collectors import base, publicdata
from situationroom.collectors.base import CollectError, CollectorContext, CollectResult
from situationroom.collectors.mapping import MISSING_AT_SOURCE, to_number
from situationroom.collectors.registry import register
from situationroom.errors import ConfigError, Problem
from situationroom.samples import Rejection, Sample

BASE_URL = "https://apis.data.go.kr/1360000/VilageFcstInfoService_2.0"
SOURCE = "KMA"

CATEGORIES: dict[str, str] = {
    "T1H": "weather.temperature",
    "RN1": "rain.hourly",
    "REH": "weather.humidity",
    "WSD": "weather.wind_speed",
    "VEC": "weather.wind_direction",
}
"""Category -> catalog indicator. UUU/VVV (wind components) and PTY (precipitation type, a code) have no
indicator in the catalog; map them in `params.categories` once the catalog has one."""

_RANGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*~\s*(\d+(?:\.\d+)?)\s*mm\s*$")
_BELOW = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*mm\s*미만\s*$")
_ABOVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*mm\s*이상\s*$")


def base_time(now: float, tz: str, published_after: int) -> datetime:
    """The newest hour whose nowcast should be out: this hour once `published_after` minutes have passed."""
    local = datetime.fromtimestamp(now, ZoneInfo(tz)).replace(tzinfo=None)
    hour = local.replace(minute=0, second=0, microsecond=0)
    return hour if local.minute >= published_after else hour - timedelta(hours=1)


def precipitation(text: str) -> float | None:
    """RN1 as KMA writes it: a number, `강수없음` (0), `1mm 미만` (0.5), `30.0~50.0mm` (40), `50.0mm 이상` (50).

    Classes become their midpoint (below N: N/2), and "N or more" its bound, so the thresholds
    of 30 and 50 mm/h still trip in the right class.
    """
    t = text.strip()
    if t in ("강수없음", "0", "0.0"):
        return 0.0
    if m := _RANGE.match(t):
        return (float(m.group(1)) + float(m.group(2))) / 2
    if m := _BELOW.match(t):
        return float(m.group(1)) / 2
    if m := _ABOVE.match(t):
        return float(m.group(1))
    t = t.removesuffix("mm").strip()
    try:
        return float(t)
    except ValueError:
        return None


def is_missing(value: float) -> bool:
    """KMA's missing markers: -999, -998.9, +900 and beyond."""
    return value <= -900 or value >= 900


class KmaNowcastParams(base.Params):
    service_key: SecretStr = Field(min_length=1)
    """The data.go.kr key (`${DATA_GO_KR_KEY}`), decoded or encoded form."""
    base_url: str = BASE_URL
    cells: list[str] | dict[str, str] | None = None
    """Grid cells as `nx,ny`; default every `kma` entity whose source_id is a cell. A mapping gives
    `nx,ny` -> entity id explicitly."""
    categories: dict[str, str] = Field(default_factory=lambda: dict(CATEGORIES))
    """Category -> catalog indicator."""
    published_after: int = Field(default=40, ge=0, le=59)
    """Minutes past the hour after which that hour's nowcast is asked for."""
    page_size: int = Field(default=10, ge=8, le=1000)
    timeout: float = Field(default=10.0, gt=0, le=120)


@register
class KmaNowcast(publicdata.PublicDataKind[KmaNowcastParams]):
    """Temperature, hourly rain, humidity and wind of KMA's 5 km grid cells, hour by hour.

    Asks for the newest hour that should be published (`published_after` minutes past the hour,
    else the previous one); when KMA has not got it yet (03 or 01) it asks for the hour before.
    """

    name = "kma_nowcast"

    Params = KmaNowcastParams

    def __init__(self, params: KmaNowcastParams, context: CollectorContext) -> None:
        super().__init__(params, context)
        p = params
        self.p = p
        catalog = context.catalog
        cells = p.cells
        if cells is None:
            cells = [sid for sid in publicdata.source_ids(catalog, "kma") if _cell(sid) is not None]
        self.cells = publicdata.resolve_entities(cells, catalog, "kma", "cells")
        bad = [c for c in self.cells if _cell(c) is None]
        if bad:
            raise ConfigError([Problem("a grid cell is written nx,ny (e.g. 102,94)", None, None, "params.cells", c,
                                       True) for c in bad])
        publicdata.check_indicators(p.categories, catalog, "categories")
        self._connect(SOURCE, p.service_key.get_secret_value(), p.timeout)

    async def _fetch(self, cell: str, when: datetime, *, newest: bool) -> list[Any] | None:
        """The cell's items for the hour `when`; None when KMA has nothing for it (yet)."""
        nx, ny = _cell(cell)  # type: ignore[misc]
        query = {"serviceKey": self.key, "pageNo": 1, "numOfRows": self.p.page_size, "dataType": "JSON",
                 "base_date": when.strftime("%Y%m%d"), "base_time": when.strftime("%H00"), "nx": nx, "ny": ny}
        doc = await self.client.get_json(f"{self.p.base_url.rstrip('/')}/getUltraSrtNcst", query)
        try:
            has_data = publicdata.check_envelope(doc, SOURCE)
        except CollectError:
            header = publicdata.header_of(doc) or {}
            code, _ = publicdata.code_and_name(header.get("resultCode"))
            if code == "01" and newest:  # KMA's answer for an hour it has not published yet; else a real error
                return None
            raise
        if not has_data:
            return None
        response = doc.get("response")
        body = response.get("body") if isinstance(response, dict) else None
        items = body.get("items") if isinstance(body, dict) else None
        if items in (None, ""):
            return None
        item = items.get("item") if isinstance(items, dict) else items
        if isinstance(item, dict):
            item = [item]
        if not isinstance(item, list):
            raise CollectError(f"{SOURCE} answered items.item that is not a list ({type(item).__name__})")
        return item

    async def collect(self, now: float) -> CollectResult:
        result = CollectResult([])
        newest = base_time(now, self.tz, self.p.published_after)

        async def fetch(cell: str) -> list[Any]:
            items = await self._fetch(cell, newest, newest=True)
            if items is None:  # not out yet: the previous hour, as KMA's own guidance says
                items = await self._fetch(cell, newest - timedelta(hours=1), newest=False)
            return items or []

        asked = []
        for cell, entity in self.cells.items():
            if entity is None:
                if self.seen.first(("unmapped", cell)):
                    result.rejected.append(publicdata.rejection("nx,ny", publicdata.NOT_MAPPED, cell=cell))
            else:
                asked.append(cell)
        for cell, items in await publicdata.each_station(asked, fetch, result, "nx,ny"):
            self._cell_items(cell, self.cells[cell], items, result)  # type: ignore[arg-type]
        return result

    def _cell_items(self, cell: str, entity: str, items: list[Any], result: CollectResult) -> None:
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                result.rejected.append(Rejection("item", "not an object", item, i))
                continue
            category = item.get("category")
            indicator = self.p.categories.get(str(category))
            if indicator is None:
                continue
            item_cell = f"{item.get('nx')},{item.get('ny')}"
            if item_cell.replace(" ", "") != cell.replace(" ", ""):
                self._reject(result, ("cell", item_cell, category), "nx,ny", "a grid cell that was not asked for",
                             cell=item_cell, category=category)
                continue
            try:
                when = datetime.strptime(f"{item.get('baseDate')}{item.get('baseTime')}", "%Y%m%d%H%M")
            except ValueError:
                self._reject(result, ("time", cell, repr(item)[:200]), "baseDate", "not a time like 20260906 0500",
                             cell=cell, item=item)
                continue
            raw = item.get("obsrValue")
            value: float | None = None
            if not publicdata.is_blank(raw):
                if category == "RN1":
                    value = precipitation(str(raw))
                else:
                    with contextlib.suppress(ValueError):  # None: "not a number" below
                        value = to_number(raw)
            key = (cell, category, item.get("baseDate"), item.get("baseTime"))
            if publicdata.is_blank(raw) or (value is not None and is_missing(value)):
                self._reject(result, ("missing", *key), str(category), MISSING_AT_SOURCE, cell=cell,
                             baseDate=item.get("baseDate"), baseTime=item.get("baseTime"), value=raw)
                continue
            if value is None:
                self._reject(result, ("nan", *key), str(category), "not a number", cell=cell,
                             baseDate=item.get("baseDate"), baseTime=item.get("baseTime"), value=raw)
                continue
            result.samples.append(Sample(indicator, entity, publicdata.local_ts(when, self.tz), value))


def _cell(text: str) -> tuple[int, int] | None:
    m = re.fullmatch(r"\s*(\d{1,3})\s*,\s*(\d{1,3})\s*", text)
    return (int(m.group(1)), int(m.group(2))) if m else None

