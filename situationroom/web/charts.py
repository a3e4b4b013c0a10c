"""Vega-Lite v6 specs (made with Altair) of the wall's charts: district map, time series, ranking bars.

Each spec reads named datasets that the page fills and updates in place through Vega's changeset
API (`view.change(name, vega.changeset()...)`), so a view is embedded once and never rebuilt.
Sizes are given for a 1080-pixel-high screen; the page scales every `*Size`, `*Width` and
`*Padding` of the config to the real screen before embedding.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import altair as alt

from situationroom.catalog import Catalog

STATUSES = ["normal", "warning", "critical", "stale", "unknown"]
# Tuned on the dark wall: each status is far from the others in lightness as well as hue, so the
# map still reads in grey scale (and every status also carries a word or an icon on the page).
STATUS_COLOURS = ["#2f9e58", "#f2b01e", "#f03e3e", "#5f6b7a", "#2a3340"]
SERIES_COLOURS = ["#4cc9f0", "#ffb347", "#c792ea", "#9be564", "#ff6fa8", "#f9f871", "#2ec4b6", "#a0a8ff",
                  "#ff8c69", "#d0d6de", "#6fd3a8", "#e0b0ff"]
FONT = "Pretendard Variable, Pretendard, sans-serif"
TEXT = "#e8eef5"
MUTED = "#a9b6c6"
GRID = "#2b3644"
LABEL_MIN_KM2 = 8.0
"""Districts smaller than this carry no name on the map (at 1080 lines they are a few pixels wide)."""


def config() -> dict[str, Any]:
    """The dark high-contrast theme shared by every chart (sizes for 1080 pixels of height)."""
    return {
        "background": None,
        # No ARIA description per mark item: the page names each chart once (its panel's title), and a
        # description string for each of a chart's hundreds of points costs memory on every update.
        "aria": False,
        "font": FONT,
        "view": {"stroke": None},
        "padding": 4,
        "axis": {"labelColor": MUTED, "titleColor": MUTED, "gridColor": GRID, "domainColor": GRID,
                 "tickColor": GRID, "labelFontSize": 18, "titleFontSize": 17, "labelFont": FONT,
                 "titleFont": FONT, "gridWidth": 1, "labelPadding": 4, "titlePadding": 6, "tickSize": 5},
        "legend": {"labelColor": TEXT, "titleColor": MUTED, "labelFontSize": 18, "titleFontSize": 17,
                   "labelFont": FONT, "symbolSize": 140, "symbolStrokeWidth": 4, "orient": "top",
                   "columnPadding": 14, "rowPadding": 4, "labelLimit": 260, "padding": 0},
        "line": {"strokeWidth": 3},
        "rule": {"strokeWidth": 2},
        "text": {"fontSize": 20, "font": FONT},
    }


def _finish(chart: alt.TopLevelMixin, **datasets: list[dict[str, Any]]) -> dict[str, Any]:
    spec = chart.to_dict(validate=True)
    spec.pop("$schema", None)  # the page never fetches the schema; leave no remote URL in a spec
    spec["config"] = config()
    spec["autosize"] = {"type": "fit", "contains": "padding", "resize": True}
    spec["width"] = "container"
    spec["height"] = "container"
    if datasets:
        spec["datasets"] = {**spec.get("datasets", {}), **datasets}
    return spec


def _status_scale() -> alt.Scale:
    return alt.Scale(domain=STATUSES, range=STATUS_COLOURS)


@lru_cache(maxsize=8)
def _features(path: str) -> tuple[dict[str, Any], ...]:
    """Boundary features with rings turned clockwise for d3-geo, and 4-decimal coordinates (about 10 m,
    finer than one pixel of the city on a 4K wall)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    out = []
    for feature in data["features"]:
        geom = feature["geometry"]
        polygons = geom["coordinates"] if geom["type"] == "MultiPolygon" else [geom["coordinates"]]
        # RFC 7946 exteriors are counter-clockwise; d3-geo reads that as "everything but the district".
        rings = [[[[round(x, 4), round(y, 4)] for x, y in reversed(ring)] for ring in poly] for poly in polygons]
        coords: Any = rings if geom["type"] == "MultiPolygon" else rings[0]
        out.append({"type": "Feature", "geometry": {"type": geom["type"], "coordinates": coords},
                    "properties": dict(feature["properties"])})
    return tuple(out)


def district_map(catalog: Catalog, seeds: Path) -> dict[str, Any]:
    """The 행정동 coloured by status (dataset `districts`, field `status`), gu outlines, and labels of the
    districts that are not normal (dataset `labels`, fields `text` and `status`)."""
    dongs = []
    labels = []
    areas: dict[str, float] = {}
    for f in _features(str(seeds / "boundaries" / "pohang-districts.geojson")):
        code = f["properties"]["code"]
        areas[code] = float(f["properties"].get("area_km2") or 0.0)
        entity = catalog.entities.get(code)
        name_ko = entity.name_ko if entity else f["properties"].get("name_ko", code)
        name_en = entity.name_en if entity else f["properties"].get("name_en", code)
        dongs.append({"type": "Feature", "geometry": f["geometry"], "code": code, "name_ko": name_ko,
                      "name_en": name_en, "status": "unknown"})
        lon = f["properties"].get("label_lon") or (entity.lon if entity else None)
        lat = f["properties"].get("label_lat") or (entity.lat if entity else None)
        # Only districts big enough on screen get a name; the dense centre would be a pile of labels.
        if lon is not None and lat is not None and f["properties"].get("area_km2", 100) >= LABEL_MIN_KM2:
            labels.append({"code": code, "lon": lon, "lat": lat, "text": "", "status": "unknown"})
    # Largest first: where two names would overlap, the page keeps the first (the bigger district).
    labels.sort(key=lambda lab: -areas.get(lab["code"], 0.0))
    gu_path = seeds / "boundaries" / "pohang-gu.geojson"
    gus = [{"type": "Feature", "geometry": f["geometry"]} for f in _features(str(gu_path))] if gu_path.exists() \
        else []

    fills = alt.Chart(alt.Data(name="districts")).mark_geoshape(stroke="#0b1016", strokeWidth=1.2).encode(
        color=alt.Color("status:N", scale=_status_scale(), legend=None),
    )
    layers: list[alt.Chart] = [fills]
    if gus:
        layers.append(alt.Chart(alt.Data(name="gu")).mark_geoshape(filled=False, stroke="#dfe7f0", strokeWidth=2.5))
    layers.append(
        alt.Chart(alt.Data(name="labels")).mark_text(fontWeight=800, stroke="#0b1016", strokeWidth=4,
                                                     strokeOpacity=0.85, fontSize=20, fill=TEXT).encode(
            longitude="lon:Q", latitude="lat:Q", text="text:N",
        ),
    )
    layers.append(
        alt.Chart(alt.Data(name="labels")).mark_text(fontWeight=800, fontSize=20, fill=TEXT).encode(
            longitude="lon:Q", latitude="lat:Q", text="text:N",
        ),
    )
    chart = alt.layer(*layers).project(type="mercator")
    datasets: dict[str, list[dict[str, Any]]] = {"districts": dongs, "labels": labels}
    if gus:
        datasets["gu"] = gus
    return _finish(chart, **datasets)


def timeseries(levels: list[dict[str, Any]], series: list[str]) -> dict[str, Any]:
    """Lines of dataset `points` (`t` city-local ms on a UTC scale, `v`, `s` series name), with the
    thresholds drawn as dashed rules (`levels`: `y`, `level`)."""
    colour = alt.Color("s:N", title=None, scale=alt.Scale(domain=series, range=SERIES_COLOURS[: len(series)]),
                       legend=alt.Legend(orient="top") if len(series) > 1 else None)
    lines = alt.Chart(alt.Data(name="points")).mark_line(interpolate="monotone").encode(
        x=alt.X("t:T", title=None, scale=alt.Scale(type="utc"),
                # Seconds only when the chart spans minutes (an accelerated simulation, a fresh start).
                axis=alt.Axis(labelExpr="utcFormat(datum.value, (domain('x')[1] - domain('x')[0]) < 900000 "
                                        "? '%H:%M:%S' : '%H:%M')", labelOverlap=True, tickCount=6)),
        y=alt.Y("v:Q", title=None, scale=alt.Scale(zero=False, nice=True), axis=alt.Axis(tickCount=5)),
        color=colour,
    )
    layers: list[alt.Chart] = []
    if levels:
        layers.append(alt.Chart(alt.Data(name="levels")).mark_rule(strokeDash=[8, 6]).encode(
            y="y:Q", color=alt.Color("level:N", scale=_status_scale(), legend=None),
        ))
    layers.append(lines)
    chart = alt.layer(*layers).resolve_scale(color="independent")
    return _finish(chart, levels=levels)


def ranking(unit: str) -> dict[str, Any]:
    """Horizontal bars of dataset `rows` (`label`, `v`, `status`, `text`, `rank`, `show`), best read top-down.
    The page keeps one tuple per entity and sets `show` on the top N, so updates only modify tuples."""
    base = alt.Chart(alt.Data(name="rows")).transform_filter("datum.show").encode(
        y=alt.Y("label:N", title=None, sort=alt.EncodingSortField(field="rank", op="min", order="ascending"),
                axis=alt.Axis(labelFontSize=20, labelColor=TEXT, labelLimit=300, domain=False, ticks=False)),
    )
    bars = base.mark_bar(cornerRadiusEnd=3, height={"band": 0.72}).encode(
        x=alt.X("v:Q", title=unit or None, axis=alt.Axis(tickCount=4, grid=True, labels=False)),
        color=alt.Color("status:N", scale=_status_scale(), legend=None),
    )
    values = base.mark_text(align="left", dx=6, fontWeight=700, fill=TEXT).encode(x="v:Q", text="text:N")
    return _finish(alt.layer(bars, values))
