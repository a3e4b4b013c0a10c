"""A PNG chart of an alert's series over its last hour (Altair → vl-convert, no network), for e-mails."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import altair as alt
import redis.asyncio as aioredis

from situationroom import keys, status
from situationroom.catalog import Catalog

HOUR_MS = 3_600_000


async def last_hour(client: aioredis.Redis, indicator: str, entity: str,
                    exercise: bool = False) -> list[tuple[int, float]]:
    """(event ms, value) of the series' last hour, behind its newest sample (the simulator runs ahead of the clock)."""
    # Newest first in one call; an hour of raw samples is a few hundred at most.
    raw = await client.zrevrangebyscore(keys.raw(indicator, entity, exercise), "+inf", "-inf", start=0, num=5000)
    points: list[tuple[int, float]] = []
    for member in raw:
        ms, _, value = (member.decode() if isinstance(member, bytes) else member).partition(":")
        points.append((int(ms), float(value)))
    if not points:
        return []
    newest = points[0][0]
    return sorted(p for p in points if p[0] >= newest - HOUR_MS)


def spec(catalog: Catalog, indicator: str, entity: str, points: list[tuple[int, float]], lang: str) -> dict[str, Any]:
    """The Vega-Lite spec: the values, the thresholds as rules, title and axes in `lang`."""
    ko = lang == "ko"
    tz = ZoneInfo(catalog.city.timezone)
    ind = catalog.indicators[indicator]
    ent = catalog.entities.get(entity)
    unit = ind.unit if ko else ind.unit_en
    # Local wall-clock strings without an offset: the renderer shows them as written, whatever its own zone.
    values = [{"t": dt.datetime.fromtimestamp(ms / 1000, tz).strftime("%Y-%m-%dT%H:%M:%S"), "v": v}
              for ms, v in points]
    title = f"{ind.name_ko if ko else ind.name_en} · {(ent.name_ko if ko else ent.name_en) if ent else entity}"
    line = alt.Chart(alt.Data(values=values)).mark_line(point=alt.OverlayMarkDef(size=18), color="#1d4ed8").encode(
        x=alt.X("t:T", title="시각" if ko else "time", axis=alt.Axis(format="%H:%M")),
        y=alt.Y("v:Q", title=unit, scale=alt.Scale(zero=False)),
    )
    layers: list[alt.Chart] = [line]
    th = ind.thresholds_for(entity)
    if th is not None:
        # Every level the series has, in the scale's colour and word (주의 2.50 m).
        rules = [{"level": name, "y": value,
                  "label": f"{getattr(status.BY_ID[name], 'ko' if ko else 'en')} {value:g} {unit}".strip()}
                 for name, value in th.levels()]
        names = [name for name, _ in th.levels()]
        colours = alt.Scale(domain=names, range=[status.BY_ID[n].colour for n in names])
        base = alt.Chart(alt.Data(values=rules))
        layers.append(base.mark_rule(strokeDash=[6, 4]).encode(
            y="y:Q", color=alt.Color("level:N", scale=colours, legend=None)))
        layers.append(base.mark_text(align="left", dx=4, dy=-6, fontSize=11).encode(
            y="y:Q", x=alt.value(0), text="label:N", color=alt.Color("level:N", scale=colours, legend=None)))
    chart = alt.layer(*layers).properties(width=560, height=220, title=title).configure_view(stroke=None)
    return chart.to_dict()


async def png(client: aioredis.Redis, catalog: Catalog, alert: dict[str, Any], lang: str) -> bytes | None:
    """The chart of an alert's series as PNG, or None when the series has no data (or is not in the catalog)."""
    indicator, entity = str(alert.get("indicator") or ""), str(alert.get("entity") or "")
    if indicator not in catalog.indicators or not entity:
        return None
    # An exercise alert is drawn from the drill's series, never from the real one.
    points = await last_hour(client, indicator, entity, bool(alert.get("exercise")))
    if not points:
        return None
    vl = spec(catalog, indicator, entity, points, lang)
    import vl_convert

    # Rendering takes tens of milliseconds (the first one about half a second): off the event loop.
    return await asyncio.to_thread(lambda: vl_convert.vegalite_to_png(vl, scale=2))
