"""The report of a drill: every alert it raised, who acknowledged it how fast, who never did (Markdown + JSON)."""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import redis

from situationroom.alerts import store
from situationroom.alerts.severity import BY_LEVEL
from situationroom.alerts.state import Alert
from situationroom.catalog import Catalog
from situationroom.drill import Drill
from situationroom.notify.people import People


@dataclass
class Raised:
    """One firing episode of an exercise alert during the drill."""

    alert: Alert
    episode: int
    fired: int
    """Epoch ms."""
    level: int = 0
    acked_by: str | None = None
    acked_at: int | None = None
    tier: int = 0
    escalated_to: list[str] = field(default_factory=list)
    resolved: int | None = None

    @property
    def ack_seconds(self) -> float | None:
        return None if self.acked_at is None else max(0.0, (self.acked_at - self.fired) / 1000)


def collect(client: redis.Redis, drill: Drill, people: People) -> list[Raised]:
    """Every episode of an exercise alert that fired between the drill's start and its end, from the alert
    histories (an acknowledgement or escalation after the end still counts: people answer late)."""
    start_ms = int(drill.started * 1000)
    end_ms = int((drill.stopped or drill.started) * 1000) if drill.stopped else None
    out: list[Raised] = []
    for a, events in store.read_histories_sync(client, exercise=True):
        episodes: dict[int, Raised] = {}
        for ev in events:
            at, episode, name = int(ev.get("at") or 0), int(ev.get("episode") or 0), ev.get("event")
            r = episodes.get(episode)
            if name == "firing":
                if at < start_ms or (end_ms is not None and at > end_ms):
                    continue
                r = episodes[episode] = Raised(a, episode, at, level=_level(ev.get("severity")))
            elif r is None:
                continue
            elif name in ("raised", "lowered"):
                r.level = max(r.level, _level(ev.get("severity")))
            elif name == "acknowledged" and r.acked_at is None:
                r.acked_by, r.acked_at = ev.get("by"), at
            elif name == "escalated":
                r.tier = max(r.tier, int(ev.get("tier") or 0))
            elif name == "resolved" and r.resolved is None:
                r.resolved = at
        for r in episodes.values():
            r.escalated_to = [t for t in (people.escalation_target(tier, a.department)
                                          for tier in range(1, r.tier + 1)) if t]
        out.extend(episodes.values())
    return sorted(out, key=lambda r: (r.fired, r.alert.fingerprint))


def _level(severity: Any) -> int:
    for lv in BY_LEVEL.values():
        if severity in (lv.ko, lv.name):
            return lv.level
    return 0


def _stats(seconds: list[float]) -> dict[str, float | None]:
    if not seconds:
        return {"median_s": None, "mean_s": None, "fastest_s": None, "slowest_s": None}
    return {"median_s": round(statistics.median(seconds), 1), "mean_s": round(statistics.fmean(seconds), 1),
            "fastest_s": round(min(seconds), 1), "slowest_s": round(max(seconds), 1)}


def build(drill: Drill, raised: list[Raised], people: People, catalog: Catalog) -> dict[str, Any]:
    """The report as data (the JSON file; the Markdown is written from it)."""
    rows = []
    for r in raised:
        a = r.alert
        lv = BY_LEVEL.get(r.level or a.level)
        rows.append({
            "fingerprint": a.fingerprint, "episode": r.episode, "rule": a.rule, "name_ko": a.name_ko,
            "name_en": a.name_en, "entity": a.entity, "entity_ko": a.entity_ko, "entity_en": a.entity_en,
            "department": a.department, "severity": lv.ko if lv else None, "severity_en": lv.name if lv else None,
            "fired_at": r.fired / 1000, "acknowledged_by": r.acked_by,
            "acknowledged_at": r.acked_at / 1000 if r.acked_at else None, "ack_seconds": r.ack_seconds,
            "escalation_tier": r.tier, "escalated_to": r.escalated_to,
            "resolved_at": r.resolved / 1000 if r.resolved else None})
    by_person: dict[str, list[float]] = {}
    for r in raised:
        if r.acked_by and r.ack_seconds is not None:
            by_person.setdefault(r.acked_by, []).append(r.ack_seconds)
    persons = []
    for pid, secs in sorted(by_person.items()):
        member = people.staff.get(pid)
        dep = people.departments.get(member.department) if member else None
        persons.append({"id": pid, "name_ko": member.name_ko if member else pid,
                        "name_en": member.name_en if member else pid,
                        "department": member.department if member else None,
                        "department_ko": dep.name_ko if dep else None, "acknowledged": len(secs), **_stats(secs)})
    departments = []
    for dep_id in sorted({r.alert.department for r in raised if r.alert.department}):
        mine = [r for r in raised if r.alert.department == dep_id]
        secs = [r.ack_seconds for r in mine if r.ack_seconds is not None]
        dep = people.departments.get(dep_id)
        staff = sorted(s.id for s in people.staff.values() if s.department == dep_id)
        never = [s for s in staff if s not in by_person]
        departments.append({"id": dep_id, "name_ko": dep.name_ko if dep else dep_id,
                            "name_en": dep.name_en if dep else dep_id, "alerts": len(mine),
                            "acknowledged": len(secs), "unacknowledged": len(mine) - len(secs), **_stats(secs),
                            "staff_who_never_acknowledged": never})
    all_secs = [r.ack_seconds for r in raised if r.ack_seconds is not None]
    return {
        "drill": drill.public(),
        "city": {"id": catalog.city.id, "name_ko": catalog.city.name_ko, "name_en": catalog.city.name_en,
                 "timezone": catalog.city.timezone},
        "summary": {"alerts": len(raised), "acknowledged": len(all_secs), "unacknowledged": len(raised) - len(all_secs),
                    "escalated": sum(1 for r in raised if r.tier), "highest_tier": max((r.tier for r in raised),
                                                                                     default=0),
                    **_stats(all_secs)},
        "alerts": rows, "people": persons, "departments": departments,
        "never_acknowledged": [row for row in rows if row["acknowledged_by"] is None],
    }


def _when(ts: float | None, tz: ZoneInfo) -> str:
    return dt.datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:%M:%S") if ts else "–"


def _secs(s: float | None) -> str:
    if s is None:
        return "–"
    minutes, sec = divmod(round(s), 60)
    return f"{minutes}분 {sec}초" if minutes else f"{sec}초"


def markdown(report: dict[str, Any]) -> str:
    """The report for people: Korean first, the English names beside."""
    tz = ZoneInfo(report["city"]["timezone"])
    d, s = report["drill"], report["summary"]
    out = [f"# [훈련] 훈련 결과 보고서 — {report['city']['name_ko']} (Drill report, {report['city']['name_en']})", "",
           f"- 시나리오 (scenario): `{d['scenario']}` · 배속 (speed) ×{d['speed']:g}",
           f"- 시작 (started): {_when(d['started'], tz)} · {d['started_by']}",
           f"- 종료 (stopped): {_when(d['stopped'], tz)} · {d['stopped_by'] or '–'}", "",
           "## 요약 (Summary)", "",
           f"- 발령된 훈련 경보 (alerts fired): {s['alerts']}건",
           f"- 확인됨 (acknowledged): {s['acknowledged']}건 · 미확인 (never acknowledged): {s['unacknowledged']}건",
           f"- 확인까지 걸린 시간 (time to acknowledge): 중앙값 {_secs(s['median_s'])}, 평균 {_secs(s['mean_s'])}, "
           f"최단 {_secs(s['fastest_s'])}, 최장 {_secs(s['slowest_s'])}",
           f"- 상향 전파 (escalated): {s['escalated']}건, 최고 단계 {s['highest_tier']}", "",
           "## 경보별 (Alerts)", "",
           "| 발령 시각 | 경보 | 장소 | 단계 | 확인자 | 확인까지 | 상향 |", "|---|---|---|---|---|---|---|"]
    for a in report["alerts"]:
        esc = f"{a['escalation_tier']}단계 → {', '.join(a['escalated_to'])}" if a["escalation_tier"] else "–"
        out.append(f"| {_when(a['fired_at'], tz)} | {a['name_ko']} | {a['entity_ko']} | {a['severity'] or '–'} | "
                   f"{a['acknowledged_by'] or '**미확인**'} | {_secs(a['ack_seconds'])} | {esc} |")
    out += ["", "## 담당자별 (People)", "",
            "| 담당자 | 부서 | 확인 건수 | 중앙값 | 평균 | 최장 |", "|---|---|---|---|---|---|"]
    for p in report["people"]:
        department = p["department_ko"] or p["department"] or "–"
        out.append(f"| {p['name_ko']} ({p['id']}) | {department} | {p['acknowledged']} | "
                   f"{_secs(p['median_s'])} | {_secs(p['mean_s'])} | {_secs(p['slowest_s'])} |")
    out += ["", "## 부서별 (Departments)", "",
            "| 부서 | 경보 | 확인 | 미확인 | 중앙값 | 한 건도 확인하지 않은 직원 |", "|---|---|---|---|---|---|"]
    for dep in report["departments"]:
        out.append(f"| {dep['name_ko']} | {dep['alerts']} | {dep['acknowledged']} | {dep['unacknowledged']} | "
                   f"{_secs(dep['median_s'])} | {', '.join(dep['staff_who_never_acknowledged']) or '–'} |")
    out += ["", "## 미확인 경보 (Never acknowledged)", ""]
    if report["never_acknowledged"]:
        out += [f"- {_when(a['fired_at'], tz)} {a['name_ko']} — {a['entity_ko']} ({a['severity'] or '–'})"
                for a in report["never_acknowledged"]]
    else:
        out.append("- 없음 (none)")
    out.append("")
    return "\n".join(out)


def write(report: dict[str, Any], folder: Path) -> dict[str, str]:
    """Write report.md and report.json into `folder`; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    md, js = folder / "report.md", folder / "report.json"
    md.write_text(markdown(report), encoding="utf-8")
    js.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    return {"markdown": str(md), "json": str(js)}
