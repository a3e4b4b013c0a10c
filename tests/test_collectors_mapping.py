"""The shared record → sample mapping: JMESPath fields, entities, times in KST, units, missing markers."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from situationroom.catalog import Catalog
from situationroom.collectors import base
from situationroom.collectors.mapping import MISSING_AT_SOURCE, Mapping, conversion, parse_time
from situationroom.configfile import read_yaml, validate
from situationroom.errors import ConfigError

KST = ZoneInfo("Asia/Seoul")
NOW = datetime(2026, 3, 15, 9, 0, tzinfo=KST).timestamp()
REPO = Path(__file__).resolve().parent.parent
AIRKOREA = REPO / "seeds" / "payloads" / "generic" / "airkorea-like.json"


class P(base.Params):
    map: Mapping


def mapping(items: list[dict[str, Any]]) -> Mapping:
    return validate(P, {"map": items}, prefix=("params",)).map


def apply(m: Mapping, records: list[Any], catalog: Catalog) -> base.CollectResult:
    m.check_catalog(catalog)
    return m.apply(records, now=NOW, source="test", catalog=catalog, tz=catalog.city.timezone)


def test_airkorea_items_become_samples_with_station_times_and_missing_values(site_catalog: Catalog) -> None:
    items = orjson.loads(AIRKOREA.read_bytes())["response"]["body"]["items"]
    m = mapping([
        {"indicator": "air.pm10", "value": "pm10Value", "entity_from": "stationName",
         "ts_from": "dataTime", "ts_format": "%Y-%m-%d %H:%M"},
        {"indicator": "air.pm25", "value": "pm25Value", "entity_from": "stationName",
         "ts_from": "dataTime", "ts_format": "%Y-%m-%d %H:%M"},
    ])
    result = apply(m, items, site_catalog)
    got = {(s.indicator, s.entity, s.ts): s.value for s in result.samples}
    midnight = datetime(2026, 3, 15, 0, 0, tzinfo=KST).timestamp()  # "2026-03-14 24:00"
    assert got[("air.pm10", "airkorea-jangnyang", midnight)] == 112.0
    assert got[("air.pm25", "airkorea-jangnyang", midnight)] == 81.0
    assert ("air.pm10", "airkorea-jangnyang", midnight - 3600) not in got  # "-" at 23:00
    assert got[("air.pm25", "airkorea-jangnyang", midnight - 3600)] == 77.0
    missing = [r for r in result.rejected if r.reason.startswith(MISSING_AT_SOURCE)]
    assert [(r.field, r.value, r.index) for r in missing] == [("pm10Value", "-", 1)]
    assert "air.pm10 airkorea-jangnyang" in missing[0].reason
    assert all(s.source == "test" for s in result.samples)


def test_an_unmapped_station_is_a_rejection_naming_the_field_and_the_value(site_catalog: Catalog) -> None:
    m = mapping([{"indicator": "air.pm10", "value": "pm10Value", "entity_from": "stationName",
                  "entities": {"장량동": "airkorea-jangnyang"}},
                 {"indicator": "air.pm25", "value": "pm25Value", "entity_from": "stationName",
                  "entities": {"장량동": "airkorea-jangnyang"}}])
    result = apply(m, [{"stationName": "장량동", "pm10Value": "30", "pm25Value": "12"},
                       {"stationName": "경주", "pm10Value": "41", "pm25Value": "20"}], site_catalog)
    assert [(s.indicator, s.entity, s.value, s.ts) for s in result.samples] == [
        ("air.pm10", "airkorea-jangnyang", 30.0, NOW), ("air.pm25", "airkorea-jangnyang", 12.0, NOW)]
    # One record, two indicators, one entity problem: reported once.
    assert len(result.rejected) == 1
    r = result.rejected[0]
    assert (r.field, r.value, r.index) == ("stationName", "경주", 1)
    assert "not mapped" in r.reason
    skip = mapping([{**item.model_dump(exclude_defaults=True), "unmapped": "skip"} for item in m.root])
    quiet = apply(skip, [{"stationName": "경주", "pm10Value": "41", "pm25Value": "20"}], site_catalog)
    assert quiet.samples == [] and quiet.rejected == []
    with pytest.raises(ConfigError, match="go with entity_from"):
        mapping([{"indicator": "air.pm10", "value": "v", "entity": "airkorea-songdo", "unmapped": "skip"}])


def test_source_ids_of_the_catalog_are_used_when_no_table_is_given(site_catalog: Catalog) -> None:
    m = mapping([{"indicator": "river.level", "value": "wl", "entity_from": "wlobscd"}])
    result = apply(m, [{"wlobscd": 2101690, "wl": "1.25"}, {"wlobscd": "hrfco-2101687", "wl": 0.4},
                       {"wlobscd": "9999999", "wl": 1}], site_catalog)
    assert [(s.entity, s.value) for s in result.samples] == [("hrfco-2101690", 1.25), ("hrfco-2101687", 0.4)]
    assert [(r.field, r.value) for r in result.rejected] == [("wlobscd", "9999999")]


def test_jmespath_expressions_filters_and_regex_pick_values_entities_and_times(site_catalog: Catalog) -> None:
    kma = [{"baseDate": "20220906", "baseTime": "0500", "category": c, "nx": 102, "ny": 94, "obsrValue": v}
           for c, v in (("T1H", "22.9"), ("RN1", "77"), ("WSD", "6.3"))]
    m = mapping([
        {"indicator": "weather.temperature", "where": "category == 'T1H'", "value": "obsrValue",
         "entity_from": "join(',', [to_string(nx), to_string(ny)])",
         "ts_from": "join('', [baseDate, baseTime])", "ts_format": "%Y%m%d%H%M"},
        {"indicator": "rain.hourly", "where": "category == 'RN1'", "value": "obsrValue",
         "entity_from": "topic", "entity_match": r"^grid/(\d+,\d+)/", "ts_from": "sent"},
    ])
    result = apply(m, kma, site_catalog)
    at5 = datetime(2022, 9, 6, 5, 0, tzinfo=KST).timestamp()
    assert [(s.indicator, s.entity, s.ts, s.value) for s in result.samples] == [
        ("weather.temperature", "kma-grid-102-94", at5, 22.9)]
    # The RN1 record has no topic: a rejection for that item, not an exception.
    assert [(r.field, r.index) for r in result.rejected] == [("topic", 1)]
    nested = mapping([{"indicator": "rain.hourly", "value": "data.rain[0]", "entity_from": "topic",
                       "entity_match": r"^grid/(\d+,\d+)/", "ts_from": "sent"}])
    result = apply(nested, [{"topic": "grid/102,95/rain", "data": {"rain": [12.5]}, "sent": "2022-09-06T05:10:00"},
                            {"topic": "other/x", "data": {"rain": [1]}}], site_catalog)
    assert [(s.entity, s.value, s.ts) for s in result.samples] == [("kma-grid-102-95", 12.5, at5 + 600)]
    assert [(r.field, r.value) for r in result.rejected] == [("topic", "other/x")]


def test_times_without_offset_are_the_citys_and_others_are_understood() -> None:
    at = datetime(2026, 11, 25, 14, 0, tzinfo=KST).timestamp()
    assert parse_time("2026-11-25 14:00", "%Y-%m-%d %H:%M", "Asia/Seoul") == at
    assert parse_time("2026-11-25T14:00:00", None, KST) == at
    assert parse_time("2026-11-25T05:00:00Z", None, KST) == at
    assert parse_time("2026-11-25T14:00:00+09:00", None, KST) == at
    assert parse_time(at * 1000, None, KST) == at
    assert parse_time(str(at), None, KST) == at
    assert parse_time(202611251400, "%Y%m%d%H%M", KST) == at
    assert parse_time("2026-11-24 24:00", "%Y-%m-%d %H:%M", KST) == datetime(2026, 11, 25, tzinfo=KST).timestamp()
    for bad, fmt in (("yesterday", None), ("2026-11-25", "%Y%m%d"), (None, None), (True, None)):
        with pytest.raises(ValueError):
            parse_time(bad, fmt, KST)


def test_a_bad_time_or_value_is_a_rejection_with_the_field(site_catalog: Catalog) -> None:
    m = mapping([{"indicator": "air.pm10", "value": "v", "entity": "airkorea-songdo", "ts_from": "t",
                  "ts_format": "%Y-%m-%d %H:%M", "missing": ["-", "", None, -999]}])
    result = apply(m, [{"v": "1,234", "t": "2026-03-15 08:00"}, {"v": "abc", "t": "2026-03-15 08:00"},
                       {"v": 12, "t": "15.03.2026"}, {"v": -999, "t": "2026-03-15 08:00"},
                       {"v": " ", "t": "x"}, {"t": "2026-03-15 08:00"}, ["not", "a", "record"], {"v": True}],
                   site_catalog)
    assert [s.value for s in result.samples] == [1234.0]
    got = [(r.index, r.field, r.value) for r in result.rejected]
    assert got == [(1, "v", "abc"), (2, "t", "15.03.2026"), (3, "v", -999), (4, "v", " "), (5, "v", None),
                   (6, "record", "['not', 'a', 'record']"), (7, "v", True)]
    reasons = [r.reason for r in result.rejected]
    assert reasons[2].startswith(MISSING_AT_SOURCE) and reasons[3].startswith(MISSING_AT_SOURCE)
    assert reasons[4].startswith("field not in the record")


def test_units_convert_by_scale_and_offset_or_by_pint_to_the_catalog_unit(site_catalog: Catalog) -> None:
    m = mapping([
        {"indicator": "weather.wind_speed", "value": "wind_kmh", "entity": "kma-grid-102-94", "from_unit": "km/h"},
        {"indicator": "weather.temperature", "value": "temp_f", "entity": "kma-grid-102-94", "from_unit": "°F"},
        {"indicator": "air.pm10", "value": "pm10_mg", "entity": "airkorea-songdo", "from_unit": "㎎/㎥"},
        {"indicator": "weather.humidity", "value": "rh", "entity": "kma-grid-102-94", "from_unit": "dimensionless"},
        {"indicator": "river.level", "value": "cm", "entity": "hrfco-2101690", "scale": 0.01, "offset": -0.5},
    ])
    result = apply(m, [{"wind_kmh": 36, "temp_f": "212", "pm10_mg": "0.081", "rh": 0.55, "cm": 300}], site_catalog)
    got = {s.indicator: s.value for s in result.samples}
    assert got["weather.wind_speed"] == pytest.approx(10.0)
    assert got["weather.temperature"] == pytest.approx(100.0)
    assert got["air.pm10"] == pytest.approx(81.0)
    assert got["weather.humidity"] == pytest.approx(55.0)
    assert got["river.level"] == pytest.approx(2.5)
    assert conversion("℃", "°F") == pytest.approx((1.8, 32.0))
    assert conversion("㎍/㎥", "µg/m³") == pytest.approx((1.0, 0.0))


def test_from_unit_is_refused_for_counts_and_other_dimensions(site_catalog: Catalog) -> None:
    m = mapping([{"indicator": "safety.calls_119", "value": "n", "entity": "pohang", "from_unit": "m"},
                 {"indicator": "weather.wind_speed", "value": "w", "entity": "kma-grid-102-94", "from_unit": "mm"},
                 {"indicator": "earthquake.magnitude", "value": "w", "entity": "pohang", "from_unit": "m"}])
    with pytest.raises(ConfigError) as err:
        m.check_catalog(site_catalog)
    fields = [(p.field, p.value) for p in err.value.problems]
    assert fields == [("params.map[0].from_unit", "m"), ("params.map[1].from_unit", "mm"),
                      ("params.map[2].from_unit", "m")]
    assert "건" in err.value.problems[0].message and "not a physical unit" in err.value.problems[0].message
    assert "cannot convert mm to m/s" in err.value.problems[1].message
    with pytest.raises(ConfigError) as err:
        mapping([{"indicator": "air.pm10", "value": "v", "entity": "x", "from_unit": "bananas"}])
    assert err.value.problems[0].field == "params.map[0]"
    assert "not a physical unit" in err.value.problems[0].message


def test_unknown_indicators_and_entities_are_config_errors_naming_the_item(site_catalog: Catalog) -> None:
    m = mapping([{"indicator": "air.pm10", "value": "v", "entity": "airkorea-songdo"},
                 {"indicator": "air.pm1", "value": "v", "entity": "airkorea-songdo"},
                 {"indicator": "air.pm10", "value": "v", "entity": "nowhere"},
                 {"indicator": "river.level", "value": "v", "entity": "airkorea-songdo"},
                 {"indicator": "air.pm10", "value": "v", "entity_from": "s", "entities": {"a": "airkorea-songdo",
                                                                                           "b": "ghost"}}])
    with pytest.raises(ConfigError) as err:
        m.check_catalog(site_catalog)
    assert [(p.field, p.value) for p in err.value.problems] == [
        ("params.map[1].indicator", "air.pm1"), ("params.map[2].entity", "nowhere"),
        ("params.map[3].entity", "airkorea-songdo"), ("params.map[4].entities.b", "ghost")]
    assert "unknown indicator" in err.value.problems[0].message


def test_the_yaml_is_validated_with_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("params:\n  map:\n    - indicator: air.pm10\n      value: pm10Value\n      entity: a\n"
                    "    - indicator: air.pm25\n      value: 'items[?'\n      entity_from: s\n"
                    "    - indicator: air.o3\n      value: o3\n"
                    "    - indicator: air.co\n      value: co\n      entity: b\n      colour: red\n"
                    "    - indicator: air.co\n      value: co\n      entity: b\n      ts_format: '%H'\n"
                    "    - indicator: air.co\n      value: co\n      entity: b\n      from_unit: ppm\n      scale: 2\n"
                    "    - indicator: air.no2\n      value: no2\n      entity_from: s\n"
                    "      entities: {2101690: x}\n      entity_match: '('\n", encoding="utf-8")
    data, pos = read_yaml(path)
    with pytest.raises(ConfigError) as err:
        validate(P, data["params"], file=path, pos=pos, prefix=("params",))
    got = [(p.line, p.field, p.message.split(":")[0].split(",")[0]) for p in err.value.problems]
    assert got == [
        (7, "params.map[1].value", "Value error"),
        (9, "params.map[2]", "Value error"),
        (14, "params.map[3].colour", "unknown key"),
        (15, "params.map[4]", "Value error"),
        (19, "params.map[5]", "Value error"),
        (28, "params.map[6].entity_match", "Value error"),
    ]
    text = str(err.value)
    assert "not a JMESPath expression" in text and "exactly one of entity" in text
    assert "ts_format needs ts_from" in text and "either from_unit or scale" in text
    assert f"{path}:7: params.map[1].value" in text
    with pytest.raises(ConfigError) as err:
        validate(P, {"map": []}, prefix=("params",))
    assert err.value.problems[0].field == "params.map"
    ok = validate(P, {"map": [{"indicator": "river.level", "value": "v", "entity_from": "s",
                               "entities": {2101690: "hrfco-2101690"}}]}, prefix=("params",))
    assert ok.map.root[0].entities == {"2101690": "hrfco-2101690"}


def test_column_headers_that_are_not_jmespath_are_field_names(site_catalog: Catalog) -> None:
    m = mapping([{"indicator": "traffic.parking_occupancy", "value": "점유율(%)", "entity_from": "주차장 명",
                  "entities": {"죽도시장": "parking-jukdo-market"}, "ts_from": "기준 일시"}])
    result = apply(m, [{"주차장 명": "죽도시장", "점유율(%)": "86.2", "기준 일시": "2026-03-15T08:00:00"},
                       {"주차장 명": "죽도시장", "기준 일시": "2026-03-15T08:00:00"}], site_catalog)
    at8 = datetime(2026, 3, 15, 8, tzinfo=KST).timestamp()
    assert [(s.entity, s.value, s.ts) for s in result.samples] == [("parking-jukdo-market", 86.2, at8)]
    assert [(r.field, r.reason.split(" (")[0]) for r in result.rejected] == [("점유율(%)", "field not in the record")]
    with pytest.raises(ConfigError):  # JMESPath syntax is still checked
        mapping([{"indicator": "air.pm10", "value": "items[?x", "entity": "airkorea-songdo"}])
