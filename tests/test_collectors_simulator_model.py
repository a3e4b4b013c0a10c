"""The simulated city's values: determinism, bounded memory and the patterns of an ordinary day."""

from __future__ import annotations

import gc
import tracemalloc
from pathlib import Path
from statistics import mean

import pytest

from situationroom.catalog import Catalog
from situationroom.collectors.kinds.simulator import Simulator, model
from tests.simulator_support import (
    INDUSTRIAL_SOUTH,
    NOW,
    RURAL_NORTH,
    avg,
    ordinary_at,
    simulator,
    values,
)

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
    """Bytes allocated in the simulator's modules that are still alive (tracemalloc must be on)."""
    gc.collect()
    modules = str(Path(model.__file__).parent / "*")
    snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(True, modules)])
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


async def test_gu_and_city_totals_are_the_sums_of_their_units(site_catalog: Catalog) -> None:
    v = await ordinary_at("2025-10-15 13:00")
    for indicator in ("population.floating", "economy.gift_card_spending", "economy.card_sales"):
        dongs = {e.id: v[(indicator, e.id)] for e in site_catalog.entities_of_kind("dong")}
        nam = sum(x for d, x in dongs.items() if site_catalog.gu_of(d) == "47111")
        assert v[(indicator, "47111")] == pytest.approx(nam, rel=1e-3, abs=0.05)
        assert v[(indicator, "pohang")] == pytest.approx(sum(dongs.values()), rel=1e-3, abs=0.05)
    assert 350_000 < v[("population.floating", "pohang")] < 650_000
    assert v[("safety.calls_119", "pohang")] == v[("safety.calls_119", "47111")] + v[("safety.calls_119", "47113")]
