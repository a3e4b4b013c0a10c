"""What a collector kind is: a params model and a `collect()` that returns samples."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from situationroom.catalog import Catalog
from situationroom.messages import Message
from situationroom.samples import Rejection, Sample
from situationroom.settings import Settings


class Params(BaseModel):
    """Base of each kind's `params:` model; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CollectError(Exception):
    """The source answered something unusable (an error envelope, garbage): the run fails with this message.

    Say what the source said (`AirKorea answered resultCode 30 SERVICE_KEY_IS_NOT_REGISTERED_ERROR`);
    the runtime masks the collector's secrets in it anyway. A subclass with `permanent = True` says
    that asking again would get the same answer (a key refused, a quota used up): the run fails at
    once, without its retries; the next scheduled run asks again.
    """

    permanent: ClassVar[bool] = False


P = TypeVar("P", bound=Params)
"""A kind's own params model: `class Parking(CollectorKind[ParkingParams])` gets `self.params: ParkingParams`."""

LIVE_STATES = ("live", "connected", "disconnected")


def _same(text: str) -> str:
    return text


def _ignore_state(state: str, error: str | None = None) -> None:
    return None


@dataclass
class CollectorContext:
    """What a collector may use: the catalog, its site folder, a logger, its redactor and state."""

    collector_id: str
    catalog: Catalog
    site: Path
    log: logging.Logger
    interval: float | None = None
    """The schedule's interval in seconds (None for cron or live kinds)."""
    settings: Settings | None = None
    """The process's settings (e.g. the simulation overrides given to `situationroom up`)."""
    redact: Callable[[str], str] = _same
    """Masks the collector file's secrets (`${NAME}` values) in a text: use it on anything a kind
    puts in a message of its own (the runtime already masks logs, errors and health)."""
    set_state: Callable[..., None] = _ignore_state
    """For live kinds: `set_state("connected")`, `set_state("disconnected", "broker refused")`;
    one of LIVE_STATES, shown in the collector's health."""
    dry_run: bool = False
    """`collectors run NAME --dry-run`: the kind must not keep any state of its own (files read, cursors)."""


@dataclass
class CollectResult:
    samples: list[Sample]
    rejected: list[Rejection] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    """Text messages (disaster messages, CAP alerts) for the wall's ticker."""


class CollectorKind(Generic[P]):
    """Base class of a collector kind, typed by its params model (`CollectorKind[ParkingParams]`).

    A kind declares `name`, a `Params` model for the `params:` block of a collector file (the same class it
    is typed by, so `self.params` is an instance of it: validated, no check needed), and
    implements `collect(now)`, returning samples (and, optionally, rejections for items of the
    source it could not use, which go to the dead-letter stream with their reason). A source that
    answers garbage raises `CollectError`. A live kind sets `live = True` and implements `run()`.
    """

    name: ClassVar[str]
    Params: type[P] = Params  # type: ignore[assignment]  # a kind that declares none takes no params
    live: ClassVar[bool] = False
    """A live kind (a subscription) implements `run()` and has no schedule; `collect()` is not called."""
    exercise: ClassVar[bool] = False
    """A kind whose data is never real (the simulator): everything it produces is exercise data."""

    def __init__(self, params: P, context: CollectorContext) -> None:
        self.params: P = params
        self.context = context

    async def collect(self, now: float) -> Sequence[Sample] | CollectResult:
        raise NotImplementedError  # every kind overrides it; the registry refuses kinds that do not

    async def run(self, emit: Callable[[CollectResult], Awaitable[None]], stop: asyncio.Event) -> None:
        """Live kinds only: keep the subscription, `await emit(result)` for what arrives, return when
        `stop` is set. Reconnecting is the kind's own business; an exception restarts it with backoff."""
        raise NotImplementedError

    async def starting(self) -> None:
        """Called before each attempt of `collect()` (each retry of a run starts afresh): forget what an
        attempt that failed set aside for `delivered()`."""

    async def delivered(self) -> None:
        """Called once what the last `collect()` returned (or a live kind emitted) is written: samples,
        dead letters and messages.

        Whatever marks items as done (files read, dead letters reported) belongs here, not in `collect()`:
        a run that fails after collecting (a timeout, Redis refusing the writes) then loses nothing, as
        the next run produces the same items again. Not called by a dry run. A plain `def` works too.
        """

    async def close(self) -> None:
        """Release connections; called when the collector is removed or the process stops."""
