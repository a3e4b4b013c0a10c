"""The simulated Pohang: patterns of an ordinary day, the scenarios, determinism, speed, and its collectors."""

from __future__ import annotations

import gc
import itertools
import logging
import shutil
import tracemalloc
from pathlib import Path
from statistics import mean

import pytest
import redis.asyncio as aioredis

from situationroom import keys, samples, simulation, streams
from situationroom.catalog import Catalog, load_catalog
from situationroom.collectors import registry
from situationroom.collectors.base import CollectorContext
from situationroom.collectors.definition import load_collectors
from situationroom.collectors.kinds.simulator import Simulator
from situationroom.collectors.runtime import CollectorRunner
from situationroom.errors import ConfigError
from situationroom.samples import Sample
from situationroom.settings import Settings
from situationroom.simulation import list_scenarios, parse_start
from tests.site_support import REPO, settings_for

NOW = 1_800_000_000.0
"""The real time of a simulator's first run in these tests (any fixed instant will do)."""

INDUSTRIAL_SOUTH = {"4711131000", "4711157000", "4711156000"}   # 대송면, 제철동, 청림동
RURAL_NORTH = {"4711335000", "4711336000", "4711332000"}        # 죽장면, 기북면, 청하면

Values = dict[tuple[str, str], float]


def simulator(*, site: Path = REPO, settings: Settings | None = None, interval: float = 5.0,
              **params: object) -> Simulator:
    """A simulator collector as the runtime builds it from a collector file's params."""
    kind = registry.get("simulator")
    assert kind is Simulator
    catalog = load_catalog(site / "seeds")
    context = CollectorContext("sim-test", catalog, site, logging.getLogger("test.simulator"), interval, settings)
    return Simulator(Simulator.Params(**params), context)


async def collect_at(sim: Simulator, when: str) -> list[Sample]:
    """Run the collector at the real time that corresponds to the simulated local time `when`."""
    if sim.sim.anchor is None:
        await sim.collect(NOW)  # the first run ties the simulated start to NOW
    assert sim.sim.start is not None
    now = NOW + (parse_start(when) - sim.sim.start) / sim.sim.speed
    return (await sim.collect(now)).samples


def values(batch: list[Sample]) -> Values:
    return {(s.indicator, s.entity): s.value for s in batch}


async def ordinary_at(when: str, seed: int = 7, **params: object) -> Values:
    """Values of an ordinary day at simulated local time `when`."""
    return values((await simulator(seed=seed, start=when, **params).collect(NOW)).samples)


def avg(v: Values, indicator: str, entities: set[str] | None = None) -> float:
    return mean(x for (i, e), x in v.items() if i == indicator and (entities is None or e in entities))


# ---------------------------------------------------------------- determinism

async def test_the_same_seed_gives_the_same_samples_and_another_seed_other_ones() -> None:
    first = [(await simulator(seed=1, start="2025-10-15 08:00", speed=60).collect(NOW + k)).samples for k in (0, 30)]
    again = [(await simulator(seed=1, start="2025-10-15 08:00", speed=60).collect(NOW + k)).samples for k in (0, 30)]
    other = (await simulator(seed=2, start="2025-10-15 08:00", speed=60).collect(NOW)).samples
    assert first == again
    assert len(first[0]) == len(other) > 500
    changed = sum(a.value != b.value for a, b in zip(first[0], other, strict=True))
    assert changed > len(other) / 3


async def test_a_restarted_simulator_continues_where_the_old_one_was() -> None:
    # On an ordinary day at speed 1 simulated time is the real time: a new process picks up seamlessly.
    old = simulator(seed=3)
    await old.collect(NOW)
    before_restart = (await old.collect(NOW + 3600)).samples
    after_restart = (await simulator(seed=3).collect(NOW + 3600)).samples
    assert before_restart == after_restart


def held_by_the_simulation() -> int:
    """Bytes allocated in situationroom/simulation.py that are still alive (tracemalloc must be on)."""
    gc.collect()
    snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(True, simulation.__file__)])
    return sum(stat.size for stat in snapshot.statistics("filename"))


async def test_a_simulator_holds_no_more_memory_after_two_simulated_days_than_after_one() -> None:
    # The typhoon at 60x with a run every 30 s: 48 runs a simulated day. What a simulator keeps between runs
    # (the values its accumulations add up, back to the last midnight at most) is complete after a day and
    # an hour; a wall that runs for months must not need more after that.
    def typhoon() -> Simulator:
        return simulator(scenario="typhoon-hinnamnor", speed=60, seed=3, indicators=["*"])

    sim = typhoon()
    tracemalloc.start()
    try:
        for run in range(100):
            await sim.collect(NOW + run * 30)
            if run == 60:
                after_a_day = held_by_the_simulation()
        after_two_days = held_by_the_simulation()
    finally:
        tracemalloc.stop()
    assert after_two_days < after_a_day + 64 * 1024
    # What it kept is what a simulator that has just started computes for the same moment.
    fresh = typhoon()
    await fresh.collect(NOW)
    later = NOW + 100 * 30
    assert (await fresh.collect(later)).samples == (await sim.collect(later)).samples


# ---------------------------------------------------------------- an ordinary day

async def test_traffic_is_slower_in_the_rush_hours_than_at_night() -> None:
    wednesday = {h: await ordinary_at(f"2025-10-15 {h}") for h in ("03:00", "08:00", "18:00")}
    night = avg(wednesday["03:00"], "traffic.speed")
    assert avg(wednesday["08:00"], "traffic.speed") < 0.8 * night
    assert avg(wednesday["18:00"], "traffic.speed") < 0.8 * night
    assert avg(wednesday["08:00"], "traffic.volume") > 5 * avg(wednesday["03:00"], "traffic.volume")


async def test_the_temperature_peaks_in_the_afternoon() -> None:
    for day in ("2025-01-15", "2025-04-15", "2025-07-15", "2025-10-15"):
        dawn, afternoon = await ordinary_at(f"{day} 05:00"), await ordinary_at(f"{day} 15:00")
        assert afternoon[("weather.temperature", "kma-asos-138")] > dawn[("weather.temperature", "kma-asos-138")]
        assert avg(afternoon, "weather.temperature") > avg(dawn, "weather.temperature") + 5
        assert avg(afternoon, "weather.humidity") < avg(dawn, "weather.humidity")
    summer, winter = await ordinary_at("2025-08-05 15:00"), await ordinary_at("2025-01-15 15:00")
    assert 27 < avg(summer, "weather.temperature") < 34 and avg(winter, "weather.temperature") < 12


async def test_weekdays_are_busier_than_sundays() -> None:
    wednesday, sunday = await ordinary_at("2025-10-15 08:00"), await ordinary_at("2025-10-19 08:00")
    assert avg(sunday, "traffic.volume") < 0.6 * avg(wednesday, "traffic.volume")
    assert avg(sunday, "traffic.speed") > avg(wednesday, "traffic.speed")
    wednesday, sunday = await ordinary_at("2025-10-15 11:00"), await ordinary_at("2025-10-19 11:00")
    assert sunday[("admin.complaints", "pohang")] < 0.4 * wednesday[("admin.complaints", "pohang")]
    assert sunday[("population.spot_visitors", "spot-yeongildae")] > wednesday[("population.spot_visitors",
                                                                                 "spot-yeongildae")]


async def test_the_industrial_south_breathes_more_dust_than_the_rural_north() -> None:
    # A week, hour by hour: at 3600x one real second is one simulated hour.
    sim = simulator(seed=11, start="2025-04-07 00:00", speed=3600, indicators=["air.pm10", "air.pm25"])
    week = [values((await sim.collect(NOW + h)).samples) for h in range(24 * 7)]
    south = mean(avg(v, "air.pm10", INDUSTRIAL_SOUTH) for v in week)
    north = mean(avg(v, "air.pm10", RURAL_NORTH) for v in week)
    assert south > 1.5 * north
    assert 25 < mean(avg(v, "air.pm10") for v in week) < 60  # an ordinary April in Pohang
    morning = mean(avg(v, "air.pm10") for h, v in enumerate(week) if h % 24 in (8, 9, 10))
    afternoon = mean(avg(v, "air.pm10") for h, v in enumerate(week) if h % 24 in (14, 15, 16))
    assert morning > afternoon
    assert mean(v[("air.pm10", "airkorea-3gongdan")] for v in week) > mean(
        v[("air.pm10", "airkorea-jangnyang")] for v in week)


async def test_missing_values_appear_at_about_the_configured_rate() -> None:
    sim = simulator(seed=5, start="2025-10-15 00:00", speed=600, missing=0.1, domains=["weather"])
    complete = len(sim.context.catalog.entities_of("weather.temperature"))
    delivered = [len((await sim.collect(NOW + k)).samples) for k in range(60)]
    expected = sum(len(sim.context.catalog.entities_of(i)) for i in sim.indicators)
    rate = 1 - sum(delivered) / (expected * len(delivered))
    assert 0.08 < rate < 0.12
    assert complete > 0 and min(delivered) < expected  # gaps happen now and then, not all at once


async def test_at_speed_60_one_real_minute_is_one_simulated_hour() -> None:
    sim = simulator(start="2025-10-15 08:00", speed=60, interval=5.0)
    first = (await sim.collect(NOW)).samples
    assert (sim.simulated_time(NOW + 60) - sim.simulated_time(NOW)).total_seconds() == 3600
    assert sim.simulated_time(NOW + 60).hour == 9
    # An hourly indicator now arrives every simulated hour = every real minute; staleness follows that.
    pm10 = next(s for s in first if s.indicator == "air.pm10")
    assert pm10.interval == 60 and pm10.ts == NOW
    # ...but never more often than the collector runs.
    river = next(s for s in first if s.indicator == "river.level")
    assert river.interval == 10


async def test_gu_and_city_totals_are_the_sums_of_their_units(site_catalog: Catalog) -> None:
    v = await ordinary_at("2025-10-15 13:00")
    for indicator in ("population.floating", "economy.gift_card_spending", "economy.card_sales"):
        dongs = {e.id: v[(indicator, e.id)] for e in site_catalog.entities_of_kind("dong")}
        nam = sum(x for d, x in dongs.items() if site_catalog.gu_of(d) == "47111")
        assert v[(indicator, "47111")] == pytest.approx(nam, rel=1e-3, abs=0.05)
        assert v[(indicator, "pohang")] == pytest.approx(sum(dongs.values()), rel=1e-3, abs=0.05)
    assert 350_000 < v[("population.floating", "pohang")] < 650_000
    assert v[("safety.calls_119", "pohang")] == v[("safety.calls_119", "47111")] + v[("safety.calls_119", "47113")]


# ---------------------------------------------------------------- scenarios

async def test_typhoon_hinnamnor_floods_the_hyeongsan_river_at_dawn_on_the_6th(site_catalog: Catalog) -> None:
    sim = simulator(scenario="typhoon-hinnamnor", seed=2022)
    assert sim.sim.speed == 60  # the scenario's own pace when the collector does not set one

    def status(v: Values, indicator: str, entity: str) -> str:
        return site_catalog.status_of(indicator, entity, v[(indicator, entity)])

    evening = values(await collect_at(sim, "2022-09-05 22:00"))
    assert status(evening, "river.level", "hrfco-2101690") == "normal"
    assert evening[("rain.hourly", "kma-asos-138")] < 30
    assert evening[("advisory.typhoon", "pohang")] == 0

    before_dawn = values(await collect_at(sim, "2022-09-06 04:30"))
    assert status(before_dawn, "rain.hourly", "kma-asos-138") == "severe"       # 77 mm in the hour 04-05: 심각
    assert status(before_dawn, "rain.hourly", "4711125600") == "severe"         # 오천읍
    assert status(before_dawn, "rain.3h", "kma-asos-138") == "critical"
    assert before_dawn[("advisory.typhoon", "pohang")] == 1
    assert before_dawn[("river.flood_forecast", "hrfco-2101690")] == 0

    at_five = values(await collect_at(sim, "2022-09-06 05:00"))
    assert at_five[("safety.disaster_messages", "pohang")] >= 2                 # 냉천 04:43, 양학시장 04:54
    assert at_five[("river.level", "hrfco-2403617")] > 2.5                      # 냉천 near overflowing (synthetic)

    warning = values(await collect_at(sim, "2022-09-06 05:30"))  # the advisory comes before the water
    assert status(warning, "river.level", "hrfco-2101690") == "normal"
    assert warning[("river.flood_forecast", "hrfco-2101690")] == 1             # 홍수주의보 from 05:10

    peak = values(await collect_at(sim, "2022-09-06 07:00"))
    assert status(peak, "river.level", "hrfco-2101690") == "critical"          # above the 3.00 m 경보 stage
    assert 3.3 < peak[("river.level", "hrfco-2101690")] < 3.8                  # record 3.61 m
    assert peak[("river.flood_forecast", "hrfco-2101690")] == 2
    assert status(peak, "safety.calls_119", "pohang") == "critical"
    assert status(peak, "traffic.speed", "road-naengcheon") == "critical"
    assert peak[("weather.wind_gust", "kma-asos-138")] > 20

    morning = values(await collect_at(sim, "2022-09-06 09:00"))
    assert 300 < morning[("rain.daily", "kma-asos-138")] < 400                  # 342.4 mm on 00:00-10:00
    assert morning[("river.level", "hrfco-2101690")] < peak[("river.level", "hrfco-2101690")]

    afternoon = values(await collect_at(sim, "2022-09-06 16:00"))
    assert status(afternoon, "river.level", "hrfco-2101690") == "normal"
    assert afternoon[("traffic.road_closures", "pohang")] > 0


async def test_daily_rain_only_grows_until_midnight() -> None:
    sim = simulator(scenario="typhoon-hinnamnor", seed=4, indicators=["rain.daily", "rain.hourly"])
    readings: list[tuple[str, float]] = []
    for step in range(0, 31 * 6):  # every 10 simulated minutes from 9-5 18:00 to 9-7 00:50
        minutes = 18 * 60 + step * 10
        when = f"2022-09-{5 + minutes // 1440:02d} {minutes % 1440 // 60:02d}:{minutes % 60:02d}"
        readings.append((when[:10], values(await collect_at(sim, when))[("rain.daily", "4711125600")]))
    for (day_a, a), (day_b, b) in itertools.pairwise(readings):
        if day_a == day_b:
            assert b >= a, f"daily rain went down from {a} to {b} on {day_a}"
    last_of_6th = max(v for d, v in readings if d == "2022-09-06")
    assert last_of_6th > 300
    assert max(v for d, v in readings if d == "2022-09-07") < 5  # reset at midnight, the rain has stopped


async def test_a_fine_dust_episode_is_worst_in_the_industrial_south(site_catalog: Catalog) -> None:
    sim = simulator(scenario="fine-dust", seed=2022)
    height = values(await collect_at(sim, "2025-03-26 09:00"))  # 33 h in
    stations = site_catalog.entities_of("air.pm10")
    stations = [e for e in stations if site_catalog.entities[e].kind == "airkorea"]
    pm10 = {e: height[("air.pm10", e)] for e in stations}
    assert 100 <= mean(pm10.values()) <= 150
    assert all(site_catalog.status_of("air.pm10", e, v) in ("info", "warning") for e, v in pm10.items())  # 나쁨+
    south = [e for e in stations if site_catalog.entities[e].district in INDUSTRIAL_SOUTH]
    assert mean(height[("air.pm25", e)] for e in south) >= 76                     # PM2.5 매우나쁨
    assert mean(pm10[e] for e in south) > mean(pm10[e] for e in stations if e not in south)
    assert avg(height, "air.pm10", INDUSTRIAL_SOUTH) > avg(height, "air.pm10", RURAL_NORTH)
    assert height[("advisory.fine_dust", "pohang")] == 1
    assert min(height[("air.cai", e)] for e in stations) > 100
    after = values(await collect_at(sim, "2025-03-27 12:00"))
    assert mean(after[("air.pm10", e)] for e in stations) < 81


async def test_a_heat_wave_brings_heat_warnings_and_tropical_nights(site_catalog: Catalog) -> None:
    sim = simulator(scenario="heat-wave", seed=2022)
    afternoon = values(await collect_at(sim, "2025-08-06 15:00"))
    assert 35 <= afternoon[("weather.temperature", "kma-asos-138")] <= 38.2   # below the 1994 record
    assert site_catalog.status_of("weather.apparent_temperature", "kma-asos-138",
                                  afternoon[("weather.apparent_temperature", "kma-asos-138")]) == "critical"
    assert afternoon[("advisory.heat", "pohang")] == 2
    night = values(await collect_at(sim, "2025-08-07 05:00"))
    assert night[("weather.temperature", "kma-asos-138")] >= 25                # a tropical night


async def test_the_2017_earthquake_shakes_at_14_29(site_catalog: Catalog) -> None:
    sim = simulator(scenario="earthquake-2017", seed=2017)
    quiet = values(await collect_at(sim, "2017-11-15 14:10"))
    assert quiet[("earthquake.magnitude", "pohang")] == 0
    foreshocks = values(await collect_at(sim, "2017-11-15 14:25"))
    assert foreshocks[("earthquake.magnitude", "pohang")] == 2.6
    main = values(await collect_at(sim, "2017-11-15 14:35"))
    assert main[("earthquake.magnitude", "pohang")] == 5.4
    assert site_catalog.status_of("earthquake.intensity", "pohang", main[("earthquake.intensity", "pohang")]) == \
        "critical"
    assert main[("safety.disaster_messages", "pohang")] >= 1
    later = values(await collect_at(sim, "2017-11-15 15:40"))
    assert later[("earthquake.magnitude", "pohang")] == 3.6          # the 14:49 aftershock, within the hour
    assert later[("safety.calls_119", "pohang")] > 3 * quiet[("safety.calls_119", "pohang")]
    assert later[("safety.calls_119", "47113")] > later[("safety.calls_119", "47111")]   # 흥해읍 is in Buk-gu


async def test_every_sample_of_every_scenario_passes_the_catalog_checks(site_catalog: Catalog) -> None:
    every_series = sum(len(site_catalog.entities_of(i)) for i in site_catalog.indicators)
    for name in list_scenarios(REPO / "seeds"):
        sim = simulator(scenario=name, seed=99, speed=3600, missing=0.0)
        duration = sim.sim.duration or 86400
        for k in range(9):
            now = NOW + k * duration / 8 / 3600
            batch = (await sim.collect(now)).samples
            assert len(batch) == every_series, name
            for s in batch:
                assert samples.check(s, site_catalog, now=now) is None, (name, s)


# ---------------------------------------------------------------- files and configuration

def test_every_scenario_and_every_collector_file_of_the_repository_loads(site_catalog: Catalog) -> None:
    assert set(list_scenarios(REPO / "seeds")) >= {"ordinary", "typhoon-hinnamnor", "fine-dust", "heat-wave",
                                                    "earthquake-2017"}
    for name in list_scenarios(REPO / "seeds"):
        assert simulator(scenario=name).scenario_name == name
    loaded, problems = load_collectors(REPO / "collectors")
    assert problems == []
    sims = [c for c in loaded if c.definition.kind == "simulator"]
    assert len(sims) >= 7
    covered: set[str] = set()
    for c in sims:
        assert c.definition.name_ko and c.definition.name_en
        assert c.definition.schedule.interval is not None and c.definition.schedule.interval <= 10
        ctx = CollectorContext(c.id, site_catalog, REPO, logging.getLogger(c.id), c.definition.schedule.interval)
        instance = Simulator(c.params, ctx)
        assert not covered & set(instance.indicators), "two collectors simulate the same indicator"
        covered |= set(instance.indicators)
    assert covered == set(site_catalog.indicators)


def test_the_command_line_overrides_the_collector_file() -> None:
    settings = Settings(site=REPO, scenario="typhoon-hinnamnor", speed=120, seed=9)
    sim = simulator(settings=settings, scenario="ordinary", speed=1, seed=1)
    assert (sim.scenario_name, sim.sim.speed, sim.sim.seed) == ("typhoon-hinnamnor", 120, 9)
    assert simulator(scenario="typhoon-hinnamnor", speed=1).sim.speed == 1  # a collector's own speed wins


@pytest.fixture
def site_copy(tmp_path: Path) -> Path:
    """A copy of the repository's site seeds, with its own scenarios folder."""
    (tmp_path / "seeds" / "scenarios").mkdir(parents=True)
    for name in ("catalog.yaml", "entities.yaml", "districts.csv", "simulation.yaml"):
        shutil.copy(REPO / "seeds" / name, tmp_path / "seeds" / name)
    return tmp_path


BAD_SCENARIO = """\
name_ko: 잘못된 시나리오
name_en: A broken scenario
start: 2025-01-01 00:00
overlays:
  - indicator: rain.hourlyy
    mode: set
    keyframes: [[0h, 10], [1h, 0]]
  - indicator: air.pm10
    mode: multiply
    entities: [airkorea, station]
    keyframes: [[0h, 2]]
events:
  - {at: 30m, indicator: safety.disaster_messages, colour: red}
"""


def test_a_broken_scenario_is_refused_naming_file_line_and_field(site_copy: Path) -> None:
    path = site_copy / "seeds" / "scenarios" / "broken.yaml"
    path.write_text(BAD_SCENARIO, encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        simulator(site=site_copy, scenario="broken")
    assert f"{path}:13: events[0].colour: unknown key" in str(exc.value)

    path.write_text(BAD_SCENARIO.replace(", colour: red", ""), encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        simulator(site=site_copy, scenario="broken")
    message = str(exc.value)
    assert f"{path}:5: overlays[0].indicator: no indicator" in message and "'rain.hourlyy'" in message
    assert f"{path}:10: overlays[1].entities[1]: unknown entity selector" in message and "'station'" in message


def test_an_unknown_scenario_or_indicator_pattern_is_a_config_error(site_copy: Path) -> None:
    shutil.copy(REPO / "seeds" / "scenarios" / "ordinary.yaml", site_copy / "seeds" / "scenarios")
    with pytest.raises(ConfigError) as exc:
        simulator(site=site_copy, scenario="tsunami")
    assert "params.scenario: unknown scenario; available: ordinary" in str(exc.value)
    with pytest.raises(ConfigError) as exc:
        simulator(site=site_copy, indicators=["air.*", "aire.*"], domains=["weathr"])
    message = str(exc.value)
    assert "params.indicators[1]: no indicator of the catalog matches" in message
    assert "params.domains[0]: unknown domain" in message


def test_a_broken_simulation_model_is_refused(site_copy: Path) -> None:
    shutil.copy(REPO / "seeds" / "scenarios" / "ordinary.yaml", site_copy / "seeds" / "scenarios")
    model = site_copy / "seeds" / "simulation.yaml"
    text = model.read_text(encoding="utf-8")
    model.write_text(text.replace("rain.3h: {model: accumulate, of: rain.hourly, window: 3h}",
                                  "rain.3h: {model: accumulate, of: rain.hourli, window: 3h}"), encoding="utf-8")
    line = text[:text.index("rain.3h: {model")].count("\n") + 1
    with pytest.raises(ConfigError) as exc:
        simulator(site=site_copy)
    assert f"simulation.yaml:{line}: series.rain.3h.of: no such series" in str(exc.value)


# ---------------------------------------------------------------- end to end, on a real Redis

async def test_a_simulator_collector_writes_valid_samples_to_the_streams(redis_url: str, site_catalog: Catalog) -> None:
    settings = settings_for(redis_url)
    client = aioredis.Redis.from_url(redis_url)
    runner = CollectorRunner(client, site_catalog, settings)
    try:
        await runner.load()
        assert [p for p in runner.problems if "sim-" in (p.file or "")] == []
        assert {"sim-environment", "sim-safety", "sim-traffic"} <= set(runner.collectors)
        outcome = await runner.run_once("sim-environment")
        assert outcome.ok and outcome.rejected == 0
        written: list[Sample] = []
        for key in keys.all_samples(settings.partitions):
            written += [streams.decode(fields) for _, fields in await client.xrange(key)]
        environment = {i for i, ind in site_catalog.indicators.items() if ind.domain == "environment"}
        expected = sum(len(site_catalog.entities_of(i)) for i in environment)
        assert len(written) == outcome.written >= 0.95 * expected  # a rare gap is allowed (missing: 0.002)
        assert {s.indicator for s in written} <= environment
        assert all(s.source == "sim-environment" and s.interval for s in written)
        assert await client.xlen(keys.deadletter()) == 0
    finally:
        await runner.stop()
        await client.aclose()
