"""What citizens see on /public, computed from the catalog's public indicators only: status by 행정동, the last
hours of each public indicator, the latest disaster texts, and whether any of it is simulated (exercise) data."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from situationroom import live, status, updates
from situationroom.catalog import Catalog, Indicator
from situationroom.collectors.kinds import disaster_messages
from situationroom.history.seam import Ask, SeriesPast
from situationroom.web import exercise_api

MESSAGES_INDICATOR = "safety.disaster_messages"
"""The indicator that counts disaster texts: when the catalog makes it public, the texts themselves are public too
(they are broadcast to every phone in the area); otherwise citizens get none of them here."""
MESSAGE_KINDS = frozenset({"disaster_text"})
"""Only disaster texts: a CAP alert may come from a feed the catalog does not open to citizens."""
MESSAGES_MAX = 10
STEP = {sev: (ko, disaster_messages.STEP_EN[ko]) for ko, sev in disaster_messages.SEVERITY.items()}
"""A message's severity in the words of its emergency step: 안전안내, 긴급재난, 위급재난."""


def public_indicators(catalog: Catalog) -> list[Indicator]:
    """The indicators the catalog opens to citizens (`public: true`), in catalog order; nothing else is ever read."""
    return [i for i in catalog.indicators.values() if i.public]


def replay_clock(clock: dict[str, Any] | None) -> dict[str, Any] | None:
    """The simulated clock of a replay (simulated = start + (real − anchor) × speed), or None when the simulators
    follow the real clock (an ordinary simulated day, now): then times are real even for simulated data."""
    if not clock:
        return None
    if clock.get("speed") == 1 and not clock.get("loop") and abs(clock["start"] - clock["anchor"]) < 60:
        return None
    return {k: clock.get(k) for k in ("speed", "start", "anchor", "duration", "loop", "name_ko", "name_en")}


def shown_time(ts: float, exercise: bool, clock: dict[str, Any] | None) -> float:
    """A time as citizens are shown it: simulated during a replay for exercise data, else the real one."""
    if not exercise or clock is None:
        return ts
    elapsed = (ts - clock["anchor"]) * clock["speed"]
    if clock.get("loop") and clock.get("duration"):
        elapsed %= clock["duration"]
    return clock["start"] + elapsed


def _meta(ind: Indicator) -> dict[str, Any]:
    labels = {str(k): {"ko": v.ko, "en": v.en} for k, v in ind.labels.items()}
    return {"id": ind.id, "name_ko": ind.name_ko, "name_en": ind.name_en, "unit": ind.unit, "unit_en": ind.unit_en,
            "domain": ind.domain, "decimals": ind.decimals, "source": ind.source, "licence": ind.licence,
            "labels": labels or None,
            "direction": ind.thresholds.direction if ind.thresholds else _direction(ind)}


def _direction(ind: Indicator) -> str:
    """Which way is bad: the thresholds' direction (any entity's), above when there are none."""
    found = next(iter(ind.thresholds_by_entity.values()), None)
    return found.direction if found else "above"


def _reading(catalog: Catalog, ind: Indicator, entity: str, state: dict[str, Any],
             clock: dict[str, Any] | None) -> dict[str, Any]:
    ent = catalog.entities[entity]
    exercise = bool(state.get("x"))
    return {"indicator": ind.id, "entity": entity, "entity_ko": ent.name_ko, "entity_en": ent.name_en,
            "value": state["v"], "ts": shown_time(state["t"] / 1000, exercise, clock), "status": state["st"],
            "exercise": exercise}


def _worst(readings: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """The reading with the worst status (the newest among equals)."""
    return max(readings, key=lambda r: (status.ORDER.get(r["status"], 0), r["ts"]), default=None)


def _districts_of(catalog: Catalog, entity: str) -> list[str]:
    """The 행정동 a reading of an entity speaks for: a dong itself, the dong a station lies in, every dong of a gu or of
    the city (an advisory for the city holds in each of its districts); none for a station outside any (the sea)."""
    ent = catalog.entities[entity]
    if ent.kind == "dong":
        return [ent.id]
    if ent.kind == "city":
        return [d.id for d in catalog.entities_of_kind("dong")]
    if ent.kind == "gu":
        return [d.id for d in catalog.entities_of_kind("dong") if d.parent == ent.id]
    found = catalog.entities.get(ent.district or "")
    return [found.id] if found is not None and found.kind == "dong" else []


async def exercise_clock(ctx: Any) -> dict[str, Any] | None:
    return replay_clock((await exercise_api.status(ctx.client))["clock"])


async def current(ctx: Any) -> dict[str, Any]:
    """Every public indicator's state now (city-wide: its worst place) and each 행정동's worst status over them."""
    catalog: Catalog = ctx.catalog
    inds = public_indicators(catalog)
    states = await live.read(ctx.client, [i.id for i in inds], ctx.settings.stale_grace)
    clock = await exercise_clock(ctx)
    by_district: dict[str, dict[str, list[dict[str, Any]]]] = {}
    indicators = []
    for ind in inds:
        readings = []
        for entity in catalog.entities_of(ind.id):
            state = states[ind.id].get(entity)
            if state is None:
                continue
            reading = _reading(catalog, ind, entity, state, clock)
            readings.append(reading)
            for district in _districts_of(catalog, entity):
                by_district.setdefault(district, {}).setdefault(ind.id, []).append(reading)
        worst = _worst(readings)
        indicators.append({**_meta(ind), "status": worst["status"] if worst else "unknown", "now": worst,
                           "places": len(catalog.entities_of(ind.id)), "reporting": len(readings)})
    districts = []
    for dong in catalog.entities_of_kind("dong"):
        found = [w for per in by_district.get(dong.id, {}).values() if (w := _worst(per)) is not None]
        found.sort(key=lambda r: -status.ORDER.get(r["status"], 0))
        districts.append({"code": dong.id, "name_ko": dong.name_ko, "name_en": dong.name_en,
                          "gu": dong.parent, "status": status.worst([r["status"] for r in found]),
                          "readings": found})
    exercise = any(i["now"] and i["now"]["exercise"] for i in indicators)
    return {"generated_at": time.time(), "city": catalog.city.model_dump(), "exercise": exercise,
            "clock": clock if exercise else None, "indicators": indicators, "districts": districts,
            "domains": [d.model_dump() for d in catalog.domains.values()
                        if any(i.domain == d.id for i in inds)]}


FINE_BELOW_S = 6 * 3600
"""A span of real time shorter than this is read in minutes, not hours: a replay's day passes in minutes."""


def span_of(hours: int, exercise: bool, clock: dict[str, Any] | None) -> tuple[float, str]:
    """The real seconds and the resolution that cover `hours` as they are shown: simulated hours during a replay (a
    day at 120x is 12 real minutes, read in 1-minute buckets), else real hours in hourly buckets."""
    span = hours * 3600 / clock["speed"] if exercise and clock is not None else hours * 3600.0
    return span, "1m" if span < FINE_BELOW_S else "1h"


async def history(ctx: Any, past: SeriesPast, indicators: list[Indicator], hours: int) -> dict[str, Any]:
    """The last `hours` of each indicator, city-wide: per bucket the value of the worst place (the highest, or the
    lowest where low is bad), so the line ends where the city's worst reading stands now."""
    catalog: Catalog = ctx.catalog
    end = time.time()
    states = await live.read(ctx.client, [i.id for i in indicators], ctx.settings.stale_grace)
    clock = await exercise_clock(ctx)
    tz = ZoneInfo(catalog.city.timezone)

    async def one(ind: Indicator) -> dict[str, Any]:
        entities = catalog.entities_of(ind.id)
        exercise = any(states[ind.id].get(e, {}).get("x") for e in entities)
        span, resolution = span_of(hours, exercise, clock)
        got = await past.read(Ask(ind.id, tuple(entities), int((end - span) * 1000), int(end * 1000), resolution,
                                  combined=True, exercise=exercise))
        pick = "min" if _meta(ind)["direction"] == "below" else "max"
        points = [{"t": shown_time(b.start / 1000, exercise, clock), "value": b.value(pick), "count": b.count}
                  for b in got.buckets.get(None, [])]
        return {"indicator": ind.id, "unit": ind.unit, "unit_en": ind.unit_en, "aggregate": pick,
                "resolution": resolution, "exercise": exercise, "points": points}

    # Each series' store query runs in a thread of its own (the store is read off the event loop): side by side.
    out = list(await asyncio.gather(*(one(ind) for ind in indicators)))
    offset = datetime.now(tz).utcoffset()
    return {"generated_at": end, "to": end, "hours": hours, "utc_offset_s": offset.total_seconds() if offset else 0.0,
            "clock": clock if any(s["exercise"] for s in out) else None, "series": out}


async def messages(ctx: Any, hours: int) -> dict[str, Any]:
    """The newest disaster texts of the last `hours`, newest first, when the catalog makes them public."""
    catalog: Catalog = ctx.catalog
    ind = catalog.indicators.get(MESSAGES_INDICATOR)
    if ind is None or not ind.public:
        return {"generated_at": time.time(), "published": False, "messages": [], "clock": None}
    clock = await exercise_clock(ctx)
    since = (time.time() - hours * 3600) * 1000
    out = []
    for raw in await updates.recent_messages(ctx.client):
        m = orjson.loads(raw)
        if m.get("kind") not in MESSAGE_KINDS or m["t"] < since:
            continue
        exercise = bool(m.get("x"))
        ko, en = STEP.get(m["severity"], STEP["info"])
        areas = [catalog.entities[e] for e in m.get("entities", []) if e in catalog.entities]
        out.append({"id": m["id"], "ts": shown_time(m["t"] / 1000, exercise, clock), "severity": m["severity"],
                    "step_ko": ko, "step_en": en, "text_ko": m["text_ko"], "text_en": m["text_en"],
                    "areas_ko": [a.name_ko for a in areas] or [catalog.city.name_ko],
                    "areas_en": [a.name_en for a in areas] or [catalog.city.name_en], "exercise": exercise})
    # Newest issued first: the list is in the order they were published, which a late collector may not keep.
    out = sorted(out, key=lambda m: -m["ts"])[:MESSAGES_MAX]
    return {"generated_at": time.time(), "published": True, "messages": out,
            "clock": clock if any(m["exercise"] for m in out) else None}
