"""A briefing's content as one document of headings, paragraphs, tables and charts, in Korean or English: the PDF
and the HTML page are both drawn from it, so they say the same."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from situationroom import exercise, status

EVENTS_KO = {"fired": "발생", "acknowledged": "확인", "resolved": "해제", "escalated": "상향 통보", "raised": "격상",
             "lowered": "하향", "silenced": "알림 중지", "declared": "선포", "level": "단계 변경", "ended": "종료",
             "created": "알림 중지 설정", "note": "메모"}
KINDS_KO = {"alert": "경보", "incident": "사고", "note": "메모", "message": "메시지", "silence": "알림 중지"}
INCIDENT_KINDS = frozenset({"declared", "level", "ended"})
"""Timeline entries of the incident itself, which carry no `event`."""


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    marks: list[str] = field(default_factory=list)
    """Per row, the status id whose colour marks it ("" for none)."""


@dataclass
class Block:
    kind: str
    """h (heading), p (paragraph), note (small print), table, img (a PNG chart)."""
    text: str = ""
    table: Table | None = None
    png: bytes | None = None


@dataclass
class Doc:
    title: str
    subtitle: str
    marks: list[str]
    """Shown on every page: 훈련 (exercise data in it), simulated time."""
    blocks: list[Block]
    lang: str


def when(ms: int | None, tz: ZoneInfo, lang: str) -> str:
    if not ms:
        return "–"
    t = datetime.fromtimestamp(ms / 1000, tz)
    return t.strftime("%Y-%m-%d %H:%M") if lang == "ko" else t.strftime("%d %b %Y %H:%M")


def number(value: Any, decimals: int = 1) -> str:
    """A figure as the briefing writes it (thousands separated, the indicator's decimals); – for none."""
    if value is None:
        return "–"
    return f"{float(value):,.{decimals}f}"


def change(value: float | None) -> str:
    return "–" if value is None else f"{value:+.1f}%"


class Writer:
    """Turns the sections' data into blocks in one language."""

    def __init__(self, lang: str, tz: ZoneInfo, charts: dict[str, bytes]) -> None:
        self.lang = lang
        self.ko = lang == "ko"
        self.tz = tz
        self.charts = charts
        self.blocks: list[Block] = []

    def t(self, ko: str, en: str) -> str:
        return ko if self.ko else en

    def name(self, item: dict[str, Any], key: str = "name") -> str:
        return str(item.get(f"{key}_ko" if self.ko else f"{key}_en") or "")

    def status(self, st: str) -> str:
        s = status.of(st)
        return s.ko if self.ko else s.en

    def x(self, text: str, item: dict[str, Any]) -> str:
        """`text` with the exercise tag when the item is exercise data."""
        return exercise.tagged(text, self.lang) if item.get("exercise") else text

    def add(self, kind: str, text: str = "", table: Table | None = None, png: bytes | None = None) -> None:
        self.blocks.append(Block(kind, text, table, png))

    # -- sections -------------------------------------------------------------------------------------

    def status_section(self, s: dict[str, Any]) -> None:
        self.add("h", self.t("1. 분야별 종합 상황", "1. Overall status by domain"))
        rows, marks = [], []
        for d in s["domains"]:
            counts = ", ".join(f"{self.status(k)} {v}" for k, v in sorted(
                d["counts"].items(), key=lambda kv: -status.of(kv[0]).rank))
            rows.append([self.x(self.name(d), d), self.status(d["status"]), counts])
            marks.append(d["status"])
        self.add("table", table=Table([self.t("분야", "Domain"), self.t("상태", "Status"),
                                       self.t("지표 수(상태별)", "Indicators by status")], rows, marks))
        if s["previous"] is None:
            self.add("p", self.t("이전 보고가 없어 변화는 비교하지 않았습니다.",
                                 "No earlier briefing of this kind: changes are not compared."))
        elif not s["changes"]:
            self.add("p", self.t(f"이전 보고({s['previous']}) 이후 분야별 상태 변화 없음.",
                                 f"No domain changed status since the last briefing ({s['previous']})."))
        else:
            changed = "; ".join(f"{self.name(c)} {self.status(c['was'])} → {self.status(c['now'])}"
                                for c in s["changes"])
            self.add("p", self.t(f"이전 보고({s['previous']}) 이후 변화: {changed}",
                                 f"Changed since the last briefing ({s['previous']}): {changed}"))

    def timeline_section(self, s: dict[str, Any]) -> None:
        self.add("h", self.t("2. 경보·사고 경과", "2. Alerts and incidents of the period"))
        median = s["ack_median_minutes"]
        self.add("p", self.t(
            f"기간 중 경보 발생 {s['fired']}건, 확인 {s['acknowledged']}건, 확인까지 걸린 시간(중앙값) "
            f"{number(median)}분. 진행 중이거나 기간에 걸친 사고 {len(s['incidents'])}건.",
            f"Alerts fired in the period: {s['fired']}, acknowledged: {s['acknowledged']}, median time to "
            f"acknowledge: {number(median)} min. Incidents open in the period: {len(s['incidents'])}."))
        rows = []
        for e in s["entries"]:
            kind_id, event_id = str(e["kind"]), str(e.get("event") or e["kind"])
            event = EVENTS_KO.get(event_id, event_id) if self.ko else event_id
            if kind_id in INCIDENT_KINDS:  # the incident's own entries: declared, raised or lowered, ended
                label = self.t(f"사고 {event}", f"incident {event}")
            elif e.get("event") is None:  # a note names itself in its kind
                label = event
            else:
                label = f"{KINDS_KO.get(kind_id, kind_id) if self.ko else kind_id} {event}"
            who = e["by"] or ""
            if e.get("ack_minutes") is not None:
                who += self.t(f" ({number(e['ack_minutes'])}분 후)", f" (after {number(e['ack_minutes'])} min)")
            rows.append([when(e["at"], self.tz, self.lang), self.x(label, e),
                         f"{self.name(e, 'what')} {self.name(e, 'where')}".strip(), who.strip(),
                         e.get("incident") or ""])
        if rows:
            self.add("table", table=Table([self.t("시각", "Time"), self.t("구분", "Event"), self.t("내용", "What"),
                                           self.t("확인자", "By"), self.t("사고", "Incident")], rows))
        self.add("note", self.t(
            "해제된 경보는 경보 보관 기간이 지나면 지워지므로, 그보다 오래된 경보는 사고 경과에 기록된 것만 보입니다.",
            "Resolved alerts are pruned after the alert retention: older ones show only where an incident's "
            "timeline kept them."))

    def figures_section(self, s: dict[str, Any]) -> None:
        self.add("h", self.t("3. 주요 지표", "3. Key figures"))
        rows, marks = [], []
        for f in s["figures"]:
            unit = f["unit"] if self.ko else f["unit_en"]
            rows.append([self.x(self.name(f), f), f"{number(f['value'], f['decimals'])} {unit}".strip(),
                         self.name(f, "entity"), self.status(f["status"])])
            marks.append(f["status"])
        self.add("table", table=Table([self.t("지표", "Indicator"), self.t("최근 값(가장 나쁜 곳)", "Latest (worst)"),
                                       self.t("위치", "Where"), self.t("상태", "Status")], rows, marks))
        for f in s["figures"]:
            png = self.charts.get(f["indicator"])
            if png:
                where = self.name(f, "entity")
                self.add("img", self.t(f"{f['name_ko']} 추이 · {where}", f"{f['name_en']} over the period · {where}"),
                         png=png)

    def districts_section(self, s: dict[str, Any], names: dict[str, tuple[str, str]]) -> None:
        self.add("h", self.t("4. 상황이 나쁜 지역", "4. Districts by level"))
        if not s["districts"]:
            self.add("p", self.t("주의 이상인 지역이 없습니다.", "No district is above normal."))
            return
        rows, marks = [], []
        for i, d in enumerate(s["districts"], 1):
            why = ", ".join(names.get(x, (x, x))[0 if self.ko else 1] for x in d["indicators"])
            rows.append([str(i), self.x(self.name(d), d), self.status(d["status"]), why])
            marks.append(d["status"])
        self.add("table", table=Table(["#", self.t("지역", "District"), self.t("상태", "Status"),
                                       self.t("원인 지표", "Because of")], rows, marks))

    def outlook_section(self, s: dict[str, Any]) -> None:
        self.add("h", self.t("5. 기상·하천 전망", "5. Weather and river outlook"))
        rows, marks = [], []
        for o in s["rows"]:
            unit = o["unit"] if self.ko else o["unit_en"]
            rows.append([self.x(self.name(o), o), f"{number(o['value'], o['decimals'])} {unit}".strip(),
                         self.name(o, "entity"), when(o["ts"], self.tz, self.lang), self.status(o["status"])])
            marks.append(o["status"])
        self.add("table", table=Table([self.t("지표", "Indicator"), self.t("최근 값", "Latest"),
                                       self.t("위치", "Where"), self.t("측정 시각", "Measured"),
                                       self.t("상태", "Status")], rows, marks))

    def economy_section(self, s: dict[str, Any]) -> None:
        self.add("h", self.t("6. 포항사랑상품권 결제액", "6. Local currency (포항사랑상품권) spending"))
        w = s["weeks"]
        self.add("p", self.t(
            f"이번 주 {when(w['this']['from'], self.tz, 'ko')} ~ {when(w['this']['to'], self.tz, 'ko')}, "
            "지난주와 작년 같은 주(52주 전)와 비교. 단위 " + str(s.get("unit", "")),
            f"This week {when(w['this']['from'], self.tz, 'en')} – {when(w['this']['to'], self.tz, 'en')}, "
            "against last week and the same week last year (52 weeks back). Unit " + str(s.get("unit_en", ""))))
        dec = int(s.get("decimals", 1))
        for part, ko, en in (("by_gu", "구별", "By gu"), ("by_sector", "업종별", "By sector")):
            rows = [[self.name(r), number(r["this"], dec), number(r["last"], dec), change(r["vs_last"]),
                     number(r["year"], dec), change(r["vs_year"])] for r in s.get(part, [])]
            if rows:
                self.add("table", table=Table([self.t(ko, en), self.t("이번 주", "This week"),
                                               self.t("지난주", "Last week"), self.t("증감", "Change"),
                                               self.t("작년 같은 주", "Same week last year"),
                                               self.t("증감", "Change")], rows))


def document(content: dict[str, Any], lang: str, tz: ZoneInfo, charts: dict[str, bytes],
             names: dict[str, tuple[str, str]]) -> Doc:
    """The briefing `content` (briefings.make) as a document in `lang`; `names` gives indicators' names."""
    w = Writer(lang, tz, charts)
    for s in content["sections"]:
        if s["kind"] == "districts":
            w.districts_section(s, names)
        else:
            getattr(w, f"{s['kind']}_section")(s)
    title = content["title_ko"] if w.ko else content["title_en"]
    period = f"{when(content['from'], tz, lang)} ~ {when(content['to'], tz, lang)}"
    subtitle = w.t(f"{content['city_ko']} · 기간 {period} · 작성 {when(content['made'], tz, lang)}",
                   f"{content['city_en']} · period {period} · made {when(content['made'], tz, lang)}")
    marks = []
    if content["exercise"]:
        marks.append(w.t("[훈련] 훈련 자료가 포함된 보고입니다", "[EXERCISE] This briefing contains exercise data"))
    if content.get("clock"):
        marks.append(w.t(f"모의 시각(시뮬레이션): {content['clock']}", f"Simulated time: {content['clock']}"))
    return Doc(title, subtitle, marks, w.blocks, lang)
