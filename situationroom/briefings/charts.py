"""The key figures' charts as PNG: the wall's own time-series spec (situationroom/wall_charts.py, the same builder,
threshold rules and status colours as a dashboard's chart panel), filled with the period's hourly means and rendered
by vl-convert in the served font."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from situationroom import wall_charts
from situationroom.catalog import Catalog

WIDTH, HEIGHT = 960, 340
"""The chart's size in the wall's pixels (its fonts are sized for a 1080-pixel-high screen): about a wall panel's,
so labels keep the wall's proportions when the PDF shrinks the image to the page's width."""
PANEL = "#111923"
"""The wall's panel background (static/wall.css `--panel`): the wall's colours are chosen to read on it."""
_registered: set[Path] = set()


def _local_ms(ms: int, tz: ZoneInfo) -> int:
    """City-local wall-clock ms on a UTC scale, as the wall's page gives its charts."""
    offset = dt.datetime.fromtimestamp(ms / 1000, tz).utcoffset() or dt.timedelta(0)
    return ms + int(offset.total_seconds() * 1000)


def _fonts(value: Any, family: str) -> Any:
    """The spec's config with every font the wall asks for replaced by the briefing's registered family."""
    if isinstance(value, dict):
        return {k: _fonts(v, family) for k, v in value.items()}
    return family if value == wall_charts.FONT else value


def spec(catalog: Catalog, figure: dict[str, Any], lang: str, family: str) -> dict[str, Any]:
    """The wall's time-series spec for the figure's indicator at its entity, with the `points` filled."""
    ind = catalog.indicators[figure["indicator"]]
    entity = figure["entity"]
    ent = catalog.entities.get(entity)
    name = (ent.name_ko if lang == "ko" else ent.name_en) if ent else entity
    series = figure["series"]
    span_s = (series[-1][0] - series[0][0]) / 1000 if series else 0.0
    vl = wall_charts.timeseries(wall_charts.threshold_rules(catalog, ind.id, [entity], lang), [name],
                                "" if ind.labels else (ind.unit if lang == "ko" else ind.unit_en),
                                wall_charts.time_title(catalog, span_s, lang), lang)
    tz = ZoneInfo(catalog.city.timezone)
    vl["datasets"] = {**vl.get("datasets", {}), "notes": [],
                      "points": [{"t": _local_ms(ms, tz), "v": v, "s": name} for ms, v in series]}
    # A fixed size instead of the wall's "container" (there is none), on the wall's panel colour.
    vl["width"], vl["height"] = WIDTH, HEIGHT
    vl["autosize"] = {"type": "fit", "contains": "padding"}
    vl["config"] = {**_fonts(vl["config"], family), "background": PANEL, "padding": 12}
    return vl


async def pngs(catalog: Catalog, figures: list[dict[str, Any]], lang: str, font_dir: Path,
               family: str) -> dict[str, bytes]:
    """indicator id -> PNG of its figure's series (figures without points get none)."""
    import vl_convert

    if font_dir not in _registered:
        vl_convert.register_font_directory(str(font_dir))
        _registered.add(font_dir)
    out = {}
    for f in figures:
        if f["entity"] is None or not f["series"] or f["indicator"] not in catalog.indicators:
            continue
        vl = spec(catalog, f, lang, family)
        # A render takes tens of milliseconds, the first about half a second: off the event loop.
        out[f["indicator"]] = await asyncio.to_thread(lambda vl=vl: vl_convert.vegalite_to_png(vl, scale=2))
    return out
