"""Collector definition files (`collectors/*.yaml`): kind, schedule, timeout, retries and params."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from situationroom.collectors import registry
from situationroom.collectors.base import Params
from situationroom.configfile import read_yaml, validate
from situationroom.durations import Duration
from situationroom.errors import ConfigError, Problem


class Schedule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    interval: Duration | None = None
    cron: str | None = None
    jitter: Duration = 0.0

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                CronTrigger.from_crontab(v)
            except ValueError as exc:
                raise ValueError(f"not a crontab expression: {exc}") from None
        return v

    @model_validator(mode="after")
    def _one(self) -> Schedule:
        if (self.interval is None) == (self.cron is None):
            raise ValueError("give exactly one of interval or cron")
        if self.interval is not None and self.interval < 0.1:
            raise ValueError("interval must be at least 0.1s")
        return self


class CollectorDefinition(BaseModel):
    """One collector: which kind runs, when, and with which parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    name_ko: str | None = None
    name_en: str | None = None
    enabled: bool = True
    schedule: Schedule
    timeout: Duration = 30.0
    retries: int = Field(default=2, ge=0, le=10)
    backoff: Duration = 1.0
    """First retry delay; doubles on each further retry."""
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("timeout")
    @classmethod
    def _positive_timeout(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("timeout must be longer than 0s")
        return v

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, v: str) -> str:
        if registry.get(v) is None:
            raise ValueError(f"unknown collector kind; known: {', '.join(registry.names())}")
        return v


class LoadedCollector(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    id: str
    path: Path
    definition: CollectorDefinition
    params: Params


def load_collector(path: Path) -> LoadedCollector:
    """Read and validate one collector file, including its kind's params, with file:line errors."""
    data, pos = read_yaml(path)
    if data is None:
        raise ConfigError.single("file is empty", file=path)
    definition = validate(CollectorDefinition, data, file=path, pos=pos)
    kind = registry.get(definition.kind)
    assert kind is not None  # the validator above checked it
    params = validate(kind.Params, definition.params, file=path, pos=pos, prefix=("params",))
    return LoadedCollector(id=path.stem, path=path, definition=definition, params=params)


def load_collectors(folder: Path) -> tuple[list[LoadedCollector], list[Problem]]:
    """Every `*.yaml` in a site's collectors folder; bad files are reported, good ones still load."""
    loaded: list[LoadedCollector] = []
    problems: list[Problem] = []
    if not folder.is_dir():
        return loaded, problems
    for path in sorted(folder.glob("*.yaml")):
        try:
            loaded.append(load_collector(path))
        except ConfigError as exc:
            problems.extend(exc.problems)
    return loaded, problems
