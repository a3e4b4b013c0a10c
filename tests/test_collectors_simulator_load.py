"""The simulator's files: every scenario of the repository loads, a broken one is refused with file, line and field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from situationroom.collectors.kinds.simulator.load import list_scenarios
from situationroom.errors import ConfigError
from tests.simulator_support import simulator, site_seeds_copy
from tests.site_support import REPO


def test_every_scenario_of_the_repository_loads() -> None:
    assert set(list_scenarios(REPO / "seeds")) >= {"ordinary", "typhoon-hinnamnor", "fine-dust", "heat-wave",
                                                    "earthquake-2017"}
    for name in list_scenarios(REPO / "seeds"):
        assert simulator(scenario=name).scenario_name == name


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


def test_a_broken_scenario_is_refused_naming_file_line_and_field(tmp_path: Path) -> None:
    site_copy = site_seeds_copy(tmp_path)
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


def test_a_broken_simulation_model_is_refused(tmp_path: Path) -> None:
    site_copy = site_seeds_copy(tmp_path)
    shutil.copy(REPO / "seeds" / "scenarios" / "ordinary.yaml", site_copy / "seeds" / "scenarios")
    model = site_copy / "seeds" / "simulation.yaml"
    text = model.read_text(encoding="utf-8")
    model.write_text(text.replace("rain.3h: {model: accumulate, of: rain.hourly, window: 3h}",
                                  "rain.3h: {model: accumulate, of: rain.hourli, window: 3h}"), encoding="utf-8")
    line = text[:text.index("rain.3h: {model")].count("\n") + 1
    with pytest.raises(ConfigError) as exc:
        simulator(site=site_copy)
    assert f"simulation.yaml:{line}: series.rain.3h.of: no such series" in str(exc.value)
