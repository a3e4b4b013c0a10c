"""Subscriptions: who wants which alerts on which channels, with quiet hours; seeded from a file, kept in Redis."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from pathlib import Path
from typing import Any

import orjson
import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from situationroom import keys
from situationroom.alerts import severity
from situationroom.catalog import Catalog
from situationroom.configfile import read_yaml, validate
from situationroom.errors import ConfigError, Problem
from situationroom.notify.people import ID, People

log = logging.getLogger(__name__)

# Korea's crisis levels (docs/alerts.md, situationroom/status.py); a level is written by its Korean or English name.
LEVELS: dict[str, int] = {name: lv.level for lv in severity.LEVELS for name in (lv.ko, lv.name)}
NAMES_KO = {lv.level: lv.ko for lv in severity.LEVELS}
NAMES_EN = {lv.level: lv.en for lv in severity.LEVELS}
CRITICAL = 3
"""From this level on an alert goes through quiet hours."""


def level_of(severity: str | int | None) -> int:
    if isinstance(severity, int):
        return severity
    return LEVELS.get(str(severity or "").strip().lower(), LEVELS.get(str(severity or "").strip(), 0))


class QuietHours(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    start: dt.time
    """Local time (the city's time zone) quiet hours begin, e.g. 22:00."""
    end: dt.time
    """Local time they end, e.g. 07:00; before `start` means over midnight."""
    days: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4, 5, 6])
    """Days (0 = Monday) on which quiet hours begin; default every day."""

    @field_validator("start", "end", mode="before")
    @classmethod
    def _hhmm(cls, v: object) -> object:
        # YAML reads 22:00 as the sexagesimal number 1320; take it back as minutes.
        if isinstance(v, int) and not isinstance(v, bool):
            return dt.time(v // 60 % 24, v % 60)
        return v

    @field_validator("days")
    @classmethod
    def _weekdays(cls, v: list[int]) -> list[int]:
        if any(d < 0 or d > 6 for d in v):
            raise ValueError("days are 0 (Monday) to 6 (Sunday)")
        return v

    def active(self, local: dt.datetime) -> bool:
        t = local.time()
        if self.start == self.end:
            return False
        if self.start < self.end:
            return local.weekday() in self.days and self.start <= t < self.end
        # Over midnight: the evening part belongs to today, the morning part to yesterday's start.
        if t >= self.start:
            return local.weekday() in self.days
        if t < self.end:
            return (local.weekday() - 1) % 7 in self.days
        return False


class SubscriptionIn(BaseModel):
    """A subscription as written in the seed file or sent to the API."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, pattern=ID, max_length=64)
    owner: str | None = Field(default=None, pattern=ID)
    """A staff id, or a department id for a department's shared addresses (its webhook, its mailbox)."""
    name: str = Field(default="", max_length=200)
    departments: list[str] = Field(default_factory=list)
    domains: list[str] = Field(default_factory=list)
    districts: list[str] = Field(default_factory=list)
    indicators: list[str] = Field(default_factory=list)
    min_severity: str = "주의"
    channels: list[str] = Field(min_length=1)
    quiet_hours: QuietHours | None = None
    resolved: bool = True
    """Also tell when the problem is over."""
    enabled: bool = True

    @field_validator("min_severity")
    @classmethod
    def _severity(cls, v: str) -> str:
        level = level_of(v)
        if not level:
            raise ValueError(f"unknown severity; use {severity.HELP}")
        return NAMES_KO[level]

    @model_validator(mode="after")
    def _no_repeats(self) -> SubscriptionIn:
        self.channels = list(dict.fromkeys(self.channels))
        return self


class Subscription(SubscriptionIn):
    id: str = Field(pattern=ID, max_length=64)
    owner: str = Field(pattern=ID)
    updated: float = 0.0

    @property
    def level(self) -> int:
        return level_of(self.min_severity)


class SubscriptionsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subscriptions: list[Subscription]


def check(sub: SubscriptionIn, people: People, catalog: Catalog, channels: set[str]) -> list[tuple[str, Any, str]]:
    """What in a subscription refers to nothing: (field, value, message) for each."""
    out: list[tuple[str, Any, str]] = []
    if sub.owner is not None and people.recipient(sub.owner) is None:
        out.append(("owner", sub.owner, "no staff member or department with this id"))
    for i, d in enumerate(sub.departments):
        if d not in people.departments:
            out.append((f"departments[{i}]", d, f"unknown department; departments: {', '.join(people.departments)}"))
    for i, d in enumerate(sub.domains):
        if d not in catalog.domains:
            out.append((f"domains[{i}]", d, f"unknown domain; domains: {', '.join(catalog.domains)}"))
    for i, d in enumerate(sub.districts):
        e = catalog.entities.get(d)
        if e is None or e.kind not in ("gu", "dong", "city"):
            out.append((f"districts[{i}]", d, "unknown district (a gu or eup/myeon/dong code of the site)"))
    for i, ind in enumerate(sub.indicators):
        if ind not in catalog.indicators:
            out.append((f"indicators[{i}]", ind, "unknown indicator (not in the catalog)"))
    for i, c in enumerate(sub.channels):
        if c not in channels:
            out.append((f"channels[{i}]", c, f"unknown channel; channels: {', '.join(sorted(channels))}"))
    return out + not_told(sub, people, catalog)


def not_told(sub: SubscriptionIn, people: People, catalog: Catalog) -> list[tuple[str, Any, str]]:
    """The restricted indicators a subscription names whose alerts its owner would never be told of (the routing's
    rule, docs/access.md): (field, value, message) for each. Refused up front, so no one believes they are
    watching an indicator they never hear about."""
    owner = people.recipient(sub.owner) if sub.owner is not None else None
    department = owner.department if owner is not None else None
    out: list[tuple[str, Any, str]] = []
    for i, iid in enumerate(sub.indicators):
        ind = catalog.indicators.get(iid)
        if ind is None or ind.restricted is None or ind.restricted.admits(department):
            continue
        names = ", ".join(f"{people.departments[d].name_ko} ({d})" if d in people.departments else d
                          for d in ind.restricted.departments)
        out.append((f"indicators[{i}]", iid, f"{iid} is restricted: its alerts reach only staff of {names}; "
                                             f"{sub.owner} is of {department or 'no department'}"))
    return out


def load_seed(path: Path, people: People, catalog: Catalog, channels: set[str]) -> list[Subscription]:
    """The initial subscriptions of the site, validated with file:line errors."""
    if not path.is_file():
        return []
    data, pos = read_yaml(path)
    if data is None:
        return []
    parsed = validate(SubscriptionsFile, data, file=path, pos=pos)
    problems: list[Problem] = []
    seen: set[str] = set()
    for i, sub in enumerate(parsed.subscriptions):
        if sub.id in seen:
            problems.append(Problem("duplicate subscription id", str(path),
                                    pos.line_of(("subscriptions", i, "id")), f"subscriptions[{i}].id", sub.id, True))
        seen.add(sub.id)
        for fld, value, message in check(sub, people, catalog, channels):
            head = fld.split("[")[0]
            problems.append(Problem(message, str(path), pos.line_of(("subscriptions", i, head)),
                                    f"subscriptions[{i}].{fld}", value, True))
    if problems:
        raise ConfigError(problems)
    return parsed.subscriptions


async def seed_once(client: aioredis.Redis, path: Path, people: People, catalog: Catalog,
                    channels: set[str]) -> None:
    """At the first start on a Redis, write the site's seed subscriptions (the web and notify roles both try)."""
    if await client.exists(keys.subscriptions_seeded()):
        return
    subs = load_seed(path, people, catalog, channels)
    if await Store(client).seed(subs):
        log.info("subscriptions seeded from %s (%d)", path, len(subs))


def new_id() -> str:
    return "s-" + secrets.token_hex(5)


class Store:
    """Subscriptions in Redis: one hash, id -> JSON."""

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client

    async def seed(self, subs: list[Subscription]) -> bool:
        """Write the seed subscriptions once per Redis; returns whether it did."""
        # SET NX first: two roles starting together must not both seed (nor seed after an operator
        # deleted them all).
        if not await self.client.set(keys.subscriptions_seeded(), "1", nx=True):
            return False
        if subs:
            await self.client.hset(keys.subscriptions(), mapping={s.id: orjson.dumps(s.model_dump(mode="json"))
                                                                   for s in subs})
        return True

    async def all(self) -> list[Subscription]:
        raw = await self.client.hgetall(keys.subscriptions())
        return sorted((Subscription.model_validate(orjson.loads(v)) for v in raw.values()), key=lambda s: s.id)

    async def get(self, sid: str) -> Subscription | None:
        raw = await self.client.hget(keys.subscriptions(), sid)
        return Subscription.model_validate(orjson.loads(raw)) if raw is not None else None

    async def put(self, sub: Subscription) -> None:
        await self.client.hset(keys.subscriptions(), sub.id, orjson.dumps(sub.model_dump(mode="json")))

    async def create(self, sub: Subscription) -> bool:
        """Add a new subscription; False when the id is taken."""
        return bool(await self.client.hsetnx(keys.subscriptions(), sub.id, orjson.dumps(sub.model_dump(mode="json"))))

    async def delete(self, sid: str) -> bool:
        return bool(await self.client.hdel(keys.subscriptions(), sid))


def parse_all(raw: dict[bytes, bytes]) -> list[Subscription]:
    """Subscriptions from an HGETALL reply (the notify role reads them in its batch pipeline)."""
    return [Subscription.model_validate(orjson.loads(v)) for v in raw.values()]
