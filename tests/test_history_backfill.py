"""The simulated city's past in the history store: `situationroom history backfill`, and `situationroom up` filling
30 days beside the roles so the wall's 30-day charts show a month within a minute of a fresh start."""

from __future__ import annotations

import asyncio
import itertools
import re
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from playwright.sync_api import Browser, Page

from situationroom import backfill as bf
from situationroom.catalog import load_catalog
from situationroom.cli.backfill import summary_line
from situationroom.cli.event_history import record_events
from situationroom.collectors.definition import load_collector
from situationroom.collectors.kinds.simulator import Simulator
from situationroom.collectors.kinds.simulator.backfill import OLD_SPACING
from situationroom.collectors.runtime.build import build_kind
from situationroom.events import load_events
from situationroom.history import layout
from situationroom.history.store import HistoryStore, store_for
from situationroom.settings import Settings
from tests.browser import needs_chromium
from tests.history_support import every_row
from tests.servers_support import Up, cli, wait_for
from tests.site_support import REPO

UNTIL = 1_796_000_000.0
"""The instant the backfills of these tests end at (2026-12-02 11:33 UTC): any fixed one will do."""
DAYS = 2


def simulated_series(settings: Settings) -> dict[str, set[tuple[str, str]]]:
    """Every series each simulator collector of the site delivers live, by collector id."""
    catalog = load_catalog(settings.seeds)
    out: dict[str, set[tuple[str, str]]] = {}
    for path in sorted(settings.collectors_dir.glob("sim-*.yaml")):
        sim = build_kind(load_collector(path), catalog, settings)
        assert isinstance(sim, Simulator)
        out[path.stem] = {(i, e) for i in sim.indicators if i in sim.sim.series for e in catalog.entities_of(i)}
    return out


def exercise_rows(store: HistoryStore) -> dict[str, list]:
    """Every row of the exercise dataset, by column (`ts` in epoch ms, the names as plain strings)."""
    table = store.read(store.files_for(layout.EXERCISE, layout.dates_between(0, int(UNTIL * 1000) + 1)))
    return {"indicator": table["indicator"].cast("string").to_pylist(),
            "entity": table["entity"].cast("string").to_pylist(), "ts": table["ts"].cast("int64").to_pylist(),
            "value": table["value"].to_pylist(), "source": table["source"].to_pylist()}


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, bf.Backfill, float]:
    settings = Settings(site=REPO, data_dir=tmp_path_factory.mktemp("backfill"))
    began = time.monotonic()
    done = bf.backfill(settings, DAYS, until=UNTIL)
    return settings, done, time.monotonic() - began


def test_every_simulated_series_gets_its_past_days_in_the_exercise_dataset(
        filled: tuple[Settings, bf.Backfill, float]) -> None:
    settings, done, seconds = filled
    store = store_for(settings)
    rows = exercise_rows(store)
    expected = simulated_series(settings)
    assert done.series == sum(len(s) for s in expected.values()) == 586
    found: dict[tuple[str, str, str], list[int]] = {}
    for i, e, ts, s in zip(rows["indicator"], rows["entity"], rows["ts"], rows["source"], strict=True):
        found.setdefault((s, i, e), []).append(ts)
    assert {(s, i, e) for s, i, e in found} == {(c, i, e) for c, series in expected.items() for i, e in series}
    first = (int(UNTIL) - DAYS * 86_400) // 3600 * 3600
    for times in found.values():
        # Every series spans the days asked for, up to the instant the backfill ends at, without a gap: at most an
        # hour apart (the hourly series), a couple of spacings where the source left a value out.
        assert min(times) < (first + 3600) * 1000 and UNTIL * 1000 - max(times) <= 3600 * 1000
        assert max(b - a for a, b in itertools.pairwise(sorted(times))) <= 2 * 3600 * 1000
    # Old days at least five minutes apart, the last day at the catalog's interval (the city's buses: a minute).
    buses = sorted(found["sim-traffic", "traffic.bus_delay", "pohang"])
    old = [t for t in buses if t < (UNTIL - 86_400) * 1000]
    assert min(b - a for a, b in itertools.pairwise(old)) == OLD_SPACING * 1000
    recent = [t for t in buses if t >= (UNTIL - 86_400 + 3600) * 1000]
    assert min(b - a for a, b in itertools.pairwise(recent)) == 60_000
    # Exercise data only: nothing in the city's real history.
    assert store.partitions(layout.SAMPLES) == []
    assert done.written == len(rows["ts"])
    print(f"backfill of {DAYS} days: {done.written:,} samples of {done.series} series in {seconds:.1f} s")


def test_the_past_holds_what_the_live_simulator_delivers_at_those_instants(
        filled: tuple[Settings, bf.Backfill, float]) -> None:
    settings, _, _ = filled
    rows = exercise_rows(store_for(settings))
    catalog = load_catalog(settings.seeds)
    for name in ("sim-safety", "sim-traffic"):
        live = build_kind(load_collector(settings.collectors_dir / f"{name}.yaml"), catalog, settings)
        assert isinstance(live, Simulator)
        asyncio.run(live.collect(UNTIL))   # started at the instant the backfill ends at: simulated time is real time
        for t in (UNTIL - 36 * 3600 - UNTIL % 600, UNTIL - 3 * 3600 - UNTIL % 600):
            delivered = {(s.indicator, s.entity): s.value for s in asyncio.run(live.collect(t)).samples}
            stored = {(i, e): v for i, e, ts, v, s in zip(rows["indicator"], rows["entity"], rows["ts"],
                                                          rows["value"], rows["source"], strict=True)
                      if s == name and ts == t * 1000}
            assert stored and {k: delivered.get(k) for k in stored} == stored
            # Every series due then is there, and the few values the live source leaves out (its `missing` rate)
            # are left out of the past too.
            due = {(i, e) for i, e in delivered if t % catalog.indicators[i].interval == 0}
            assert due and due <= set(stored)


def test_a_second_backfill_writes_nothing_and_one_cut_short_fills_in_only_what_is_missing(
        filled: tuple[Settings, bf.Backfill, float], tmp_path: Path) -> None:
    settings, _, _ = filled
    copy = tmp_path / "history"
    shutil.copytree(settings.resolved_history_dir, copy)
    mine = Settings(site=REPO, data_dir=tmp_path, history_dir=copy)
    store = store_for(mine)
    before = {f.path: f.size for p in store.partitions(layout.EXERCISE) for f in store.files(p)}
    again = bf.backfill(mine, DAYS, until=UNTIL)
    assert again.written == 0 and all(f.hours == 0 for f in again.filled)
    assert {f.path: f.size for p in store.partitions(layout.EXERCISE) for f in store.files(p)} == before
    # A backfill stopped after some files: the next one writes the missing files again, under the same names.
    gone = sorted(before)[:3]
    store.delete(gone)
    refill = bf.backfill(mine, DAYS, until=UNTIL)
    assert refill.written > 0
    assert {f.path: f.size for p in store.partitions(layout.EXERCISE) for f in store.files(p)} == before
    table = store.read(store.files_for(layout.EXERCISE, layout.dates_between(0, int(UNTIL * 1000) + 1)))
    assert table.num_rows == len(set(zip(*(table[c].to_pylist() for c in layout.KEY), strict=True)))


def test_hours_a_running_simulator_delivered_are_not_generated_again(tmp_path: Path) -> None:
    settings = Settings(site=REPO, data_dir=tmp_path)
    store = store_for(settings)
    # `up` ran for a while in the hour before the backfill's end: the history role wrote what sim-environment sent.
    hour = int(UNTIL) // 3600 * 3600 - 3600
    ran = pa.table({"indicator": ["air.pm10"], "entity": ["airkorea-songdo"], "ts": [(hour + 1234) * 1000],
                    "value": [41.0], "source": ["sim-environment"]})
    store.write(layout.Partition(layout.EXERCISE, layout.date_of(hour * 1000), "environment"),
                layout.flush_name(layout.hour_of(hour * 1000), [b"1-0"]),
                ran.set_column(2, "ts", ran["ts"].cast(pa.timestamp("ms", tz="UTC"))))
    bf.backfill(settings, 1, until=UNTIL)
    rows = exercise_rows(store)
    in_hour = {s for s, ts in zip(rows["source"], rows["ts"], strict=True) if hour * 1000 <= ts < (hour + 3600) * 1000}
    hours_of = {ts // 3_600_000 for s, ts in zip(rows["source"], rows["ts"], strict=True) if s == "sim-environment"}
    assert "sim-environment" in in_hour and "sim-weather" in in_hour     # the row `up` wrote; weather filled in
    assert len([ts for s, ts in zip(rows["source"], rows["ts"], strict=True)
                if s == "sim-environment" and hour * 1000 <= ts < (hour + 3600) * 1000]) == 1
    assert len(hours_of) == 25 and hour // 3600 - 1 in hours_of and hour // 3600 + 1 in hours_of


def test_simulators_replaying_a_scenario_have_no_past_to_fill(tmp_path: Path) -> None:
    site = tmp_path / "site"
    for part in ("seeds", "collectors", "dashboards", "rules"):
        shutil.copytree(REPO / part, site / part)
    for path in (site / "collectors").glob("sim-*.yaml"):
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("\nparams:\n", '\nparams:\n  start: "2022-09-06 04:30"\n'), encoding="utf-8")
    done = bf.backfill(Settings(site=site, data_dir=tmp_path / "data"), 3, until=UNTIL)
    assert done.parts == 0 and len(done.skipped) == 7
    assert "scenario starts at a simulated time of its own" in (summary_line(done) or "")
    done = bf.backfill(Settings(site=REPO, data_dir=tmp_path / "data", speed=60), 3, until=UNTIL)
    assert done.parts == 0 and {s.skipped for s in done.skipped} == {"it runs at speed 60"}
    out = cli("history", "backfill", "--days", "3", "--site", str(site), "--data-dir", str(tmp_path / "data"))
    assert out.returncode == 1 and "every simulator replays a scenario" in out.stderr
    # No day of the simulators' own; only the named event's recorded scenario, at its 2022 dates.
    assert "Typhoon Hinnamnor (2022): the recorded scenario written as exercise history" in out.stdout
    dates = {p.name for p in (tmp_path / "data" / "history" / layout.EXERCISE).iterdir()}
    assert dates == {"date=2022-09-05", "date=2022-09-06"}


def test_a_named_events_recorded_scenario_is_written_once_at_its_own_dates(tmp_path: Path) -> None:
    settings = Settings(site=REPO, data_dir=tmp_path / "data")
    event = load_events(REPO / "seeds").get("hinnamnor-2022")
    assert event is not None
    [done] = record_events(settings)
    assert done.event == "hinnamnor-2022" and done.collectors == 7 and done.written > 50_000
    store = HistoryStore.local(tmp_path / "data" / "history")
    assert not (tmp_path / "data" / "history" / layout.SAMPLES).exists()   # exercise data only
    rows = every_row(store, "river.level", event.start_s - 86400, event.end_s + 86400, exercise=True)
    gauge = [(ts, v) for e, ts, v, _ in rows if e == "hrfco-2101690"]
    assert all(event.start_s * 1000 <= ts < event.end_s * 1000 for _, ts, _, _ in rows)
    assert {source for *_, source in rows} == {"sim-safety@typhoon-hinnamnor"}
    # The scenario's record: the 형산교 gauge peaked at 3.61 m at 07:30 KST on the 6th.
    peak = max(gauge, key=lambda p: p[1])
    assert peak == (datetime(2022, 9, 5, 22, 30, tzinfo=UTC).timestamp() * 1000, 3.61)
    again = record_events(settings)
    assert again[0].written == 0


def test_the_command_fills_the_days_asked_once_and_refuses_what_is_not_a_number_of_days(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = cli("history", "backfill", "--days", "1", "--data-dir", str(data))
    assert first.returncode == 0, first.stderr
    assert re.search(r"1 days of simulated history, [\d,]+ samples of 586 series written in [\d.]+ s", first.stdout)
    again = cli("history", "backfill", "--days", "1", "--data-dir", str(data))
    assert again.returncode == 0 and "already in the store" in again.stdout
    for bad, says in (("0", "greater than or equal to 1"), ("3651", "less than or equal to 3650"),
                      ("a-month", "valid integer")):
        out = cli("history", "backfill", "--days", bad, "--data-dir", str(data))
        assert out.returncode == 2 and "--days" in out.stderr and says in out.stderr, out.stderr
    mini = cli("history", "backfill", "--site", str(REPO / "tests" / "sites" / "mini"), "--data-dir", str(data))
    assert mini.returncode == 1 and "no simulator collector in" in mini.stderr
    env = cli("history", "backfill", "--data-dir", str(data), env={"SITUATIONROOM_DEMO_BACKFILL_DAYS": "-1"})
    assert env.returncode == 2 and "SITUATIONROOM_DEMO_BACKFILL_DAYS" in env.stderr


@needs_chromium
def test_up_on_a_fresh_site_shows_30_days_on_the_walls_30_day_charts(
        tmp_path: Path, browser: Browser) -> None:
    began = time.monotonic()
    with Up(log=tmp_path / "up.log", data_dir=tmp_path / "data", env={"SITUATIONROOM_DEMO_BACKFILL_DAYS": "30"}) as up:
        for lang, date in (("ko", r"\d{1,2}월 \d{1,2}일"), ("en", r"\d{1,2} [A-Z][a-z]{2}")):
            page = browser.new_context(viewport={"width": 1920, "height": 1080}).new_page()
            page.goto(f"{up.url}/?lang={lang}&page=3&rotate=0")

            def spans(page: Page = page) -> list[float] | None:
                charts = page.evaluate("window.__wall ? window.__wall.charts() : []")
                days = [(c["newest"] - c["oldest"]) / 86_400_000 for c in charts
                        if c["window"] == 30 * 86_400 and c["oldest"] is not None]
                return days if len(days) == 4 and min(days) >= 29 else None

            # The fill takes 15-30 s on the 2-core VM (docs/history.md, "Backfill"); speed is measured there, so
            # the deadline here is twice the minute the product promises, not a timing test.
            wait_for(spans, max(5.0, 120 - (time.monotonic() - began)) if lang == "ko" else 30,
                     "every 30-day chart to hold 29 days or more", every=0.5)
            # Drawn, with dates on its time axis (the city's days), in the page's language.
            page.wait_for_timeout(1500)
            chart = next(c for c in page.evaluate("window.__wall.charts()") if c["window"] == 30 * 86_400)
            assert chart["drawn"] == chart["points"] >= 29 * 24
            svg = page.evaluate(f"window.__wall.chartSVG({chart['id']!r})")
            assert len(re.findall(date, svg)) >= 3, svg[:2000]
            page.context.close()
        output = up.output
    assert re.search(r"History fill:\s+30 days of simulated history, [\d,]+ samples of 586 series", output), output
    store = store_for(Settings(data_dir=tmp_path / "data"))
    now = time.time()
    rows = store.read(store.files_for(layout.EXERCISE, layout.dates_between(int((now - 31 * 86_400) * 1000),
                                                                            int(now * 1000))))
    assert pc.min(rows["ts"]).as_py().timestamp() < now - 29.9 * 86_400
