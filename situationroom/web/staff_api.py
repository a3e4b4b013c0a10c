"""Subscriptions (own only unless admin), who am I, my in-app inbox, people and channels, dead deliveries."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import Response

from situationroom.access import may_manage_subscription
from situationroom.errors import ConfigError
from situationroom.notify import deadletter as deadletter_mod
from situationroom.notify import inbox as inbox_mod
from situationroom.notify.channels.base import Channel, ChannelContext
from situationroom.notify.channels.config import describe, load_channels
from situationroom.notify.people import People, check_restricted, load_people
from situationroom.notify.subscriptions import (
    Store,
    Subscription,
    SubscriptionIn,
    check,
    new_id,
    not_told,
    seed_once,
)
from situationroom.web import schemas
from situationroom.web.auth import audited, require
from situationroom.web.errors import ApiError, documented
from situationroom.web.jsonio import JSON, JSONBodyRoute

log = logging.getLogger(__name__)

Reader = Annotated[Any, Depends(require("read"))]
Staff = Annotated[dict[str, Any], Depends(require("staff"))]
Operator = Annotated[dict[str, Any], Depends(require("operate"))]
READ_ERRORS = (401, 403, 422, 503)
BODY_ERRORS = (400, 413, 415, 422)


@dataclass
class NotifyInfo:
    """What the web role knows of notifications: the people, and the channels by id (never started here)."""

    people: People
    channels: dict[str, Channel]


@contextlib.asynccontextmanager
async def _seeding(app: FastAPI) -> AsyncIterator[None]:
    # The web role may start before the notify role: staff should find their subscriptions either way.
    ctx, info = app.state.ctx, app.state.notify
    try:
        await seed_once(ctx.client, ctx.settings.seeds / "subscriptions.yaml", info.people, ctx.catalog,
                        set(info.channels))
    except ConfigError as exc:
        log.error("seed subscriptions not loaded:\n%s", exc)
    yield


router = APIRouter(lifespan=_seeding, route_class=JSONBodyRoute)


def install(app: FastAPI) -> None:
    """Load people and channels of the site (errors stop the start, naming file and line) and add the API."""
    ctx = app.state.ctx
    people = load_people(ctx.settings.seeds)
    check_restricted(people, ctx.catalog)  # who may read a restricted indicator must name real departments
    channels: dict[str, Channel] = {}
    if ctx.settings.channels_file.is_file():
        channels = load_channels(ctx.settings.channels_file, ChannelContext(ctx.client, ctx.catalog, ctx.settings))
    app.state.notify = NotifyInfo(people, channels)
    app.include_router(router)


def _info(request: Request) -> NotifyInfo:
    return request.app.state.notify


_may_manage = may_manage_subscription


def _owned(record: dict[str, Any], sub: Subscription, people: People) -> Subscription:
    if not _may_manage(record, sub.owner, people):
        raise ApiError(403, "this subscription belongs to someone else; staff see and change only their own",
                       field="id", value=sub.id)
    return sub


def _checked(request: Request, sub: SubscriptionIn) -> None:
    ctx, info = request.app.state.ctx, _info(request)
    # A restricted indicator the owner may not be told of is not theirs to watch (403); anything else unknown, 422.
    for status, problems in ((403, not_told(sub, info.people, ctx.catalog)),
                             (422, check(sub, info.people, ctx.catalog, set(info.channels)))):
        if problems:
            fld, value, message = problems[0]
            raise ApiError(status, message, field=fld, value=value)


async def _get(request: Request, sid: str) -> Subscription:
    sub = await Store(request.app.state.ctx.client).get(sid)
    if sub is None:
        raise ApiError(404, "no such subscription", field="id", value=sid)
    return sub


# ---------------------------------------------------------------------------------------------- who am I

@router.get("/api/v1/staff/me", response_class=JSON, tags=["staff"], response_model=schemas.MeOut,
            responses=documented(*READ_ERRORS),
            summary="The staff member a token belongs to: names, department, contacts, the channels they can use")
async def me(request: Request, record: Staff) -> JSON:
    info = _info(request)
    member = info.people.staff.get(record.get("staff") or "")
    out: dict[str, Any] = {"role": record["role"], "name": record["name"], "scopes": sorted(record["scopes"]),
                           "staff": None, "department": None, "heads": []}
    if member is not None:
        dept = info.people.departments.get(member.department)
        out["staff"] = member.model_dump()
        out["department"] = dept.model_dump(exclude={"contacts"}) if dept else None
        out["heads"] = [d.id for d in info.people.departments.values() if d.head == member.id]
    usable = []
    for c in describe(info.channels):
        contacts = member.contacts if member else {}
        c["usable"] = c["enabled"] and (c["contact"] is None or c["contact"] in contacts)
        usable.append(c)
    out["channels"] = usable
    return JSON(out)


@router.get("/api/v1/staff/me/inbox", response_class=JSON, tags=["staff"], response_model=schemas.InboxOut,
            responses=documented(*READ_ERRORS), summary="My in-app notifications (and my department's), newest first")
async def inbox(request: Request, record: Staff,
                limit: Annotated[int, Query(ge=1, le=500, description="entries at most")] = 100) -> JSON:
    info = _info(request)
    me_id = record.get("staff")
    if not me_id:
        return JSON({"items": []})
    owners = [me_id, *info.people.departments_of(me_id)]
    return JSON({"items": await inbox_mod.read(request.app.state.ctx.client, owners, limit)})


@router.get("/api/v1/people", response_class=JSON, tags=["staff"], response_model=schemas.PeopleOut,
            responses=documented(401, 403), summary="Departments and staff (names, roles, department; never contacts)")
async def people(request: Request, _: Reader) -> JSON:
    info = _info(request)
    return JSON({
        "departments": [d.model_dump(exclude={"contacts"}) for d in info.people.departments.values()],
        "staff": [s.model_dump(include={"id", "name_ko", "name_en", "department", "role_ko", "role_en"})
                  for s in info.people.staff.values()],
        "escalation": info.people.escalation,
    })


@router.get("/api/v1/channels", response_class=JSON, tags=["staff"], response_model=schemas.ChannelsOut,
            responses=documented(401, 403, 503),
            summary="Notification channels: id, kind, names, whether they can send (never an address or secret)")
async def channels(request: Request, _: Reader) -> JSON:
    return JSON({"channels": describe(_info(request).channels)})


# ---------------------------------------------------------------------------------------------- subscriptions

@router.get("/api/v1/subscriptions", response_class=JSON, tags=["subscriptions"],
            response_model=schemas.SubscriptionsOut, responses=documented(*READ_ERRORS),
            summary="My subscriptions (an admin sees everyone's; `owner` filters)")
async def list_subscriptions(request: Request, record: Staff,
                             owner: Annotated[str | None, Query(description="staff or department id")] = None) -> JSON:
    info = _info(request)
    subs = await Store(request.app.state.ctx.client).all()
    if owner is not None and not _may_manage(record, owner, info.people):
        raise ApiError(403, "staff see only their own subscriptions", field="owner", value=owner)
    out = [s for s in subs if _may_manage(record, s.owner, info.people) and (owner is None or s.owner == owner)]
    return JSON({"subscriptions": [s.model_dump(mode="json") for s in out]})


@router.post("/api/v1/subscriptions", response_class=JSON, status_code=201, tags=["subscriptions"],
             response_model=Subscription, responses=documented(409, *READ_ERRORS, *BODY_ERRORS),
             summary="Subscribe: filters, minimum severity, channels, quiet hours (owner: me unless admin)")
async def create_subscription(request: Request, body: SubscriptionIn, record: Staff) -> JSON:
    info = _info(request)
    owner = body.owner or record.get("staff")
    if not owner:
        raise ApiError(422, "this token belongs to no staff member: give `owner`", field="owner", value=None)
    if not _may_manage(record, owner, info.people):
        raise ApiError(403, "staff subscribe only themselves", field="owner", value=owner)
    data = body.model_dump()
    data.update(owner=owner, id=body.id or new_id(), updated=time.time())
    sub = Subscription.model_validate(data)
    _checked(request, sub)
    if not await Store(request.app.state.ctx.client).create(sub):
        raise ApiError(409, "a subscription with this id exists", field="id", value=sub.id)
    await audited(request, record, "subscription.create", target=sub.id, detail=sub.model_dump(mode="json"))
    return JSON(sub.model_dump(mode="json"), status_code=201)


@router.get("/api/v1/subscriptions/{sid}", response_class=JSON, tags=["subscriptions"],
            response_model=Subscription, responses=documented(404, *READ_ERRORS), summary="One of my subscriptions")
async def get_subscription(request: Request, sid: str, record: Staff) -> JSON:
    sub = _owned(record, await _get(request, sid), _info(request).people)
    return JSON(sub.model_dump(mode="json"))


@router.put("/api/v1/subscriptions/{sid}", response_class=JSON, tags=["subscriptions"],
            response_model=Subscription, responses=documented(404, *READ_ERRORS, *BODY_ERRORS),
            summary="Change one of my subscriptions (the whole of it)")
async def put_subscription(request: Request, sid: str, body: SubscriptionIn, record: Staff) -> JSON:
    info = _info(request)
    old = _owned(record, await _get(request, sid), info.people)
    if body.id is not None and body.id != sid:
        raise ApiError(422, "the id cannot change", field="id", value=body.id)
    owner = body.owner or old.owner
    if owner != old.owner and not _may_manage(record, owner, info.people):
        raise ApiError(403, "staff cannot give a subscription to someone else", field="owner", value=owner)
    data = body.model_dump()
    data.update(id=sid, owner=owner, updated=time.time())
    sub = Subscription.model_validate(data)
    _checked(request, sub)
    await Store(request.app.state.ctx.client).put(sub)
    await audited(request, record, "subscription.update", target=sid,
                  detail={"before": old.model_dump(mode="json"), "after": sub.model_dump(mode="json")})
    return JSON(sub.model_dump(mode="json"))


@router.delete("/api/v1/subscriptions/{sid}", status_code=204, tags=["subscriptions"],
               responses=documented(404, *READ_ERRORS), summary="Delete one of my subscriptions")
async def delete_subscription(request: Request, sid: str, record: Staff) -> Response:
    old = _owned(record, await _get(request, sid), _info(request).people)
    await Store(request.app.state.ctx.client).delete(sid)
    await audited(request, record, "subscription.delete", target=sid, detail=old.model_dump(mode="json"))
    return Response(status_code=204)


# ---------------------------------------------------------------------------------------------- operators

@router.get("/api/v1/notify/deadletter", response_class=JSON, tags=["staff"],
            response_model=schemas.DeadDeliveriesOut, responses=documented(*READ_ERRORS),
            summary="Deliveries that failed their last attempt, newest first, with the reason")
async def deadletter(request: Request, _: Operator,
                     limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> JSON:
    return JSON({"deadletter": await deadletter_mod.newest(request.app.state.ctx.client, limit)})
