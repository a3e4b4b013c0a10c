"""What people do to incidents, the same from the API and the command line: declare a level, raise or lower it, end
it, add a note; each checked, recorded with its timeline entry, and audited."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict, Field

from situationroom import audit
from situationroom import drill as drill_mod
from situationroom.alerts import store as alert_store
from situationroom.catalog import Catalog
from situationroom.clock import WHEN_HELP, now_ms, parse_when
from situationroom.errors import Refused
from situationroom.incidents import gather
from situationroom.incidents import notify as incident_notify
from situationroom.incidents import store as incident_store
from situationroom.incidents.hazards import Hazards
from situationroom.incidents.store import Incident
from situationroom.settings import Settings

REASON = Field(min_length=1, max_length=1000, description="why, in a sentence (shown in the timeline)")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeclareIn(_Body):
    hazard: str = Field(description="a hazard of seeds/hazards.yaml, e.g. typhoon")
    area: str = Field(description="the city's id, a gu's code or a 행정동 code of the catalog")
    level: int | str = Field(description="the level's number (1 = lowest) or its Korean or English name")
    reason: str = REASON
    exercise: bool | None = Field(None, description="an exercise (훈련) declaration; while a drill runs, always")


class LevelIn(_Body):
    level: int | str = Field(description="the new level's number or name")
    reason: str = REASON


class EndIn(_Body):
    reason: str = REASON


class NoteIn(_Body):
    text: str = Field(min_length=1, max_length=2000)
    at: float | str | None = Field(None, description=f"the time the note is about: {WHEN_HELP}")
    indicator: str | None = Field(None, description="the catalog indicator the note is about")


@dataclass(frozen=True)
class Site:
    """What an action needs of the running site."""

    client: aioredis.Redis
    catalog: Catalog
    hazards: Hazards
    settings: Settings

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.catalog.city.timezone)


def _level(site: Site, hazard: str, value: int | str) -> int:
    try:
        return site.hazards.parse_level(hazard, value)
    except ValueError as exc:
        raise Refused(422, str(exc), "level", value) from None


def _level_entry(site: Site, hazard: str, level: int, **fields: Any) -> dict[str, Any]:
    ko, en = site.hazards.level_names(hazard, level)
    return {"at": now_ms(), "level": level, "level_ko": ko, "level_en": en, **fields}


async def _audit(site: Site, actor: audit.Actor, action: str, incident: Incident, detail: dict[str, Any]) -> None:
    await audit.record(site.client, action, actor=actor, target=incident.id,
                       detail={"hazard": incident.hazard, "area": incident.area, "exercise": incident.exercise,
                               **detail}, maxlen=site.settings.audit_maxlen)


async def _tell(site: Site, incident: Incident, event: str, entry: dict[str, Any]) -> None:
    """Notify the staff (the notify role routes it; docs/notifications.md)."""
    await incident_notify.queue(site.client, incident, event, entry, site.hazards, site.catalog)


async def declare(site: Site, actor: audit.Actor, by: str, data: DeclareIn) -> Incident:
    """Open an incident: 422 for an unknown hazard, area or level; 409 while the hazard and area have an open one,
    or for a real declaration while a drill runs."""
    if data.hazard not in site.hazards.by_id:
        known = ", ".join(site.hazards.by_id) or "none (the site has no seeds/hazards.yaml)"
        raise Refused(422, f"unknown hazard; hazards: {known}", "hazard", data.hazard)
    problem = gather.area_problem(site.catalog, data.area)
    if problem:
        raise Refused(422, problem, "area", data.area)
    level = _level(site, data.hazard, data.level)
    drill = await drill_mod.read_current(site.client)
    if drill is not None and data.exercise is False:
        raise Refused(409, f"drill {drill.id} is running: declarations are exercise (훈련) only until it stops",
                      "exercise", False)
    exercise = drill is not None or bool(data.exercise)
    first = _level_entry(site, data.hazard, level, kind="declared", by=by, text=data.reason, exercise=exercise)
    incident = Incident(await incident_store.new_id(site.client, data.hazard, first["at"], site.tz), data.hazard,
                        data.area, level, exercise, first["at"], by, data.reason,
                        drill=drill.id if drill is not None else None)
    # What already fires when the level is declared starts the timeline (it fired before the declaration).
    entries, seen = [first], {}
    hazard = site.hazards.by_id[data.hazard]
    for alert in await alert_store.read_alerts(site.client):
        public = alert.public()
        if alert.exercise == exercise and gather.concerns_alert(hazard, data.area, site.catalog, public):
            found, digest = gather.alert_entries(public, None)
            if digest is not None:
                entries.extend(found)
                seen[alert.fingerprint] = digest
    await incident_store.open_incident(site.client, incident, entries, seen)
    await _audit(site, actor, "incident.declare", incident,
                 {"level": level, "reason": data.reason, "drill": incident.drill})
    await _tell(site, incident, "declared", first)
    return incident


async def set_level(site: Site, actor: audit.Actor, by: str, incident_id: str, data: LevelIn) -> Incident:
    """Raise or lower an open incident's level: 409 when it is at that level already or closed."""
    before: list[int] = []

    def apply(incident: Incident) -> dict[str, Any]:
        level = _level(site, incident.hazard, data.level)
        if level == incident.level:
            raise Refused(409, f"the incident is at level {level} already", "level", data.level)
        before.append(incident.level)
        event = "raised" if level > incident.level else "lowered"
        entry = _level_entry(site, incident.hazard, level, kind="level", event=event, by=by, text=data.reason,
                             previous=incident.level, exercise=incident.exercise)
        incident.level = level
        return entry

    incident, entry = await incident_store.change(site.client, incident_id, apply)
    await _audit(site, actor, "incident.level", incident,
                 {"from": before[-1], "level": incident.level, "reason": data.reason})
    await _tell(site, incident, entry["event"], entry)
    return incident


async def end(site: Site, actor: audit.Actor, by: str, incident_id: str, data: EndIn) -> Incident:
    """End an open incident's level: it closes and stays readable."""

    def apply(incident: Incident) -> dict[str, Any]:
        entry = _level_entry(site, incident.hazard, incident.level, kind="ended", by=by, text=data.reason,
                             exercise=incident.exercise)
        incident.state, incident.closed, incident.closed_by, incident.closed_reason = "closed", entry["at"], by, \
            data.reason
        return entry

    incident, entry = await incident_store.change(site.client, incident_id, apply)
    await _audit(site, actor, "incident.end", incident, {"level": incident.level, "reason": data.reason})
    await _tell(site, incident, "ended", entry)
    return incident


def check_note(site: Site, data: NoteIn) -> tuple[int | None, str | None]:
    """The note's pinned time (epoch ms) and indicator, or 422 naming what is wrong."""
    pinned = None
    if data.at is not None:
        try:
            pinned = round(parse_when(str(data.at), site.tz) * 1000)
        except ValueError as exc:
            raise Refused(422, str(exc), "at", data.at) from None
    if data.indicator is not None and data.indicator not in site.catalog.indicators:
        raise Refused(422, "unknown indicator (not in the catalog)", "indicator", data.indicator)
    return pinned, data.indicator


async def note(site: Site, actor: audit.Actor, by: str, incident_id: str, data: NoteIn) -> dict[str, Any]:
    """Add a note to an open incident's timeline; returns the entry."""
    pinned, indicator = check_note(site, data)

    def apply(incident: Incident) -> dict[str, Any]:
        entry: dict[str, Any] = {"at": now_ms(), "kind": "note", "by": by, "text": data.text,
                                 "exercise": incident.exercise}
        if pinned is not None:
            entry["pinned"] = pinned
        if indicator is not None:
            entry["indicator"] = indicator
        return entry

    incident, entry = await incident_store.change(site.client, incident_id, apply)
    await _audit(site, actor, "incident.note", incident,
                 {"text": data.text, "pinned": entry.get("pinned"), "indicator": indicator})
    return entry
