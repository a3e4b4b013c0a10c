"""The scenarios on the simulated time line: the typhoon, fine dust, a heat wave, the 2017 earthquake."""

from __future__ import annotations

import itertools
from statistics import mean

from situationroom import samples
from situationroom.catalog import Catalog
from situationroom.collectors.kinds.simulator.load import list_scenarios
from tests.simulator_support import INDUSTRIAL_SOUTH, NOW, RURAL_NORTH, Values, avg, collect_at, simulator, values
from tests.site_support import REPO

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
