"""What concerns an incident: areas (the city, a gu, a 행정동) and what lies in them, an alert's changes told once
each, silences pinned to the hazard's indicators inside the area."""

from __future__ import annotations

from typing import Any

from situationroom.catalog import Catalog
from situationroom.incidents.gather import (
    alert_entries,
    area_problem,
    concerns_alert,
    concerns_silence,
    covers,
    silence_kinds,
)
from situationroom.incidents.hazards import Hazard

FLOOD = Hazard(id="flood", name_ko="홍수", name_en="Flood", scale="emergency", indicators=["river.level"])
DUST = Hazard(id="fine-dust", name_ko="미세먼지", name_en="Fine dust", scale="crisis", domains=["environment"])


def test_an_area_is_the_city_a_gu_or_a_dong(mini_catalog: Catalog) -> None:
    assert [area_problem(mini_catalog, a) for a in ("pohang", "47111", "4711125300")] == [None, None, None]
    assert "47111, 47113" in area_problem(mini_catalog, "seoul")
    assert area_problem(mini_catalog, "hyeongsan") is not None  # a gauge is not an area


def test_what_lies_in_an_area(mini_catalog: Catalog) -> None:
    yeonil = {"pohang", "47111", "4711125300", "hyeongsan"}  # 형산교: 연일읍, Nam-gu
    assert covers(mini_catalog, "pohang", yeonil)
    assert covers(mini_catalog, "47111", yeonil)
    assert covers(mini_catalog, "4711125300", yeonil)
    assert not covers(mini_catalog, "47113", yeonil)  # Buk-gu
    assert not covers(mini_catalog, "4711125000", yeonil)  # 구룡포읍, Nam-gu too but another eup
    # City-wide (or gu-wide, for a dong of it) concerns every part.
    assert covers(mini_catalog, "4711325000", {"pohang"})
    assert covers(mini_catalog, "4711125000", {"pohang", "47111"})
    assert not covers(mini_catalog, "4711325000", {"pohang", "47111"})


def _alert(**given: Any) -> dict[str, Any]:
    base = {"fingerprint": "f1", "rule": "river.stage", "indicator": "river.level", "entity": "hyeongsan",
            "district": "4711125300", "episode": 1, "state": "firing", "level": 2, "severity": "주의", "tier": 0,
            "acked": None, "muted": None, "fired": 1000, "since": 1000, "updated": 1000, "exercise": False}
    return {**base, **given}


def test_each_change_of_an_alert_is_told_once(mini_catalog: Catalog) -> None:
    assert concerns_alert(FLOOD, "47111", mini_catalog, _alert())
    assert not concerns_alert(FLOOD, "47113", mini_catalog, _alert())
    assert not concerns_alert(DUST, "pohang", mini_catalog, _alert())
    assert alert_entries(_alert(state="pending"), None) == ([], None)
    steps = [_alert(), _alert(), _alert(level=3, since=2000), _alert(level=3, tier=1, escalated_at=3000),
             _alert(level=3, tier=1, acked={"by": "ds-kim", "at": 4000, "comment": "확인"}),
             _alert(level=3, tier=1, acked={"by": "ds-kim", "at": 4000}, muted={"id": "s1", "by": "op"}),
             _alert(state="resolved", level=0, tier=1, acked={"by": "ds-kim"}, muted={"id": "s1"}, resolved=5000),
             _alert(episode=2, since=6000, fired=6000)]
    seen, told = None, []
    for step in steps:
        entries, seen = alert_entries(step, seen)
        told += [(e["event"], e["at"], e.get("by")) for e in entries]
    assert told == [("fired", 1000, None), ("raised", 2000, None), ("escalated", 3000, None),
                    ("acknowledged", 4000, "ds-kim"), ("silenced", 1000, "op"), ("resolved", 5000, None),
                    ("fired", 6000, None)]


def test_silences_of_the_hazards_indicators_inside_the_area(mini_catalog: Catalog) -> None:
    assert concerns_silence(FLOOD, "47111", mini_catalog, {"indicator": "river.level"})
    assert concerns_silence(FLOOD, "47111", mini_catalog, {"indicator": "river.level", "entity": "hyeongsan"})
    assert not concerns_silence(FLOOD, "47111", mini_catalog, {"indicator": "river.level", "entity": "chaeun"})
    assert not concerns_silence(FLOOD, "47111", mini_catalog, {"department": "disaster-safety"})
    assert concerns_silence(DUST, "pohang", mini_catalog, {"domain": "environment"})
    assert concerns_silence(DUST, "47113", mini_catalog, {"indicator": "air.pm10", "gu": "47113"})
    assert silence_kinds({"exercise": "true"}) == (True,)
    assert silence_kinds({"indicator": "river.level"}) == (False, True)
