"""Samples from JSON-like items: every problem named by field, value and reason."""

from __future__ import annotations

import math
import time

import pytest

from situationroom.catalog import Catalog
from situationroom.samples import MAX_INTERVAL_S, Rejection, Sample, check, from_mapping, parse_ts


@pytest.mark.parametrize(("given", "expected"), [
    (1_790_000_000, 1_790_000_000.0), (1_790_000_000_123, 1_790_000_000.123), ("1790000000.5", 1_790_000_000.5),
    ("2026-09-06T05:00:00+09:00", 1_788_638_400.0), ("2026-09-05T20:00:00Z", 1_788_638_400.0),
])
def test_parse_ts(given: object, expected: float) -> None:
    assert parse_ts(given) == pytest.approx(expected)


@pytest.mark.parametrize("bad", ["2026-09-06T05:00:00", "yesterday", True, None, float("nan"), "inf", 10**400, [1]])
def test_parse_ts_rejects(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_ts(bad)


def test_from_mapping_good() -> None:
    s = from_mapping({"indicator": "air.pm10", "entity": "daesong", "ts": 1_790_000_000, "value": "12.5",
                      "interval": 60}, source="push:x")
    assert s == Sample("air.pm10", "daesong", 1_790_000_000.0, 12.5, "push:x", 60.0)
    t0 = time.time()
    s = from_mapping({"indicator": "air.pm10", "entity": "daesong", "value": 1})
    assert isinstance(s, Sample) and t0 <= s.ts <= time.time()


@pytest.mark.parametrize(("item", "field", "value"), [
    ([1, 2], "item", [1, 2]),
    ({"indicator": "a.b", "entity": "e", "value": 1, "unit": "m"}, "unit", "m"),
    ({"entity": "e", "value": 1}, "indicator", None),
    ({"indicator": "a.b", "value": 1}, "entity", None),
    ({"indicator": "a.b", "entity": "e"}, "value", None),
    ({"indicator": 5, "entity": "e", "value": 1}, "indicator", 5),
    ({"indicator": "a.b", "entity": "", "value": 1}, "entity", ""),
    ({"indicator": "a.b", "entity": "e", "value": True}, "value", True),
    ({"indicator": "a.b", "entity": "e", "value": "many"}, "value", "many"),
    ({"indicator": "a.b", "entity": "e", "value": {"v": 1}}, "value", {"v": 1}),
    ({"indicator": "a.b", "entity": "e", "value": 10**400}, "value", 10**400),
    ({"indicator": "a.b", "entity": "e", "value": 1, "ts": "noon"}, "ts", "noon"),
    ({"indicator": "a.b", "entity": "e", "value": 1, "interval": "1m"}, "interval", "1m"),
    ({"indicator": "a.b", "entity": "e", "value": 1, "source": 3}, "source", 3),
])
def test_from_mapping_names_the_field(item: object, field: str, value: object) -> None:
    r = from_mapping(item, index=7)
    assert isinstance(r, Rejection)
    assert (r.field, r.value, r.index) == (field, value, 7) and r.reason


def test_source_comes_from_the_caller() -> None:
    item = {"indicator": "air.pm10", "entity": "daesong", "value": 1}
    s = from_mapping({**item, "source": "push:x"}, source="push:x")
    assert isinstance(s, Sample) and s.source == "push:x"
    # An integrator cannot stamp samples as a real collector: the item is rejected, naming the field.
    r = from_mapping({**item, "source": "airkorea"}, source="push:x", index=3)
    assert isinstance(r, Rejection) and (r.field, r.value, r.index) == ("source", "airkorea", 3)
    assert "push:x" in r.reason
    # Without a caller's source (a plugin's own items), the item's is kept.
    s = from_mapping({**item, "source": "station-7"})
    assert isinstance(s, Sample) and s.source == "station-7"


@pytest.mark.parametrize(("interval", "ok"), [
    (1, True), (60, True), (MAX_INTERVAL_S, True), (0.5, False), (0, False), (-60, False),
    (MAX_INTERVAL_S + 1, False), (math.inf, False), (math.nan, False),
])
def test_interval_is_bounded(interval: float, ok: bool) -> None:
    r = from_mapping({"indicator": "air.pm10", "entity": "daesong", "value": 1, "interval": interval}, index=0)
    if ok:
        assert isinstance(r, Sample) and r.interval == interval
    else:
        assert isinstance(r, Rejection) and r.field == "interval" and "1 s .. 7 d" in r.reason


def test_check_against_catalog_and_clock(mini_catalog: Catalog) -> None:
    now = time.time()
    ok = Sample("air.pm10", "daesong", now, 10.0)
    assert check(ok, mini_catalog, now=now, max_age=3600) is None
    cases = [
        (Sample("air.pm99", "daesong", now, 1.0), "indicator", "unknown indicator"),
        (Sample("air.pm10", "chaeun", now, 1.0), "entity", "not measured for air.pm10"),
        (Sample("air.pm10", "daesong", now, math.inf), "value", "finite"),
        (Sample("air.pm10", "daesong", now, 2001.0), "value", "outside the possible range 0..2000"),
        (Sample("air.pm10", "daesong", now + 3600, 1.0), "ts", "in the future"),
        (Sample("air.pm10", "daesong", now - 7200, 1.0), "ts", "late-arrival limit"),
        (Sample("air.pm10", "daesong", math.nan, 1.0), "ts", "finite"),
        (Sample("air.pm10", "daesong", now, 1.0, interval=0.0), "interval", "positive"),
    ]
    for sample, field, words in cases:
        r = check(sample, mini_catalog, now=now, max_age=3600)
        assert r is not None and r.field == field and words in r.reason, (sample, r)
