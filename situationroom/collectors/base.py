"""What a collector kind is: a params model and a `collect()` that returns samples."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from situationroom.catalog import Catalog
from situationroom.messages import Message
from situationroom.samples import Rejection, Sample
from situationroom.settings import Settings


class Params(BaseModel):
    """Base of each kind's `params:` model; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass
class CollectorContext:
    """What a collector may use: the catalog, its site folder, a logger."""

    collector_id: str
    catalog: Catalog
    site: Path
    log: logging.Logger
    interval: float | None = None
    """The schedule's interval in seconds (None for cron or live kinds)."""
    settings: Settings | None = None
    """The process's settings (e.g. the simulation overrides given to `situationroom up`)."""


@dataclass
class CollectResult:
    samples: list[Sample]
    rejected: list[Rejection] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    """Text messages (disaster messages, CAP alerts) for the wall's ticker."""


class CollectorKind:
    """Base class of a collector kind.

    A kind declares `name`, a `Params` model for the `params:` block of a collector file, and
    implements `collect(now)`, returning samples (and, optionally, rejections for items of the
    source it could not use, which go to the dead-letter stream with their reason).
    """

    name: ClassVar[str]
    Params: ClassVar[type[Params]] = Params

    def __init__(self, params: Params, context: CollectorContext) -> None:
        self.params = params
        self.context = context

    async def collect(self, now: float) -> Sequence[Sample] | CollectResult:
        raise NotImplementedError  # every kind overrides it; the registry refuses kinds that do not

    async def close(self) -> None:
        """Release connections; called when the collector is removed or the process stops."""
