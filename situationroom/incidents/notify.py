"""Tells the staff of a declaration, a change of level and an end: one entry on the notifications stream, routed and
delivered by the notify role like an alert's notification (docs/notifications.md, docs/incidents.md)."""

from __future__ import annotations

from typing import Any

import orjson
import redis.asyncio as aioredis

from situationroom import keys, status
from situationroom.alerts.store import NOTIFY_MAXLEN
from situationroom.catalog import Catalog
from situationroom.incidents.gather import area_names
from situationroom.incidents.hazards import Hazards
from situationroom.incidents.present import level_status
from situationroom.incidents.store import Incident

ROOM = "situation-room"
"""The department that runs the room: its in-app inbox hears of every declaration, whatever the subscriptions."""
EVENT_KO = {"declared": "선포", "raised": "상향", "lowered": "하향", "ended": "해제"}
EVENT_EN = {"declared": "declared", "raised": "raised", "lowered": "lowered", "ended": "ended"}


def scope(hazards: Hazards, catalog: Catalog, hazard_id: str) -> list[str]:
    """The indicators whose subscribers hear of the hazard: its own and those of its domains."""
    hazard = hazards.by_id.get(hazard_id)
    if hazard is None:
        return []
    own = [i for i in hazard.indicators if i in catalog.indicators]
    return own + [i.id for i in catalog.indicators.values() if i.domain in hazard.domains and i.id not in own]


def notification(incident: Incident, event: str, entry: dict[str, Any], hazards: Hazards,
                 catalog: Catalog) -> dict[str, Any]:
    """The notification of one timeline entry (`declared`, a `level` change, `ended`): the incident written as one
    alert line (what: hazard and level, where: the area, message: what happened and why)."""
    hazard = hazards.by_id.get(incident.hazard)
    name_ko, name_en = (hazard.name_ko, hazard.name_en) if hazard else (incident.hazard,) * 2
    level_ko, level_en = hazards.level_names(incident.hazard, incident.level) if hazard else (str(incident.level),) * 2
    area_ko, area_en = area_names(catalog, incident.area)
    st = level_status(incident.level, len(hazards.scale_of(incident.hazard).levels) if hazard else incident.level)
    level = status.BY_ID[st].level
    reason = str(entry.get("text") or "")
    line = {"fingerprint": f"incident:{incident.id}", "rule": incident.hazard, "entity": incident.area,
            "name_ko": f"{name_ko} {level_ko}", "name_en": f"{name_en} · {level_en}",
            "entity_ko": area_ko, "entity_en": area_en, "level": level, "severity": st,
            "state": "resolved" if event == "ended" else "firing", "since": incident.opened,
            "resolved": incident.closed, "exercise": incident.exercise, "incident": incident.id,
            "message_ko": f"{EVENT_KO[event]} ({entry.get('by')}): {reason}",
            "message_en": f"{EVENT_EN[event]} ({entry.get('by')}): {reason}"}
    return {"key": f"incident/{incident.id}/{event}/{entry['at']}", "kind": "incident", "event": event, "tier": 0,
            "exercise": incident.exercise, "alerts": [line],
            "incident": {"id": incident.id, "hazard": incident.hazard, "area": incident.area, "level": level,
                         "indicators": scope(hazards, catalog, incident.hazard), "room": ROOM}}


async def queue(client: aioredis.Redis, incident: Incident, event: str, entry: dict[str, Any], hazards: Hazards,
                catalog: Catalog) -> None:
    """Put the notification on the notifications stream, where the notify role picks it up."""
    n = notification(incident, event, entry, hazards, catalog)
    await client.xadd(keys.notifications(), {"n": orjson.dumps(n)}, maxlen=NOTIFY_MAXLEN, approximate=True)
