"""The `hrfco` collector kind: river water levels of the flood-control offices' open API (api.hrfco.go.kr)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any
from urllib.parse import quote

from pydantic import Field, SecretStr

from situationroom.collectors import base, publicdata
from situationroom.collectors.base import CollectError, CollectorContext, CollectResult
from situationroom.collectors.mapping import MISSING_AT_SOURCE, to_number
from situationroom.collectors.registry import register
from situationroom.samples import Rejection, Sample

BASE_URL = "https://api.hrfco.go.kr"
SOURCE = "HRFCO"
STAGE_FIELDS = ("wrnwl", "almwl")
"""/waterlevel/info's stage levels that count as stage 1 (홍수주의보 level) and 2 (홍수경보 level)."""


class HrfcoParams(base.Params):
    service_key: SecretStr = Field(min_length=1)
    """The open API key issued by 한강홍수통제소 (`${HRFCO_KEY}`)."""
    base_url: str = BASE_URL
    stations: list[str] | dict[str, str] | None = None
    """Gauge codes (wlobscd); default every `hrfco` entity's source_id. A mapping gives code -> entity id."""
    level_indicator: str = "river.level"
    flow_indicator: str | None = "river.discharge"
    """Sent only for the entities the catalog measures it for (None: never)."""
    stage_indicator: str | None = None
    """E.g. river.flood_forecast: 0, 1 at wrnwl, 2 at almwl of /waterlevel/info (None: not sent)."""
    stages_refresh: float = Field(default=86400.0, gt=0)
    """Seconds between reads of /waterlevel/info (stage levels rarely change)."""
    latest: int = Field(default=1, ge=1, le=144)
    """How many of the newest 10-minute rows to send per gauge."""
    timeout: float = Field(default=10.0, gt=0, le=120)


@register
class Hrfco(publicdata.PublicDataKind[HrfcoParams]):
    """Water level (m, gauge datum) and flow (m³/s) of flood-control gauges, every 10 minutes.

    The key is part of the URL path (`/{key}/waterlevel/list/10M/{wlobscd}.json`); it is masked in every
    error. `content` is not ordered: every row newer than what the source returned before is sent.
    With `stage_indicator`, the stage the level has reached by the gauge's own stage levels from
    `/waterlevel/info` (wrnwl → 1, almwl → 2) is sent too — the level's stage, not an issued forecast.
    """

    name = "hrfco"

    Params = HrfcoParams

    def __init__(self, params: HrfcoParams, context: CollectorContext) -> None:
        super().__init__(params, context)
        p = params
        self.p = p
        catalog = context.catalog
        self.stations = publicdata.resolve_entities(p.stations, catalog, "hrfco", "stations")
        publicdata.check_indicators({"level_indicator": p.level_indicator, "flow_indicator": p.flow_indicator,
                                     "stage_indicator": p.stage_indicator}, catalog, "")
        self._connect(SOURCE, p.service_key.get_secret_value().strip(), p.timeout, decode=False)
        self.stages: dict[str, tuple[float | None, float | None]] = {}
        self.stages_at = 0.0

    def _url(self, path: str) -> str:
        return f"{self.p.base_url.rstrip('/')}/{quote(self.key, safe='')}/{path}"

    async def _content(self, path: str) -> list[Any]:
        doc = await self.client.get_json(self._url(path))
        if isinstance(doc, dict) and publicdata.header_of(doc) is not None:  # a data.go.kr-style envelope
            if not publicdata.check_envelope(doc, SOURCE):
                return []
        content = doc.get("content") if isinstance(doc, dict) else None
        if isinstance(doc, dict) and "content" in doc and content in (None, ""):
            return []
        if not isinstance(content, list):
            what = "keys " + ", ".join(map(str, list(doc)[:6])) if isinstance(doc, dict) else type(doc).__name__
            raise CollectError(f"{SOURCE} answered JSON without a `content` list ({what})")
        return content

    async def _load_stages(self) -> None:
        fresh = self.stages and time.monotonic() - self.stages_at < self.p.stages_refresh
        if self.p.stage_indicator is None or fresh:
            return
        stages: dict[str, tuple[float | None, float | None]] = {}
        for row in await self._content("waterlevel/info.json"):
            if not isinstance(row, dict) or str(row.get("wlobscd")) not in self.stations:
                continue
            levels: list[float | None] = []
            for f in STAGE_FIELDS:
                try:
                    levels.append(to_number(row.get(f)))
                except ValueError:
                    levels.append(None)  # missing or unreadable: that stage is not known
            stages[str(row["wlobscd"])] = (levels[0], levels[1])
        self.stages, self.stages_at = stages, time.monotonic()

    async def collect(self, now: float) -> CollectResult:
        result = CollectResult([])
        try:
            await self._load_stages()
        except CollectError as exc:  # the levels matter more than their stages: send them without
            self.context.log.warning("stage levels not read from /waterlevel/info: %s", exc)
        asked = []
        for code, entity in self.stations.items():
            if entity is None:
                self._reject(result, ("unmapped", code), "wlobscd", publicdata.NOT_MAPPED, wlobscd=code)
            else:
                asked.append(code)

        async def fetch(code: str) -> list[Any]:
            return await self._content(f"waterlevel/list/10M/{quote(code, safe='')}.json")

        for code, rows in await publicdata.each_station(asked, fetch, result, "wlobscd"):
            self._rows(code, self.stations[code], rows, result)  # type: ignore[arg-type]
        return result

    def _rows(self, code: str, entity: str, rows: list[Any], result: CollectResult) -> None:
        dated: list[tuple[float, dict[str, Any]]] = []
        for i, row in enumerate(rows):
            if not isinstance(row, dict):
                result.rejected.append(Rejection("content", "not an object", row, i))
                continue
            if str(row.get("wlobscd", code)) != code:
                self._reject(result, ("other", code, row.get("wlobscd")), "wlobscd",
                             "a gauge that was not asked for", asked=code, wlobscd=row.get("wlobscd"))
                continue
            try:
                ts = publicdata.local_ts(datetime.strptime(str(row.get("ymdhm")).strip(), "%Y%m%d%H%M"), self.tz)
            except ValueError:
                self._reject(result, ("time", code, repr(row)[:200]), "ymdhm", "not a time like 202209060610",
                             wlobscd=code, row=row)
                continue
            dated.append((ts, row))
        dated.sort(key=lambda r: r[0], reverse=True)  # the order of `content` is not to be relied on
        catalog = self.context.catalog
        flow, stage_ind = (i if i and entity in catalog.entity_sets.get(i, ()) else None
                           for i in (self.p.flow_indicator, self.p.stage_indicator))
        for ts, row in dated[: self.p.latest]:
            level = self._value(code, row, "wl", result)
            if level is not None:
                result.samples.append(Sample(self.p.level_indicator, entity, ts, level))
                stage = self._stage(code, level)
                if stage is not None and stage_ind is not None:
                    result.samples.append(Sample(stage_ind, entity, ts, stage))
            if flow is not None:
                discharge = self._value(code, row, "fw", result)
                if discharge is not None:
                    result.samples.append(Sample(flow, entity, ts, discharge))

    def _value(self, code: str, row: dict[str, Any], fld: str, result: CollectResult) -> float | None:
        raw = row.get(fld)
        # `wl`/`fw` are strings that may be empty or a blank " " when the gauge sent nothing.
        if publicdata.is_blank(raw):
            self._reject(result, ("missing", code, row.get("ymdhm"), fld), fld, MISSING_AT_SOURCE, wlobscd=code,
                         ymdhm=row.get("ymdhm"), value=raw)
            return None
        try:
            return to_number(raw)
        except ValueError:
            self._reject(result, ("nan", code, row.get("ymdhm"), fld), fld, "not a number", wlobscd=code,
                         ymdhm=row.get("ymdhm"), value=raw)
            return None

    def _stage(self, code: str, level: float) -> float | None:
        if code not in self.stages:
            return None
        warning, alarm = self.stages[code]
        if alarm is not None and level >= alarm:
            return 2.0
        if warning is not None and level >= warning:
            return 1.0
        return 0.0
