"""In-app: the recipient's inbox in Redis, announced on the update stream so the staff page pops it up at once."""

from __future__ import annotations

from pydantic import Field

from situationroom.clock import now_ms
from situationroom.notify import inbox
from situationroom.notify.channels.base import Channel, ChannelConfig, Delivery
from situationroom.notify.channels.registry import register


class InappConfig(ChannelConfig):
    keep: int = Field(default=500, ge=10, le=100_000)
    """Inbox entries kept per recipient (the oldest go first)."""


@register
class Inapp(Channel):
    kind = "inapp"
    Config = InappConfig

    async def send(self, delivery: Delivery) -> str:
        cfg = self.config
        assert isinstance(cfg, InappConfig)
        item = {"type": "inbox", "recipient": delivery.recipient.id, "id": delivery.key,
                "notification": delivery.notification.get("key"), "kind": delivery.kind, "tier": delivery.tier,
                "at": now_ms(), "alerts": delivery.alerts}
        if delivery.kind == "briefing":
            item["briefing"] = delivery.notification["briefing"]
        async with self.ctx.client.pipeline(transaction=False) as pipe:
            inbox.put(pipe, item, keep=cfg.keep, updates_maxlen=self.ctx.settings.updates_maxlen)
            await pipe.execute()
        return "inbox"
