"""The citizens' page `/public` (no token, Korean first, `?lang=en`): public indicators only, mobile first, accessible,
served from memory with an ETag like its API (web.public_cache)."""

from __future__ import annotations

from html import escape
from typing import Annotated, Literal

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, Response

from situationroom import status
from situationroom.licences import LICENCES
from situationroom.web import public_charts, public_state, shell
from situationroom.web.public_cache import Cached

router = APIRouter()
Lang = Annotated[Literal["ko", "en"], Query(description="language of the page: ko (default) or en")]

TEXT = {
    "ko": {"title": "시민 안전 정보", "skip": "본문 바로가기", "lang": "English", "nav": "이 페이지의 내용",
           "now": "지금 상황", "map": "행정동별 상태 지도", "districts": "행정동별 상태",
           "trends": "지표별 지금과 지난 24시간", "messages": "최근 재난문자",
           "map_alt": "포항시 행정동을 상태에 따라 색칠한 지도입니다. 같은 내용이 아래 '행정동별 상태' 표에 글로 "
                      "있습니다.",
           "legend": "범례", "loading": "불러오는 중…", "footer_sources": "자료 출처", "footer_licence": "이용 조건",
           "footer_note": "이 화면은 공개 지표만 보여 줍니다. 값은 약 {s}초마다 새로 계산됩니다. 위급할 때는 "
                          "119(화재·구조), 112(범죄)에 신고하고 재난문자와 방송 안내를 따르십시오.",
           "intro": "대기질, 날씨, 강수, 하천 수위, 재난문자 등 시민에게 공개된 지표의 현재 상태입니다."},
    "en": {"title": "public safety information", "skip": "Skip to content", "lang": "한국어", "nav": "On this page",
           "now": "Now", "map": "Status by neighbourhood (map)", "districts": "Status by neighbourhood",
           "trends": "Each indicator now and over the past 24 hours", "messages": "Latest disaster text messages",
           "map_alt": "A map of Pohang's neighbourhoods (행정동) coloured by status. The table 'Status by "
                      "neighbourhood' below says the same in words.",
           "legend": "Legend", "loading": "Loading…", "footer_sources": "Sources", "footer_licence": "Terms of use",
           "footer_note": "This page shows public indicators only, recomputed about every {s} s. In an emergency "
                          "call 119 (fire, rescue) or 112 (police) and follow disaster texts and broadcasts.",
           "intro": "The current state of the indicators open to citizens: air quality, weather, rain, river levels "
                    "and disaster text messages."},
}
WORDS = {
    "ko": {"exercise": "모의 자료 — 실제 상황이 아닙니다", "exercise_more": "훈련·시연용으로 만든 자료입니다.",
           "sim_time": "모의 시각", "speed": "배속", "updated": "갱신",
           "updated_real": "갱신 (실제 시각)", "district": "행정동", "status": "상태",
           "why": "내용", "all_ok": "공개 지표에 이상 없음", "no_data": "이 동네를 재는 공개 지표의 자료가 없습니다",
           "now": "지금", "high": "24시간 최고", "low": "24시간 최저", "highest_place": "지역 중 가장 높은 값",
           "lowest_place": "지역 중 가장 낮은 값", "where": "측정 위치", "no_history": "지난 24시간 자료 없음",
           "no_messages": "지난 24시간 동안 발송된 재난문자가 없습니다.", "hours": "시각",
           "places": "{n}곳 중 {k}곳 보고", "areas": "대상 지역", "sim": "모의", "error": "자료를 불러오지 못했습니다. "
           "잠시 후 다시 시도합니다.", "city_status": "포항시 전체"},
    "en": {"exercise": "Simulated data — not the real situation",
           "exercise_more": "Made for exercises and demonstrations.", "sim_time": "simulated time", "speed": "speed",
           "updated": "Updated", "updated_real": "Updated (real time)", "district": "Neighbourhood",
           "status": "Status", "why": "Details",
           "all_ok": "nothing wrong in the public indicators", "no_data": "no public indicator reports here",
           "now": "now", "high": "24 h high", "low": "24 h low", "highest_place": "highest place each hour",
           "lowest_place": "lowest place each hour", "where": "at", "no_history": "no data in the past 24 hours",
           "no_messages": "No disaster text message in the past 24 hours.", "hours": "time",
           "places": "{k} of {n} places reporting", "areas": "Areas", "sim": "simulated",
           "error": "Could not load the data; trying again shortly.", "city_status": "All of Pohang"},
}


def install(app: FastAPI) -> None:
    """Add `/public`: its HTML depends only on the language and this build, so it is made once per language and
    served from memory with a strong ETag. Unlike the staff pages (shell.page: no-cache, because a page names its
    build), /public may be kept by any cache for one period: an old build's page still loads, since the asset route
    serves an old build's URL with the current content, and the data comes from the API, which is fresh per period.
    In a typhoon the crowd then mostly costs a 304 or nothing at all."""
    ctx = app.state.ctx
    # The shell reads only the app's build from a request: one without a client stands for every asker.
    stand_in = Request({"type": "http", "app": app, "headers": []})

    async def html(lang: str) -> bytes:
        return bytes(_page(stand_in, lang).body)

    app.state.public_page = Cached(html, ctx.settings.public_cache, "text/html; charset=utf-8")
    app.include_router(router)


def _legend(lang: str) -> str:
    items = "".join(f'<li><span class="swatch st-{s.id}" aria-hidden="true">{s.mark}</span>'
                    f"{escape(s.ko if lang == 'ko' else s.en)}</li>" for s in status.SCALE)
    return f'<ul class="legend">{items}</ul>'


def _footer(request: Request, lang: str) -> str:
    ctx = request.app.state.ctx
    t = TEXT[lang]
    inds = public_state.public_indicators(ctx.catalog)
    sources = ", ".join(escape(s) for s in dict.fromkeys(i.source for i in inds))
    licences = []
    for lic_id in dict.fromkeys(i.licence for i in inds):
        lic = LICENCES[lic_id]
        name = escape(lic.name_ko if lang == "ko" else lic.name_en)
        licences.append(f'<a href="{escape(lic.url)}">{name}</a>' if lic.url else name)
    return (f'<footer><p><b>{t["footer_sources"]}</b>: {sources}</p>'
            f'<p><b>{t["footer_licence"]}</b>: {", ".join(licences)}</p>'
            f'<p>{t["footer_note"].format(s=round(ctx.settings.public_cache))}</p></footer>')


def _page(request: Request, lang: str) -> HTMLResponse:
    ctx = request.app.state.ctx
    catalog = ctx.catalog
    t = TEXT[lang]
    city = catalog.city.name_ko if lang == "ko" else catalog.city.name_en
    other = "en" if lang == "ko" else "ko"
    sections = (("now", t["now"]), ("map", t["map"]), ("districts", t["districts"]), ("trends", t["trends"]),
                ("messages", t["messages"]))
    nav = "".join(f'<li><a href="#{k}">{escape(v)}</a></li>' for k, v in sections)
    body = (
        f'<a class="skip" href="#main">{t["skip"]}</a>'
        f'<header class="top"><h1>{escape(city)} {t["title"]}</h1>'
        f'<a class="lang" href="/public?lang={other}" lang="{other}" hreflang="{other}">{t["lang"]}</a></header>'
        '<div id="exercise" class="exercise" role="status" hidden></div>'
        f'<nav aria-label="{t["nav"]}"><ul>{nav}</ul></nav>'
        f'<main id="main" tabindex="-1"><p class="intro">{t["intro"]}</p>'
        f'<section id="now" aria-labelledby="h-now"><h2 id="h-now">{t["now"]}</h2>'
        f'<div id="overall"><p>{t["loading"]}</p></div><p class="updated" id="updated" aria-live="polite"></p>'
        '</section>'
        f'<section id="map" aria-labelledby="h-map"><h2 id="h-map">{t["map"]}</h2>'
        f'<figure><div id="map-view" class="map" role="img" aria-label="{escape(t["map_alt"])}">'
        # Vega sets a role and a label of its own on the box it draws in: it draws inside, the label stays ours.
        '<div class="target" aria-hidden="true"></div></div>'
        f'<figcaption><span class="visually-hidden">{t["legend"]}: </span>{_legend(lang)}</figcaption></figure>'
        '</section>'
        f'<section id="districts" aria-labelledby="h-districts"><h2 id="h-districts">{t["districts"]}</h2>'
        '<div id="district-table"></div></section>'
        f'<section id="trends" aria-labelledby="h-trends"><h2 id="h-trends">{t["trends"]}</h2>'
        '<div id="cards"></div></section>'
        f'<section id="messages" aria-labelledby="h-messages"><h2 id="h-messages">{t["messages"]}</h2>'
        '<div id="message-list"></div></section>'
        f'</main>{_footer(request, lang)}'
    )
    seeds = ctx.settings.seeds
    data = {"words": WORDS[lang], "statuses": status.table(), "every_s": ctx.settings.public_cache,
            "map": public_charts.district_map(catalog, seeds),
            "line": public_charts.day_line(WORDS[lang]["hours"])}
    return shell.page(request, lang=lang, title=f"{city} {t['title']}", styles=["desk.css", "public.css"],
                      scripts=["vendor/vega.min.js", "vendor/vega-lite.min.js", "vendor/vega-embed.min.js",
                               "public.js"], body=body, data=data, inline_style=status.css())


@router.get("/public", response_class=HTMLResponse, include_in_schema=False)
async def public_page(request: Request, lang: Lang = "ko") -> Response:
    return await request.app.state.public_page.respond(request, lang)
