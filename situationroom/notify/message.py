"""What a notification says, in Korean and English: what, where, how bad, since when — and when it is over."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from situationroom import exercise
from situationroom.catalog import Catalog
from situationroom.notify.subscriptions import NAMES_EN, NAMES_KO, level_of

KIND_KO = {"firing": "발생", "repeat": "지속", "resolved": "해제", "escalation": "미확인 상향"}
KIND_EN = {"firing": "firing", "repeat": "still firing", "resolved": "resolved",
           "escalation": "escalated, unacknowledged"}
EVENT_KO = {"declared": "상황 선포", "raised": "단계 상향", "lowered": "단계 하향", "ended": "상황 종료"}
EVENT_EN = {"declared": "level declared", "raised": "level raised", "lowered": "level lowered",
            "ended": "level ended"}
"""What an incident notification (kind `incident`) says happened (docs/incidents.md)."""


@dataclass(frozen=True)
class Line:
    """One alert of a notification, made readable."""

    fingerprint: str
    level: int
    severity: str
    what: str
    where: str
    value: str
    threshold: str
    since: str
    message: str
    state: str


@dataclass(frozen=True)
class Text:
    """A notification in one language."""

    lang: str
    subject: str
    headline: str
    lines: list[Line]
    footer: str

    def plain(self) -> str:
        out = [self.headline, ""]
        for ln in self.lines:
            out.append(f"• [{ln.severity}] {ln.what} — {ln.where}")
            if ln.message:
                out.append(f"  {ln.message}")
            detail = ", ".join(p for p in (ln.value, ln.threshold, ln.since) if p)
            if detail:
                out.append(f"  {detail}")
        out += ["", self.footer]
        return "\n".join(out)

    def short(self, limit: int) -> str:
        """One message for SMS: the subject and the first alert's message, cut to `limit` characters."""
        first = self.lines[0] if self.lines else None
        text = self.subject
        if first is not None:
            detail = ", ".join(p for p in (first.value, first.since) if p)
            text += f" {detail}" if detail else ""
        return text if len(text) <= limit else text[: limit - 1] + "…"


def _fmt(value: Any, decimals: int) -> str:
    try:
        return f"{float(value):,.{decimals}f}"
    except (TypeError, ValueError):
        return str(value)


def _time(ms: Any, tz: ZoneInfo, lang: str) -> str:
    try:
        t = dt.datetime.fromtimestamp(int(ms) / 1000, tz)
    except (TypeError, ValueError, OverflowError):
        return ""
    return t.strftime("%m월 %d일 %H:%M") if lang == "ko" else t.strftime("%d %b %H:%M")


def render(notification: dict[str, Any], alerts: list[dict[str, Any]], catalog: Catalog, lang: str) -> Text:
    """The subject, headline, one line per alert and a footer, in `lang` (ko or en)."""
    ko = lang == "ko"
    tz = ZoneInfo(catalog.city.timezone)
    kind = str(notification.get("kind") or "firing")
    lines: list[Line] = []
    for a in sorted(alerts, key=lambda a: -level_of(a.get("level") or a.get("severity"))):
        level = level_of(a.get("level") or a.get("severity"))
        ind = catalog.indicators.get(str(a.get("indicator")))
        ent = catalog.entities.get(str(a.get("entity")))
        district = catalog.entities.get(str(a.get("district") or "")) if a.get("district") else None
        what = (ind.name_ko if ko else ind.name_en) if ind else \
            str(a.get("name_ko" if ko else "name_en") or a.get("rule") or a.get("indicator") or "")
        where = (ent.name_ko if ko else ent.name_en) if ent else \
            str(a.get("entity_ko" if ko else "entity_en") or a.get("entity") or "")
        if district is not None and ent is not None and district.id != ent.id:
            where += f" ({district.name_ko if ko else district.name_en})"
        unit = (ind.unit if ko else ind.unit_en) if ind else str(a.get("unit") or "")
        decimals = ind.decimals if ind else 1
        value = f"{_fmt(a['value'], decimals)} {unit}".strip() if a.get("value") is not None else ""
        threshold = ""
        if a.get("threshold") is not None:
            threshold = (f"기준 {_fmt(a['threshold'], decimals)} {unit}" if ko
                         else f"threshold {_fmt(a['threshold'], decimals)} {unit}").strip()
        started = a.get("since") or a.get("started")
        since = ""
        if started:
            since = f"{_time(started, tz, lang)}부터" if ko else f"since {_time(started, tz, lang)}"
        if a.get("state") == "resolved" and a.get("resolved"):
            since = (f"{_time(a['resolved'], tz, lang)} 해제" if ko else f"resolved {_time(a['resolved'], tz, lang)}")
        sev = (NAMES_KO if ko else NAMES_EN).get(level, str(a.get("severity") or ""))
        message = str(a.get("message_ko" if ko else "message_en") or "")
        lines.append(Line(str(a.get("fingerprint", "")), level, sev, what, where, value, threshold, since, message,
                          str(a.get("state") or "")))
    top = lines[0] if lines else None
    kind_word = (KIND_KO if ko else KIND_EN).get(kind, kind)
    if kind == "incident":
        kind_word = (EVENT_KO if ko else EVENT_EN).get(str(notification.get("event")), kind)
    city = catalog.city.name_ko if ko else catalog.city.name_en
    if top is None:
        subject = f"[{city}] {kind_word}"
    else:
        tag = {"resolved": "해제" if ko else "RESOLVED", "incident": kind_word}.get(kind, top.severity)
        more = ""
        if len(lines) > 1:
            more = f" 외 {len(lines) - 1}곳" if ko else f" and {len(lines) - 1} more"
        value = f" {top.value}" if top.value and kind != "resolved" else ""
        subject = f"[{tag}] {top.what} — {top.where}{value}{more}"
        if kind == "escalation":
            subject = (f"[상향·미확인] {subject}" if ko else f"[ESCALATED] {subject}")
    headline = (f"{city} 상황실 알림 — {kind_word}" if ko else f"{city} situation room — {kind_word}")
    if notification.get("exercise"):
        # First in the subject and the text, so a drill is never read as the real thing.
        subject, headline = exercise.tagged(subject, lang), exercise.tagged(headline, lang)
    footer = ("포항시 디지털 통합상황실에서 보낸 알림입니다. 확인(acknowledge)은 상황실 직원 페이지 /staff 에서."
              if ko else "Sent by the city's digital situation room. Acknowledge on the staff page, /staff.")
    if catalog.city.id != "pohang":
        footer = footer.replace("포항시", catalog.city.name_ko)
    return Text(lang, subject, headline, lines, footer)
