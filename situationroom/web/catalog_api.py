"""The data catalogue `GET /api/v1/catalog`: every indicator as a DCAT-like dataset (docs/data-sharing.md), with its
licence, who may read it, and its first and last data for those who may."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import HTTPConnection

from situationroom import live
from situationroom.catalog import Catalog, Indicator
from situationroom.durations import iso8601
from situationroom.history import layout
from situationroom.history.status import first_samples
from situationroom.history.store import HistoryStore, store_for
from situationroom.licences import LICENCES
from situationroom.web import clearance
from situationroom.web.auth import require
from situationroom.web.errors import documented
from situationroom.web.jsonio import JSON

router = APIRouter()
Reader = Annotated[Any, Depends(require("read"))]

FIRST_TTL = 600.0
"""Seconds the oldest samples are remembered: they change only when retention drops a day, or data is imported."""
FIRST_RETRY = 30.0
"""Seconds after which they are read again when an indicator with live data has none yet (a new site: its first
data is on its way into the history store), or the store's oldest date changed (a backfill, an import, retention):
its listing is looked at, one request per dataset."""
CONTEXT = {"dcat": "http://www.w3.org/ns/dcat#", "dct": "http://purl.org/dc/terms/",
           "foaf": "http://xmlns.com/foaf/0.1/"}


class Names(BaseModel):
    ko: str | None
    en: str | None


class LicenceOut(BaseModel):
    id: str = Field(description="kogl-1..kogl-4 (공공누리 types), internal or third-party")
    ko: str
    en: str
    url: str | None
    open: bool = Field(description="anyone may reuse the data on its terms")


class Department(Names):
    id: str


class Distribution(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    access_url: str = Field(alias="dcat:accessURL")
    format: str = Field(alias="dct:format")
    title: Names = Field(alias="dct:title")


class Temporal(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    start: str | None = Field(alias="dcat:startDate", description="the oldest sample in the history store (UTC)")
    start_exercise: bool = Field(description="the start is of exercise data: the site holds no real data of it yet")
    end: str | None = Field(alias="dcat:endDate", description="the newest value in the live state (UTC)")
    end_exercise: bool = Field(description="the newest value is of exercise data")


class DatasetOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    id: str = Field(alias="@id")
    type: str = Field(alias="@type")
    identifier: str = Field(alias="dct:identifier", description="the indicator id")
    title: Names = Field(alias="dct:title")
    description: Names = Field(alias="dct:description")
    theme: Department = Field(alias="dcat:theme", description="the catalog domain")
    source: str = Field(alias="dct:source")
    license: LicenceOut = Field(alias="dct:license")
    access_rights: str = Field(alias="dct:accessRights", description="public (citizens), officials (any official) or "
                                                                     "departments (restricted_to)")
    restricted_to: list[Department]
    restriction_reason: Names | None
    unit: Names
    temporal_resolution: str = Field(alias="dcat:temporalResolution", description="update interval, ISO 8601")
    interval_s: float
    spatial: list[str] = Field(alias="dct:spatial", description="entity kinds or ids it is measured for")
    withheld: bool = Field(description="a restricted indicator the caller may not read: no dates, no distributions")
    temporal: Temporal | None = Field(alias="dct:temporal")
    distribution: list[Distribution] = Field(alias="dcat:distribution")


class CatalogOut(BaseModel):
    """The data catalogue (docs/data-sharing.md): DCAT and Dublin Core terms where they fit, plain names otherwise."""

    model_config = ConfigDict(populate_by_name=True)
    context: dict[str, str] = Field(alias="@context")
    type: str = Field(alias="@type")
    title: Names = Field(alias="dct:title")
    publisher: dict[str, Any] = Field(alias="dct:publisher")
    generated_at: float
    signed_in: bool
    licences: list[LicenceOut]
    dataset: list[DatasetOut] = Field(alias="dcat:dataset")


@dataclass
class FirstData:
    """The oldest sample per indicator (real and exercise data), read from the history store now and then."""

    real: dict[str, float] = field(default_factory=dict)
    exercise: dict[str, float] = field(default_factory=dict)
    oldest: tuple[str | None, ...] = ()
    """The oldest date of each dataset when they were read."""
    read_at: float = -FIRST_TTL
    checked_at: float = -FIRST_TTL
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def get(self, conn: HTTPConnection, live_now: set[str]) -> FirstData:
        """The oldest samples, read again when remembered too long, or a while ago and one of `live_now` (the
        indicators with live data) is still missing or the store holds an older date than then."""
        async with self.lock:
            if time.monotonic() - self.checked_at < FIRST_RETRY:
                return self
            ctx = conn.app.state.ctx
            store = store_for(ctx.settings)
            # Listings and file reads block: off the event loop.
            oldest = await asyncio.to_thread(_oldest_dates, store)
            missing = any(i not in self.real and i not in self.exercise for i in live_now)
            if time.monotonic() - self.read_at >= FIRST_TTL or missing or oldest != self.oldest:
                wanted: dict[str, list[str]] = {}
                for ind in ctx.catalog.indicators.values():
                    wanted.setdefault(ind.domain, []).append(ind.id)
                self.real, self.exercise = await asyncio.gather(
                    asyncio.to_thread(first_samples, store, wanted, layout.SAMPLES),
                    asyncio.to_thread(first_samples, store, wanted, layout.EXERCISE))
                self.oldest, self.read_at = oldest, time.monotonic()
            self.checked_at = time.monotonic()
        return self


def _oldest_dates(store: HistoryStore) -> tuple[str | None, ...]:
    return tuple(next(iter(store.dates(dataset)), None) for dataset in (layout.SAMPLES, layout.EXERCISE))


def _first_data(conn: HTTPConnection) -> FirstData:
    found: FirstData | None = getattr(conn.app.state, "catalog_first", None)
    if found is None:
        found = conn.app.state.catalog_first = FirstData()
    return found


def _iso(seconds: float | None) -> str | None:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z") if seconds is not None else None


def _names(obj: Any) -> dict[str, str]:
    return {"ko": obj.name_ko, "en": obj.name_en}


def _dataset(catalog: Catalog, people: Any, ind: Indicator, base: str, withheld: bool,
             first: tuple[float | None, bool], last: tuple[float | None, bool]) -> dict[str, Any]:
    lic = LICENCES[ind.licence]
    domain = catalog.domains[ind.domain]
    departments = [{"id": d, **(_names(people.departments[d]) if d in people.departments else {"ko": d, "en": d})}
                   for d in (ind.restricted.departments if ind.restricted else [])]
    out: dict[str, Any] = {
        "@id": f"{base}api/v1/catalog#{ind.id}",
        "@type": "dcat:Dataset",
        "dct:identifier": ind.id,
        "dct:title": _names(ind),
        "dct:description": {"ko": ind.description_ko, "en": ind.description_en},
        "dcat:theme": {"id": ind.domain, **_names(domain)},
        "dct:source": ind.source,
        "dct:license": {"id": lic.id, "ko": lic.name_ko, "en": lic.name_en, "url": lic.url, "open": lic.open},
        "dct:accessRights": ind.audience,
        "restricted_to": departments,
        "restriction_reason": ({"ko": ind.restricted.reason_ko, "en": ind.restricted.reason_en}
                               if ind.restricted else None),
        "unit": {"ko": ind.unit, "en": ind.unit_en},
        "dcat:temporalResolution": iso8601(ind.interval),
        "interval_s": ind.interval,
        "dct:spatial": list(ind.entities),
        "withheld": withheld,
        "dct:temporal": None,
        "dcat:distribution": [] if withheld else [
            {"dcat:accessURL": f"{base}api/v1/indicators/{ind.id}", "dct:format": "application/json",
             "dct:title": {"ko": "현재 값", "en": "Live values"}},
            {"dcat:accessURL": f"{base}api/v1/indicators/{ind.id}/history", "dct:format": "application/json",
             "dct:title": {"ko": "과거 자료", "en": "History"}},
        ],
    }
    if not withheld:
        out["dct:temporal"] = {"dcat:startDate": _iso(first[0]), "start_exercise": first[1],
                               "dcat:endDate": _iso(last[0]), "end_exercise": last[1]}
    return out


async def build(conn: HTTPConnection, record: dict[str, Any] | None) -> dict[str, Any]:
    """The catalogue as the caller may see it: every indicator; first and last data only of those it may read."""
    ctx = conn.app.state.ctx
    catalog: Catalog = ctx.catalog
    people = conn.app.state.notify.people
    hidden = clearance.hidden(conn, record)
    readable = [i for i in catalog.indicators if i not in hidden]
    states = await live.read(ctx.client, readable, ctx.settings.stale_grace)
    first = await _first_data(conn).get(conn, {i for i, st in states.items() if st})
    base = str(conn.base_url)
    datasets = []
    for ind in catalog.indicators.values():
        st = states.get(ind.id, {})
        newest = max(st.values(), key=lambda s: s["t"], default=None)
        last = (newest["t"] / 1000, bool(newest.get("x"))) if newest else (None, False)
        real_first = first.real.get(ind.id)
        # The real history first; a demo site (or a new one still in drills) has only exercise data to show.
        begin = ((real_first, False) if real_first is not None
                 else (first.exercise.get(ind.id), ind.id in first.exercise))
        datasets.append(_dataset(catalog, people, ind, base, ind.id in hidden, begin, last))
    return {
        "@context": CONTEXT,
        "@type": "dcat:Catalog",
        "dct:title": {"ko": f"{catalog.city.name_ko} 상황실 데이터 목록",
                      "en": f"{catalog.city.name_en} situation room data catalogue"},
        "dct:publisher": {"@type": "foaf:Organization", "foaf:name": _names(catalog.city)},
        "generated_at": time.time(),
        "signed_in": record is not None,
        "licences": [{"id": lic.id, "ko": lic.name_ko, "en": lic.name_en, "url": lic.url, "open": lic.open}
                     for lic in LICENCES.values()],
        "dcat:dataset": datasets,
    }


@router.get("/api/v1/catalog", response_class=JSON, tags=["catalog"], response_model=CatalogOut,
            responses=documented(401, 403, 429), summary="The data catalogue: every indicator with its description, "
            "unit, source, update interval, licence, who may read it, first and last data (DCAT-like fields)")
async def get_catalog(request: Request, caller: Reader) -> JSON:
    return JSON(await build(request, caller))
