"""The status board at `/`: every domain's indicators with live value and status, refreshed every few seconds."""

from __future__ import annotations

import time
from html import escape
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from situationroom import live
from situationroom.catalog import STATUS_ORDER

router = APIRouter()

# Colour is never the only signal: every status also carries a word and a symbol.
STATUS_TEXT = {
    "ko": {"normal": "정상", "warning": "주의", "critical": "위험", "stale": "지연", "unknown": "없음"},
    "en": {"normal": "normal", "warning": "warning", "critical": "critical", "stale": "stale", "unknown": "no data"},
}
STATUS_ICON = {"normal": "●", "warning": "▲", "critical": "◆", "stale": "◌", "unknown": "○"}

STYLE = """
html,body{margin:0;background:#0b0f14;color:#e8edf2;font-family:system-ui,'Noto Sans KR',sans-serif}
header{display:flex;justify-content:space-between;align-items:baseline;padding:1.2vw 2vw;
border-bottom:2px solid #243040}
h1{font-size:2.4vw;margin:0} .clock{font-size:1.6vw;color:#9fb0c2}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(30vw,1fr));gap:1vw;padding:1vw 2vw}
section{background:#111821;border:1px solid #243040;border-radius:.6vw;padding:.8vw 1vw}
h2{font-size:1.4vw;margin:.2vw 0 .6vw;color:#9fb0c2}
table{width:100%;border-collapse:collapse;font-size:1.05vw} td{padding:.25vw .3vw;border-top:1px solid #1c2633}
td.v{text-align:right;font-variant-numeric:tabular-nums;font-weight:700} td.s{white-space:nowrap}
.normal{color:#4ade80}.warning{color:#facc15}.critical{color:#f87171}.stale{color:#94a3b8}.unknown{color:#64748b}
footer{padding:.5vw 2vw;color:#64748b;font-size:.9vw}
"""


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def board(request: Request, lang: Annotated[Literal["ko", "en"], Query()] = "ko") -> HTMLResponse:
    ctx = request.app.state.ctx
    catalog = ctx.catalog
    states = await live.read(ctx.client, list(catalog.indicators), ctx.settings.stale_grace)
    words = STATUS_TEXT[lang]
    sections = []
    for domain in catalog.domains.values():
        rows = []
        for ind in (i for i in catalog.indicators.values() if i.domain == domain.id):
            summary = live.summarize(catalog, ind.id, states[ind.id])
            status = summary["status"]
            sign = -1 if ind.thresholds and ind.thresholds.direction == "below" else 1
            worst = max(states[ind.id].values(), key=lambda s, _sign=sign: (STATUS_ORDER.get(s["st"], 0),
                                                                             _sign * s["v"]), default=None)
            value = f"{worst['v']:.{ind.decimals}f} {escape(ind.unit)}" if worst else "–"
            name = ind.name_ko if lang == "ko" else ind.name_en
            rows.append(f'<tr><td>{escape(name)}</td><td class="v {status}">{value}</td>'
                        f'<td class="s {status}">{STATUS_ICON.get(status, "")} {words.get(status, status)}</td></tr>')
        title = domain.name_ko if lang == "ko" else domain.name_en
        sections.append(f"<section><h2>{escape(title)}</h2><table>{''.join(rows)}</table></section>")
    city = catalog.city.name_ko if lang == "ko" else catalog.city.name_en
    heading = f"{city} 디지털 통합상황실" if lang == "ko" else f"{city} situation room"
    now = time.strftime("%Y-%m-%d %H:%M:%S")
    html = (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="5"><title>{escape(heading)}</title><style>{STYLE}</style></head>'
        f'<body><header><h1>{escape(heading)}</h1><span class="clock">{now}</span></header>'
        f"<main>{''.join(sections)}</main><footer>worst value per indicator · /api/v1/indicators · /docs"
        "</footer></body></html>"
    )
    return HTMLResponse(html)
