"""The data catalogue's page `/catalog` (Korean first, `?lang=en`): every indicator, its terms and who may read it."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse

from situationroom.catalog import Catalog
from situationroom.web import catalog_api, desk, shell

router = APIRouter()
Lang = Annotated[Literal["ko", "en"], Query(description="language of the page: ko (default) or en")]

TEXT = {
    "ko": {"title": "데이터 목록",
           "intro": "상황실이 모으는 모든 지표와 그 출처, 갱신 주기, 이용 조건, 열람 범위입니다. 열람이 제한된 "
                    "지표도 목록에는 보이지만, 값과 기간은 열람할 수 있는 사람에게만 보입니다.",
           "indicator": "지표", "unit": "단위", "source": "출처", "interval": "갱신 주기", "licence": "이용 조건",
           "access": "열람 범위", "first": "첫 자료", "last": "마지막 자료", "public": "시민 공개",
           "officials": "공무원", "departments": "부서 한정", "withheld": "열람 권한 없음", "none": "없음",
           "exercise": "훈련", "signed_in": "로그인: {name} ({role})", "signed_out": "로그인하지 않음",
           "sign_in": "로그인", "sign_out": "로그아웃", "token": "토큰", "filter": "지표 찾기",
           "no_read": "이 서버는 읽기에 토큰이 필요합니다: 로그인하면 값과 기간이 보입니다.", "every": "마다",
           "operators": "운영자·관리자", "lang": "English", "count": "지표 {n}개"},
    "en": {"title": "Data catalogue", "intro": "Every indicator the situation room collects, with its source, update "
                                               "interval, terms of use and who may read it. Restricted indicators are "
                                               "listed too; their figures and dates only for those who may read them.",
           "indicator": "Indicator", "unit": "Unit", "source": "Source", "interval": "Updated", "licence": "Licence",
           "access": "Who may read", "first": "First data", "last": "Last data", "public": "Citizens",
           "officials": "Officials", "departments": "Departments only", "withheld": "not yours to read",
           "none": "none", "exercise": "exercise", "signed_in": "Signed in: {name} ({role})",
           "signed_out": "Not signed in", "sign_in": "Sign in", "sign_out": "Sign out", "token": "Token",
           "filter": "Find an indicator", "no_read": "This server needs a token to read: sign in to see figures "
                                                     "and dates.", "every": "every", "operators": "operators, admins",
           "lang": "한국어", "count": "{n} indicators"},
}


COLUMNS = "<colgroup>" + "".join(f'<col class="c-{c}">' for c in (
    "indicator", "unit", "source", "interval", "licence", "access", "first", "last")) + "</colgroup>"
"""The same column widths in every domain's table (catalog.css), so the columns line up down the page."""


def install(app: FastAPI) -> None:
    """Add `/catalog` (its style and script come from the wall's asset route, under the same build)."""
    app.include_router(router)


def _when(value: str | None, exercise: bool, tz: ZoneInfo, t: dict[str, str]) -> str:
    if value is None:
        return f'<span class="muted">{t["none"]}</span>'
    local = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(tz)
    tag = f' <span class="tag exercise">{t["exercise"]}</span>' if exercise else ""
    return f'<time datetime="{escape(value)}">{local:%Y-%m-%d %H:%M}</time>{tag}'


def _every(seconds: float, lang: str) -> str:
    """An update interval as people say it: 10분, 1시간, 1일 / 10 min, 1 h, 1 day."""
    units = (("일", "day"), 86400), (("시간", "h"), 3600), (("분", "min"), 60), (("초", "s"), 1)
    for (ko, en), size in units:
        if seconds >= size and seconds % size == 0:
            n = int(seconds // size)
            return f"{n}{ko}" if lang == "ko" else f"{n} {en}{'s' if en == 'day' and n > 1 else ''}"
    return f"{seconds:g}초" if lang == "ko" else f"{seconds:g} s"


def _access(ds: dict[str, Any], lang: str, t: dict[str, str]) -> str:
    kind = ds["dct:accessRights"]
    label = f'<span class="tag {kind}">{t[kind]}</span>'
    if kind != "departments":
        return label
    names = ", ".join(escape(d[lang] or d["id"]) for d in ds["restricted_to"])
    return f'{label}<div class="readers">{names}, {t["operators"]}</div>'


def _reason(ds: dict[str, Any], lang: str) -> str:
    """Why an indicator is restricted, under its name, where a reader looks for what it is."""
    reason = (ds.get("restriction_reason") or {}).get(lang)
    return f'<p class="reason">{escape(reason)}</p>' if reason else ""


def _row(ds: dict[str, Any], lang: str, tz: ZoneInfo, t: dict[str, str]) -> str:
    title = ds["dct:title"][lang]
    # A description written in one language only is shown in it, marked so a screen reader reads it right.
    desc_lang = lang if ds["dct:description"][lang] else ("en" if lang == "ko" else "ko")
    desc = ds["dct:description"][desc_lang] or ""
    lic = ds["dct:license"]
    licence = (f'<a href="{escape(lic["url"])}">{escape(lic[lang])}</a>' if lic["url"] else escape(lic[lang]))
    if ds["withheld"]:
        dates = f'<td colspan="2" class="withheld">{t["withheld"]}</td>'
    else:
        span = ds["dct:temporal"]
        dates = (f'<td>{_when(span["dcat:startDate"], span["start_exercise"], tz, t)}</td>'
                 f'<td>{_when(span["dcat:endDate"], span["end_exercise"], tz, t)}</td>')
    interval = _every(ds["interval_s"], lang)
    words = f'{title} {ds["dct:identifier"]} {ds["dct:source"]} {desc}'.lower()
    return (f'<tr id="{escape(ds["dct:identifier"])}" data-words="{escape(words)}">'
            f'<th scope="row"><div class="name">{escape(title)}</div><code>{escape(ds["dct:identifier"])}</code>'
            f'{f"<p lang={desc_lang!r}>{escape(desc)}</p>" if desc else ""}{_reason(ds, lang)}</th>'
            f'<td>{escape(ds["unit"][lang])}</td><td>{escape(ds["dct:source"])}</td>'
            f'<td><abbr title="{escape(ds["dcat:temporalResolution"])}">{escape(interval)}</abbr></td>'
            f"<td>{licence}</td><td>{_access(ds, lang, t)}</td>{dates}</tr>")


@router.get("/catalog", response_class=HTMLResponse, include_in_schema=False)
async def catalog_page(request: Request, lang: Lang = "ko") -> HTMLResponse:
    ctx = request.app.state.ctx
    catalog: Catalog = ctx.catalog
    t = TEXT[lang]
    record = await desk.caller(request)
    may_read = record is not None or ctx.settings.public_read
    data = await catalog_api.build(request, record)
    if not may_read:
        data["dcat:dataset"] = [{**ds, "withheld": True} for ds in data["dcat:dataset"]]
    tz = ZoneInfo(catalog.city.timezone)
    city = catalog.city.name_ko if lang == "ko" else catalog.city.name_en
    sections = []
    for domain in catalog.domains.values():
        rows = [_row(ds, lang, tz, t) for ds in data["dcat:dataset"] if ds["dcat:theme"]["id"] == domain.id]
        if not rows:
            continue
        name = domain.name_ko if lang == "ko" else domain.name_en
        head = "".join(f'<th scope="col">{t[k]}</th>' for k in ("indicator", "unit", "source", "interval",
                                                                "licence", "access", "first", "last"))
        sections.append(f'<section aria-labelledby="d-{domain.id}"><h2 id="d-{domain.id}">{escape(name)}</h2>'
                        f'<table>{COLUMNS}<thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
                        "</section>")
    body = (desk.title_bar("/catalog", f"{city} — {t['title']}", record, lang, t)
            + f'<main><p class="intro">{t["intro"]}</p>'
            + (f'<p class="notice">{t["no_read"]}</p>' if not may_read else "")
            + desk.login_form(t)
            + f'<div class="tools"><label>{t["filter"]} <input type="search" id="filter"></label>'
              f'<span class="count">{t["count"].format(n=len(data["dcat:dataset"]))}</span></div>'
            + "".join(sections) + "</main>")
    labels = {k: t[k] for k in ("sign_in", "sign_out")}
    return shell.page(request, lang=lang, title=f"{city} — {t['title']}", styles=["desk.css", "catalog.css"],
                      scripts=["session.js", "catalog.js"], body=body, data={"labels": labels})
