"""What each section of a briefing says, as data: read with the same calls as the API (live state as
/api/v1/indicators, the past as /api/v1/indicators/{id}/history), so the briefing and the API give the same numbers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from situationroom import live, status
from situationroom.alerts import store as alert_store
from situationroom.catalog import Catalog
from situationroom.history.seam import Ask, SeriesPast
from situationroom.incidents import present
from situationroom.incidents import store as incident_store
from situationroom.settings import Settings

WEEK_MS = 7 * 86_400_000
YEAR_WEEKS_MS = 52 * WEEK_MS
"""The same week last year: 52 weeks back, so the weekdays line up (a weekend against a weekend)."""
ACK_EVENTS = ("fired", "acknowledged", "resolved", "escalated", "raised", "lowered", "silenced")


@dataclass
class Reads:
    """What a briefing reads from: Redis, the catalog, the settings and the reader of the past."""

    client: aioredis.Redis
    catalog: Catalog
    settings: Settings
    past: SeriesPast

    def readable(self) -> list[str]:
        """The indicators a briefing may cite: restricted ones go only to their departments, never in a briefing
        sent to an audience that may include others."""
        return [i.id for i in self.catalog.indicators.values() if i.restricted is None]

    async def states(self, indicators: list[str]) -> dict[str, dict[str, dict]]:
        return await live.read(self.client, indicators, self.settings.stale_grace)


def _exercise(states: dict[str, dict]) -> bool:
    return any(s.get("x") for s in states.values())


async def status_section(r: Reads, previous: dict[str, Any] | None) -> dict[str, Any]:
    """The worst status of each domain's indicators (each as /api/v1/indicators gives its `status`), and each
    domain whose status differs from the previous briefing's."""
    ids = r.readable()
    states = await r.states(ids)
    domains = []
    for d in r.catalog.domains.values():
        mine = [i for i in ids if r.catalog.indicators[i].domain == d.id]
        per = {i: live.summarize(r.catalog, i, states[i])["status"] for i in mine}
        counts: dict[str, int] = {}
        for st in per.values():
            counts[st] = counts.get(st, 0) + 1
        domains.append({"id": d.id, "name_ko": d.name_ko, "name_en": d.name_en,
                        "status": live.worst(list(per.values())), "counts": counts,
                        "exercise": any(_exercise(states[i]) for i in mine)})
    before = {d["id"]: d["status"] for d in (previous or {}).get("domains", [])}
    changes = [{"domain": d["id"], "name_ko": d["name_ko"], "name_en": d["name_en"], "was": before[d["id"]],
                "now": d["status"]} for d in domains if d["id"] in before and before[d["id"]] != d["status"]]
    return {"kind": "status", "domains": domains, "changes": changes,
            "previous": (previous or {}).get("id"), "exercise": any(d["exercise"] for d in domains)}


async def timeline_section(r: Reads, start_ms: int, end_ms: int, limit: int) -> dict[str, Any]:
    """The period's alert and incident events, oldest first, with who acknowledged each alert and how many minutes
    after it fired. From the incidents' timelines (kept whole) and the alert records the alert role still holds
    (resolved ones are pruned after `alert_retention`: older alerts outside any incident are not available)."""
    hidden = frozenset(i for i in r.catalog.indicators if r.catalog.indicators[i].restricted is not None)
    entries: list[dict[str, Any]] = []
    incidents = []
    for inc in await incident_store.read_all(r.client):
        if inc.opened > end_ms or (inc.closed is not None and inc.closed < start_ms):
            continue
        incidents.append({"id": inc.id, "hazard": inc.hazard, "area": inc.area, "level": inc.level,
                          "state": inc.state, "opened": inc.opened, "exercise": inc.exercise})
        shown, _ = present.ordered(await incident_store.read_timeline(r.client, inc.id), hidden)
        entries += [{**e, "incident": inc.id} for e in shown if start_ms <= int(e.get("at") or 0) <= end_ms]
    seen = {(e.get("fingerprint"), e.get("event")) for e in entries if e.get("kind") == "alert"}
    for a in await alert_store.read_alerts(r.client):
        if a.indicator in hidden:
            continue
        base = {"kind": "alert", "fingerprint": a.fingerprint, "indicator": a.indicator, "entity": a.entity,
                "level": a.level, "severity": a.public().get("severity"), "exercise": bool(a.public().get("exercise")),
                "incident": None}
        own = [("fired", a.fired, None)]
        if a.acked:
            own.append(("acknowledged", a.acked.get("at"), a.acked.get("by")))
        if a.resolved:
            own.append(("resolved", a.resolved, None))
        for event, at, by in own:
            if at and start_ms <= int(at) <= end_ms and (a.fingerprint, event) not in seen:
                entries.append({**base, "event": event, "at": int(at), "by": by})
    entries.sort(key=lambda e: int(e.get("at") or 0))
    fired = {e["fingerprint"]: int(e["at"]) for e in entries if e.get("event") == "fired"}
    acks = []
    for e in entries:
        if e.get("event") == "acknowledged" and e.get("fingerprint") in fired:
            e["ack_minutes"] = round((int(e["at"]) - fired[e["fingerprint"]]) / 60_000, 1)
            acks.append(e["ack_minutes"])
    rows = [_row(r.catalog, e) for e in entries][-limit:]
    return {"kind": "timeline", "from": start_ms, "to": end_ms, "incidents": incidents, "entries": rows,
            "fired": len(fired), "acknowledged": len(acks),
            "ack_median_minutes": sorted(acks)[len(acks) // 2] if acks else None,
            "exercise": any(e.get("exercise") for e in rows) or any(i["exercise"] for i in incidents)}


def _row(catalog: Catalog, e: dict[str, Any]) -> dict[str, Any]:
    ind = catalog.indicators.get(str(e.get("indicator")))
    ent = catalog.entities.get(str(e.get("entity")))
    return {"at": int(e.get("at") or 0), "kind": e.get("kind"), "event": e.get("event"), "by": e.get("by"),
            "what_ko": ind.name_ko if ind else (e.get("text") or e.get("kind")),
            "what_en": ind.name_en if ind else (e.get("text") or e.get("kind")),
            "where_ko": ent.name_ko if ent else "", "where_en": ent.name_en if ent else "",
            "level": e.get("level"), "ack_minutes": e.get("ack_minutes"), "incident": e.get("incident"),
            "exercise": bool(e.get("exercise"))}


async def figures_section(r: Reads, indicators: list[str], start_ms: int, end_ms: int) -> dict[str, Any]:
    """Each indicator's latest value where it is worst (as /api/v1/indicators/{id}), and that series' hourly means
    over the period (as …/history?entity=…&resolution=1h)."""
    out = []
    for ind_id in [i for i in indicators if i in r.readable()]:
        ind = r.catalog.indicators[ind_id]
        states = (await r.states([ind_id]))[ind_id]
        top = _worst_entity(states)
        series: list[tuple[int, float]] = []
        if top is not None:
            past = await r.past.read(Ask(ind_id, (top,), start_ms, end_ms, "1h", exercise=_exercise(states)))
            series = [(b.start, b.mean) for b in past.buckets.get(top, [])]
        out.append({"indicator": ind_id, "name_ko": ind.name_ko, "name_en": ind.name_en, "unit": ind.unit,
                    "unit_en": ind.unit_en, "decimals": ind.decimals,
                    **live.summarize(r.catalog, ind_id, states), **_entity_value(r.catalog, top, states),
                    "series": series, "exercise": _exercise(states)})
    return {"kind": "figures", "figures": out, "exercise": any(f["exercise"] for f in out)}


def _worst_entity(states: dict[str, dict]) -> str | None:
    """The entity of the worst status, the highest value among equals."""
    if not states:
        return None
    return max(states, key=lambda e: (status.of(states[e]["st"]).rank, states[e]["v"]))


def _entity_value(catalog: Catalog, entity: str | None, states: dict[str, dict]) -> dict[str, Any]:
    if entity is None:
        return {"entity": None, "entity_ko": "", "entity_en": "", "value": None, "ts": None}
    ent = catalog.entities.get(entity)
    s = states[entity]
    return {"entity": entity, "entity_ko": ent.name_ko if ent else entity, "entity_en": ent.name_en if ent else entity,
            "value": s["v"], "ts": s["t"], "entity_status": s["st"]}


async def districts_section(r: Reads, top: int) -> dict[str, Any]:
    """The gu and 행정동 whose worst status (over every indicator measured in them) is worst now."""
    ids = r.readable()
    states = await r.states(ids)
    worst: dict[str, tuple[int, str, list[str], bool]] = {}
    for ind_id in ids:
        for entity, s in states[ind_id].items():
            level = status.of(s["st"]).level
            if not level:
                continue
            e = r.catalog.entities.get(entity)
            places = {p for p in (e.district if e else None, r.catalog.gu_of(entity),
                                  entity if e and e.kind in ("gu", "dong") else None) if p}
            for place in places:
                lv, st, why, x = worst.get(place, (0, "normal", [], False))
                if level > lv:
                    worst[place] = (level, s["st"], [ind_id], x or bool(s.get("x")))
                elif level == lv and ind_id not in why:
                    worst[place] = (lv, st, [*why, ind_id], x or bool(s.get("x")))
    ranked = sorted(worst.items(), key=lambda kv: (-kv[1][0], -len(kv[1][2]), kv[0]))[:top]
    rows = []
    for place, (level, st, why, x) in ranked:
        e = r.catalog.entities.get(place)
        rows.append({"id": place, "name_ko": e.name_ko if e else place, "name_en": e.name_en if e else place,
                     "level": level, "status": st, "indicators": why[:3], "exercise": x})
    return {"kind": "districts", "districts": rows, "exercise": any(x["exercise"] for x in rows)}


async def outlook_section(r: Reads, indicators: list[str]) -> dict[str, Any]:
    """Weather and rivers from the latest data: each indicator's status and its value where it is worst."""
    wanted = [i for i in indicators if i in r.readable()]
    states = await r.states(wanted)
    rows = []
    for ind_id in wanted:
        ind = r.catalog.indicators[ind_id]
        rows.append({"indicator": ind_id, "name_ko": ind.name_ko, "name_en": ind.name_en, "unit": ind.unit,
                     "unit_en": ind.unit_en, "decimals": ind.decimals,
                     **live.summarize(r.catalog, ind_id, states[ind_id]),
                     **_entity_value(r.catalog, _worst_entity(states[ind_id]), states[ind_id]),
                     "exercise": _exercise(states[ind_id])})
    return {"kind": "outlook", "rows": rows, "exercise": any(x["exercise"] for x in rows)}


async def economy_section(r: Reads, by_gu: str, by_sector: str, end_ms: int) -> dict[str, Any]:
    """Spending by gu and by sector over the week ending at `end_ms`, the week before and the same week 52 weeks
    earlier: the sum of the hourly buckets' sums, as …/history?resolution=1h gives them for each range."""
    weeks = {"this": (end_ms - WEEK_MS, end_ms), "last": (end_ms - 2 * WEEK_MS, end_ms - WEEK_MS),
             "year": (end_ms - YEAR_WEEKS_MS - WEEK_MS, end_ms - YEAR_WEEKS_MS)}
    out: dict[str, Any] = {"kind": "economy", "weeks": {k: {"from": a, "to": b} for k, (a, b) in weeks.items()},
                           "exercise": False}
    for part, ind_id, kind in (("by_gu", by_gu, "gu"), ("by_sector", by_sector, "sector")):
        ind = r.catalog.indicators.get(ind_id)
        if ind is None or ind.restricted is not None:
            out[part] = []
            continue
        entities = tuple(e for e in r.catalog.entities_of(ind_id) if r.catalog.entities[e].kind == kind)
        sums: dict[str, dict[str, float | None]] = {e: {} for e in entities}
        for week, (a, b) in weeks.items():
            past = await r.past.read(Ask(ind_id, entities, a, b, "1h"))
            for e in entities:
                found = past.buckets.get(e, [])
                sums[e][week] = round(sum(x.sum for x in found), ind.decimals) if found else None
        out["unit"], out["unit_en"], out["decimals"] = ind.unit, ind.unit_en, ind.decimals
        out[part] = [{"entity": e, "name_ko": r.catalog.entities[e].name_ko,
                      "name_en": r.catalog.entities[e].name_en, **sums[e],
                      "vs_last": _change(sums[e]["this"], sums[e]["last"]),
                      "vs_year": _change(sums[e]["this"], sums[e]["year"])} for e in entities]
    return out


def _change(now: float | None, then: float | None) -> float | None:
    """The change in per cent, one decimal; None when either side has no data or the past is zero."""
    if now is None or not then:
        return None
    return round((now - then) / then * 100, 1)
