"""Who gets a notification on which channel: subscriptions for tier 0, the escalation tiers above it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo

from situationroom.catalog import Catalog
from situationroom.notify.channels.base import Channel, Delivery
from situationroom.notify.people import People
from situationroom.notify.subscriptions import CRITICAL, Subscription, level_of

INAPP = "inapp"
Status = Literal["send", "quiet", "skipped"]


@dataclass
class Planned:
    delivery: Delivery
    status: Status
    reason: str | None = None


def delivery_key(notification_key: str, recipient: str, channel: str) -> str:
    return f"{notification_key}/{recipient}/{channel}"


def places_of(alert: dict[str, Any], catalog: Catalog) -> set[str]:
    """Every district an alert lies in: its entity, the entity's district, the gu above, the city."""
    out = {catalog.city.id}
    for e in (alert.get("entity"), alert.get("district")):
        if not e:
            continue
        out.add(str(e))
        ent = catalog.entities.get(str(e))
        if ent is not None and ent.district:
            out.add(ent.district)
        gu = catalog.gu_of(str(e))
        if gu:
            out.add(gu)
    return out


def matches(sub: Subscription, alert: dict[str, Any], catalog: Catalog) -> bool:
    if not sub.enabled:
        return False
    if level_of(alert.get("level") or alert.get("severity")) < sub.level:
        return False
    if sub.departments and alert.get("department") not in sub.departments:
        return False
    if sub.indicators and alert.get("indicator") not in sub.indicators:
        return False
    if sub.domains:
        domain = alert.get("domain")
        if domain is None and alert.get("indicator") in catalog.indicators:
            domain = catalog.indicators[str(alert["indicator"])].domain
        if domain not in sub.domains:
            return False
    return not (sub.districts and places_of(alert, catalog).isdisjoint(sub.districts))


def readable_by(alert: dict[str, Any], department: str | None, catalog: Catalog) -> bool:
    """Whether a person of `department` may be told of this alert: its indicator is not restricted, or restricted to
    their department (docs/access.md); a notification carries the figures the wall would."""
    ind = catalog.indicators.get(str(alert.get("indicator") or ""))
    return ind is None or ind.restricted is None or ind.restricted.admits(department)


def _department_of(people: People, recipient: str) -> str | None:
    who = people.recipient(recipient)
    return who.department if who else None


def _what(notification: dict[str, Any]) -> str:
    return {"briefing": "briefing", "incident": "declaration"}.get(str(notification.get("kind")), "alert")


def _delivery(notification: dict[str, Any], alerts: list[dict[str, Any]], people: People, recipient: str,
              channel_id: str, channels: dict[str, Channel]) -> Planned | None:
    who = people.recipient(recipient)
    if who is None:
        return None
    key = delivery_key(str(notification["key"]), recipient, channel_id)
    d = Delivery(key, notification, alerts, who, channel_id)
    channel = channels.get(channel_id)
    if channel is None:
        return Planned(d, "skipped", f"no channel {channel_id!r} in the channel file")
    if notification.get("exercise") and channel_id != INAPP and not channel.config.exercise:
        # A drill reaches a real person's mail or phone only where the site allowed it for that channel.
        return Planned(d, "skipped", f"exercise {_what(notification)}: channel {channel_id} does not take exercises "
                                     "(exercise: true in channels.yaml)")
    if channel.disabled:
        # A disabled messenger still sends through its fallback, unless that cannot send either.
        fallback = getattr(channel, "fallback", None)
        while fallback is not None and fallback.disabled:
            fallback = getattr(fallback, "fallback", None)
        if fallback is None:
            return Planned(d, "skipped", f"channel {channel_id} cannot send: {channel.disabled}")
    kind = channel.contact_kind()
    if kind is not None:
        d.address = who.contacts.get(kind)
        if not d.address:
            return Planned(d, "skipped", f"{recipient} has no {kind} contact for channel {channel_id}")
    return Planned(d, "send")


def _within(catalog: Catalog, area: str, districts: list[str]) -> bool:
    """Whether a subscription's districts lie in (or are) the declared area: the city takes every part."""
    if area == catalog.city.id:
        return True
    for d in districts:
        ent = catalog.entities.get(d)
        if d == area or catalog.gu_of(d) == area or (ent is not None and ent.district == area):
            return True
    return False


def incident_matches(sub: Subscription, notification: dict[str, Any], people: People, catalog: Catalog) -> bool:
    """Whether a declaration, change of level or end is for this subscription: one of the hazard's indicators (its
    own and those of its domains) would send the subscription an alert of that level in the area, and the owner may
    read it. The notification carries them as `incident` (`area`, `level` 1-4, `indicators`)."""
    inc = notification.get("incident") or {}
    area = str(inc.get("area") or catalog.city.id)
    if sub.districts and _within(catalog, area, sub.districts):
        sub = sub.model_copy(update={"districts": []})
    department = _department_of(people, sub.owner)
    probes = ({"indicator": i, "entity": area, "level": inc.get("level")} for i in inc.get("indicators") or [])
    return any(matches(sub, p, catalog) and readable_by(p, department, catalog) for p in probes)


def _incident_plan(notification: dict[str, Any], alerts: list[dict[str, Any]], subscriptions: list[Subscription],
                   people: People, channels: dict[str, Channel], catalog: Catalog) -> list[Planned]:
    """A declaration's deliveries: every matching subscription's channels (quiet hours do not hold a declaration
    back), and the in-app inbox of the department that runs the room (`incident.room`)."""
    pairs: dict[tuple[str, str], None] = {}
    room = (notification.get("incident") or {}).get("room")
    if room:
        pairs[(str(room), INAPP)] = None
    for sub in subscriptions:
        if incident_matches(sub, notification, people, catalog):
            for ch in sub.channels:
                pairs[(sub.owner, ch)] = None
    out = []
    for recipient, ch in pairs:
        p = _delivery(notification, alerts, people, recipient, ch, channels)
        if p is not None:
            out.append(p)
    return out


def audience(notification: dict[str, Any], people: People) -> list[str]:
    """A briefing's recipients: every staff member of its audience's departments and every one it names, once each
    (docs/briefings.md); the notification carries the audience as the definition said when it was made."""
    a = notification.get("audience") or {}
    departments = set(a.get("departments") or [])
    ids = [s.id for s in people.staff.values() if s.department in departments] + list(a.get("staff") or [])
    return list(dict.fromkeys(ids))


def _briefing_plan(notification: dict[str, Any], people: People, channels: dict[str, Channel]) -> list[Planned]:
    """A briefing's deliveries: each of the audience on each of its channels. Not subscriptions: the definition
    names who reads it; quiet hours do not hold it back (the e-mail waits in the mailbox)."""
    wanted = list((notification.get("audience") or {}).get("channels") or [])
    out = []
    for recipient in audience(notification, people):
        for ch in wanted:
            p = _delivery(notification, [], people, recipient, ch, channels)
            if p is not None:
                out.append(p)
    return out


def plan(notification: dict[str, Any], subscriptions: list[Subscription], people: People,
         channels: dict[str, Channel], catalog: Catalog, now: float) -> list[Planned]:
    """Every delivery of one notification: one per (recipient, channel), with the alerts that concern it."""
    alerts: list[dict[str, Any]] = [a for a in notification.get("alerts") or [] if isinstance(a, dict)]
    kind = str(notification.get("kind") or "firing")
    if kind == "incident":
        return _incident_plan(notification, alerts, subscriptions, people, channels, catalog)
    if kind == "briefing":
        return _briefing_plan(notification, people, channels)
    tier = int(notification.get("tier") or 0)
    out: list[Planned] = []
    if kind == "escalation" or tier >= 1:
        department = next((a.get("department") for a in alerts if a.get("department")), None)
        target = people.escalation_target(max(tier, 1), department)
        member = people.staff.get(target or "")
        if member is None:
            return []
        alerts = [a for a in alerts if readable_by(a, member.department, catalog)]
        if not alerts:
            return []
        # An escalation is critical by definition: quiet hours do not apply.
        for ch in member.escalation_channels:
            p = _delivery(notification, alerts, people, member.id, ch, channels)
            if p is not None:
                out.append(p)
        return out
    local = dt.datetime.fromtimestamp(now, ZoneInfo(catalog.city.timezone))
    # (recipient, channel) -> fingerprints allowed now / fingerprints held back by quiet hours
    allowed: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    held: dict[tuple[str, str], set[str]] = {}
    for sub in subscriptions:
        if kind == "resolved" and not sub.resolved:
            continue
        department = _department_of(people, sub.owner)
        matched = [a for a in alerts if matches(sub, a, catalog) and readable_by(a, department, catalog)]
        if not matched:
            continue
        quiet = sub.quiet_hours is not None and sub.quiet_hours.active(local)
        for ch in sub.channels:
            pair = (sub.owner, ch)
            bucket = allowed.setdefault(pair, {})
            for a in matched:
                if quiet and ch != INAPP and level_of(a.get("level") or a.get("severity")) < CRITICAL:
                    held.setdefault(pair, set()).add(str(a.get("fingerprint")))
                else:
                    bucket[str(a.get("fingerprint"))] = a
    for (recipient, ch), bucket in allowed.items():
        chosen = [a for a in alerts if str(a.get("fingerprint")) in bucket]
        if chosen:
            p = _delivery(notification, chosen, people, recipient, ch, channels)
        else:
            quiet_alerts = [a for a in alerts if str(a.get("fingerprint")) in held.get((recipient, ch), set())]
            p = _delivery(notification, quiet_alerts, people, recipient, ch, channels)
            if p is not None:
                p.status, p.reason = "quiet", f"quiet hours of {recipient}: below 경계 (critical) waits for in-app"
        if p is not None:
            out.append(p)
    return out
