"""The alerts API: alerts (filter, history, deliveries, acknowledge), silences, rules, and the CAP 1.2 feed."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import Response

from situationroom import access
from situationroom.alerts import cap, store
from situationroom.alerts import silences as silences_mod
from situationroom.alerts.rules import RuleFiles
from situationroom.alerts.severity import BY_LEVEL
from situationroom.alerts.severity import HELP as SEVERITY_HELP
from situationroom.alerts.severity import parse as parse_severity
from situationroom.alerts.state import Alert
from situationroom.notify.subscriptions import Store as Subscriptions
from situationroom.web import clearance, schemas
from situationroom.web.auth import audited, require
from situationroom.web.errors import ApiError, documented
from situationroom.web.jsonio import JSON, JSONBodyRoute

router = APIRouter(route_class=JSONBodyRoute)
Reader = Annotated[Any, Depends(require("read"))]
Staff = Annotated[Any, Depends(require("staff"))]
READ_ERRORS = (401, 403, 422, 503)
STAFF_BODY_ERRORS = (400, 401, 403, 413, 415, 422, 503)


class Atom(Response):
    media_type = "application/atom+xml"


class CapXML(Response):
    media_type = cap.CAP_TYPE


def _ctx(request: Request) -> Any:
    return request.app.state.ctx


async def _alerts(request: Request) -> list[Alert]:
    """Every stored alert, with acknowledgements the alert role has not adopted yet."""
    return await store.read_alerts(_ctx(request).client)


def _wanted(a: Alert, state: str, min_level: int, equal: dict[str, str | None]) -> bool:
    if state == "active":
        if not a.active:
            return False
    elif state != "all" and a.state != state:
        return False
    if a.level < min_level:
        return False
    return all(value is None or getattr(a, name) == value for name, value in equal.items())


def _order(alerts: list[Alert]) -> list[Alert]:
    # Worst first, then the longest-standing: what a duty officer looks at first.
    return sorted(alerts, key=lambda a: (not a.active, -a.level, a.since))


@router.get("/api/v1/alerts", response_class=JSON, tags=["alerts"], response_model=schemas.AlertsOut,
            responses=documented(*READ_ERRORS),
            summary="Alerts, worst first; by default the active (pending and firing) ones")
async def list_alerts(
    request: Request, caller: Reader,
    state: Annotated[Literal["active", "firing", "pending", "resolved", "all"],
                     Query(description="active = pending or firing")] = "active",
    severity: Annotated[str | None, Query(description=f"minimum severity: {SEVERITY_HELP}")] = None,
    department: Annotated[str | None, Query(description="owning department id")] = None,
    domain: Annotated[str | None, Query(description="catalog domain id")] = None,
    district: Annotated[str | None, Query(description="district code: a gu covers its eup/myeon/dong")] = None,
    indicator: str | None = None,
    rule: str | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> JSON:
    min_level = 0
    if severity is not None:
        try:
            min_level = parse_severity(severity)
        except ValueError as exc:
            raise ApiError(422, str(exc), field="severity", value=severity) from None
    catalog = _ctx(request).catalog
    if domain is not None and domain not in catalog.domains:
        raise ApiError(422, f"unknown domain; domains: {', '.join(catalog.domains)}", field="domain", value=domain)
    out = []
    hidden = clearance.hidden(request, caller)
    for a in _order(await _alerts(request)):
        if a.indicator in hidden:
            continue  # the figures of a restricted indicator, for its readers only (docs/access.md)
        if not _wanted(a, state, min_level, {"department": department, "domain": domain, "indicator": indicator,
                                             "rule": rule}):
            continue
        if district and district not in (a.district, a.gu):
            continue
        out.append(a.public())
        if len(out) >= limit:
            break
    return JSON({"alerts": out, "count": len(out)})


@router.get("/api/v1/alerts/{fingerprint}", response_class=JSON, tags=["alerts"],
            response_model=schemas.AlertDetailOut, responses=documented(404, *READ_ERRORS),
            summary="One alert with its history and the notify role's deliveries")
async def get_alert(request: Request, fingerprint: str, caller: Reader) -> JSON:
    detail = await store.read_detail(_ctx(request).client, fingerprint)
    if detail is None:
        raise ApiError(404, "no such alert", field="fingerprint", value=fingerprint)
    _check_indicator(request, caller, detail.alert.indicator)
    return JSON({"alert": detail.alert.public(), "history": detail.history, "deliveries": detail.deliveries})


@router.post("/api/v1/alerts/{fingerprint}/ack", response_class=JSON, tags=["alerts"], response_model=schemas.AckOut,
             responses=documented(404, 409, *STAFF_BODY_ERRORS),
             summary="Acknowledge an alert: no more repeats or escalation for this episode (staff)")
async def acknowledge(request: Request, fingerprint: str, record: Staff,
                      body: Annotated[schemas.AckIn | None, Body()] = None) -> JSON:
    ctx = _ctx(request)
    alert = await store.read_alert(ctx.client, fingerprint)
    if alert is None:
        raise ApiError(404, "no such alert", field="fingerprint", value=fingerprint)
    if not alert.active:
        raise ApiError(409, f"the alert is {alert.state}; only a pending or firing alert can be acknowledged",
                       field="fingerprint", value=fingerprint)
    w = _who(request, record)
    if not w.any_alert:
        _allowed(access.check_ack, w, alert.public(), await Subscriptions(ctx.client).all(), ctx.catalog)
    if alert.acked is not None:
        return JSON({"alert": alert.public(), "already": True})
    comment = body.comment if body else None
    # Published with it, so every wall and staff page shows it without waiting for the alert role.
    await store.acknowledge(ctx.client, alert, w.actor, comment, updates_maxlen=ctx.settings.updates_maxlen)
    await audited(request, record, "alert.ack", target=fingerprint,
                  detail={"rule": alert.rule, "entity": alert.entity, "department": alert.department,
                          "episode": alert.episode, "comment": comment})
    return JSON({"alert": alert.public(), "already": False})


# ------------------------------------------------------------------------------------------ silences

@router.get("/api/v1/silences", response_class=JSON, tags=["alerts"], summary="Silences with their state",
            response_model=schemas.SilencesOut, responses=documented(*READ_ERRORS))
async def list_silences(request: Request, _: Reader,
                        state: Literal["active", "pending", "expired", "all"] = "all") -> JSON:
    ctx = _ctx(request)
    tz = _tz(ctx)
    now = time.time()
    out = [silences_mod.public(s, now, tz) for s in (await store.read_silences(ctx.client)).values()]
    if state != "all":
        out = [s for s in out if s["state"] == state]
    return JSON({"silences": sorted(out, key=lambda s: s["created"], reverse=True)})


@router.post("/api/v1/silences", response_class=JSON, status_code=201, tags=["alerts"],
             response_model=schemas.SilenceCreated, responses=documented(*STAFF_BODY_ERRORS),
             summary="Silence the alerts whose labels match, for a duration or on a cron recurrence (staff)")
async def create_silence(request: Request, record: Staff, data: silences_mod.SilenceIn) -> JSON:
    ctx = _ctx(request)
    w = _who(request, record)
    now = time.time()
    alerts = await _alerts(request)
    plan = _allowed(access.check_silence, w, data, now, settings=ctx.settings, labels=await _labels(request),
                    people=request.app.state.notify.people,
                    subs=[] if w.any_alert else await Subscriptions(ctx.client).all(),
                    alerts=[a.public() for a in alerts], catalog=ctx.catalog)
    silence = silences_mod.create(data, w.actor, now, by_name=_names(request, w), role=w.role, token=w.name,
                                  department=plan.department)
    await store.add_silence(ctx.client, silence)
    matched = [a.fingerprint for a in alerts if a.active and silences_mod.matches(silence, a.labels_all())]
    await audited(request, record, "silence.create", target=silence["id"],
                  detail={k: silence.get(k) for k in ("matchers", "starts", "ends", "cron", "duration", "until",
                                                      "reason", "department")} | {"matching_alerts": len(matched)})
    return JSON({"silence": silences_mod.public(silence, now, _tz(ctx)), "matching_alerts": matched},
                status_code=201)


@router.delete("/api/v1/silences/{silence_id}", response_class=JSON, tags=["alerts"],
               response_model=schemas.SilenceChanged, responses=documented(404, 401, 403, 422, 503),
               summary="Expire a silence now (staff)")
async def expire_silence(request: Request, silence_id: str, record: Staff) -> JSON:
    ctx = _ctx(request)
    current = (await store.read_silences(ctx.client)).get(silence_id)
    if current is None:
        raise ApiError(404, "no such silence", field="silence_id", value=silence_id)
    _allowed(access.check_expire, _who(request, record), current)
    silence = await store.expire_silence(ctx.client, silence_id)
    if silence is None:
        raise ApiError(404, "no such silence", field="silence_id", value=silence_id)
    await audited(request, record, "silence.expire", target=silence_id,
                  detail={"matchers": silence["matchers"], "by": silence.get("by"),
                          "department": silence.get("department")})
    return JSON({"silence": silences_mod.public(silence, time.time(), _tz(ctx))})


def _check_indicator(request: Request, record: dict[str, Any] | None, indicator: str | None) -> None:
    """403 for an alert of a restricted indicator the caller may not read."""
    ind = _ctx(request).catalog.indicators.get(indicator or "")
    if ind is not None:
        clearance.check_read(request, record, ind)


def _who(request: Request, record: dict[str, Any]) -> access.Who:
    return access.who(record, request.app.state.notify.people)


def _names(request: Request, w: access.Who) -> dict[str, str] | None:
    member = request.app.state.notify.people.staff.get(w.staff or "")
    return {"ko": member.name_ko, "en": member.name_en} if member else None


def _allowed(check: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a check of the access policy; its refusal becomes the API's error."""
    try:
        return check(*args, **kwargs)
    except access.Refused as exc:
        raise ApiError(exc.status, exc.message, field=exc.field, value=exc.value) from None


async def _labels(request: Request) -> set[str]:
    """Labels a silence may match: the built-in ones and those the rules give their alerts."""
    published = await store.read_published_rules(_ctx(request).client)
    if published is not None and published.rules:
        specs = [summary.get("spec", {}) for summary in published.rules.values()]
    else:
        files = RuleFiles(_ctx(request).catalog, _ctx(request).settings)
        files.load()
        specs = [r.spec.model_dump() for r in files.rules.rules.values()]
    return set(silences_mod.BUILTIN_LABELS) | {k for spec in specs for k in (spec.get("labels") or {})}


def _tz(ctx: Any) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(ctx.catalog.city.timezone)


# ------------------------------------------------------------------------------------------ rules

@router.get("/api/v1/rules", response_class=JSON, tags=["alerts"], response_model=schemas.RulesOut,
            responses=documented(*READ_ERRORS), summary="The alert rules with the state of their alerts")
async def list_rules(request: Request, _: Reader) -> JSON:
    ctx = _ctx(request)
    published = await store.read_published_rules(ctx.client)
    running = published is not None
    if published is not None:
        errors = published.errors
        rules = list(published.rules.values())
    else:
        # No alert role has run on this Redis yet: show what it would run.
        files = RuleFiles(ctx.catalog, ctx.settings)
        files.load()
        errors = files.errors()
        rules = [r.summary() for r in files.rules.rules.values()]
    counts: dict[str, dict[str, Any]] = {}
    for a in await _alerts(request):
        if not a.active:
            continue
        c = counts.setdefault(a.rule, {"pending": 0, "firing": 0, "level": 0})
        c[a.state] += 1
        c["level"] = max(c["level"], a.level if a.state == "firing" else 0)
    for r in rules:
        c = counts.get(r["id"], {"pending": 0, "firing": 0, "level": 0})
        lv = c.pop("level")
        r["alerts"] = c
        r["state"] = "firing" if c["firing"] else "pending" if c["pending"] else "ok"
        r["severity"] = BY_LEVEL[lv].ko if lv else None
    rules.sort(key=lambda r: (r["state"] != "firing", r["state"] != "pending", r["id"]))
    return JSON({"rules": rules, "errors": errors, "evaluated": running})


# ------------------------------------------------------------------------------------------ CAP 1.2

def _cap_args(request: Request) -> tuple[str, str, str]:
    ctx = _ctx(request)
    sender = ctx.settings.cap_sender or f"situationroom@{ctx.catalog.city.id}"
    return sender, ctx.settings.cap_status, str(request.base_url)


async def _categories(request: Request) -> dict[str, str | None]:
    published = await store.read_published_rules(_ctx(request).client)
    rules = published.rules if published is not None else {}
    return {rid: summary.get("spec", {}).get("cap_category") for rid, summary in rules.items()}


@router.get("/api/v1/cap.xml", response_class=Atom, tags=["alerts"],
            responses=documented(*READ_ERRORS, answers_json=False),
            summary="CAP 1.2: an Atom feed of the city's firing alerts, each entry carrying its CAP message")
async def cap_feed(request: Request, caller: Reader) -> Response:
    sender, status, base = _cap_args(request)
    hidden = clearance.hidden(request, caller)
    alerts = [a for a in _order(await _alerts(request)) if a.state == "firing" and a.indicator not in hidden]
    body = cap.feed(alerts, _ctx(request).catalog, sender=sender, status=status, base=base,
                    categories=await _categories(request))
    return Response(body, media_type="application/atom+xml; charset=utf-8")


@router.get("/api/v1/cap/{fingerprint}.xml", response_class=CapXML, tags=["alerts"],
            responses=documented(404, *READ_ERRORS, answers_json=False),
            summary="CAP 1.2 message of one alert (Alert, Update after a change of severity, Cancel once resolved)")
async def cap_alert(request: Request, fingerprint: str, caller: Reader) -> Response:
    alert = await store.read_alert(_ctx(request).client, fingerprint)
    if alert is None or alert.fired is None:
        raise ApiError(404, "no such alert (or it never fired)", field="fingerprint", value=fingerprint)
    _check_indicator(request, caller, alert.indicator)
    sender, status, base = _cap_args(request)
    root = cap.document(alert, _ctx(request).catalog, sender=sender, status=status,
                        category=(await _categories(request)).get(alert.rule),
                        web=f"{base}api/v1/alerts/{fingerprint}")
    return Response(cap.to_xml(root), media_type=f"{cap.CAP_TYPE}; charset=utf-8")
