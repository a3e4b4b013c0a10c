"""The public sources' past data as their portals let it be downloaded (AirKorea's hourly air quality, HRFCO's
water levels), as shapes the history importer reads: mapped to the catalog by the site's own collector of that
source (its stations, its fields, its id as the samples' source), so imported hours and collected hours are the
same samples."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from situationroom.catalog import Catalog
from situationroom.collectors import publicdata
from situationroom.collectors.definition import LoadedCollector, load_collector
from situationroom.collectors.kinds import airkorea, hrfco
from situationroom.collectors.mapping import to_number
from situationroom.errors import ConfigError
from situationroom.history.shapes import Empty, Item, Long, Problem, Read, RowReader, Shape, find_column, is_blank


class SourceChoice(Exception):
    """The site has several collectors of a source and the import did not say whose samples these are."""


def site_collector(folder: Path, kind: str) -> LoadedCollector | None:
    """The site's one collector of `kind` (None when it has none); SourceChoice when it has several."""
    found = []
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        try:
            loaded = load_collector(path, require_env=False)
        except ConfigError:
            continue  # `situationroom check` reports a broken file; it is nobody's source here
        if loaded.definition.kind == kind:
            found.append(loaded)
    if len(found) > 1:
        raise SourceChoice(f"the site has several {kind} collectors ({', '.join(c.id for c in found)}): give "
                           "--source with the id of the one these samples are from")
    return found[0] if found else None


def _number(column: str, raw: Any) -> float | Problem:
    try:
        return to_number(raw)
    except ValueError:
        return Problem(column, "must be a number", raw)


class AirKoreaDownload:
    """AirKorea's hourly data by station (에어코리아 확정·실시간 자료; data.go.kr's files and the API's items as a
    table): one row per station and hour, one column per pollutant (wide)."""

    name = "airkorea"
    STATION = ("측정소명", "stationName", "측정소")
    TIME = ("측정일시", "dataTime", "일시")
    needs = "측정소명 (stationName), 측정일시 (dataTime), and pollutant columns (PM10, PM25, O3, NO2, CO, SO2)"

    def __init__(self, catalog: Catalog, collectors: Path) -> None:
        self.catalog = catalog
        self.collectors = collectors

    def _fields(self, params: airkorea.AirKoreaParams | None) -> dict[str, str]:
        """Column name (as the collector's item field, or without `Value`) -> indicator."""
        fields = params.fields if params is not None else airkorea.FIELDS
        out: dict[str, str] = {}
        for fld, indicator in fields.items():
            out[fld] = indicator
            out[fld.removesuffix("Value")] = indicator
        return out

    def matches(self, columns: Sequence[str]) -> bool:
        return (find_column(columns, self.STATION) is not None and find_column(columns, self.TIME) is not None
                and any(find_column(columns, [a]) for a in self._fields(None)))

    def reader(self, columns: Sequence[str], zone: ZoneInfo, source: str | None) -> RowReader:
        collector = site_collector(self.collectors, "airkorea") if source is None else None
        params = collector.params if collector is not None else None
        assert params is None or isinstance(params, airkorea.AirKoreaParams)
        stations = publicdata.resolve_entities(params.stations if params else None, self.catalog, "airkorea",
                                               "stations")
        station_col = find_column(columns, self.STATION) or ""
        time_col = find_column(columns, self.TIME) or ""
        pollutants = {c: ind for a, ind in self._fields(params).items() if (c := find_column(columns, [a]))}
        src = source or (collector.id if collector is not None else self.name)

        def read(row: Mapping[str, Any]) -> Iterable[Read]:
            placed = _placed(row, stations, station_col, "airkorea", time_col, lambda t: _airkorea_time(t, zone),
                             "2024010101 or 2024-01-01 01:00")
            if isinstance(placed, Problem):
                return [placed]
            entity, ts = placed
            return _values(row, pollutants.items(), entity, ts, src, station_col, time_col)

        return read


def _placed(row: Mapping[str, Any], ids: Mapping[str, str], id_col: str, source: str, time_col: str,
            when: Callable[[Any], float], example: str) -> tuple[str, float] | Problem:
    """A row's entity (by the source's station id) and event time, or what is wrong with them."""
    raw_id = str(row.get(id_col) or "").strip()
    entity = ids.get(raw_id)
    if entity is None:
        return Problem(id_col, f"{publicdata.NOT_MAPPED} (an {source} entity's source_id)", raw_id)
    try:
        return entity, when(row.get(time_col))
    except ValueError:
        return Problem(time_col, f"not a time like {example} (KST)", row.get(time_col))


def _values(row: Mapping[str, Any], columns: Iterable[tuple[str, str]], entity: str, ts: float, source: str,
            entity_col: str, time_col: str) -> list[Read]:
    """A wide row's samples: one per (column, indicator) of one entity at one time; a blank cell is no sample."""
    out: list[Read] = []
    for column, indicator in columns:
        raw = row.get(column)
        if is_blank(raw):
            out.append(Empty(column))
            continue
        value = _number(column, raw)
        out.append(value if isinstance(value, Problem) else Item(
            {"indicator": indicator, "entity": entity, "ts": ts, "value": value, "source": source},
            {"entity": entity_col, "ts": time_col, "value": column}))
    return out


def _airkorea_time(raw: Any, zone: ZoneInfo) -> float:
    """`2024010101` (the yearly files: hours 01..24) or `2024-01-01 01:00` (the API's; `24:00` too), KST."""
    text = str(raw).strip() if raw is not None else ""
    if len(text) == 10 and text.isdigit():
        text = f"{text[:4]}-{text[4:6]}-{text[6:8]} {text[8:]}:00"
    return publicdata.local_ts(airkorea.parse_data_time(text), zone.key)


class HrfcoDownload:
    """HRFCO's water levels by gauge (홍수통제소 수위자료, 10-minute or hourly): gauge code, time, level and
    optional flow."""

    name = "hrfco"
    CODE = ("wlobscd", "관측소코드", "수위관측소코드", "관측소 코드")
    TIME = ("ymdhm", "관측일시", "일시", "시각", "관측시각")
    LEVEL = ("wl", "수위")
    FLOW = ("fw", "유량")
    needs = "wlobscd (관측소코드), ymdhm (관측일시), wl (수위); fw (유량) optional"

    def __init__(self, catalog: Catalog, collectors: Path) -> None:
        self.catalog = catalog
        self.collectors = collectors

    def matches(self, columns: Sequence[str]) -> bool:
        return all(find_column(columns, a) for a in (self.CODE, self.TIME, self.LEVEL))

    def reader(self, columns: Sequence[str], zone: ZoneInfo, source: str | None) -> RowReader:
        collector = site_collector(self.collectors, "hrfco") if source is None else None
        params = collector.params if collector is not None else None
        assert params is None or isinstance(params, hrfco.HrfcoParams)
        defaults = hrfco.HrfcoParams.model_fields
        level = params.level_indicator if params else defaults["level_indicator"].default
        flow = params.flow_indicator if params else defaults["flow_indicator"].default
        gauges = publicdata.resolve_entities(params.stations if params else None, self.catalog, "hrfco", "stations")
        code_col, time_col, level_col = (find_column(columns, a) or "" for a in (self.CODE, self.TIME, self.LEVEL))
        flow_col = find_column(columns, self.FLOW)
        measured = self.catalog.entity_sets.get(flow, frozenset()) if flow else frozenset()
        src = source or (collector.id if collector is not None else self.name)

        def read(row: Mapping[str, Any]) -> Iterable[Read]:
            placed = _placed(row, gauges, code_col, "hrfco", time_col, lambda t: _hrfco_time(t, zone),
                             "202409060610 or 2024-09-06 06:10")
            if isinstance(placed, Problem):
                return [placed]
            entity, ts = placed
            wanted = [(level_col, level)] + ([(flow_col, flow)] if flow_col and flow and entity in measured else [])
            return _values(row, wanted, entity, ts, src, code_col, time_col)

        return read


def _hrfco_time(raw: Any, zone: ZoneInfo) -> float:
    """`202409060610` (the API's ymdhm), `2024090606` (hourly) or `2024-09-06 06:10`, KST."""
    text = str(raw).strip() if raw is not None else ""
    for pattern in ("%Y%m%d%H%M", "%Y%m%d%H", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M"):
        try:
            return publicdata.local_ts(datetime.strptime(text, pattern), zone.key)
        except ValueError:
            continue
    raise ValueError(text)


def shapes_for(catalog: Catalog, collectors: Path) -> list[Shape]:
    """Every shape the importer knows, in the order a header is tried against them."""
    return [Long(), AirKoreaDownload(catalog, collectors), HrfcoDownload(catalog, collectors)]
