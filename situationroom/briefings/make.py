"""Making one briefing: its period, its sections read from the live state and the history, its PDF and HTML, and
the archive."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import redis.asyncio as aioredis

from situationroom import briefing_archive as archive
from situationroom.briefings import charts, fonts, html, layout, pdf, sections
from situationroom.briefings.definition import Briefing
from situationroom.briefings.sections import Reads
from situationroom.clock import now_ms
from situationroom.collectors import health

log = logging.getLogger(__name__)

DAY_MS = 86_400_000
OFF = frozenset({"disabled", "invalid", "paused"})


def period(briefing: Briefing, at_ms: int, tz: ZoneInfo) -> tuple[int, int]:
    """(start, end) ms: from the scheduled time before `at_ms` (the previous briefing's time) to `at_ms`; a day
    for a briefing without a schedule."""
    before = briefing.previous(at_ms - 1, tz)
    return (before if before is not None else at_ms - DAY_MS), at_ms


async def simulated_clock(client: aioredis.Redis) -> str | None:
    """The simulator clock the exercise data runs on, as the briefing names it (scenario and speed), or None."""
    for h in (await health.read_all(client)).values():
        clock = h.get("clock")
        # As the pages find it (web/exercise_api.py): a running exercise source's clock.
        running = h.get("state") not in OFF and not h.get("paused")
        if h.get("exercise") and isinstance(clock, dict) and running:
            return f"{clock.get('scenario', '?')} ×{clock.get('speed', 1)}"
    return None


async def content(r: Reads, briefing: Briefing, at_ms: int, by: str) -> dict[str, Any]:
    """The briefing as data: its record (id, period, marks) and each section's figures."""
    tz = ZoneInfo(r.catalog.city.timezone)
    start, end = period(briefing, at_ms, tz)
    previous = await archive.latest(r.client, briefing.name, end)
    previous_status = next((s for s in (previous or {}).get("sections", []) if s["kind"] == "status"), None)
    out: list[dict[str, Any]] = []
    for s in briefing.spec.sections:
        if s.kind == "status":
            found = await sections.status_section(r, previous_status and {**previous_status, "id": previous["id"]})
        elif s.kind == "timeline":
            found = await sections.timeline_section(r, start, end, s.limit)
        elif s.kind == "figures":
            found = await sections.figures_section(r, s.indicators, start, end)
        elif s.kind == "districts":
            found = await sections.districts_section(r, s.top)
        elif s.kind == "outlook":
            found = await sections.outlook_section(r, s.indicators)
        else:
            found = await sections.economy_section(r, s.by_gu, s.by_sector, end)
        out.append(found)
    clock = await simulated_clock(r.client)
    stamp = datetime.fromtimestamp(end / 1000, tz).strftime("%Y%m%d-%H%M")
    return {"id": f"{briefing.name}-{stamp}", "name": briefing.name, "title_ko": briefing.spec.name_ko,
            "title_en": briefing.spec.name_en, "language": briefing.spec.language, "from": start, "to": end,
            "made": now_ms(), "by": by, "city_ko": r.catalog.city.name_ko, "city_en": r.catalog.city.name_en,
            "exercise": any(s["exercise"] for s in out) or clock is not None, "clock": clock, "sections": out}


async def render(r: Reads, record: dict[str, Any]) -> tuple[bytes, str]:
    """(PDF, HTML body) of a briefing record, in its language."""
    lang = record["language"]
    tz = ZoneInfo(r.catalog.city.timezone)
    made = await asyncio.to_thread(fonts.static_fonts, r.settings.font_cache)
    figures = [f for s in record["sections"] if s["kind"] == "figures" for f in s["figures"]]
    images = await charts.pngs(r.catalog, figures, lang, made["regular"].parent, fonts.FAMILY)
    names = {i.id: (i.name_ko, i.name_en) for i in r.catalog.indicators.values()}
    doc = layout.document(record, lang, tz, images, names)
    return await asyncio.to_thread(pdf.render, doc, made), html.render(doc)


async def make(r: Reads, briefing: Briefing, at_ms: int, by: str) -> tuple[dict[str, Any], bytes]:
    """Make, archive and return a briefing (record, PDF); older ones past the retention are pruned."""
    record = await content(r, briefing, at_ms, by)
    made_pdf, made_html = await render(r, record)
    folder = r.settings.briefings_archive
    await archive.store(r.client, folder, record, made_pdf, made_html)
    gone = await archive.prune(r.client, folder, now_ms() - int(r.settings.briefing_retention * 1000))
    if gone:
        log.info("briefings past the retention removed: %s", ", ".join(gone))
    return record, made_pdf
