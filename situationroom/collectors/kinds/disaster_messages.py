"""The `disaster_messages` collector kind: national disaster text messages (재난문자) for the ticker."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr

from situationroom.collectors import base, publicdata
from situationroom.collectors.base import CollectError, CollectorContext, CollectResult
from situationroom.collectors.mapping import MISSING_AT_SOURCE
from situationroom.collectors.registry import register
from situationroom.durations import Duration
from situationroom.errors import ConfigError, Problem
from situationroom.messages import Message, Severity, message_id
from situationroom.samples import Rejection, Sample

BASE_URL = "https://www.safetydata.go.kr/V2/api/DSSP-IF-00247"
SOURCE = "safetydata.go.kr"

SEVERITY: dict[str, Severity] = {"위급재난": "critical", "긴급재난": "warning", "안전안내": "info"}
"""EMRG_STEP_NM -> severity: 위급재난 (extreme, loud alert), 긴급재난 (emergency), 안전안내 (safety notice)."""
STEP_EN = {"위급재난": "extreme alert", "긴급재난": "emergency alert", "안전안내": "safety notice"}
TYPE_EN = {
    "AI": "avian influenza", "가뭄": "drought", "가축질병": "livestock disease", "강풍": "strong wind",
    "건조": "dry air", "교통": "traffic", "교통사고": "traffic accident", "교통통제": "traffic control",
    "금융": "finance", "기타": "other", "대설": "heavy snow", "미세먼지": "fine dust",
    "민방공": "civil air defence", "붕괴": "collapse",
    "산불": "wildfire", "산사태": "landslide", "수도": "water supply", "안개": "fog", "에너지": "energy",
    "전염병": "epidemic", "정전": "power cut", "지진": "earthquake", "지진해일": "tsunami", "태풍": "typhoon",
    "테러": "terrorism", "통신": "telecom outage", "폭발": "explosion", "폭염": "heat wave", "풍랑": "high seas",
    "한파": "cold wave", "호우": "heavy rain", "홍수": "flood", "화재": "fire", "환경오염사고": "pollution accident",
    "황사": "yellow dust",
}
"""DST_SE_NM in English: the source has Korean text only, so the English ticker says what kind of message it is."""


def parse_created(text: str) -> datetime:
    """`CRT_DT` as `yyyy/MM/dd HH:mm:ss` (some copies use `-`)."""
    t = text.strip().replace("-", "/")
    for fmt in ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M"):
        try:
            return datetime.strptime(t, fmt)
        except ValueError:
            pass
    raise ValueError(text)


def _squash(text: str) -> str:
    """Region names without spaces: `포항시 남구` and `포항시남구` are both seen."""
    return "".join(text.split())


class DisasterMessagesParams(base.Params):
    service_key: SecretStr = Field(min_length=1)
    """The safetydata.go.kr key (`${DATA_GO_KR_KEY}` or a key of its own)."""
    base_url: str = BASE_URL
    areas: list[str] = Field(default_factory=lambda: ["포항", "경상북도"], min_length=1)
    """A message is kept when one of its regions (RCPTN_RGN_NM, comma-separated) contains one of these."""
    gu: dict[str, str] = Field(default_factory=lambda: {"포항시남구": "47111", "포항시북구": "47113"})
    """Region name (spaces ignored) -> entity the message concerns."""
    days: int = Field(default=1, ge=1, le=7)
    """crtDt queried: today, and the days before it (KST)."""
    page_size: int = Field(default=100, ge=1, le=1000)
    max_pages: int = Field(default=5, ge=1, le=100)
    expires_after: Duration = 6 * 3600.0
    """How long a message stays on the ticker."""
    count_indicator: str | None = "safety.disaster_messages"
    """Also sent: how many of the kept messages were issued in the past hour, for the city (None: not sent)."""
    timeout: float = Field(default=10.0, gt=0, le=120)


@register
class DisasterMessages(publicdata.PublicDataKind[DisasterMessagesParams]):
    """Disaster text messages whose receiving regions name one of `areas`, each once (by its serial number SN).

    Severity comes from the emergency step; a message for 포항시남구/북구 is tied to that gu, one for
    the whole city or province to no entity (the whole city).
    """

    name = "disaster_messages"

    Params = DisasterMessagesParams

    def __init__(self, params: DisasterMessagesParams, context: CollectorContext) -> None:
        super().__init__(params, context)
        p = params
        self.p = p
        catalog = context.catalog
        bad = [Problem("unknown entity (not in the catalog)", None, None, f"params.gu.{k}", v, True)
               for k, v in p.gu.items() if v not in catalog.entities]
        if p.count_indicator is not None and catalog.city.id not in catalog.entity_sets.get(p.count_indicator, ()):
            bad.append(Problem(f"not an indicator of the catalog measured for the city ({catalog.city.id})", None,
                               None, "params.count_indicator", p.count_indicator, True))
        if bad:
            raise ConfigError(bad)
        self.gu = {_squash(k): v for k, v in p.gu.items()}
        self.areas = [_squash(a) for a in p.areas]
        self._connect(SOURCE, p.service_key.get_secret_value(), p.timeout)

    async def _day(self, day: str) -> list[Any]:
        out: list[Any] = []
        for page in range(1, self.p.max_pages + 1):
            doc = await self.client.get_json(self.p.base_url, {
                "serviceKey": self.key, "returnType": "json", "pageNo": page, "numOfRows": self.p.page_size,
                "crtDt": day})
            if not publicdata.check_envelope(doc, SOURCE):
                break
            body = doc.get("body")
            if body is None and isinstance(doc.get("response"), dict):  # the older data.go.kr service
                body = doc["response"].get("body")
            if body in (None, ""):
                break
            if isinstance(body, dict):
                body = body.get("items", body.get("item", [body]))
            if not isinstance(body, list):
                raise CollectError(f"{SOURCE} answered a body that is not a list ({type(body).__name__})")
            out.extend(body)
            try:
                total = int(doc.get("totalCount") or 0)
            except (TypeError, ValueError):
                total = 0
            if not body or page * self.p.page_size >= total:
                break
        return out

    async def collect(self, now: float) -> CollectResult:
        result = CollectResult([])
        local = datetime.fromtimestamp(now, ZoneInfo(self.tz))
        today = local.date()
        rows: list[Any] = []
        # Just after midnight yesterday's last messages may not have been read yet.
        for back in range(self.p.days + (1 if local.hour == 0 else 0)):
            rows.extend(await self._day((today - timedelta(days=back)).strftime("%Y%m%d")))
        in_run: set[str] = set()
        for i, row in enumerate(rows):
            message = self._message(row, i, result)
            if message is not None and message.id not in in_run:
                in_run.add(message.id)
                result.messages.append(message)
        if self.p.count_indicator is not None:
            recent = sum(1 for m in result.messages if now - 3600 < m.ts <= now)
            result.samples.append(Sample(self.p.count_indicator, self.context.catalog.city.id, now, recent))
        return result

    def _message(self, row: Any, index: int, result: CollectResult) -> Message | None:
        if not isinstance(row, dict):
            result.rejected.append(Rejection("body", "not an object", row, index))
            return None
        sn = row.get("SN")
        if sn in (None, "") or isinstance(sn, bool):
            self._reject(result, ("sn", repr(row)[:200]), "SN", "no serial number", row=row)
            return None
        regions = [_squash(r) for r in str(row.get("RCPTN_RGN_NM") or "").split(",") if r.strip()]
        regions = [r for r in regions if any(a in r for a in self.areas)]
        if not regions:
            return None  # another region's message: not an error
        text = str(row.get("MSG_CN") or "").strip()
        if not text:
            self._reject(result, ("text", sn), "MSG_CN", MISSING_AT_SOURCE, SN=sn)
            return None
        try:
            ts = publicdata.local_ts(parse_created(str(row.get("CRT_DT") or "")), self.tz)
        except ValueError:
            self._reject(result, ("time", sn), "CRT_DT", "not a time like 2022/09/06 04:43:00", SN=sn,
                         value=row.get("CRT_DT"))
            return None
        step = str(row.get("EMRG_STEP_NM") or "").strip()
        kind = str(row.get("DST_SE_NM") or "").strip()
        by_region = [[e for name, e in self.gu.items() if name in r] for r in regions]
        # Sent to a gu: that gu; sent (also) to the whole city or province: all of Pohang (no entity).
        entities = () if any(not found for found in by_region) else \
            tuple(dict.fromkeys(e for found in by_region for e in found))
        label = ", ".join(x for x in (TYPE_EN.get(kind, kind), STEP_EN.get(step, step)) if x)
        return Message(
            id=message_id("disaster_messages", sn), ts=ts, source=self.context.collector_id, kind="disaster_text",
            severity=SEVERITY.get(step, "info"), text_ko=text,
            text_en=f"Disaster text message ({label}): {text}" if label else f"Disaster text message: {text}",
            entities=entities, expires=ts + self.p.expires_after,
        )
