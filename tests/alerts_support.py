"""A small city for alert tests: the mini site with rules of the test's own, on a real Redis, driven step by step."""

from __future__ import annotations

import shutil
import textwrap
import time
from pathlib import Path
from typing import Any

import orjson
import redis.asyncio as aioredis

from situationroom import keys
from situationroom.aggregator import Aggregator
from situationroom.alerts.role import AlertRole
from situationroom.alerts.state import Alert, fingerprint
from situationroom.catalog import load_catalog
from situationroom.redisconn import async_client
from situationroom.samples import Sample
from situationroom.settings import Settings
from situationroom.streams import StreamWriter, ensure_groups
from tests.site_support import MINI, REPO, settings_for

RIVER_AND_DUST = """
rules:
  - id: river.stage
    kind: threshold
    indicator: river.level
    levels: {주의: 2.0, 경계: 3.0}
    department: disaster-safety
    repeat_every: 1h
    escalate_after: 15m
    labels: {hazard: flood}
  - {id: catalog.river.level, enabled: false}
  - id: dust
    kind: threshold
    indicator: air.pm10
    levels: {관심: 100}
    department: environment
  - {id: catalog.air.pm10, enabled: false}
"""
"""River levels for 재난안전과 (repeated hourly, escalated after 15 minutes) and dust for 환경정책과."""


def make_site(tmp: Path, rules: str, site: Path = MINI) -> Path:
    """A copy of a site with `rules` (YAML) as its only rules file."""
    dest = tmp / "site"
    if not dest.exists():
        shutil.copytree(site, dest, ignore=shutil.ignore_patterns("var", "rules"))
    (dest / "rules").mkdir(exist_ok=True)
    (dest / "rules" / "test.yaml").write_text(textwrap.dedent(rules), encoding="utf-8")
    return dest


class Clock:
    """The alert role's wall clock: the real one, moved ahead by the test (event times of samples stay real)."""

    def __init__(self) -> None:
        self.offset = 0

    def __call__(self) -> int:
        return int(time.time() * 1000) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += int(seconds * 1000)


class City:
    """Samples in through the real aggregator, the alert role evaluating them, notifications out."""

    def __init__(self, client: aioredis.Redis, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.catalog = load_catalog(settings.seeds)
        self.clock = Clock()
        self.writer = StreamWriter(client, partitions=settings.partitions, retention=settings.stream_retention,
                                   deadletter_maxlen=settings.deadletter_maxlen)
        self.aggregator = Aggregator(client, self.catalog, settings, consumer="agg")
        self.role = self.new_role()
        self.t0 = time.time()
        self._seen = "0-0"

    def new_role(self) -> AlertRole:
        return AlertRole(self.client, self.catalog, self.settings, clock=self.clock)

    @classmethod
    async def open(cls, url: str, tmp: Path, rules: str, *, site: Path = MINI, **overrides: Any) -> City:
        values: dict[str, Any] = {"site": make_site(tmp, rules, site), "partitions": 2, "alert_min_interval": 0}
        values.update(overrides)
        city = cls(async_client(url), settings_for(url, **values))
        await ensure_groups(city.client, city.settings.partitions)
        await city.role.start()
        return city

    async def close(self) -> None:
        await self.client.aclose()

    async def send(self, indicator: str, entity: str, *values: float, every: float = 60, ago: float | None = None,
                   source: str = "test", interval: float | None = 3600, exercise: bool = False) -> None:
        """Samples of one series `every` seconds apart, the last one `ago` seconds before now (default: now),
        aggregated and evaluated as the roles would; `exercise` ones as a drill's."""
        last = time.time() - (ago or 0)
        n = len(values)
        samples = [Sample(indicator, entity, last - (n - 1 - k) * every, float(v), source, interval, exercise)
                   for k, v in enumerate(values)]
        for sample in samples:
            # One at a time, so each sample is its own update, as from a live source.
            await self.writer.write([sample])
            await self.aggregator.step()
            await self.evaluate()

    async def evaluate(self) -> None:
        while await self.role.step():
            pass

    async def later(self, seconds: float) -> None:
        """Let time pass on the alert role's clock and run its timer."""
        self.clock.advance(seconds)
        await self.role.tick()

    async def notifications(self) -> list[dict[str, Any]]:
        """Notifications written since the last call, oldest first."""
        entries = await self.client.xrange(keys.notifications(), min=f"({self._seen}" if self._seen != "0-0" else "-")
        if entries:
            self._seen = entries[-1][0].decode()
        return [orjson.loads(f[b"n"]) for _, f in entries]

    async def all_notifications(self) -> list[dict[str, Any]]:
        return [orjson.loads(f[b"n"]) for _, f in await self.client.xrange(keys.notifications())]

    async def alert(self, rule: str, entity: str, exercise: bool = False) -> Alert | None:
        raw = await self.client.hget(keys.alerts(), fingerprint(rule, entity, exercise))
        return Alert.decode(raw) if raw else None

    async def published_alerts(self) -> list[dict[str, Any]]:
        """The `a` entries of the update stream (what walls and staff pages receive)."""
        return [orjson.loads(f[b"a"]) for _, f in await self.client.xrange(keys.updates()) if b"a" in f]


async def open_city(redis_url: str, tmp_path: Path) -> City:
    """The small test site with the RIVER_AND_DUST rules and the Pohang departments and staff (who may act on
    what)."""
    seeds = make_site(tmp_path, RIVER_AND_DUST) / "seeds"
    for name in ("departments.yaml", "staff.yaml"):
        shutil.copy(REPO / "seeds" / name, seeds / name)
    return await City.open(redis_url, tmp_path, RIVER_AND_DUST)


def summary(notes: list[dict[str, Any]]) -> list[tuple[str, str, list[str]]]:
    """(kind, severity, entities) of each notification: what a reader of a test wants to compare."""
    return [(n["kind"], n["severity"], sorted(a["entity"] for a in n["alerts"])) for n in notes]
