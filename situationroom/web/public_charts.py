"""The citizens' charts (/public): the wall's 행정동 map and a 24-hour line, in a light theme for a phone's page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import altair as alt

from situationroom import wall_charts as charts
from situationroom.catalog import Catalog

INK = "#374151"
"""Axis text on white: 10:1 (WCAG AA asks 4.5:1)."""
GRID = "#e5e7eb"
LINE = "#1d4ed8"
"""The line on white: 6.7:1 (a graphical object needs 3:1)."""


def light_config() -> dict[str, Any]:
    """The wall's chart theme (font, no per-item ARIA) with dark text on white and sizes for a phone."""
    cfg = charts.config()
    cfg["axis"] = {**cfg["axis"], "labelColor": INK, "titleColor": INK, "gridColor": GRID, "domainColor": INK,
                   "tickColor": INK, "labelFontSize": 13, "titleFontSize": 13}
    cfg["text"] = {**cfg["text"], "fontSize": 14}
    return cfg


def district_map(catalog: Catalog, seeds: Path) -> dict[str, Any]:
    """The wall's 행정동 map (dataset `districts`, field `status`; `labels`, field `text`), without the outline of the
    city centre: the page has no enlarged inset (its table names every district, small ones included)."""
    spec = charts.district_map(catalog, seeds)
    spec["layer"] = [layer for layer in spec["layer"] if layer.get("data", {}).get("name") != "centre"]
    spec.get("datasets", {}).pop("centre", None)
    spec["config"] = light_config()
    return spec


def day_line(time_title: str) -> dict[str, Any]:
    """A day's line of dataset `points` (`t` city-local ms on a UTC scale, `v`), hours on the x axis; the page names
    the unit in the chart's heading and says the numbers in its caption."""
    base = alt.Chart(alt.Data(name="points")).encode(
        x=alt.X("t:T", title=time_title, scale=alt.Scale(type="utc"),
                axis=alt.Axis(labelExpr="utcFormat(datum.value, '%H:%M')", tickCount=4, labelOverlap=True,
                              grid=False)),
        y=alt.Y("v:Q", title=None, scale=alt.Scale(zero=False, nice=True), axis=alt.Axis(tickCount=3, format="~g")),
    )
    chart = alt.layer(base.mark_line(color=LINE, strokeWidth=2.5, interpolate="monotone"),
                      base.mark_point(color=LINE, filled=True, size=30))
    # The wall's finishing (no remote schema URL, sized to its box), then the light theme.
    spec = charts._finish(chart)
    spec["config"] = light_config()
    return spec
