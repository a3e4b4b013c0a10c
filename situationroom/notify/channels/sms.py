"""SMS and messenger gateways (KakaoTalk 알림톡…) as a configurable HTTP request template, with a fallback channel."""

from __future__ import annotations

import time
from typing import Any, Literal

import httpx
import jinja2
import orjson
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, field_validator

from situationroom import __version__
from situationroom.notify.channels.base import Channel, ChannelConfig, Delivery, DeliveryError
from situationroom.notify.channels.http import RETRYABLE, origin
from situationroom.notify.channels.registry import register
from situationroom.notify.message import render

# Templates are written by operators, but sandboxed all the same: they see only the variables below.
TEMPLATES = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)
TEMPLATES.policies["json.dumps_kwargs"] = {"ensure_ascii": False, "sort_keys": False}


class Success(BaseModel):
    """A gateway that answers 200 with an error code in the body: which JSON field must equal what."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    field: str
    """Dotted path into the JSON answer, e.g. `result.code`."""
    equals: str | int | bool


class SmsConfig(ChannelConfig):
    method: Literal["POST", "PUT", "GET"] = "POST"
    url: str
    """URL template (Jinja2); may use the variables, e.g. `…/send?to={{ to }}`."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Header templates; secrets as `${NAME}`."""
    body: str = ""
    """Body template (Jinja2): `{{ to }}`, `{{ text }}`, `{{ subject }}`, `{{ key }}`, `{{ kind }}`, `{{ severity }}`,
    `{{ level }}`, `{{ lang }}`, `{{ recipient }}`, `{{ alerts }}`; `| tojson` quotes a value for JSON."""
    max_chars: int = Field(default=90, ge=20, le=4000)
    """Longest `text`: 90 for an SMS, ~1,000 for a messenger template, 2,000 for an LMS."""
    success: Success | None = None
    fallback: str | None = None
    """Another sms-kind channel to use when this gateway fails (SMS behind a messenger)."""
    contact: str = "phone"

    @field_validator("url", "body")
    @classmethod
    def _template(cls, v: str) -> str:
        try:
            TEMPLATES.parse(v)
        except jinja2.TemplateSyntaxError as exc:
            raise ValueError(f"template syntax, line {exc.lineno}: {exc.message}") from None
        return v

    @field_validator("headers")
    @classmethod
    def _header_templates(cls, v: dict[str, str]) -> dict[str, str]:
        for value in v.values():
            cls._template(value)
        return v


def _dig(data: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


@register
class Sms(Channel):
    kind = "sms"
    Config = SmsConfig
    contact = "phone"

    async def start(self) -> None:
        self.http = httpx.AsyncClient(timeout=self.config.timeout, follow_redirects=False,
                                      headers={"User-Agent": f"situationroom/{__version__}"})
        cfg = self.config
        assert isinstance(cfg, SmsConfig)
        self.url = TEMPLATES.from_string(cfg.url)
        self.body = TEMPLATES.from_string(cfg.body)
        self.headers = {k: TEMPLATES.from_string(v) for k, v in cfg.headers.items()}

    async def aclose(self) -> None:
        http = getattr(self, "http", None)
        if http is not None:
            await http.aclose()

    def link(self, channels: dict[str, Channel]) -> list[tuple[str, object, str]]:
        cfg = self.config
        assert isinstance(cfg, SmsConfig)
        self.fallback: Sms | None = None
        if cfg.fallback is None:
            return []
        other = channels.get(cfg.fallback)
        if not isinstance(other, Sms):
            known = ", ".join(c.id for c in channels.values() if isinstance(c, Sms) and c is not self) or "none"
            return [("fallback", cfg.fallback, f"the fallback must be another sms channel; sms channels: {known}")]
        seen, nxt = {self.id}, other
        while nxt is not None:
            if nxt.id in seen:
                return [("fallback", cfg.fallback, "fallbacks go round in a circle")]
            seen.add(nxt.id)
            nxt_id = getattr(nxt.config, "fallback", None)
            nxt = channels.get(nxt_id) if nxt_id else None  # type: ignore[assignment]
        self.fallback = other
        return []

    def variables(self, delivery: Delivery) -> dict[str, Any]:
        cfg = self.config
        assert isinstance(cfg, SmsConfig)
        text = render(delivery.notification, delivery.alerts, self.ctx.catalog, delivery.recipient.lang)
        top = text.lines[0] if text.lines else None
        return {"to": delivery.address or "", "text": text.short(cfg.max_chars), "subject": text.subject,
                "key": delivery.key, "kind": delivery.kind, "severity": top.severity if top else "",
                "level": top.level if top else 0, "lang": text.lang, "sent": int(time.time()),
                "recipient": {"id": delivery.recipient.id, "name_ko": delivery.recipient.name_ko,
                              "name_en": delivery.recipient.name_en},
                "alerts": delivery.alerts}

    async def _once(self, delivery: Delivery) -> str:
        cfg = self.config
        assert isinstance(cfg, SmsConfig)
        if self.disabled:
            raise DeliveryError(f"{self.id} cannot send: {self.disabled}", permanent=True)
        if not delivery.address:
            raise DeliveryError(f"no {self.contact_kind()} contact", permanent=True)
        v = self.variables(delivery)
        try:
            url = self.url.render(v)
            headers = {k: t.render(v) for k, t in self.headers.items()}
            body = self.body.render(v).encode()
        except jinja2.TemplateError as exc:
            raise DeliveryError(f"{self.id}: the request template failed: {exc}", permanent=True) from None
        headers.setdefault("Idempotency-Key", delivery.header_key)
        try:
            resp = await self.http.request(cfg.method, url, headers=headers, content=body or None)
        except httpx.TimeoutException:
            raise DeliveryError(f"{self.id}: {origin(url)} did not answer within {cfg.timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{self.id}: {origin(url)}: {exc.__class__.__name__}: "
                                f"{self.ctx.redact(str(exc))}") from None
        if not 200 <= resp.status_code < 300:
            permanent = 400 <= resp.status_code < 500 and resp.status_code not in RETRYABLE
            raise DeliveryError(f"{self.id}: {origin(url)} answered HTTP {resp.status_code}: "
                                f"{self.ctx.redact(resp.text[:200].strip())}", permanent=permanent)
        if cfg.success is not None:
            try:
                got = _dig(orjson.loads(resp.content), cfg.success.field)
            except orjson.JSONDecodeError:
                got = None
            if got != cfg.success.equals and str(got) != str(cfg.success.equals):
                raise DeliveryError(f"{self.id}: {origin(url)} answered {cfg.success.field}={got!r}, "
                                    f"not {cfg.success.equals!r}: {self.ctx.redact(resp.text[:200].strip())}")
        return f"{self.id}: HTTP {resp.status_code}"

    async def send(self, delivery: Delivery) -> str:
        try:
            return await self._once(delivery)
        except DeliveryError as first:
            fallback = getattr(self, "fallback", None)
            if fallback is None:
                raise
            # The messenger failed: the same message goes out as SMS at once, not after the messenger's retries.
            fb = Delivery(delivery.key, delivery.notification, delivery.alerts, delivery.recipient, fallback.id,
                          delivery.attempt, delivery.recipient.contacts.get(fallback.contact_kind() or "")
                          or delivery.address)
            try:
                note = await fallback.send(fb)
            except DeliveryError as second:
                raise DeliveryError(f"{first}; fallback {second}",
                                    permanent=first.permanent and second.permanent) from None
            return f"{note} (fallback; {first})"
