"""The data page for officials `/data` (Korean first, `?lang=en`): choose indicators, an area and a period, see a
chart and a table of the history API's figures, and download them; the URL holds the whole query."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse

from situationroom import keys
from situationroom.catalog import Catalog, Indicator
from situationroom.events import NONE, Events
from situationroom.web import clearance, data_charts, desk, shell
from situationroom.web.data_text import TEXT

router = APIRouter()
Lang = Annotated[Literal["ko", "en"], Query(description="language of the page: ko (default) or en")]
AREA_KINDS = ("gu", "dong")
"""The areas a query may name (the history API's `gu` and `district`); the city is the third choice, always there."""


def install(app: FastAPI) -> None:
    """Add `/data` (its style and script come from the wall's asset route, under the same build)."""
    app.include_router(router)


def _name(obj: Any, lang: str) -> str:
    return str(obj.name_ko if lang == "ko" else obj.name_en)


def areas_of(catalog: Catalog, indicator: str) -> list[str]:
    """The gu and 행정동 where an indicator has entities: what the history API accepts as its `gu` or `district`."""
    found: set[str] = set()
    for eid in catalog.entities_of(indicator):
        entity = catalog.entities[eid]
        for area in (eid, entity.district, catalog.gu_of(eid)):
            if area in catalog.entities and catalog.entities[area].kind in AREA_KINDS:
                found.add(area)
    return sorted(found)


def city_entities(catalog: Catalog, indicator: str) -> list[str]:
    """What "the whole city" is for an indicator: the city's own figure when it has one, else every entity of it."""
    measured = catalog.entities_of(indicator)
    own = [e for e in measured if catalog.entities[e].kind == "city"]
    return own[:1] or list(measured)


async def data_kinds(client: Any, catalog: Catalog) -> dict[str, tuple[bool, bool]]:
    """Per indicator, whether it has real and exercise data live now: the form then starts on the data there is (a
    demo site, or a city before its first real collector, holds exercise data only)."""
    pipe = client.pipeline(transaction=False)
    for iid in catalog.indicators:
        pipe.exists(keys.live(iid))
        pipe.exists(keys.live(iid, exercise=True))
    found = await pipe.execute()
    return {iid: (bool(found[2 * n]), bool(found[2 * n + 1])) for n, iid in enumerate(catalog.indicators)}


def _indicator(catalog: Catalog, people: Any, ind: Indicator, withheld: bool, lang: str,
               kinds: tuple[bool, bool] = (False, False)) -> dict[str, Any]:
    out: dict[str, Any] = {"id": ind.id, "name": _name(ind, lang), "unit": ind.unit if lang == "ko" else ind.unit_en,
                           "decimals": ind.decimals, "withheld": withheld, "reason": None, "readers": None,
                           "real": kinds[0], "exercise": kinds[1]}
    if ind.restricted is not None:
        depts = [people.departments.get(d) for d in ind.restricted.departments]
        out["readers"] = ", ".join(_name(d, lang) if d is not None else dept
                                   for d, dept in zip(depts, ind.restricted.departments, strict=True))
        out["reason"] = ind.restricted.reason_ko if lang == "ko" else ind.restricted.reason_en
    if not withheld:
        out["areas"] = areas_of(catalog, ind.id)
        out["city"] = city_entities(catalog, ind.id)
    return out


def _event(event: Any, lang: str) -> dict[str, Any]:
    return {"id": event.id, "name": _name(event, lang), "label": event.label(lang), "dataset": event.dataset,
            "from": event.start.isoformat(), "to": event.end.isoformat()}


def page_data(request: Request, record: Any, lang: str,
              kinds: dict[str, tuple[bool, bool]] | None = None) -> dict[str, Any]:
    """What data.js needs: the domains with their indicators as this caller may use them, the areas, the named
    events, the chart's spec and the words."""
    catalog: Catalog = request.app.state.ctx.catalog
    people = request.app.state.notify.people
    hidden = clearance.hidden(request, record)
    events: Events = getattr(request.app.state, "events", NONE)
    tz = ZoneInfo(catalog.city.timezone)
    domains = []
    for domain in catalog.domains.values():
        inds = [_indicator(catalog, people, i, i.id in hidden, lang, (kinds or {}).get(i.id, (False, False)))
                for i in catalog.indicators.values() if i.domain == domain.id]
        if inds:
            domains.append({"id": domain.id, "name": _name(domain, lang), "indicators": inds})
    gus = [{"id": g.id, "name": _name(g, lang)} for g in catalog.entities_of_kind("gu")]
    dongs = sorted(({"id": d.id, "name": _name(d, lang), "gu": catalog.gu_of(d.id)}
                    for d in catalog.entities_of_kind("dong")), key=lambda d: d["name"])
    zone = datetime.now(tz).tzname() or catalog.city.timezone
    return {"labels": TEXT[lang], "lang": lang, "tz": catalog.city.timezone, "zone": zone,
            "city": _name(catalog.city, lang),
            "domains": domains, "gus": gus, "dongs": dongs,
            "entities": {e.id: _name(e, lang) for e in catalog.entities.values()},
            "events": [_event(e, lang) for e in events],
            "spec": data_charts.timeseries(TEXT[lang]["time_axis"].format(zone=zone), lang)}


def _select(name: str, label: str, options: list[tuple[str, str]]) -> str:
    opts = "".join(f'<option value="{escape(v)}">{escape(text)}</option>' for v, text in options)
    return f'<label class="field" for="f-{name}">{label}</label><select id="f-{name}" name="{name}">{opts}</select>'


def _form(t: dict[str, str]) -> str:
    """The query form; data.js fills the lists that depend on the choices (indicators, areas, presets)."""
    resolutions = [(r, t[f"res_{r}"]) for r in ("raw", "1m", "1h", "1d")]
    aggregates = [("", t["agg_none"])] + [(a, t[f"agg_{a}"]) for a in ("mean", "min", "max", "sum")]
    return (
        f'<form id="query" class="query" aria-label="{t["form"]}">'
        f'<div class="group">{_select("domain", t["domain"], [])}</div>'
        f'<fieldset class="group indicators"><legend>{t["indicators"]}</legend><div id="f-indicators"></div>'
        "</fieldset>"
        f'<div class="group">{_select("area", t["area"], [])}</div>'
        f'<div class="group">{_select("preset", t["period"], [])}'
        f'<div class="dates"><label for="f-from">{t["from"]}</label><input type="date" id="f-from" name="from">'
        f'<label for="f-to">{t["to"]}</label><input type="date" id="f-to" name="to"></div></div>'
        f'<div class="group">{_select("resolution", t["resolution"], resolutions)}'
        f'{_select("aggregate", t["aggregate"], aggregates)}'
        f'{_select("mode", t["mode"], [("real", t["mode_real"]), ("exercise", t["mode_exercise"])])}</div>'
        f'<div class="group actions"><button type="submit">{t["show"]}</button></div></form>'
    )


@router.get("/data", response_class=HTMLResponse, include_in_schema=False)
async def data_page(request: Request, lang: Lang = "ko") -> HTMLResponse:
    ctx = request.app.state.ctx
    catalog: Catalog = ctx.catalog
    t = TEXT[lang]
    record = await desk.caller(request)
    may_read = record is not None or ctx.settings.public_read
    city = _name(catalog.city, lang)
    body = (desk.title_bar("/data", f"{city} — {t['title']}", record, lang, t)
            + f'<main><p class="intro">{t["intro"]}</p>'
            + (f'<p class="notice">{t["no_read"]}</p>' if not may_read else "")
            + desk.login_form(t)
            + '<div class="layout">' + _form(t)
            + '<section class="result" aria-labelledby="r-title"><h2 id="r-title">' + t["result"] + "</h2>"
              '<p id="problem" class="problem" role="alert" hidden></p>'
              '<p id="simclock" class="band" hidden></p><p id="exercise" class="band" hidden></p>'
              '<p id="summary" class="summary"></p>'
              f'<div id="charts" class="charts" aria-label="{t["chart"]}"></div>'
              f'<div class="downloads" id="downloads" aria-label="{t["download"]}" hidden></div>'
              f'<div class="table-box" id="table-box" tabindex="0" aria-label="{t["table"]}" hidden></div>'
              "</section></div></main>")
    return shell.page(request, lang=lang, title=f"{city} — {t['title']}", styles=["desk.css", "data.css"],
                      scripts=["vendor/vega.min.js", "vendor/vega-lite.min.js", "vendor/vega-embed.min.js",
                               "session.js", "citytime.js", "data.js"],
                      body=body, data=page_data(request, record, lang, await data_kinds(ctx.client, catalog)))
