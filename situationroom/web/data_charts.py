"""The data page's chart (`/data`): a Vega-Lite line chart made with Altair in a light theme for a desk page."""

from __future__ import annotations

from typing import Any

import altair as alt

from situationroom import wall_charts as charts

INK = "#111827"
MUTED = "#4b5563"
GRID = "#e5e7eb"
SERIES_COLOURS = ["#1d4ed8", "#c2410c", "#15803d", "#7e22ce", "#be123c", "#0e7490", "#a16207", "#4338ca",
                  "#047857", "#9d174d", "#374151", "#b45309"]
"""Dark enough on white to tell apart (each at least 4.5:1 against the page's white)."""
UNIT = "__unit__"
"""The y axis' title in the spec as served: the page puts the unit of the indicators each chart shows there."""


def config() -> dict[str, Any]:
    """The wall's chart theme (charts.config) with dark ink on a white card and a desk page's type sizes."""
    base = charts.config()
    axis = {**base["axis"], "labelColor": MUTED, "titleColor": INK, "gridColor": GRID, "domainColor": "#9ca3af",
            "tickColor": "#9ca3af", "labelFontSize": 14, "titleFontSize": 15}
    legend = {**base["legend"], "labelColor": INK, "titleColor": MUTED, "labelFontSize": 15, "titleFontSize": 14,
              "symbolSize": 120, "symbolStrokeWidth": 3, "labelLimit": 420}
    title = {"color": "#713f12", "fontSize": 16, "font": charts.FONT, "anchor": "start", "fontWeight": 700}
    return {**base, "axis": axis, "legend": legend, "line": {"strokeWidth": 2.5}, "title": title}


def timeseries(time_title: str, lang: str) -> dict[str, Any]:
    """Lines of dataset `points` (`t` city-local ms on a UTC scale, `v`, `s` the series' name), one colour per
    series with a legend on top; the y axis' title is UNIT until the page sets it, the x axis names the time zone."""
    chart = alt.Chart(alt.Data(name="points")).mark_line(point=False).encode(
        x=alt.X("t:T", title=time_title, scale=alt.Scale(type="utc"),
                axis=alt.Axis(labelExpr=charts._time_labels(lang), labelOverlap=True, labelFlush=True, labelBound=4,
                              tickCount=8)),
        y=alt.Y("v:Q", title=UNIT, scale=alt.Scale(zero=False, nice=True), axis=alt.Axis(tickCount=6)),
        color=alt.Color("s:N", title=None, scale=alt.Scale(range=SERIES_COLOURS),
                        legend=alt.Legend(orient="top", columns=2)),
    )
    spec = charts._finish(chart, points=[])
    spec["config"] = config()
    return spec
