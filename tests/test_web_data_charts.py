"""The data page's chart spec: a light theme derived from the wall's, a named dataset the page fills, no remote URL."""

from __future__ import annotations

import json

from situationroom import wall_charts as charts
from situationroom.web import data_charts


def test_the_spec_reads_the_named_dataset_with_the_units_placeholder_and_a_light_theme() -> None:
    spec = data_charts.timeseries("시각 (KST)", "ko")
    assert spec["data"] == {"name": "points"} and spec["datasets"]["points"] == []
    assert spec["encoding"]["y"]["title"] == data_charts.UNIT, "the page puts each chart's unit there"
    assert spec["encoding"]["x"]["title"] == "시각 (KST)" and spec["encoding"]["x"]["scale"]["type"] == "utc"
    axis = spec["config"]["axis"]
    assert axis["labelColor"] == data_charts.MUTED and axis["gridColor"] == data_charts.GRID
    assert axis["labelColor"] != charts.config()["axis"]["labelColor"], "dark ink on the desk page's white card"
    assert spec["config"]["font"] == charts.FONT
    assert "http" not in json.dumps(spec), "nothing the browser would fetch from outside"
