"""Comparisons with the past: named events (seeds/events.yaml) and a dashboard's `compare` checked with file:line
errors, by the loader, the wall's store and `situationroom check`; the period each comparison reads and its shift;
retention keeping an event's days."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from situationroom import compare
from situationroom.catalog import Catalog
from situationroom.dashboard_store import DashboardStore
from situationroom.dashboards import load_dashboard
from situationroom.errors import ConfigError
from situationroom.events import Events, load_events
from situationroom.history.layout import EXERCISE, SAMPLES, Partition
from situationroom.history.retention import load_retention
from tests.servers_support import cli
from tests.site_support import REPO

BOARD = """\
title_ko: 비교 시험
title_en: Compare test
grid: {{columns: 4, rows: 2}}
pages:
  - title_ko: 첫 화면
    title_en: First
    panels:
      - {{kind: kpi, at: [1, 1, 2, 1], indicator: rain.hourly, entity: kma-asos-138,
         compare: {kpi}}}
      - {{kind: timeseries, at: [1, 2, 4, 1], indicator: river.level, entities: [hrfco-2101690],
         compare: {chart}}}
"""
EVENTS = """\
events:
  - id: storm-2020
    name_ko: 태풍 마이삭(2020)
    name_en: Typhoon Maysak (2020)
    start: 2020-09-02T12:00:00+09:00
    end: 2020-09-03T12:00:00+09:00
"""
KST_2022_09_06 = datetime(2022, 9, 5, 15, tzinfo=UTC).timestamp()
"""2022-09-06 00:00 KST."""


def _problems(path: Path, catalog: Catalog, events: Events) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_dashboard(path, catalog, events)
    return [str(p) for p in info.value.problems]


@pytest.fixture(scope="module")
def events() -> Events:
    return load_events(REPO / "seeds")


def test_the_shipped_event_is_hinnamnor_as_exercise_data(events: Events) -> None:
    event = events.get("hinnamnor-2022")
    assert event is not None and event.dataset == "exercise" and event.scenario == "typhoon-hinnamnor"
    assert event.start_s == datetime(2022, 9, 5, 9, tzinfo=UTC).timestamp()   # 18:00 KST
    assert event.end_s - event.start_s == 30 * 3600
    assert event.label("ko") == "태풍 힌남노(2022) · 모의 재현·훈련"
    assert event.label("en") == "Typhoon Hinnamnor (2022) · simulated, exercise"
    assert event.utc_dates() == ["2022-09-05", "2022-09-06"]


def test_a_good_compare_loads_and_each_bad_one_is_named_by_file_line_and_field(
        tmp_path: Path, site_catalog: Catalog, events: Events) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(BOARD.format(kpi="last_week", chart="{event: hinnamnor-2022}"), encoding="utf-8")
    board = load_dashboard(good, site_catalog, events)
    assert [p.compare for p in board.pages[0].panels] == ["last_week", {"event": "hinnamnor-2022"}]

    bad = tmp_path / "bad.yaml"
    bad.write_text(BOARD.format(kpi="last_month", chart="{event: hinnamnor-2023}"), encoding="utf-8")
    problems = _problems(bad, site_catalog, events)
    assert len(problems) == 2
    assert problems[0].startswith(f"{bad}:9: pages[0].panels[0].compare: unknown comparison; compare is yesterday, "
                                  "last_week, last_year or {event: ")
    assert problems[0].endswith("(got 'last_month')")
    assert problems[1] == (f"{bad}:11: pages[0].panels[1].compare.event: unknown event (not in seeds/events.yaml); "
                           "events: hinnamnor-2022 (got 'hinnamnor-2023')")

    other = tmp_path / "other.yaml"
    other.write_text(BOARD.format(kpi="{event: hinnamnor-2022}", chart="{event: hinnamnor-2022, colour: red}"),
                     encoding="utf-8")
    problems = _problems(other, site_catalog, events)
    assert "pages[0].panels[0].compare: a KPI compares with the same time yesterday, last_week or last_year" \
        in problems[0]
    assert "pages[0].panels[1].compare.colour: unknown key" in problems[1]


def test_a_coded_indicator_has_no_difference_to_show(tmp_path: Path, site_catalog: Catalog, events: Events) -> None:
    path = tmp_path / "coded.yaml"
    path.write_text(BOARD.format(kpi="last_week", chart="yesterday").replace(
        "indicator: rain.hourly, entity: kma-asos-138", "indicator: advisory.typhoon"), encoding="utf-8")
    assert "pages[0].panels[0].compare: a coded indicator (labels) has no difference to show" in \
        _problems(path, site_catalog, events)[0]


def test_the_wall_shows_a_bad_compare_like_any_other_mistake_and_keeps_the_last_good_version(
        tmp_path: Path, site_catalog: Catalog, events: Events) -> None:
    path = tmp_path / "board.yaml"
    path.write_text(BOARD.format(kpi="last_week", chart="last_year"), encoding="utf-8")
    store = DashboardStore(tmp_path, site_catalog, events)
    store.load_all()
    entry = store.get("board")
    assert entry is not None and entry.error is None
    path.write_text(BOARD.format(kpi="last_week", chart="{event: nowhere}"), encoding="utf-8")
    entry = store.reload("board")
    assert entry is not None and entry.dashboard is not None   # the last good version stays up
    info = entry.error_info()
    assert info is not None and info["problems"][0]["line"] == 11
    assert info["problems"][0]["field"] == "pages[0].panels[1].compare.event"


def test_events_file_errors_name_file_line_and_field(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    shutil.copytree(REPO / "seeds" / "scenarios", seeds / "scenarios")
    path = seeds / "events.yaml"
    path.write_text(EVENTS + "    colour: red\n" + EVENTS.replace("events:\n", "").replace(
        "2020-09-03T12:00:00+09:00", "2020-09-01T12:00:00+09:00") + "    scenario: typhoon-maysak\n"
        "    dataset: exercise\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_events(seeds)
    text = [str(p) for p in info.value.problems]
    assert f"{path}:7: events[0].colour: unknown key" in text[0]
    assert any(t.startswith(f"{path}:8: events[1]") and "end must be after start" in t for t in text), text
    path.write_text(EVENTS + EVENTS.replace("events:\n", "") + "    scenario: typhoon-maysak\n    dataset: exercise\n",
                    encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_events(seeds)
    text = [str(p) for p in info.value.problems]
    assert text == [f"{path}:7: events[1].id: repeats the id of events[0] (got 'storm-2020')",
                    f"{path}:12: events[1].scenario: no such scenario in seeds/scenarios/ (got 'typhoon-maysak')"]
    path.write_text(EVENTS.replace("+09:00", ""), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_events(seeds)
    assert f"{path}:5: events[0].start" in str(info.value) and "timezone" in str(info.value)


def test_check_names_a_bad_compare_and_a_bad_events_file(tmp_path: Path) -> None:
    site = tmp_path / "site"
    for part in ("seeds", "collectors", "dashboards"):
        shutil.copytree(REPO / part, site / part)
    board = site / "dashboards" / "typhoon.yaml"
    text = board.read_text(encoding="utf-8")
    board.write_text(text.replace("compare: last_week,", "compare: last_month,", 1), encoding="utf-8")
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "compare: last_week," in row)
    result = cli("check", "--site", str(site))
    assert result.returncode == 2
    assert f"typhoon.yaml:{line}: pages[0].panels[0].compare: unknown comparison" in result.stderr
    assert "(got 'last_month')" in result.stderr and "Traceback" not in result.stderr
    board.write_text(text, encoding="utf-8")
    (site / "seeds" / "events.yaml").write_text(EVENTS.replace("name_en", "title_en"), encoding="utf-8")
    result = cli("check", "--site", str(site))
    assert result.returncode == 2
    assert "events.yaml:4: events[0].title_en: unknown key" in result.stderr
    # Without its event, the typhoon board's charts name what they miss.
    assert "typhoon.yaml" in result.stderr and "compare.event: unknown event" in result.stderr


def test_each_comparison_reads_its_period_and_says_its_shift(events: Events) -> None:
    now = 1_796_000_000.0
    week = compare.period(compare.Compare("last_week"), events, now - 6 * 3600, now)
    assert (week.start, week.end, week.shift) == (now - 6 * 3600 - 7 * 86400, now - 7 * 86400, 7 * 86400)
    assert compare.period(compare.Compare("yesterday"), events, now - 60, now).shift == 86400
    assert compare.period(compare.Compare("last_year"), events, now - 60, now).shift == 364 * 86400
    hinnamnor = events.get("hinnamnor-2022")
    assert hinnamnor is not None
    # Today: the event starts at the chart's left edge, and what fits the span is read.
    today = compare.period(compare.Compare("event", "hinnamnor-2022"), events, now - 12 * 3600, now)
    assert today.start == hinnamnor.start_s and today.end == hinnamnor.start_s + 12 * 3600
    assert today.shift == now - 12 * 3600 - hinnamnor.start_s
    # A replay of the event itself: the axis shows its simulated time, and the record is drawn at its own dates.
    replay = compare.period(compare.Compare("event", "hinnamnor-2022"), events, KST_2022_09_06 - 6 * 3600,
                            KST_2022_09_06 + 5 * 3600)
    assert replay.shift == 0 and replay.start == hinnamnor.start_s and replay.end == KST_2022_09_06 + 5 * 3600
    # An axis just after the event does not reach its dates: the event starts at its left edge again.
    after = compare.period(compare.Compare("event", "hinnamnor-2022"), events, hinnamnor.end_s, hinnamnor.end_s + 3600)
    assert (after.start, after.end, after.shift) == (hinnamnor.start_s, hinnamnor.start_s + 3600,
                                                     hinnamnor.end_s - hinnamnor.start_s)


def test_retention_keeps_an_events_days(site_catalog: Catalog) -> None:
    retention = load_retention(REPO / "seeds", site_catalog)
    now = datetime(2026, 12, 6, tzinfo=UTC).timestamp()
    for dataset in (SAMPLES, EXERCISE):
        assert not retention.expired(Partition(dataset, "2022-09-05", "weather"), now)
        assert not retention.expired(Partition(dataset, "2022-09-06", "environment"), now)
        assert retention.expired(Partition(dataset, "2022-09-07", "weather"), now)   # weather keeps a year
