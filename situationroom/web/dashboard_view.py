"""What a page needs to draw a dashboard: its panels resolved against the catalog, with their chart specs and topics."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from situationroom import dashboards as dash
from situationroom import status
from situationroom import wall_charts as charts
from situationroom.catalog import Catalog
from situationroom.dashboard_store import Entry
from situationroom.events import NONE, Events
from situationroom.web import compare_api


def _names(obj: Any) -> dict[str, str]:
    return {"ko": obj.name_ko, "en": obj.name_en}

def _title(panel: dash.PanelBase, default_ko: str, default_en: str) -> dict[str, str]:
    return {"ko": panel.title_ko or default_ko, "en": panel.title_en or default_en}


PANEL_TITLES = {
    "map": ("구역별 상태", "Status by district"), "alerts": ("발령 중인 경보", "Alerts firing"),
    "ticker": ("재난문자", "Disaster messages"), "clock": ("현재 시각", "Time"),
    "domains": ("분야별 상태", "Status by domain"),
}


def _scope(catalog: Catalog, domains: list[str], indicators: list[str]) -> list[str]:
    """Indicator ids a map, alert list or domain panel covers."""
    if indicators:
        return [i for i in indicators if not domains or catalog.indicators[i].domain in domains] + \
            [i.id for i in catalog.indicators.values() if domains and i.domain in domains and i.id not in indicators]
    return [i.id for i in catalog.indicators.values() if not domains or i.domain in domains]


def _cells(catalog: Catalog) -> dict[str, list[str]]:
    """The map cell (행정동 code) each entity paints: a dong itself, a station or road the dong it lies in.
    Values for a whole gu or the city paint nothing: one gu-wide warning would turn half the map one
    colour and hide where the trouble is (they show in the domain tiles and the alert list instead)."""
    out: dict[str, list[str]] = {}
    for e in catalog.entities.values():
        if e.kind == "dong":
            out[e.id] = [e.id]
        elif e.district and e.kind not in ("gu", "city"):
            target = catalog.entities.get(e.district)
            if target is not None and target.kind == "dong":
                out[e.id] = [target.id]
    return out


def _panel(catalog: Catalog, seeds: Path, panel: dash.PanelBase, pid: str,
           events: Events = NONE) -> tuple[dict[str, Any], set[str]]:
    """The page's view of one panel, and the websocket topics it needs."""
    out: dict[str, Any] = {"id": pid, "kind": getattr(panel, "kind", ""), "at": list(panel.at)}
    topics: set[str] = set()
    versus = compare_api.view(panel, events)
    if versus is not None:
        out["compare"] = versus
    if isinstance(panel, dash.KpiPanel):
        ind = catalog.indicators[panel.indicator]
        entity = panel.entity or dash.default_entity(catalog, panel.indicator) or ""
        ent = catalog.entities[entity]
        suffix_ko = "" if ent.kind == "city" else f" · {ent.name_ko}"
        suffix_en = "" if ent.kind == "city" else f" · {ent.name_en}"
        out.update(title=_title(panel, ind.name_ko + suffix_ko, ind.name_en + suffix_en),
                   indicator=ind.id, entity=entity, spark_s=panel.spark)
        topics.add(f"indicator:{ind.id}")
    elif isinstance(panel, dash.TimeseriesPanel):
        ind = catalog.indicators[panel.indicator]
        entities = dash.resolve_entities(catalog, ind.id, panel.entities)
        out.update(title=_title(panel, ind.name_ko, ind.name_en), indicator=ind.id, entities=entities,
                   window_s=panel.window,
                   specs={lang: charts.timeseries(charts.threshold_rules(catalog, ind.id, entities, lang),
                                                  [getattr(catalog.entities[e], f"name_{lang}") for e in entities],
                                                  "" if ind.labels else (ind.unit if lang == "ko" else ind.unit_en),
                                                  charts.time_title(catalog, panel.window, lang), lang,
                                                  versus["label"][lang] if versus else None)
                          for lang in ("ko", "en")})
        topics.add(f"indicator:{ind.id}")
    elif isinstance(panel, dash.RankingPanel):
        ind = catalog.indicators[panel.indicator]
        out.update(title=_title(panel, ind.name_ko, ind.name_en), indicator=ind.id,
                   entities=dash.resolve_entities(catalog, ind.id, panel.entities), top=panel.top, order=panel.order,
                   specs={"ko": charts.ranking(ind.unit), "en": charts.ranking(ind.unit_en)})
        topics.add(f"indicator:{ind.id}")
    elif isinstance(panel, dash.MapPanel):
        scope = _scope(catalog, panel.domains, panel.indicators)
        out.update(title=_title(panel, *PANEL_TITLES["map"]), indicators=scope,
                   spec=charts.district_map(catalog, seeds), inset=charts.district_inset(catalog, seeds))
        topics.update(f"indicator:{i}" for i in scope)
    elif isinstance(panel, dash.AlertsPanel):
        out.update(title=_title(panel, *PANEL_TITLES["alerts"]), domains=list(panel.domains), limit=panel.limit)
        topics.add("alerts")
        # A row shows its series' value now (the one its KPI shows), so the panel follows those series too.
        topics.update(f"domain:{d}" for d in panel.domains or catalog.domains)
    elif isinstance(panel, dash.DomainsPanel):
        domains = panel.domains or list(catalog.domains)
        out.update(title=_title(panel, *PANEL_TITLES["domains"]), domains=domains,
                   indicators=_scope(catalog, domains, []))
        topics.update(f"domain:{d}" for d in domains)
    elif isinstance(panel, dash.TickerPanel):
        out.update(title=_title(panel, *PANEL_TITLES["ticker"]), limit=panel.limit)
        topics.add("messages")
    elif isinstance(panel, dash.ClockPanel):
        out.update(title=_title(panel, *PANEL_TITLES["clock"]))
    return out, topics


def _topics(catalog: Catalog, wanted: set[str]) -> list[str]:
    """The subscription: `all` when the panels cover every indicator, else domains and indicators."""
    covered = {t.split(":", 1)[1] for t in wanted if t.startswith("indicator:")}
    for t in wanted:
        if t.startswith("domain:"):
            covered.update(i.id for i in catalog.indicators.values() if i.domain == t.split(":", 1)[1])
    messages = ["messages"] if "messages" in wanted else []
    if covered >= set(catalog.indicators):
        return ["all", *messages]  # `all` carries the alerts as well
    messages += ["alerts"] if "alerts" in wanted else []
    domains = sorted(t for t in wanted if t.startswith("domain:"))
    in_domains = {i.id for i in catalog.indicators.values() if f"domain:{i.domain}" in wanted}
    indicators = sorted(t for t in wanted if t.startswith("indicator:") and t.split(":", 1)[1] not in in_domains)
    return [*domains, *indicators, *messages]


def resolve(entry: Entry, catalog: Catalog, seeds: Path, stale_grace: float,
            events: Events = NONE) -> dict[str, Any]:
    """Everything a page needs to draw a dashboard, with names, units and thresholds from the catalog."""
    out: dict[str, Any] = {"name": entry.name, "version": entry.version, "error": entry.error_info(),
                           "stale_grace": stale_grace}
    tz = ZoneInfo(catalog.city.timezone)
    offset = dt.datetime.now(tz).utcoffset() or dt.timedelta(0)
    out["city"] = {"id": catalog.city.id, "name": _names(catalog.city), "timezone": catalog.city.timezone,
                   "utc_offset_ms": int(offset.total_seconds() * 1000)}
    d = entry.dashboard
    if d is None:
        out["dashboard"] = None
        return out
    pages = []
    wanted: set[str] = set()
    for p, page in enumerate(d.pages):
        panels = []
        for n, panel in enumerate(page.panels):
            view, topics = _panel(catalog, seeds, panel, f"p{p}-{n}", events)
            panels.append(view)
            wanted |= topics
        pages.append({"title": {"ko": page.title_ko, "en": page.title_en},
                      "duration_s": page.duration or d.rotate, "panels": panels})
    out["dashboard"] = {"title": {"ko": d.title_ko, "en": d.title_en}, "rotate_s": d.rotate,
                        "disconnect_banner_s": d.disconnect_banner,
                        "grid": {"columns": d.grid.columns, "rows": d.grid.rows}, "pages": pages}
    out["topics"] = _topics(catalog, wanted)
    out["scale"] = status.table()
    out["domains"] = {k: {"name": _names(v), "icon": v.icon} for k, v in catalog.domains.items()}
    out["indicators"] = {
        i.id: {"name": _names(i), "unit": {"ko": i.unit, "en": i.unit_en}, "domain": i.domain,
               "decimals": i.decimals, "interval_s": i.interval,
               "labels": {str(k): {"ko": v.ko, "en": v.en} for k, v in i.labels.items()},
               "direction": (i.thresholds.direction if i.thresholds else
                             next((t.direction for t in i.thresholds_by_entity.values()), None))}
        for i in catalog.indicators.values()}
    cells = _cells(catalog)
    out["entities"] = {e.id: {"name": _names(e), "kind": e.kind, "cells": cells.get(e.id, [])}
                       for e in catalog.entities.values()}
    return out
