"""Collector definition files (`collectors/*.yaml`, `${NAME}` from the environment) and site plugins (`*.py`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from situationroom.collectors import registry
from situationroom.collectors.base import Params
from situationroom.collectors.plugin_loader import load_plugin, plugin_files
from situationroom.configfile import read_yaml, validate
from situationroom.drill import COLLECTOR_PREFIX as DRILL_PREFIX
from situationroom.durations import Duration
from situationroom.envref import Redactor, expand, log_secrets, missing_problems
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
    exercise: bool = False
    """Everything this collector delivers is exercise data (a drill feed); always so for simulators."""
    schedule: Schedule | None = None
    """Required, except for live kinds (a subscription), which must not have one."""
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
    params: Params | None
    """None only for a disabled collector whose params need a variable that is not set."""
    redact: Redactor = Field(default_factory=Redactor)
    """Masks the values this file took from the environment."""
    missing_env: tuple[str, ...] = ()
    """Variables the file refers to that are not set (a disabled collector may lack them)."""

    @property
    def live(self) -> bool:
        kind = registry.get(self.definition.kind)
        return bool(kind is not None and kind.live)

    @property
    def exercise(self) -> bool:
        """Whether its samples and messages are exercise data (docs/exercise.md)."""
        kind = registry.get(self.definition.kind)
        return self.definition.exercise or bool(kind is not None and kind.exercise)


def _field(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out


def locate(exc: ConfigError, path: Path) -> ConfigError:
    """Give the file and line to problems a kind raised by field (`params.map[2].indicator`) without them."""
    pos = None
    for p in exc.problems:
        p.file = p.file or str(path)
        if p.line is None and p.field and p.file == str(path):
            if pos is None:
                try:
                    pos = read_yaml(path)[1]
                except (ConfigError, OSError):
                    return exc
            loc = tuple(int(x) if x.isdigit() else x for x in re.findall(r"[^.\[\]]+", p.field))
            p.line = pos.line_of(loc)
    return exc


def _mask(exc: ConfigError, raw: dict[str, str], redact: Redactor, path: Path) -> ConfigError:
    """The problems with values as written (`${KEY}`) rather than expanded, and no secret anywhere."""
    for p in exc.problems:
        p.file = p.file or str(path)
        if p.field in raw:
            p.value = raw[p.field]
        elif isinstance(p.value, str):
            p.value = redact(p.value)
        p.message = redact(p.message)
    return exc


def load_collector(path: Path, env: Mapping[str, str] | None = None, *,
                   require_env: bool | None = None) -> LoadedCollector:
    """Read and validate one collector file, including its kind's params, with file:line errors.

    `${NAME}` anywhere in a value is taken from the environment. A variable that is not set is an
    error for an enabled collector (naming the variable, never a value); a disabled one loads
    (`require_env=True` makes it an error for a disabled one too, as when trying it by hand).
    """
    if path.stem.startswith(DRILL_PREFIX):
        raise ConfigError.single(f"collector ids starting with {DRILL_PREFIX} are the product's own (a running "
                                 "drill's scenario): rename the file", file=path, value=path.name)
    data, pos = read_yaml(path)
    if data is None:
        raise ConfigError.single("file is empty", file=path)
    data, found = expand(data, env)
    redact = Redactor(found.values)
    log_secrets.add(found.values)
    raw = {_field(loc): text for loc, text in found.raw.items()}
    try:
        definition = validate(CollectorDefinition, data, file=path, pos=pos)
    except ConfigError as exc:
        raise _mask(exc, raw, redact, path) from None
    kind = registry.get(definition.kind)
    assert kind is not None  # the validator above checked it
    if kind.live and definition.schedule is not None:
        raise ConfigError.single(f"{definition.kind} is a live kind (a subscription): it runs continuously, "
                                 "remove `schedule`", file=path, line=pos.line_of(("schedule",)), field="schedule")
    if not kind.live and definition.schedule is None:
        raise ConfigError.single("required field is missing (interval: 5m, or cron: '*/10 * * * *')",
                                 file=path, line=pos.line_of(("kind",)), field="schedule")
    missing = missing_problems(found)
    if missing and (definition.enabled if require_env is None else require_env):
        raise ConfigError([Problem(f"environment variable {name} is not set", str(path), pos.line_of(loc),
                                   _field(loc)) for loc, name in missing])
    try:
        params: Params | None = validate(kind.Params, definition.params, file=path, pos=pos, prefix=("params",))
    except ConfigError as exc:
        unset = {_field(loc) for loc, _ in missing}
        real = [p for p in exc.problems if not any(p.field == f or (p.field or "").startswith(f + ".")
                                                      for f in unset)]
        if real or not missing:
            raise _mask(ConfigError(real or exc.problems), raw, redact, path) from None
        params = None  # disabled, and only unset variables make its params invalid
    return LoadedCollector(id=path.stem, path=path, definition=definition, params=params, redact=redact,
                           missing_env=tuple(dict.fromkeys(name for _, name in missing)))


def load_plugins(folder: Path) -> tuple[dict[Path, list[str]], list[Problem]]:
    """Import the site's `collectors/*.py` plugins; a broken one is a Problem (file:line), not a crash."""
    loaded: dict[Path, list[str]] = {}
    problems: list[Problem] = []
    for path in plugin_files(folder):
        try:
            loaded[path] = load_plugin(path)
        except ConfigError as exc:
            problems.extend(exc.problems)
    return loaded, problems


def hint_failed_plugins(problems: list[Problem], failed: list[Problem]) -> None:
    """Say why a kind is unknown when a plugin that may define it failed to load."""
    files = sorted({p.file.rsplit("/", 1)[-1] for p in failed if p.file})
    if not files:
        return
    for p in problems:
        if p.field == "kind" and "unknown collector kind" in p.message:
            p.message += f" (plugin {', '.join(files)} failed to load)"


def load_collectors(folder: Path, env: Mapping[str, str] | None = None
                    ) -> tuple[list[LoadedCollector], list[Problem]]:
    """Every plugin and `*.yaml` in a site's collectors folder; bad files are reported, good ones still load."""
    loaded: list[LoadedCollector] = []
    problems: list[Problem] = []
    registry.names()  # built-ins and entry points first: their problems are reported too
    problems.extend(registry.entry_point_problems)
    if not folder.is_dir():
        return loaded, problems
    _, plugin_problems = load_plugins(folder)
    problems.extend(plugin_problems)
    yaml_problems: list[Problem] = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            loaded.append(load_collector(path, env))
        except ConfigError as exc:
            yaml_problems.extend(exc.problems)
    hint_failed_plugins(yaml_problems, plugin_problems)
    problems.extend(yaml_problems)
    return loaded, problems
