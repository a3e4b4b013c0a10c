"""CAP 1.2 (OASIS Common Alerting Protocol) documents of the city's alerts, and an Atom feed of the active ones."""

from __future__ import annotations

import time
from datetime import datetime
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

from situationroom.alerts.severity import BY_LEVEL
from situationroom.alerts.state import Alert
from situationroom.catalog import Catalog

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM_NS = "http://www.w3.org/2005/Atom"
CAP_TYPE = "application/cap+xml"
# A rule without `cap_category` gets its domain's (CAP 1.2 §3.2.2 categories).
DOMAIN_CATEGORY = {"safety": "Safety", "weather": "Met", "environment": "Env", "traffic": "Transport",
                   "economy": "Other", "administration": "Other", "population": "Other"}

ET.register_namespace("", CAP_NS)


def _time(ms: float, tz: ZoneInfo) -> str:
    # CAP wants an explicit offset and no fractions ("2022-09-06T04:43:00+09:00"), never "Z".
    return datetime.fromtimestamp(ms / 1000, tz).replace(microsecond=0).isoformat()


def identifier(city: str, alert: Alert, seq: int | None = None) -> str:
    """One message per change of an alert: its episode and change count in the id."""
    return f"KR.{city.upper()}.{alert.fingerprint}.{alert.episode}.{alert.seq if seq is None else seq}"


def document(alert: Alert, catalog: Catalog, *, sender: str, status: str, category: str | None = None,
             web: str | None = None) -> ET.Element:
    """The CAP <alert> of one alert: Alert when it fires, Update on a change of severity (pointing back at
    the first message of the episode), Cancel once resolved. Two <info>, Korean and English."""
    tz = ZoneInfo(catalog.city.timezone)
    lv = BY_LEVEL.get(alert.level) or BY_LEVEL[1]
    root = ET.Element(f"{{{CAP_NS}}}alert")

    def sub(parent: ET.Element, name: str, text: str | None = None) -> ET.Element:
        el = ET.SubElement(parent, f"{{{CAP_NS}}}{name}")
        if text is not None:
            el.text = text
        return el

    city = catalog.city.id
    sub(root, "identifier", identifier(city, alert))
    sub(root, "sender", sender)
    sub(root, "sent", _time(alert.resolved or alert.since, tz))
    # An exercise alert is an Exercise whatever the feed's own status: a drill must never go out as Actual.
    sub(root, "status", "Exercise" if alert.exercise else status)
    first = identifier(city, alert, alert.fired_seq) if alert.fired else None
    msg_type = "Alert"
    if alert.state == "resolved":
        msg_type = "Cancel"
    elif first is not None and alert.seq != alert.fired_seq:
        msg_type = "Update"
    sub(root, "msgType", msg_type)
    sub(root, "scope", "Public")
    if msg_type != "Alert" and first is not None and alert.fired:
        # Update and Cancel point back at the episode's first message.
        sub(root, "references", f"{sender},{first},{_time(alert.fired, tz)}")
    ent = catalog.entities.get(alert.entity)
    district = catalog.entities.get(alert.district or "") if alert.district else None
    for lang in ("ko", "en"):
        info = sub(root, "info")
        sub(info, "language", "ko-KR" if lang == "ko" else "en-US")
        sub(info, "category", category or DOMAIN_CATEGORY.get(alert.domain or "", "Other"))
        sub(info, "event", alert.name_ko if lang == "ko" else alert.name_en)
        sub(info, "urgency", "Past" if alert.state == "resolved" else "Immediate")
        sub(info, "severity", lv.cap)
        sub(info, "certainty", "Observed")
        code = sub(info, "eventCode")
        sub(code, "valueName", "situationroom:rule")
        sub(code, "value", alert.rule)
        if alert.fired:
            sub(info, "effective", _time(alert.fired, tz))
            sub(info, "onset", _time(alert.fired, tz))
        sub(info, "senderName", f"{catalog.city.name_ko} 디지털통합상황실" if lang == "ko"
            else f"{catalog.city.name_en} situation room")
        sub(info, "headline", (alert.message_ko if lang == "ko" else alert.message_en)[:160])
        sub(info, "description", alert.message_ko if lang == "ko" else alert.message_en)
        if web:
            sub(info, "web", web)
        for name, value in (("rule", alert.rule), ("indicator", alert.indicator), ("entity", alert.entity),
                            ("value", None if alert.value is None else repr(alert.value)),
                            ("threshold", None if alert.threshold is None else repr(alert.threshold)),
                            # The crisis level in the info's language, and its number on the one scale (1-4).
                            ("crisis_level", lv.ko if lang == "ko" else lv.en), ("crisis_level_number", str(lv.level)),
                            ("department", alert.department)):
            if value:
                param = sub(info, "parameter")
                sub(param, "valueName", name)
                sub(param, "value", str(value))
        area = sub(info, "area")
        names = [x for x in ((ent.name_ko if lang == "ko" else ent.name_en) if ent else alert.entity,
                             (district.name_ko if lang == "ko" else district.name_en) if district and
                             district is not ent else None) if x]
        city_name = catalog.city.name_ko if lang == "ko" else catalog.city.name_en
        sub(area, "areaDesc", " ".join([city_name, *names]) if lang == "ko" else ", ".join([*names, city_name]))
        if ent is not None and ent.lat is not None and ent.lon is not None:
            sub(area, "circle", f"{ent.lat:.5f},{ent.lon:.5f} 0")
        if alert.district:
            geo = sub(area, "geocode")
            sub(geo, "valueName", "ADM_CD")
            sub(geo, "value", alert.district)
    return root


def to_xml(root: ET.Element) -> bytes:
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def feed(alerts: list[Alert], catalog: Catalog, *, sender: str, status: str, base: str,
         categories: dict[str, str | None]) -> bytes:
    """An Atom feed of the active alerts, each entry carrying the whole CAP message and linking to it."""
    tz = ZoneInfo(catalog.city.timezone)
    ET.register_namespace("atom", ATOM_NS)
    root = ET.Element(f"{{{ATOM_NS}}}feed")

    def sub(parent: ET.Element, name: str, text: str | None = None, **attrs: str) -> ET.Element:
        el = ET.SubElement(parent, f"{{{ATOM_NS}}}{name}", attrs)
        if text is not None:
            el.text = text
        return el

    newest = max((a.since for a in alerts), default=0)
    sub(root, "id", f"{base}api/v1/cap.xml")
    sub(root, "title", f"{catalog.city.name_ko} ({catalog.city.name_en}) — active alerts / 발효 중인 경보")
    sub(root, "updated", _time(newest or _now_ms(), tz))
    sub(sub(root, "author"), "name", sender)
    sub(root, "link", rel="self", href=f"{base}api/v1/cap.xml")
    for a in alerts:
        entry = sub(root, "entry")
        sub(entry, "id", f"urn:situationroom:{identifier(catalog.city.id, a)}")
        sub(entry, "title", a.message_ko)  # an exercise alert's message starts with [훈련]
        sub(entry, "updated", _time(a.since, tz))
        sub(entry, "link", rel="alternate", type=CAP_TYPE, href=f"{base}api/v1/cap/{a.fingerprint}.xml")
        content = sub(entry, "content", type=CAP_TYPE)
        content.append(document(a, catalog, sender=sender, status=status, category=categories.get(a.rule),
                                web=f"{base}api/v1/alerts/{a.fingerprint}"))
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _now_ms() -> float:
    return time.time() * 1000
