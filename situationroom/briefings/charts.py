"""The key figures' charts as PNG: the alert e-mails' Vega-Lite line chart with thresholds (notify/chart.py),
rendered by vl-convert in the served font."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from situationroom.catalog import Catalog
from situationroom.notify import chart

_registered: set[Path] = set()


def _spec(catalog: Catalog, figure: dict[str, Any], lang: str, family: str) -> dict[str, Any]:
    spec = chart.spec(catalog, figure["indicator"], figure["entity"], figure["series"], lang)
    spec["config"] = {**spec.get("config", {}), "font": family}
    return spec


async def pngs(catalog: Catalog, figures: list[dict[str, Any]], lang: str, font_dir: Path,
               family: str) -> dict[str, bytes]:
    """indicator id -> PNG of its figure's series (figures without points get none)."""
    import vl_convert

    if font_dir not in _registered:
        vl_convert.register_font_directory(str(font_dir))
        _registered.add(font_dir)
    out = {}
    for f in figures:
        if f["entity"] is None or not f["series"]:
            continue
        vl = _spec(catalog, f, lang, family)
        # A render takes tens of milliseconds, the first about half a second: off the event loop.
        out[f["indicator"]] = await asyncio.to_thread(lambda vl=vl: vl_convert.vegalite_to_png(vl, scale=2))
    return out
