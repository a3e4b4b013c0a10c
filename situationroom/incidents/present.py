"""How an incident and its timeline read: names in both languages, the timeline in order with what a reader may not
see held back, and the timeline as CSV (UTF-8 with a byte-order mark, city times)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from situationroom import audit, status
from situationroom.audit import csv_cell, csv_writer
from situationroom.catalog import Catalog
from situationroom.incidents.gather import area_names
from situationroom.incidents.hazards import Hazards
from situationroom.incidents.store import Incident

CSV_COLUMNS = ("time", "kind", "event", "by", "level", "severity", "indicator", "entity", "text", "text_ko",
               "text_en", "pinned", "exercise")
"""`text` is what a person wrote (a reason, a note, an acknowledgement's comment); `text_ko`/`text_en` what an alert
or a message said."""


def describe(incident: Incident, hazards: Hazards, catalog: Catalog) -> dict[str, Any]:
    """The incident as the API gives it: its record with the names of its hazard, area and level, and the dashboards
    its hazard shows (a hazard since removed from the file keeps its id as its name)."""
    out = asdict(incident)
    hazard = hazards.by_id.get(incident.hazard)
    out["hazard_ko"], out["hazard_en"] = (hazard.name_ko, hazard.name_en) if hazard else (incident.hazard,) * 2
    out["area_ko"], out["area_en"] = area_names(catalog, incident.area)
    if hazard is not None and incident.level <= len(hazards.scale_of(incident.hazard).levels):
        scale = hazards.scale_of(incident.hazard)
        out["scale_ko"], out["scale_en"] = scale.name_ko, scale.name_en
        out["level_ko"], out["level_en"] = hazards.level_names(incident.hazard, incident.level)
        out["dashboards"] = list(hazard.dashboards)
        out["status"] = level_status(incident.level, len(scale.levels))
    else:
        out["scale_ko"] = out["scale_en"] = None
        out["level_ko"] = out["level_en"] = str(incident.level)
        out["dashboards"] = []
        out["status"] = level_status(incident.level, incident.level)
    return out


def level_status(level: int, levels: int) -> str:
    """The status (of the one scale) a level is coloured with: a scale's top level is 심각 (severe) and each level
    below one step lower, down to 관심 (info): 비상 1·2·3단계 read 주의·경계·심각, 관심…심각 read as themselves."""
    top = max(status.BY_LEVEL)
    return status.BY_LEVEL[max(1, min(top, top - (levels - level)))].id


def ordered(entries: Iterable[dict[str, Any]], hidden: frozenset[str]) -> tuple[list[dict[str, Any]], int]:
    """The entries by the time they are about (then the order they were recorded in), without those about an
    indicator in `hidden` (restricted ones the reader may not read); returns them and how many were held back."""
    shown, withheld = [], 0
    for e in entries:
        if e.get("indicator") in hidden:
            withheld += 1
            continue
        shown.append(e)
    shown.sort(key=lambda e: (e.get("at") or 0, audit.entry_order(e.get("id", "0-0"))))
    return shown, withheld



def to_csv(entries: Iterable[dict[str, Any]], tz: ZoneInfo) -> str:
    """The timeline as CSV: one row per entry, times in the city's zone."""
    buf, out = csv_writer()
    out.writerow(CSV_COLUMNS)
    for e in entries:
        pinned = e.get("pinned")
        row = [_when(e.get("at"), tz), e.get("kind"), e.get("event"), e.get("by"), e.get("level_ko") or e.get("level"),
               e.get("severity"), e.get("indicator"), e.get("entity"), e.get("text"), e.get("text_ko"),
               e.get("text_en"), _when(pinned, tz) if pinned else "",
               "훈련" if e.get("exercise") else ""]
        out.writerow([csv_cell("" if v is None else str(v)) for v in row])
    return buf.getvalue()


def _when(ms: int | None, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(ms / 1000, tz).isoformat(timespec="seconds") if ms else ""
