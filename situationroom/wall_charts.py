"""Vega-Lite v6 specs (made with Altair) of the wall's charts: district map, time series, ranking bars (also
rendered to images for briefings, situationroom/briefings/charts.py).

Each spec reads named datasets that the page fills and updates in place through Vega's changeset
API (`view.change(name, vega.changeset()...)`), so a view is embedded once and never rebuilt.
Sizes are given for a 1080-pixel-high screen; the page scales every `*Size`, `*Width` and
`*Padding` of the config to the real screen before embedding.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import altair as alt

from situationroom import status
from situationroom.catalog import Catalog

# The one status scale's colours (situationroom/status.py); every status also carries a word or a mark.
STATUSES = [s.id for s in status.SCALE]
STATUS_COLOURS = [s.colour for s in status.SCALE]
SERIES_COLOURS = ["#4cc9f0", "#ffb347", "#c792ea", "#9be564", "#ff6fa8", "#f9f871", "#2ec4b6", "#a0a8ff",
                  "#ff8c69", "#d0d6de", "#6fd3a8", "#e0b0ff"]
FONT = "Pretendard Variable, Pretendard, sans-serif"
TEXT = "#e8eef5"
MUTED = "#a9b6c6"
GRID = "#2b3644"
LABEL_MIN_KM2 = 8.0
"""Districts smaller than this are too small on the whole-city map for a label (at 1080 lines they are a few
pixels wide): they are drawn again, larger, in the city-centre inset, and labelled there."""


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


def _districts(catalog: Catalog, seeds: Path, small: bool | None = None) -> tuple[list[dict[str, Any]],
                                                                                 list[dict[str, Any]]]:
    """The 행정동 features (all, only the small ones, or only the big ones) and their label points, largest first."""
    dongs, labels = [], []
    areas: dict[str, float] = {}
    for f in _features(str(seeds / "boundaries" / "pohang-districts.geojson")):
        code = f["properties"]["code"]
        area = float(f["properties"].get("area_km2") or 0.0)
        is_small = area < LABEL_MIN_KM2
        areas[code] = area
        entity = catalog.entities.get(code)
        name_ko = entity.name_ko if entity else f["properties"].get("name_ko", code)
        name_en = entity.name_en if entity else f["properties"].get("name_en", code)
        if small is None or small == is_small:
            dongs.append({"type": "Feature", "geometry": f["geometry"], "code": code, "name_ko": name_ko,
                          "name_en": name_en, "status": "unknown"})
        lon = f["properties"].get("label_lon") or (entity.lon if entity else None)
        lat = f["properties"].get("label_lat") or (entity.lat if entity else None)
        # On the whole-city map only districts big enough on screen get a label; the inset labels the rest.
        if lon is not None and lat is not None and (is_small if small else not is_small):
            labels.append({"code": code, "lon": lon, "lat": lat, "text": "", "status": "unknown"})
    # Largest first: where two labels of the same level and count would overlap, the bigger district's wins.
    labels.sort(key=lambda lab: -areas.get(lab["code"], 0.0))
    return dongs, labels


def _fills() -> alt.Chart:
    """The districts filled with their status's colour (field `status`), at full strength: a paler red would
    read as the orange of the level below. How much is wrong where is the labels' count."""
    return alt.Chart(alt.Data(name="districts")).mark_geoshape(stroke="#0b1016", strokeWidth=1.2).encode(
        color=alt.Color("status:N", scale=_status_scale(), legend=None),
    )


def _free_corner(features: list[dict[str, Any]]) -> dict[str, Any]:
    """The corner of the whole map's box with the largest empty rectangle (no district in it: for Pohang the
    south-west, beyond 기계면 and 대송면), as fractions of the box: where the page puts the inset without
    covering land."""
    pts: list[tuple[float, float]] = []

    def walk(coords: Any) -> None:
        if coords and isinstance(coords[0], int | float):
            # Mercator, as drawn: x = longitude, y grows with latitude faster than linearly.
            pts.append((coords[0], math.degrees(math.log(math.tan(math.pi / 4 + math.radians(coords[1]) / 2)))))
        else:
            for c in coords:
                walk(c)

    for f in features:
        walk(f["geometry"]["coordinates"])
    x0, x1 = min(p[0] for p in pts), max(p[0] for p in pts)
    y0, y1 = min(p[1] for p in pts), max(p[1] for p in pts)
    w, h = x1 - x0, y1 - y0
    best = {"corner": "ne", "w": 0.0, "h": 0.0}
    for corner in ("ne", "nw", "se", "sw"):
        for step in range(5, 13):
            fw = step * 0.05
            inside = [p for p in pts if (p[0] >= x1 - fw * w if corner[1] == "e" else p[0] <= x0 + fw * w)]
            if corner[0] == "n":
                fh = (y1 - max((p[1] for p in inside), default=y0)) / h
            else:
                fh = (min((p[1] for p in inside), default=y1) - y0) / h
            if fh >= 0.25 and fw * fh > best["w"] * best["h"]:
                best = {"corner": corner, "w": round(fw, 2), "h": round(fh, 2)}
    return best


def _label_layers(size: float) -> list[alt.Chart]:
    """A district's label (dataset `labels`, field `text`) with a dark halo, so it reads on any fill."""
    return [
        alt.Chart(alt.Data(name="labels")).mark_text(fontWeight=800, stroke="#0b1016", strokeWidth=4,
                                                     strokeOpacity=0.85, fontSize=size, fill=TEXT).encode(
            longitude="lon:Q", latitude="lat:Q", text="text:N"),
        alt.Chart(alt.Data(name="labels")).mark_text(fontWeight=800, fontSize=size, fill=TEXT).encode(
            longitude="lon:Q", latitude="lat:Q", text="text:N"),
    ]


def district_map(catalog: Catalog, seeds: Path) -> dict[str, Any]:
    """The 행정동 shaded by status (dataset `districts`, field `status`), gu outlines, the outline of the
    city centre the inset enlarges, and labels (dataset `labels`, fields `text` and `status`) of the
    districts big enough to carry one."""
    dongs, labels = _districts(catalog, seeds)
    small, _ = _districts(catalog, seeds, small=True)
    gu_path = seeds / "boundaries" / "pohang-gu.geojson"
    gus = [{"type": "Feature", "geometry": f["geometry"]} for f in _features(str(gu_path))] if gu_path.exists() \
        else []
    layers: list[alt.Chart] = [_fills()]
    if gus:
        layers.append(alt.Chart(alt.Data(name="gu")).mark_geoshape(filled=False, stroke="#dfe7f0", strokeWidth=2.5))
    if small:
        # Where the inset's districts are, so a reader finds them on the whole map.
        layers.append(alt.Chart(alt.Data(name="centre")).mark_geoshape(filled=False, stroke=TEXT, strokeWidth=1.5,
                                                                       strokeDash=[4, 3]))
    layers += _label_layers(20)
    chart = alt.layer(*layers).project(type="mercator")
    datasets: dict[str, list[dict[str, Any]]] = {"districts": dongs, "labels": labels}
    if gus:
        datasets["gu"] = gus
    if small:
        datasets["centre"] = [_bbox(small)]
    return _finish(chart, **datasets)


def district_inset(catalog: Catalog, seeds: Path) -> dict[str, Any] | None:
    """The city centre's small 행정동, enlarged, with the same datasets and fields as the whole map (or None
    when every district is big enough to be labelled on it)."""
    dongs, labels = _districts(catalog, seeds, small=True)
    if not dongs:
        return None
    chart = alt.layer(_fills(), *_label_layers(15)).project(type="mercator")
    spec = _finish(chart, districts=dongs, labels=labels)
    everything, _ = _districts(catalog, seeds)
    spec["usermeta"] = {"corner": _free_corner(everything)}
    return spec


def _bbox(features: list[dict[str, Any]]) -> dict[str, Any]:
    """A rectangle around some features (clockwise, as d3-geo wants it)."""
    xs: list[float] = []
    ys: list[float] = []

    def walk(coords: Any) -> None:
        if coords and isinstance(coords[0], int | float):
            xs.append(coords[0])
            ys.append(coords[1])
        else:
            for c in coords:
                walk(c)

    for f in features:
        walk(f["geometry"]["coordinates"])
    x0, x1, y0, y1 = min(xs) - 0.004, max(xs) + 0.004, min(ys) - 0.004, max(ys) + 0.004
    ring = [[x0, y0], [x0, y1], [x1, y1], [x1, y0], [x0, y0]]
    return {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]}}


DATE_FORMAT = {"ko": "%-m월 %-d일", "en": "%-d %b"}
"""A day on a time axis that spans days: 12월 6일, 6 Dec."""


def _time_labels(lang: str) -> str:
    """The x axis' labels, by the span the chart shows: seconds when it spans minutes (an accelerated simulation, a
    fresh start), hours and minutes up to a day and a half, and beyond that the date at each midnight (the hour
    between them)."""
    span = "(domain('x')[1] - domain('x')[0])"
    return (f"utcFormat(datum.value, {span} < 900000 ? '%H:%M:%S' : {span} < 129600000 || utchours(datum.value) "
            f"|| utcminutes(datum.value) ? '%H:%M' : '{DATE_FORMAT.get(lang, DATE_FORMAT['en'])}')")


TIME_TITLE = {"ko": "시각 ({tz})", "en": "time ({tz})"}
"""The x axis of every time series: the city's local time, by its zone's abbreviation (KST)."""
DATE_TITLE = {"ko": "날짜 ({tz})", "en": "date ({tz})"}
"""The x axis of a time series over days (`window` over a day and a half): its labels are dates."""
DAYS_S = 36 * 3600.0


def threshold_rules(catalog: Catalog, indicator: str, entities: list[str], lang: str) -> list[dict[str, Any]]:
    """The dashed threshold lines of a time series: one per (level, value), labelled with the level's word,
    the value and the unit, and with the names of the lines it holds for when not all of them."""
    ind = catalog.indicators[indicator]
    unit = ind.unit if lang == "ko" else ind.unit_en
    held: dict[tuple[str, float], list[str]] = {}
    for e in entities:
        th = ind.thresholds_for(e)
        for name, value in th.levels() if th is not None else []:
            held.setdefault((name, value), []).append(e)
    out = []
    for (name, value), ents in held.items():
        word = getattr(status.BY_ID[name], lang)
        label = f"{word} {value:,.{ind.decimals}f} {'' if ind.labels else unit}".strip()
        if len(ents) < len(entities):
            names = [getattr(catalog.entities[e], f"name_{lang}") for e in ents]
            who = " · ".join(names) if len(names) <= 2 else (
                f"{names[0]} 외 {len(names) - 1}" if lang == "ko" else f"{names[0]} +{len(names) - 1}")
            label = f"{who} {label}"
        out.append({"level": name, "y": value, "label": label})
    return out


def _zone_name(catalog: Catalog) -> str:
    return dt.datetime.now(ZoneInfo(catalog.city.timezone)).tzname() or catalog.city.timezone


def time_title(catalog: Catalog, window_s: float, lang: str) -> str:
    """The x axis' title of a time series showing `window_s` seconds: the city's time, or its dates past a day and a
    half."""
    return (DATE_TITLE if window_s > DAYS_S else TIME_TITLE)[lang].format(tz=_zone_name(catalog))


COMPARE_DASH = [10, 5]
"""The dash of a comparison's lines: longer than the thresholds' [8, 6] rules, and in the line's own colour."""


def timeseries(levels: list[dict[str, Any]], series: list[str], unit: str, time_title: str,
               lang: str = "en", compare: str | None = None) -> dict[str, Any]:
    """Lines of dataset `points` (`t` city-local ms on a UTC scale, `v`, `s` series name), with the
    thresholds drawn as dashed rules labelled with their level, value and unit (`levels`: `y`, `level`,
    `label`; a threshold that holds for only some of the lines names them in its label). The y axis names
    the unit, the x axis the time (dates in `lang` when it spans days). With `compare` (its legend entry), the
    dataset `compare` (`t`, `v`, `s` as `points`) is drawn as a dashed line per series in the series' colour, with
    one legend entry of its own."""
    colour = alt.Color("s:N", title=None, scale=alt.Scale(domain=series, range=SERIES_COLOURS[: len(series)]),
                       legend=alt.Legend(orient="top") if len(series) > 1 else None)
    lines = alt.Chart(alt.Data(name="points")).mark_line(interpolate="monotone").encode(
        x=alt.X("t:T", title=time_title, scale=alt.Scale(type="utc"),
                axis=alt.Axis(labelExpr=_time_labels(lang), labelOverlap=True, tickCount=6)),
        y=alt.Y("v:Q", title=unit or None, scale=alt.Scale(zero=False, nice=True), axis=alt.Axis(tickCount=5)),
        color=colour,
    )
    layers: list[alt.Chart] = []
    if compare is not None:
        dashed = alt.Chart(alt.Data(name="compare")).transform_calculate(
            c=json.dumps(compare, ensure_ascii=False)).mark_line(interpolate="monotone", strokeWidth=2.5,
                                                                 opacity=0.95).encode(
            x="t:T", y="v:Q", detail="s:N",
            # The same colour scale and legend as the lines (one legend: a second setting would conflict).
            color=alt.Color("s:N", title=None, scale=alt.Scale(domain=series, range=SERIES_COLOURS[: len(series)]),
                            legend=alt.Legend(orient="top") if len(series) > 1 else None),
            strokeDash=alt.StrokeDash("c:N", title=None, scale=alt.Scale(domain=[compare], range=[COMPARE_DASH]),
                                      legend=alt.Legend(orient="top", labelLimit=0, symbolType="stroke",
                                                        symbolStrokeColor=TEXT, symbolSize=500)))
        lines = alt.layer(lines, dashed)
    if levels:
        level_colour = alt.Color("level:N", scale=_status_scale(), legend=None)
        rules = alt.Chart(alt.Data(name="levels"))
        layers.append(rules.mark_rule(strokeDash=[8, 6]).encode(y="y:Q", color=level_colour))
        layers.append(lines)
        # The label sits on its line at the right edge, above it, over the lines, with a halo so it stays legible
        # where a line passes under it.
        layers.append(rules.mark_text(align="right", baseline="bottom", dy=-3, fontSize=15, fontWeight=700,
                                      stroke="#111923", strokeWidth=4, strokeOpacity=0.9).encode(
            y="y:Q", x=alt.value("width"), text="label:N"))
        layers.append(rules.mark_text(align="right", baseline="bottom", dy=-3, fontSize=15, fontWeight=700).encode(
            y="y:Q", x=alt.value("width"), text="label:N", color=level_colour))
    else:
        layers.append(lines)
    layers.extend(_notes())
    chart = alt.layer(*layers).resolve_scale(color="independent")
    return _finish(chart, levels=levels)


NOTE = "#f0abfc"
"""The colour of an incident note on a chart: apart from the status colours and the lines."""


def _notes() -> list[alt.Chart]:
    """Notes of the open incidents pinned to this indicator (dataset `notes`: `t` city-local ms, `label`): a vertical
    rule at the time with a short label at the top, haloed like the thresholds' labels (docs/incidents.md)."""
    notes = alt.Chart(alt.Data(name="notes"))
    text = {"align": "left", "baseline": "top", "dx": 4, "dy": 2, "fontSize": 16, "fontWeight": 700}
    return [notes.mark_rule(strokeWidth=2, color=NOTE).encode(x="t:T"),
            notes.mark_text(**text, stroke="#111923", strokeWidth=4, strokeOpacity=0.9).encode(
                x="t:T", y=alt.value(0), text="label:N"),
            notes.mark_text(**text, color=NOTE).encode(x="t:T", y=alt.value(0), text="label:N")]


def ranking(unit: str) -> dict[str, Any]:
    """Horizontal bars of dataset `rows` (`label`, `v`, `status`, `text`, `rank`, `show`), best read top-down.
    The page keeps one tuple per entity and sets `show` on the top N, so updates only modify tuples; it also
    sets the signal `xmax` so the longest bar leaves room for its value and status after it."""
    base = alt.Chart(alt.Data(name="rows")).transform_filter("datum.show").encode(
        y=alt.Y("label:N", title=None, sort=alt.EncodingSortField(field="rank", op="min", order="ascending"),
                axis=alt.Axis(labelFontSize=20, labelColor=TEXT, labelLimit=0, domain=False, ticks=False)),
    )
    xmax = alt.param(name="xmax", value=1)
    bars = base.mark_bar(cornerRadiusEnd=3, height={"band": 0.72}).encode(
        x=alt.X("v:Q", title=unit or None, scale=alt.Scale(domainMax=alt.ExprRef(xmax.name), zero=True, nice=False),
                axis=alt.Axis(tickCount=4, grid=True, labels=False)),
        color=alt.Color("status:N", scale=_status_scale(), legend=None),
    )
    values = base.mark_text(align="left", dx=6, fontWeight=700, fill=TEXT).encode(x="v:Q", text="text:N")
    return _finish(alt.layer(bars, values).add_params(xmax))
