"""What concerns an incident and what its timeline says of it: alerts (fired, raised, lowered, escalated,
acknowledged, silenced, resolved), silences made and messages received, matched by hazard, area and kind (real or
exercise). No I/O: the follower reads and writes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from situationroom.catalog import Catalog
from situationroom.clock import now_ms
from situationroom.incidents.hazards import Hazard
from situationroom.notify.routing import places_of

AREA_KINDS = ("gu", "dong")
"""Entity kinds an incident's area may be besides the city: a gu or a 행정동."""
PLACE_MATCHERS = ("entity", "district", "gu")
"""Silence matchers that pin a place."""


# -- areas ---------------------------------------------------------------------------------------------


def area_problem(catalog: Catalog, area: str) -> str | None:
    """Why `area` cannot be an incident's area, or None: the city's id, a gu's or a 행정동's code."""
    if area == catalog.city.id:
        return None
    e = catalog.entities.get(area)
    if e is not None and e.kind in AREA_KINDS:
        return None
    gus = ", ".join(x.id for x in catalog.entities.values() if x.kind == "gu")
    return f"not the city ({catalog.city.id}), a gu ({gus}) or a 행정동 code of the catalog"


def area_names(catalog: Catalog, area: str) -> tuple[str, str]:
    """(Korean, English) name of an area."""
    if area == catalog.city.id:
        return catalog.city.name_ko, catalog.city.name_en
    e = catalog.entities.get(area)
    return (e.name_ko, e.name_en) if e is not None else (area, area)


def covers(catalog: Catalog, area: str, places: Iterable[str]) -> bool:
    """Whether something lying in `places` (its entity, district, gu, the city) concerns an incident of `area`:
    the city's incident takes everything; a gu's what lies in it; a 행정동's what lies there or is city- or
    gu-wide above it."""
    found = set(places)
    if area == catalog.city.id or area in found:
        return True
    # Something of the whole city (or of the gu around a 행정동) concerns each part of it.
    specific = {p for p in found if (e := catalog.entities.get(p)) is not None and e.kind in AREA_KINDS}
    if not specific:
        return True
    own = catalog.entities.get(area)
    return own is not None and own.kind == "dong" and specific <= {catalog.gu_of(area)}


def concerns_indicator(hazard: Hazard, catalog: Catalog, indicator: str | None) -> bool:
    if not indicator:
        return False
    if indicator in hazard.indicators:
        return True
    ind = catalog.indicators.get(indicator)
    return ind is not None and ind.domain in hazard.domains


# -- alerts --------------------------------------------------------------------------------------------


def concerns_alert(hazard: Hazard, area: str, catalog: Catalog, alert: Mapping[str, Any]) -> bool:
    return concerns_indicator(hazard, catalog, alert.get("indicator")) and covers(catalog, area,
                                                                                   places_of(dict(alert), catalog))


def digest(alert: Mapping[str, Any]) -> str:
    """What a timeline says of an alert: its episode, state, level, tier, who acknowledged and which silence mutes."""
    acked = (alert.get("acked") or {}).get("by") or ""
    muted = (alert.get("muted") or {}).get("id") or ""
    return f"{alert.get('episode')}|{alert.get('state')}|{alert.get('level')}|{alert.get('tier') or 0}|{acked}|{muted}"


def alert_entries(alert: Mapping[str, Any], seen: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """The timeline entries for an alert's change since `seen` (the digest last recorded), and the digest to record
    now (None: nothing to remember yet, e.g. a pending alert)."""
    episode, state, level, tier, acked, muted = (seen or "|||||").split("|")
    fresh = seen is None or episode != str(alert.get("episode"))
    now_state = alert.get("state")
    if fresh and now_state != "firing":
        return [], None  # pending, or an episode that fired and ended before the incident saw it
    events: list[tuple[str, dict[str, Any]]] = []
    if fresh:
        events.append(("fired", {"at": alert.get("fired") or alert.get("since")}))
        acked = muted = ""
        tier = "0"
    elif now_state != state and now_state in ("resolved", "cancelled"):
        events.append(("resolved", {"at": alert.get("resolved") or alert.get("since")}))
    elif now_state == "firing" and str(alert.get("level")) != level:
        events.append(("raised" if int(alert.get("level") or 0) > int(level or 0) else "lowered",
                       {"at": alert.get("since")}))
    if int(alert.get("tier") or 0) > int(tier or 0):
        events.append(("escalated", {"at": alert.get("escalated_at") or alert.get("updated"),
                                     "tier": alert.get("tier")}))
    ack = alert.get("acked") or {}
    if ack.get("by") and not acked:
        events.append(("acknowledged", {"at": ack.get("at"), "by": ack.get("by"), "text": ack.get("comment")}))
    mute = alert.get("muted") or {}
    if mute.get("id") and mute["id"] != muted:
        events.append(("silenced", {"at": alert.get("updated"), "by": mute.get("by"), "silence": mute.get("id"),
                                    "until": mute.get("until"), "text": mute.get("reason")}))
    return [_alert_entry(alert, event, extra) for event, extra in events], digest(alert)


def _alert_entry(alert: Mapping[str, Any], event: str, extra: dict[str, Any]) -> dict[str, Any]:
    out = {"kind": "alert", "event": event, "fingerprint": alert.get("fingerprint"), "rule": alert.get("rule"),
           "indicator": alert.get("indicator"), "entity": alert.get("entity"), "district": alert.get("district"),
           "level": alert.get("level"), "severity": alert.get("severity"), "severity_en": alert.get("severity_en"),
           "value": alert.get("value"), "unit": alert.get("unit"), "text_ko": alert.get("message_ko"),
           "text_en": alert.get("message_en"), "exercise": bool(alert.get("exercise"))}
    out.update({k: v for k, v in extra.items() if v is not None})
    out["at"] = int(out.get("at") or now_ms())
    return out


# -- messages and silences -----------------------------------------------------------------------------


def concerns_message(hazard: Hazard, area: str, catalog: Catalog, message: Mapping[str, Any]) -> bool:
    """A disaster text or CAP item about the hazard (one of its words; any message when it has none) that
    concerns the area (none named: the whole city)."""
    if hazard.messages:
        text = f"{message.get('text_ko') or ''} {message.get('text_en') or ''}".lower()
        if not any(word.lower() in text for word in hazard.messages):
            return False
    entities = message.get("entities") or []
    if not entities:
        return True
    return any(covers(catalog, area, places_of({"entity": e}, catalog)) for e in entities)


def message_entry(message: Mapping[str, Any]) -> dict[str, Any]:
    return {"kind": "message", "event": message.get("kind"), "at": int(message.get("t") or now_ms()),
            "message": message.get("id"), "source": message.get("source"), "severity_en": message.get("severity"),
            "text_ko": message.get("text_ko"), "text_en": message.get("text_en"),
            "exercise": bool(message.get("x"))}


def silence_kinds(matchers: Mapping[str, Any]) -> tuple[bool, ...]:
    """Which incidents (real: False, exercise: True) a silence concerns: one pinned to `exercise=true` mutes only a
    drill's alerts; any other may mute both."""
    return (True,) if str(matchers.get("exercise")).lower() == "true" else (False, True)


def concerns_silence(hazard: Hazard, area: str, catalog: Catalog, matchers: Mapping[str, Any]) -> bool:
    """A silence pinned to one of the hazard's indicators or domains and not to a place outside the area."""
    indicator, domain = matchers.get("indicator"), matchers.get("domain")
    if not (concerns_indicator(hazard, catalog, indicator) or (domain and domain in hazard.domains)):
        return False
    pinned = {str(matchers[k]) for k in PLACE_MATCHERS if matchers.get(k)}
    if not pinned:
        return True
    return any(covers(catalog, area, places_of({"entity": p}, catalog)) for p in pinned)


def silence_entry(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The timeline's entry for an audit log entry `silence.create`."""
    detail = entry.get("detail") or {}
    matchers = detail.get("matchers") or {}
    ends = detail.get("ends")
    return {"kind": "silence", "event": "created", "at": int(float(entry["at"]) * 1000),
            "by": entry.get("staff") or entry.get("actor"), "silence": entry.get("target"), "matchers": matchers,
            "indicator": matchers.get("indicator"), "until": round(float(ends) * 1000) if ends is not None else None,
            "text": detail.get("reason")}
