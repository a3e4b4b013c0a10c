"""Webhook: a JSON POST (generic or Slack-compatible) signed with HMAC-SHA256 over the raw body."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any, Literal

import httpx
import orjson
from pydantic import Field, SecretStr

from situationroom import __version__, status
from situationroom.notify.channels.base import Channel, ChannelConfig, Delivery, DeliveryError
from situationroom.notify.channels.http import RETRYABLE, origin
from situationroom.notify.channels.registry import register
from situationroom.notify.message import render

SIGNATURE_HEADER = "X-Situationroom-Signature-256"
TIMESTAMP_HEADER = "X-Situationroom-Timestamp"
# Statuses worth retrying: the receiver may recover (timeouts, rate limits, server errors).
SLACK_COLOURS = {0: status.BY_ID["normal"].colour, **{lv: s.colour for lv, s in status.BY_LEVEL.items() if lv}}
"""Attachment colour by crisis level (0: resolved), from the one status scale."""


class WebhookConfig(ChannelConfig):
    url: str = Field(pattern=r"^https?://")
    format: Literal["generic", "slack"] = "generic"
    secret: SecretStr | None = None
    """Key of the HMAC-SHA256 signature (`X-Situationroom-Signature-256: sha256=<hex>`); from `${NAME}`."""
    headers: dict[str, str] = Field(default_factory=dict)
    lang: Literal["ko", "en"] | None = None
    """Language of the text; default the recipient's."""


def sign(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


@register
class Webhook(Channel):
    kind = "webhook"
    Config = WebhookConfig

    async def start(self) -> None:
        self.http = httpx.AsyncClient(timeout=self.config.timeout, follow_redirects=False,
                                      headers={"User-Agent": f"situationroom/{__version__}"})

    async def aclose(self) -> None:
        http = getattr(self, "http", None)
        if http is not None:
            await http.aclose()

    def body(self, delivery: Delivery) -> dict[str, Any]:
        cfg = self.config
        assert isinstance(cfg, WebhookConfig)
        lang = cfg.lang or delivery.recipient.lang
        text = render(delivery.notification, delivery.alerts, self.ctx.catalog, lang)
        if cfg.format == "slack":
            top = max((ln.level for ln in text.lines), default=0)
            colour = SLACK_COLOURS[0 if delivery.kind == "resolved" else top]
            return {
                "text": text.subject,
                "attachments": [{
                    "color": colour, "fallback": text.subject,
                    "blocks": [
                        {"type": "header", "text": {"type": "plain_text", "text": text.subject[:150]}},
                        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(
                            f"*[{ln.severity}] {ln.what}* — {ln.where}\n{ln.message}\n"
                            f"{', '.join(p for p in (ln.value, ln.threshold, ln.since) if p)}"
                            for ln in text.lines)[:2900]}},
                        {"type": "context", "elements": [{"type": "plain_text", "text": text.footer}]},
                    ],
                }],
            }
        return {"version": 1, "id": delivery.key, "idempotency_key": delivery.key,
                "notification": delivery.notification.get("key"), "kind": delivery.kind, "tier": delivery.tier,
                "group": delivery.notification.get("group"), "recipient": delivery.recipient.id,
                "sent": int(time.time() * 1000), "lang": lang, "subject": text.subject, "text": text.plain(),
                "alerts": delivery.alerts}

    async def send(self, delivery: Delivery) -> str:
        cfg = self.config
        assert isinstance(cfg, WebhookConfig)
        raw = orjson.dumps(self.body(delivery))
        headers = {**cfg.headers, "Content-Type": "application/json; charset=utf-8",
                   "Idempotency-Key": delivery.header_key, TIMESTAMP_HEADER: str(int(time.time()))}
        if cfg.secret is not None:
            headers[SIGNATURE_HEADER] = sign(cfg.secret.get_secret_value().encode(), raw)
        try:
            resp = await self.http.post(cfg.url, content=raw, headers=headers)
        except httpx.TimeoutException:
            raise DeliveryError(f"{origin(cfg.url)} did not answer within {cfg.timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{origin(cfg.url)}: {exc.__class__.__name__}: {self.ctx.redact(str(exc))}") from None
        if 200 <= resp.status_code < 300:
            return f"HTTP {resp.status_code}"
        permanent = 400 <= resp.status_code < 500 and resp.status_code not in RETRYABLE
        snippet = self.ctx.redact(resp.text[:200].strip())
        raise DeliveryError(f"{origin(cfg.url)} answered HTTP {resp.status_code}" + (f": {snippet}" if snippet else ""),
                            permanent=permanent)
