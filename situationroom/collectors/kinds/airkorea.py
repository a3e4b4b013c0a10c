"""The `airkorea` collector kind: AirKorea real-time air quality per station (data.go.kr ArpltnInforInqireSvc)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import Field, SecretStr

from situationroom.collectors import base, publicdata
from situationroom.collectors.base import CollectError, CollectorContext, CollectResult
from situationroom.collectors.mapping import MISSING_AT_SOURCE, to_number
from situationroom.collectors.registry import register
from situationroom.samples import Rejection, Sample

BASE_URL = "https://apis.data.go.kr/B552584/ArpltnInforInqireSvc"
SOURCE = "AirKorea"

FIELDS: dict[str, str] = {
    "pm10Value": "air.pm10",
    "pm25Value": "air.pm25",
    "o3Value": "air.o3",
    "no2Value": "air.no2",
    "so2Value": "air.so2",
    "coValue": "air.co",
    "khaiValue": "air.cai",
}
"""The item fields read by default and the catalog indicator each one feeds (1-hour values, not the 24 h means)."""
STATION_ROWS = 6
"""numOfRows per station by default: the newest hours, with a few earlier ones to fall back on."""
SIDO_ROWS = 1000
"""numOfRows of the province list by default: one request for the whole list (경북 has about 70 stations)."""
MAX_PAGES = 20
"""Pages of the province list read at most in one run."""


def parse_data_time(text: str) -> datetime:
    """`2026-03-14 13:00`; the day's last hour is written `24:00`, i.e. 00:00 of the next day."""
    day, _, clock = text.strip().partition(" ")
    if clock == "24:00":
        return datetime.strptime(day, "%Y-%m-%d") + timedelta(days=1)
    return datetime.strptime(text.strip(), "%Y-%m-%d %H:%M")


class AirKoreaParams(base.Params):
    service_key: SecretStr = Field(min_length=1)
    """The data.go.kr key (`${DATA_GO_KR_KEY}`), decoded or encoded form."""
    base_url: str = BASE_URL
    mode: Literal["station", "sido"] = "station"
    """`station`: one request per station (getMsrstnAcctoRltmMesureDnsty); `sido`: one request for the
    province (getCtprvnRltmMesureDnsty), keeping only `stations`."""
    sido_name: str = "경북"
    stations: list[str] | dict[str, str] | None = None
    """Station names (stationName); default every `airkorea` entity's source_id. A mapping gives
    station name -> entity id explicitly."""
    fields: dict[str, str] = Field(default_factory=lambda: dict(FIELDS))
    """Item field -> catalog indicator."""
    hours: int = Field(default=1, ge=1, le=24)
    """How many of the newest hours to send per station."""
    fallback: bool = True
    """Send the newest earlier value of an indicator the newest hours lack."""
    page_size: int | None = Field(default=None, ge=1, le=1000)
    """numOfRows: per station (default 6); for `sido`, rows per page of the province's list (default 1000,
    so the whole list comes in one request)."""
    version: str = "1.3"
    timeout: float = Field(default=10.0, gt=0, le=120)


@register
class AirKorea(publicdata.PublicDataKind[AirKoreaParams]):
    """Hourly PM10, PM2.5, O3, NO2, SO2, CO and CAI of AirKorea's stations, by station or for a whole province.

    A value AirKorea could not measure comes as `-` with a flag (통신장애, 장비점검...): it is a
    rejection "missing at source" (with the flag), never a 0. When the newest hour lacks a value the
    newest earlier hour that has it is sent instead (at its own time), as AirKorea advises.
    """

    name = "airkorea"

    Params = AirKoreaParams

    def __init__(self, params: AirKoreaParams, context: CollectorContext) -> None:
        super().__init__(params, context)
        p = params
        self.p = p
        catalog = context.catalog
        self.stations = publicdata.resolve_entities(p.stations, catalog, "airkorea", "stations")
        publicdata.check_indicators(p.fields, catalog, "fields")
        self._connect(SOURCE, p.service_key.get_secret_value(), p.timeout)

    def _query(self, **extra: Any) -> dict[str, Any]:
        return {"serviceKey": self.key, "returnType": "json", "ver": self.p.version, **extra}

    async def _fetch_station(self, station: str) -> list[Any]:
        doc = await self.client.get_json(
            f"{self.p.base_url.rstrip('/')}/getMsrstnAcctoRltmMesureDnsty",
            self._query(stationName=station, dataTerm="DAILY", numOfRows=self.p.page_size or STATION_ROWS,
                        pageNo=1))
        return _items(doc)

    async def _fetch_sido(self) -> tuple[dict[str, list[Any]], bool]:
        """The province's items by station name, and whether that is the whole list."""
        by_station: dict[str, list[Any]] = {}
        size = self.p.page_size or SIDO_ROWS
        page, seen_rows = 1, 0
        while True:
            doc = await self.client.get_json(
                f"{self.p.base_url.rstrip('/')}/getCtprvnRltmMesureDnsty",
                self._query(sidoName=self.p.sido_name, numOfRows=size, pageNo=page))
            items = _items(doc)
            for item in items:
                if isinstance(item, dict):
                    by_station.setdefault(str(item.get("stationName") or ""), []).append(item)
            seen_rows += len(items)
            total = _total(doc)
            if not items or (total is not None and seen_rows >= total):
                return by_station, True
            if total is None:  # no count to page by: a short page is the last one
                return by_station, len(items) < size
            if page >= MAX_PAGES:
                self.context.log.warning(
                    "the %s list has %d rows; only the first %d (%d pages of %d) were read, so stations further "
                    "on are not collected: raise params.page_size (up to 1000)",
                    self.p.sido_name, total, seen_rows, page, size)
                return by_station, False
            page += 1

    async def collect(self, now: float) -> CollectResult:
        result = CollectResult([])
        if self.p.mode == "sido":
            rows, whole = await self._fetch_sido()
            for station, entity in self.stations.items():
                if entity is None:
                    self._reject(result, ("unmapped", station), "stationName", publicdata.NOT_MAPPED,
                                 station=station)
                elif station in rows:
                    self._station(station, entity, rows[station], result, now)
                elif rows and whole:
                    # Only a whole, non-empty list tells a station is not in it (a misspelt name, another
                    # province, a station closed); an empty one is "no data yet" for every station.
                    self._reject(result, ("absent", station), "stationName",
                                 f"station not in the {self.p.sido_name} list (check stations and sido_name)",
                                 station=station, sidoName=self.p.sido_name)
        else:
            asked = []
            for station, entity in self.stations.items():
                if entity is None:
                    self._reject(result, ("unmapped", station), "stationName", publicdata.NOT_MAPPED, station=station)
                else:
                    asked.append(station)
            for station, items in await publicdata.each_station(asked, self._fetch_station, result, "stationName"):
                self._station(station, self.stations[station], items, result, now)
        return result

    def _station(self, station: str, entity: str | None, items: list[Any], result: CollectResult,
                 now: float) -> None:
        if not items:
            return
        if entity is None:
            self._reject(result, ("unmapped", station), "stationName", publicdata.NOT_MAPPED, station=station)
            return
        rows: list[tuple[float, dict[str, Any]]] = []
        for i, item in enumerate(items):
            when = item.get("dataTime") if isinstance(item, dict) else None
            try:
                ts = publicdata.local_ts(parse_data_time(str(when)), self.tz)
            except ValueError:
                if self.seen.first(("bad", station, repr(item)[:200])):
                    result.rejected.append(Rejection("dataTime", "not a time like 2026-03-14 13:00",
                                                     {"station": station, "item": item}, i))
                continue
            rows.append((ts, item))
        rows.sort(key=lambda r: r[0], reverse=True)  # newest first is the documented order; do not rely on it
        recent = rows[: self.p.hours]
        older = rows[self.p.hours:]
        settings = self.context.settings
        # An hour older than the late-arrival limit would only be rejected by the pipeline.
        oldest = now - settings.late_limit if settings is not None else float("-inf")
        for fld, indicator in self.p.fields.items():
            sent = False
            for ts, item in recent:
                value = self._value(item, fld, station, result)
                if value is not None:
                    result.samples.append(Sample(indicator, entity, ts, value))
                    sent = True
            if not sent and self.p.fallback:
                for ts, item in older:
                    if ts < oldest:
                        break
                    try:
                        value = to_number(item.get(fld))
                    except ValueError:
                        continue  # missing or unreadable there too: an older hour may have it
                    result.samples.append(Sample(indicator, entity, ts, value))
                    break

    def _value(self, item: dict[str, Any], fld: str, station: str, result: CollectResult) -> float | None:
        raw = item.get(fld)
        when = item.get("dataTime")
        if publicdata.is_blank(raw):
            flag = item.get(fld.replace("Value", "Flag"))
            self._reject(result, ("missing", station, when, fld), fld, MISSING_AT_SOURCE,
                         station=station, dataTime=when, value=raw, flag=flag)
            return None
        try:
            return to_number(raw)
        except ValueError:
            self._reject(result, ("nan", station, when, fld), fld, "not a number", station=station, dataTime=when,
                         value=raw)
            return None


def _body(doc: Any) -> dict[str, Any]:
    if not publicdata.check_envelope(doc, SOURCE):
        return {}
    body = doc["response"].get("body") if isinstance(doc.get("response"), dict) else None
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise CollectError(f"{SOURCE} answered a body that is not an object ({type(body).__name__})")
    return body


def _items(doc: Any) -> list[Any]:
    body = _body(doc)
    items = body.get("items")
    if items is None or items == "":
        return []
    if isinstance(items, dict):  # the XML-shaped form some gateways return: items.item
        items = items.get("item", [])
        items = [items] if isinstance(items, dict) else items
    if not isinstance(items, list):
        raise CollectError(f"{SOURCE} answered items that are not a list ({type(items).__name__})")
    return items


def _total(doc: Any) -> int | None:
    try:
        return int(_body(doc).get("totalCount"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
