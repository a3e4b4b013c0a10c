"""Dashboard files: the shipped ones load, mistakes are named by file:line:field, and a broken edit keeps the
last good version up (also through the file watcher)."""

from __future__ import annotations

import asyncio
import itertools
import shutil
from pathlib import Path

import pytest

from situationroom.catalog import Catalog
from situationroom.dashboard_store import DashboardStore
from situationroom.dashboards import (
    ClockPanel,
    KpiPanel,
    MapPanel,
    load_dashboard,
    resolve_entities,
)
from situationroom.errors import ConfigError
from situationroom.events import load_events
from situationroom.web.dashboard_view import resolve
from tests.site_support import REPO

GOOD = """\
title_ko: 시험 상황판
title_en: Test board
rotate: 30s
grid: {columns: 4, rows: 3}
pages:
  - title_ko: 첫 화면
    title_en: First
    panels:
      - {kind: map, at: [1, 1, 2, 3]}
      - {kind: kpi, at: [3, 1, 2, 1], indicator: rain.hourly, entity: kma-asos-138}
      - {kind: clock, at: [3, 2, 2, 2]}
"""


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _problems(path: Path, catalog: Catalog) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_dashboard(path, catalog)
    return [str(p) for p in info.value.problems]


def test_every_shipped_dashboard_loads_and_the_domains_are_covered(site_catalog: Catalog) -> None:
    store = DashboardStore(REPO / "dashboards", site_catalog, load_events(REPO / "seeds"))
    store.load_all()
    assert {name: entry.error for name, entry in store.entries.items() if entry.error} == {}
    assert {"overview", "safety", "environment", "traffic", "economy", "administration"} <= set(store.entries)
    wall = store.get("overview")
    assert wall is not None and wall.dashboard is not None
    kinds = {p.kind for page in wall.dashboard.pages for p in page.panels}
    assert {"map", "kpi", "timeseries", "alerts", "ticker", "domains"} <= kinds


def test_a_valid_file_becomes_typed_panels_with_defaults(tmp_path: Path, site_catalog: Catalog) -> None:
    board = load_dashboard(_write(tmp_path, "test", GOOD), site_catalog)
    assert board.rotate == 30 and board.disconnect_banner == 10  # the banner default
    map_panel, kpi, clock = board.pages[0].panels
    assert isinstance(map_panel, MapPanel) and map_panel.domains == []
    assert isinstance(kpi, KpiPanel) and kpi.spark == 3 * 3600
    assert isinstance(clock, ClockPanel)


def test_each_mistake_is_named_by_file_line_and_field(tmp_path: Path, site_catalog: Catalog) -> None:
    path = _write(tmp_path, "broken", GOOD.replace("rain.hourly", "rain.hourlyy")
                  .replace("{kind: clock, at: [3, 2, 2, 2]}", "{kind: clock, at: [3, 2, 2, 2], colour: red}"))
    problems = _problems(path, site_catalog)
    assert problems == [
        f"{path}:10: pages[0].panels[1].indicator: unknown indicator (not in seeds/catalog.yaml) (got 'rain.hourlyy')",
        f"{path}:11: pages[0].panels[2].colour: unknown key (got 'red')",
    ]


def test_unknown_kinds_entities_domains_and_missing_fields(tmp_path: Path, site_catalog: Catalog) -> None:
    text = """\
title_ko: 시험
title_en: Test
pages:
  - title_ko: 첫 화면
    title_en: First
    panels:
      - {kind: gauge, at: [1, 1, 1, 1]}
      - {kind: kpi, at: [2, 1, 1, 1], indicator: air.pm10}
      - {kind: kpi, at: [3, 1, 1, 1], indicator: air.pm10, entity: nowhere}
      - {kind: alerts, at: [4, 1, 1, 1], domains: [space]}
      - {kind: ranking, at: [5, 1, 1, 1], indicator: air.pm10, entities: [road]}
      - {at: [6, 1, 1, 1]}
      - {kind: ticker}
"""
    path = _write(tmp_path, "broken", text)
    problems = _problems(path, site_catalog)
    assert problems[0] == (f"{path}:7: pages[0].panels[0].kind: unknown panel kind; kinds: map, kpi, timeseries, "
                           "ranking, alerts, ticker, clock, domains (got 'gauge')")
    assert problems[1].startswith(f"{path}:8: pages[0].panels[1].entity: give the entity: air.pm10 is measured for")
    assert problems[2] == f"{path}:9: pages[0].panels[2].entity: entity is not measured for air.pm10 (got 'nowhere')"
    assert problems[3].startswith(f"{path}:10: pages[0].panels[3].domains[0]: unknown domain; domains: safety")
    assert problems[4] == (f"{path}:11: pages[0].panels[4].entities[0]: neither an entity nor an entity kind "
                           "measured for air.pm10 (got 'road')")
    assert problems[5].startswith(f"{path}:12: pages[0].panels[5].kind: required field is missing")
    assert problems[6] == f"{path}:13: pages[0].panels[6].at: required field is missing"


def test_panels_stay_inside_the_grid_and_do_not_overlap(tmp_path: Path, site_catalog: Catalog) -> None:
    path = _write(tmp_path, "broken", GOOD.replace("[3, 2, 2, 2]", "[2, 2, 2, 2]").replace("[1, 1, 2, 3]",
                                                                                          "[1, 1, 2, 4]"))
    problems = _problems(path, site_catalog)
    assert problems == [
        f"{path}:9: pages[0].panels[0].at: the panel reaches beyond the grid of 4 columns × 3 rows "
        "(got [1, 1, 2, 4])",
        f"{path}:11: pages[0].panels[2].at: overlaps panels[0] of this page (got [2, 2, 2, 2])",
    ]


def test_top_level_and_syntax_errors_name_the_line(tmp_path: Path, site_catalog: Catalog) -> None:
    path = _write(tmp_path, "broken", GOOD.replace("rotate: 30s", "rotate: soon"))
    assert _problems(path, site_catalog) == [
        f"{path}:3: rotate: Value error, a duration such as 30s, 5m or 1h is expected (got 'soon')"]
    path = _write(tmp_path, "broken", GOOD.replace("grid: {columns: 4, rows: 3}", "grid: {columns: 4, rows: 3"))
    assert _problems(path, site_catalog)[0].startswith(f"{path}:5: YAML syntax")


def test_a_timeseries_with_too_many_lines_is_refused(tmp_path: Path, site_catalog: Catalog) -> None:
    path = _write(tmp_path, "broken", GOOD.replace("{kind: clock, at: [3, 2, 2, 2]}",
                                                   "{kind: timeseries, at: [3, 2, 2, 2], indicator: air.pm10}"))
    assert _problems(path, site_catalog) == [
        f"{path}:11: pages[0].panels[2].entities: 39 lines are too many for one chart (at most 12); "
        "list the entities"]


def test_entity_kinds_expand_in_catalog_order(site_catalog: Catalog) -> None:
    assert resolve_entities(site_catalog, "safety.calls_119", ["gu"]) == ["47111", "47113"]
    assert resolve_entities(site_catalog, "safety.calls_119", []) == ["pohang", "47111", "47113"]


def test_a_broken_edit_keeps_the_last_good_version(tmp_path: Path, site_catalog: Catalog) -> None:
    store = DashboardStore(tmp_path, site_catalog)
    _write(tmp_path, "wall", GOOD)
    store.load_all()
    good = store.get("wall")
    assert good is not None and good.error is None and good.dashboard is not None
    first_version = good.version

    _write(tmp_path, "wall", GOOD.replace("rain.hourly", "rain.nope"))
    entry = store.reload("wall")
    assert entry is not None and entry.dashboard is good.dashboard  # still the good one on screen
    assert entry.version != first_version  # but the pages are told something changed
    info = entry.error_info()
    assert info is not None and info["problems"][0]["line"] == 10
    assert info["problems"][0]["field"] == "pages[0].panels[1].indicator"
    assert info["problems"][0]["value"] == "rain.nope"

    _write(tmp_path, "wall", GOOD.replace("First", "Fixed"))
    entry = store.reload("wall")
    assert entry is not None and entry.error is None and entry.dashboard is not None
    assert entry.dashboard.pages[0].title_en == "Fixed"


def test_a_file_broken_from_the_start_has_an_error_and_nothing_to_show(tmp_path: Path,
                                                                         site_catalog: Catalog) -> None:
    _write(tmp_path, "wall", "title_ko: 시험\n")
    store = DashboardStore(tmp_path, site_catalog)
    store.load_all()
    entry = store.get("wall")
    assert entry is not None and entry.dashboard is None
    assert [p.field for p in entry.error.problems] == ["title_en", "pages"]  # type: ignore[union-attr]


def test_the_resolved_definition_carries_names_units_specs_and_topics(tmp_path: Path, site_catalog: Catalog) -> None:
    store = DashboardStore(tmp_path, site_catalog)
    _write(tmp_path, "wall", GOOD)
    store.load_all()
    out = resolve(store.entries["wall"], site_catalog, REPO / "seeds", 2.5)
    assert out["topics"] == ["all"]  # the map covers every indicator
    assert out["stale_grace"] == 2.5 and out["city"]["utc_offset_ms"] == 9 * 3600 * 1000
    map_panel, kpi, _ = out["dashboard"]["pages"][0]["panels"]
    districts = map_panel["spec"]["datasets"]["districts"]
    assert len(districts) == 29 and {d["status"] for d in districts} == {"unknown"}
    assert kpi["title"] == {"ko": "시간 강수량 · 포항 (ASOS 138)", "en": "Hourly rainfall · Pohang (ASOS 138)"}
    assert out["indicators"]["safety.calls_119"]["unit"] == {"ko": "건", "en": "calls"}
    # A station paints its own 행정동; a gu-wide value paints none (it would hide where the trouble is).
    assert out["entities"]["airkorea-3gongdan"]["cells"] == ["4711131000"]
    assert out["entities"]["47111"]["cells"] == [] and out["entities"]["kma-grid-102-94"]["cells"] == []


RIVERS = """\
title_ko: 하천
title_en: Rivers
grid: {columns: 4, rows: 3}
pages:
  - title_ko: 하천
    title_en: Rivers
    panels:
      - {kind: timeseries, at: [1, 1, 4, 1], indicator: river.level,
         entities: [hrfco-2101690, hrfco-2403617, hrfco-2402680]}
      - {kind: timeseries, at: [1, 2, 4, 1], indicator: rain.hourly,
         entities: [kma-asos-138, "4711125600"]}
      - {kind: alerts, at: [1, 3, 2, 1], domains: [safety]}
      - {kind: map, at: [3, 3, 2, 1], domains: [safety]}
"""


def _axis_titles(spec: dict) -> list[object]:
    lines = next(layer for layer in spec["layer"] if layer["data"]["name"] == "points")
    return [lines["encoding"]["x"]["title"], lines["encoding"]["y"]["title"]]


def test_a_threshold_line_is_drawn_for_the_series_it_belongs_to_and_every_axis_has_its_unit(
        tmp_path: Path, site_catalog: Catalog) -> None:
    store = DashboardStore(tmp_path, site_catalog)
    _write(tmp_path, "rivers", RIVERS)
    store.load_all()
    out = resolve(store.entries["rivers"], site_catalog, REPO / "seeds", 2.5)
    river, rain, alerts, _map = out["dashboard"]["pages"][0]["panels"]
    # Only 형산교 has published stages: its lines say so, and nothing is drawn for 문충교 or 곡강교.
    assert river["specs"]["ko"]["datasets"]["levels"] == [
        {"level": "warning", "y": 2.5, "label": "형산교 주의 2.50 m"},
        {"level": "critical", "y": 3.0, "label": "형산교 경계 3.00 m"}]
    assert [lv["label"] for lv in river["specs"]["en"]["datasets"]["levels"]] == [
        "Hyeongsan Bridge warning 2.50 m", "Hyeongsan Bridge critical 3.00 m"]
    # Thresholds every line shares are drawn once, without names; 72 mm/h is 심각.
    assert [lv["label"] for lv in rain["specs"]["ko"]["datasets"]["levels"]] == [
        "주의 30.0 mm", "경계 50.0 mm", "심각 72.0 mm"]
    assert _axis_titles(river["specs"]["ko"]) == ["시각 (KST)", "m"]
    assert _axis_titles(rain["specs"]["en"]) == ["time (KST)", "mm"]
    # An alert row shows its series' value now, so the alert panel follows its domains' series too.
    assert "domain:safety" in out["topics"] and "alerts" in out["topics"]
    # The page's scale: every status with its words, lowest first.
    assert [(s["id"], s["ko"], s["en"]) for s in out["scale"]] == [
        ("unknown", "자료 없음", "no data"), ("none", "기준 없음", "no threshold"), ("normal", "정상", "normal"),
        ("stale", "지연", "stale"), ("info", "관심", "info"), ("warning", "주의", "warning"),
        ("critical", "경계", "critical"), ("severe", "심각", "severe")]
    assert alerts["kind"] == "alerts"


def test_the_map_has_an_inset_for_the_city_centre_in_an_empty_corner(site_catalog: Catalog) -> None:
    from situationroom.wall_charts import district_inset, district_map

    whole = district_map(site_catalog, REPO / "seeds")
    inset = district_inset(site_catalog, REPO / "seeds")
    assert inset is not None
    small = {d["code"] for d in inset["datasets"]["districts"]}
    # The districts too small to label on the whole map are the inset's, and labelled there.
    assert {lab["code"] for lab in inset["datasets"]["labels"]} == small
    assert not small & {lab["code"] for lab in whole["datasets"]["labels"]}
    assert len(small) + len(whole["datasets"]["labels"]) == 29 and "4711156000" in small  # 청림동
    corner = inset["usermeta"]["corner"]
    assert corner["corner"] in ("ne", "nw", "se", "sw") and corner["w"] >= 0.25 and corner["h"] >= 0.25


def test_rings_are_clockwise_for_d3_geo(site_catalog: Catalog) -> None:
    from situationroom.wall_charts import district_map

    spec = district_map(site_catalog, REPO / "seeds")
    for feature in spec["datasets"]["districts"]:
        geom = feature["geometry"]
        ring = geom["coordinates"][0] if geom["type"] == "Polygon" else geom["coordinates"][0][0]
        # Shoelace sum on (lon, lat): negative means clockwise, which d3-geo reads as "inside".
        area = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in itertools.pairwise(ring))
        assert area < 0, feature["code"]


async def test_the_watcher_reloads_and_tells_the_pages(tmp_path: Path, site_catalog: Catalog) -> None:
    _write(tmp_path, "wall", GOOD)
    store = DashboardStore(tmp_path, site_catalog)
    store.load_all()
    told: asyncio.Queue[tuple[str, str, bool]] = asyncio.Queue()
    stop = asyncio.Event()

    async def on_change(entry: object) -> None:
        await told.put((entry.name, entry.version, entry.error is None))  # type: ignore[attr-defined]

    task = asyncio.create_task(store.watch(on_change, stop))
    try:
        await asyncio.sleep(0.5)  # the watcher is armed
        _write(tmp_path, "wall", GOOD.replace("rain.hourly", "rain.nope"))
        name, version, valid = await asyncio.wait_for(told.get(), 10)
        assert (name, valid) == ("wall", False)
        assert store.entries["wall"].dashboard is not None
        shutil.copy(tmp_path / "wall.yaml", tmp_path / "second.yaml")
        name, _, valid = await asyncio.wait_for(told.get(), 10)
        assert (name, valid) == ("second", False)
        _write(tmp_path, "wall", GOOD)
        name, version2, valid = await asyncio.wait_for(told.get(), 10)
        assert (name, valid) == ("wall", True) and version2 != version
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
