"""What every channel kind implements: a config model, an optional contact kind, and `send`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import quote

import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict, Field

from situationroom.catalog import Catalog
from situationroom.envref import Redactor
from situationroom.notify.people import Recipient
from situationroom.settings import Settings


class ChannelConfig(BaseModel):
    """Fields every channel has; each kind adds its own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    kind: str
    name_ko: str = ""
    name_en: str = ""
    timeout: float = Field(default=10.0, gt=0, le=300)
    """Seconds one attempt may take."""
    exercise: bool = False
    """Whether exercise (drill) alerts go out on it too, marked [훈련]; the in-app channel always takes them."""


@dataclass
class Delivery:
    """One notification to one recipient on one channel."""

    key: str
    """Idempotency key: `<notification key>/<recipient>/<channel>`."""
    notification: dict[str, Any]
    alerts: list[dict[str, Any]]
    """The notification's alerts that matched this recipient's subscriptions."""
    recipient: Recipient
    channel: str
    attempt: int = 1
    address: str | None = None
    """The recipient's contact for this channel (e-mail address, phone number), when the kind needs one."""

    @property
    def header_key(self) -> str:
        """The key as it can travel in an HTTP or mail header (ASCII; anything else percent-encoded)."""
        return quote(self.key, safe="/:@-_.~+=")

    @property
    def kind(self) -> str:
        return str(self.notification.get("kind", "firing"))

    @property
    def tier(self) -> int:
        return int(self.notification.get("tier") or 0)


class DeliveryError(Exception):
    """An attempt failed. `permanent` failures (a 400 from the receiver, a refused address) are not retried."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass
class ChannelContext:
    """What channels may use: Redis (inbox, history for charts), the catalog for names, the settings."""

    client: aioredis.Redis
    catalog: Catalog
    settings: Settings
    redact: Redactor = field(default_factory=Redactor)


class Channel:
    """Base of a channel kind. Subclasses set `kind`, `Config`, `contact` and implement `send`."""

    kind: ClassVar[str] = ""
    Config: ClassVar[type[ChannelConfig]] = ChannelConfig
    contact: ClassVar[str | None] = None
    """The contact kind (staff.yaml `contacts`) this channel sends to; None when it needs no address."""

    def __init__(self, config: ChannelConfig, ctx: ChannelContext) -> None:
        self.config = config
        self.ctx = ctx
        self.disabled: str | None = None
        """Why the channel cannot send (an environment variable it needs is not set), or None."""

    @property
    def id(self) -> str:
        return self.config.id

    def contact_kind(self) -> str | None:
        return getattr(self.config, "contact", None) or self.contact

    async def start(self) -> None:
        """Open what the channel keeps open (an HTTP client)."""

    async def send(self, delivery: Delivery) -> str:
        """Deliver once; return a short note of what happened (e.g. `HTTP 200`), raise DeliveryError on failure."""
        raise NotImplementedError

    async def aclose(self) -> None:
        """Close what `start` opened."""

    def link(self, channels: dict[str, Channel]) -> list[tuple[str, object, str]]:
        """Resolve references to other channels after all are loaded; (field, value, message) for each bad one."""
        return []
