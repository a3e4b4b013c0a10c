"""What the HTTP API takes and answers, as pydantic models for OpenAPI: the handlers build their answers
themselves (orjson, no validation on the way out); these models say what those answers hold."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from situationroom.notify.subscriptions import Subscription
from situationroom.samples import MAX_INTERVAL_S, MIN_INTERVAL_S

Status = Literal["normal", "warning", "critical", "stale", "unknown"]


# ---------------------------------------------------------------------------------------------- push ingest

class SampleIn(BaseModel):
    """One pushed sample. Valid items are accepted; each invalid one is answered with its index, field and
    reason and kept in the dead-letter stream."""

    model_config = ConfigDict(extra="forbid")

    indicator: str = Field(min_length=1, description="indicator id from the catalog (GET /api/v1/indicators)")
    entity: str = Field(min_length=1, description="entity id the indicator is measured for")
    ts: float | str | None = Field(default=None, description="event time: epoch seconds (or ms), or ISO 8601 "
                                                             "with an offset; default the time of arrival")
    value: float | str = Field(description="a finite number (a numeric string is read as one)")
    interval: float | None = Field(default=None, ge=MIN_INTERVAL_S, le=MAX_INTERVAL_S,
                                   description="seconds between deliveries of this series, when it differs "
                                               "from the catalog's; staleness follows it (1 s .. 7 d)")
    source: str | None = Field(default=None, description="set by the token (`push:<token name>`): leave it out; "
                                                         "any other value is rejected")


class SamplesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    samples: list[SampleIn]


def samples_body() -> dict[str, Any]:
    """The request body of POST /api/v1/samples: `{"samples": [...]}` or the bare list."""
    item = SampleIn.model_json_schema()
    item.pop("title", None)
    whole = {"title": "SamplesIn", "type": "object", "additionalProperties": False, "required": ["samples"],
             "properties": {"samples": {"type": "array", "items": item}}}
    bare = {"title": "SampleList", "type": "array", "items": item}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": {"oneOf": [whole, bare]}}}}}


class Rejected(BaseModel):
    index: int = Field(description="position of the item in the batch")
    field: str = Field(description="the field that is wrong (`item` when the item is not an object)")
    reason: str
    value: Any = Field(description="the value given; one longer than 1 KB is cut to a string of its start")
    value_bytes: int | None = Field(default=None, description="the length of a value that was cut")


class PushOut(BaseModel):
    accepted: int
    rejected: list[Rejected]


# ---------------------------------------------------------------------------------------------- indicators

class Named(BaseModel):
    id: str
    name_ko: str
    name_en: str


class EntityNow(BaseModel):
    id: str
    value: float | None
    ts: float | None = Field(description="event time, epoch seconds")
    status: Status
    since: float | None = None
    interval_s: float | None = None
    exercise: bool = Field(default=False, description="the value is exercise (drill) data, not real (docs/exercise.md)")


class IndicatorInfo(BaseModel):
    id: str
    name_ko: str
    name_en: str
    unit: str
    domain: str
    interval_s: float
    source: str | None
    decimals: int | None
    thresholds: dict[str, Any] | None
    public: bool = Field(description="open to citizens (docs/data-sharing.md)")
    licence: str = Field(description="terms of reuse: kogl-1..kogl-4 (공공누리), internal or third-party")
    access: Literal["public", "officials", "departments"] = Field(
        description="who may read its figures: citizens, any official, or the departments in restricted_to")
    restricted_to: list[str] | None = Field(description="the departments whose staff (with operators and admins) "
                                                        "may read a restricted indicator")
    status: Status = Field(description="the worst status of its entities")
    counts: dict[str, int] = Field(description="entities per status")
    updated_at: float | None = Field(description="event time of its newest sample, epoch seconds")


class IndicatorNow(IndicatorInfo):
    withheld: bool = Field(default=False, description="a restricted indicator the caller may not read: listed, "
                                                      "with no figures")
    entities: list[EntityNow]


class IndicatorsOut(BaseModel):
    generated_at: float
    city: dict[str, Any]
    domains: list[dict[str, Any]]
    indicators: list[IndicatorNow]


class Window(BaseModel):
    count: int
    mean: float | None
    min: float | None
    max: float | None


class EntityDetail(EntityNow):
    kind: str
    name_ko: str
    name_en: str
    district: str | None
    thresholds: dict[str, Any] | None
    previous_status: str | None = None
    rate_per_min: float | None
    windows: dict[str, Window]


class IndicatorOut(IndicatorInfo):
    entities: list[EntityDetail]


class HistorySeriesOut(BaseModel):
    entity: str
    points: list[dict[str, Any]]


class HistoryOut(BaseModel):
    """A series' past (docs/history.md): the history store before `seam`, Redis from it, as one answer."""

    indicator: str
    entity: str | None = Field(description="the entity, when one was asked for")
    entities: list[str] = Field(description="every entity asked for (given, or in the district or gu)")
    resolution: Literal["raw", "1m", "1h", "1d"]
    aggregate: Literal["mean", "min", "max", "sum", "count", "last"] | None = None
    from_: float = Field(alias="from")
    to: float
    unit: str
    exercise: bool = Field(description="the points are of the exercise series (docs/exercise.md)")
    seam: float | None = Field(default=None, description="epoch seconds: samples before it come from the history "
                                                          "store, from it on from Redis")
    points: list[dict[str, Any]] = Field(description="one entity: raw {t, value}; buckets {t, count, sum, mean, min, "
                                                     "max, last}; with an aggregate {t, value, count} over every "
                                                     "entity asked for (t: epoch seconds, a bucket's start; 1d: the "
                                                     "city's local day)")
    series: list[HistorySeriesOut] | None = Field(default=None, description="several entities without an "
                                                                            "aggregate: each one's points")


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    redis: Literal["ok", "unreachable"]
    version: str


# ---------------------------------------------------------------------------------------------- alerts

class AlertOut(BaseModel):
    """An alert (docs/alerts.md): its rule, entity, state, severity, values, acknowledgement, silences."""

    fingerprint: str
    rule: str
    kind: str
    entity: str
    state: str
    level: int
    severity: str | None
    severity_en: str | None
    acked: dict[str, Any] | None
    silenced: list[str]
    exercise: bool = Field(default=False, description="raised by exercise data: marked [훈련] everywhere")


class AlertsOut(BaseModel):
    alerts: list[AlertOut]
    count: int


class AlertDetailOut(BaseModel):
    alert: AlertOut
    history: list[dict[str, Any]]
    deliveries: list[dict[str, Any]]


class AckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str | None = Field(default=None, max_length=1000)


class AckOut(BaseModel):
    alert: AlertOut
    already: bool = Field(description="the episode was acknowledged before (by whoever `alert.acked` names)")


class SilenceOut(BaseModel):
    id: str
    matchers: dict[str, str]
    reason: str
    state: Literal["active", "pending", "expired"]
    window: dict[str, Any] | None
    next: dict[str, Any] | None


class SilencesOut(BaseModel):
    silences: list[SilenceOut]


class SilenceCreated(BaseModel):
    silence: SilenceOut
    matching_alerts: list[str] = Field(description="fingerprints of the active alerts it silences")


class SilenceChanged(BaseModel):
    silence: SilenceOut


class RulesOut(BaseModel):
    rules: list[dict[str, Any]]
    errors: list[Any]
    evaluated: bool = Field(description="whether an alert role has loaded them (else: what it would load)")


# ---------------------------------------------------------------------------------------------- collectors

class CollectorOut(BaseModel):
    """One collector's health (docs/collectors.md); every field is present, null until known."""

    id: str
    state: str | None
    enabled: bool
    paused: bool
    run_now_requested: float | None
    last_run: float | None
    last_success: float | None
    last_error: str | None
    next_run: float | None
    samples_total: int


class CollectorDetailOut(CollectorOut):
    recent_rejections: list[dict[str, Any]]


class Who(BaseModel):
    role: str | None
    name: str | None = None
    can_operate: bool


class CollectorsOut(BaseModel):
    generated_at: float
    you: Who
    collectors: list[CollectorOut]


# ---------------------------------------------------------------------------------------------- dashboards

class DashboardSummary(BaseModel):
    name: str
    version: str
    valid: bool
    title_ko: str | None
    title_en: str | None
    pages: list[dict[str, Any]]
    error: dict[str, Any] | None
    url: str


class DashboardsOut(BaseModel):
    wall: str
    dashboards: list[DashboardSummary]


class DashboardOut(BaseModel):
    """A dashboard with every panel resolved against the catalog (docs/dashboards.md)."""

    name: str
    version: str


# ---------------------------------------------------------------------------------------------- staff

class MeOut(BaseModel):
    role: str
    name: str
    scopes: list[str]
    staff: dict[str, Any] | None
    department: dict[str, Any] | None
    heads: list[str]
    channels: list[dict[str, Any]]


class InboxOut(BaseModel):
    items: list[dict[str, Any]]


class PeopleOut(BaseModel):
    departments: list[dict[str, Any]]
    staff: list[dict[str, Any]]
    escalation: Any


class ChannelOut(BaseModel):
    id: str
    kind: str
    name_ko: str
    name_en: str
    contact: str | None
    enabled: bool
    disabled: str | None


class ChannelsOut(BaseModel):
    channels: list[ChannelOut]


class SubscriptionsOut(BaseModel):
    subscriptions: list[Subscription]


class DeadDeliveriesOut(BaseModel):
    deadletter: list[dict[str, Any]]


# ---------------------------------------------------------------------------------------------- access (docs/access.md)

class SessionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=200, description="an API token (`situationroom tokens create`)")


class SessionOut(BaseModel):
    """Who a browser is signed in as; `csrf` goes in the X-CSRF-Token header of every change it asks for."""

    signed_in: bool
    name: str | None = None
    role: str | None = None
    staff: str | None = None
    scopes: list[str] | None = None
    csrf: str | None = Field(default=None, description="the session's anti-CSRF token (none for a bearer token)")


class AuditEntry(BaseModel):
    id: str = Field(description="the stream entry id; its milliseconds are when it was recorded")
    at: float = Field(description="epoch seconds")
    actor: str = Field(description="the token's name (the OS user for the CLI, `system` for a file watcher)")
    role: str
    staff: str | None
    action: str
    target: str
    address: str
    detail: dict[str, Any]


class AuditOut(BaseModel):
    entries: list[AuditEntry]
    count: int
    next: str | None = Field(description="pass as `before` for the next (older) page; null at the end")
    actions: dict[str, str] = Field(description="the actions the product records, with what each means")


# ---------------------------------------------------------------------------------------------- exercise

class ExerciseOut(BaseModel):
    """What a page needs to mark exercise data (docs/exercise.md)."""

    type: Literal["exercise"]
    drill: dict[str, Any] | None = Field(description="the running drill: id, scenario, speed, started, who")
    sources: list[str] = Field(description="collectors delivering exercise data now")
    clock: dict[str, Any] | None = Field(description="simulated time = start + (real - anchor) x speed: {scenario, "
                                                     "name_ko, name_en, speed, start, anchor, duration, loop}")
