"""A briefing's key-figure chart is the wall's own time-series chart (the builder of situationroom/wall_charts.py, its
threshold rules and status colours, the panel's background) filled with the period's hourly means in city time, and
renders to a PNG with vl-convert alone: the series' and the thresholds' colours are in the image."""

from __future__ import annotations

import asyncio
import io

from PIL import Image

from situationroom import status, wall_charts
from situationroom.briefings import charts, fonts
from situationroom.catalog import Catalog
from tests.site_support import settings_for

HOUR_MS = 3_600_000
START = 1_662_390_000_000  # 2022-09-06 00:00 KST
# 형산교 over the night of 힌남노: under 주의 (2.5 m), through it and past 경계 (3.0 m).
FIGURE = {"indicator": "river.level", "entity": "hrfco-2101690",
          "series": [(START + h * HOUR_MS, 1.2 + 0.2 * h) for h in range(12)]}


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def test_the_spec_is_the_walls_panel_spec_with_the_periods_points(site_catalog: Catalog) -> None:
    vl = charts.spec(site_catalog, FIGURE, "ko", fonts.FAMILY)
    name = site_catalog.entities["hrfco-2101690"].name_ko
    wall = wall_charts.timeseries(wall_charts.threshold_rules(site_catalog, "river.level", ["hrfco-2101690"], "ko"),
                                  [name], "m", wall_charts.time_title(site_catalog, 11 * 3600, "ko"), "ko")
    assert vl["layer"] == wall["layer"], "the wall's marks, encodings and scales, unchanged"
    scales = [layer["encoding"]["color"]["scale"] for layer in vl["layer"] if "color" in layer.get("encoding", {})
              and layer["encoding"]["color"].get("field") == "level"]
    assert scales and all(s == {"domain": [s.id for s in status.SCALE], "range": [s.colour for s in status.SCALE]}
                          for s in scales)
    assert [(r["level"], r["y"], r["label"]) for r in vl["datasets"]["levels"]] == [
        ("warning", 2.5, "주의 2.50 m"), ("critical", 3.0, "경계 3.00 m")]
    points = vl["datasets"]["points"]
    assert len(points) == 12 and points[0] == {"t": START + 9 * HOUR_MS, "v": 1.2, "s": name}, "KST on a UTC scale"
    assert vl["config"]["font"] == fonts.FAMILY and vl["config"]["axis"]["labelFontSize"] == 18
    assert vl["config"]["background"] == charts.PANEL
    assert (vl["width"], vl["height"]) == (charts.WIDTH, charts.HEIGHT)
    english = charts.spec(site_catalog, FIGURE, "en", fonts.FAMILY)
    assert english["datasets"]["levels"][0]["label"] == "warning 2.50 m"
    assert english["datasets"]["points"][0]["s"] == site_catalog.entities["hrfco-2101690"].name_en


def test_it_renders_to_a_png_in_the_walls_colours(site_catalog: Catalog, redis_url: str) -> None:
    made = fonts.static_fonts(settings_for(redis_url).font_cache)
    images = asyncio.run(charts.pngs(site_catalog, [FIGURE, {**FIGURE, "indicator": "rain.hourly", "series": []}],
                                     "ko", made["regular"].parent, fonts.FAMILY))
    assert list(images) == ["river.level"], "a figure without points gets no chart"
    image = Image.open(io.BytesIO(images["river.level"])).convert("RGB")
    assert image.size == (2 * charts.WIDTH, 2 * charts.HEIGHT), "padding inside the size, at scale 2"
    colours = {c for _, c in image.getcolors(maxcolors=1 << 20)}
    assert image.getpixel((2, 2)) == _rgb(charts.PANEL)
    assert _rgb(wall_charts.SERIES_COLOURS[0]) in colours, "the wall's first series colour"
    for level in ("warning", "critical"):
        assert _rgb(status.BY_ID[level].colour) in colours, f"the {level} rule in the status scale's colour"
