"""In-app: the recipient's inbox in Redis, announced on the update stream so the staff page pops it up at once."""

from __future__ import annotations

import time

import orjson
from pydantic import Field

from situationroom import keys, updates
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
                "at": int(time.time() * 1000), "alerts": delivery.alerts}
        body = orjson.dumps(item)
        # Inbox first, then the announcement: a page that reacts to the announcement by reading the inbox
        # finds the entry there. Both in one round trip.
        async with self.ctx.client.pipeline(transaction=False) as pipe:
            pipe.xadd(keys.inbox(delivery.recipient.id), {"n": body}, maxlen=cfg.keep, approximate=True)
            updates.add_inbox(pipe, body, self.ctx.settings.updates_maxlen)
            await pipe.execute()
        return "inbox"
