"""E-mail over SMTP (aiosmtplib): plain text and HTML, subjects RFC 2047-encoded, a chart of the last hour; a
briefing with its PDF attached."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formataddr, formatdate
from typing import Literal
from zoneinfo import ZoneInfo

import aiosmtplib
import jinja2
from pydantic import Field, SecretStr

from situationroom import briefing_archive as archive
from situationroom import status
from situationroom.notify import chart
from situationroom.notify.channels.base import Channel, ChannelConfig, Delivery, DeliveryError
from situationroom.notify.channels.registry import register
from situationroom.notify.message import Text, render

log = logging.getLogger(__name__)

HTML = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string("""\
<!doctype html><html lang="{{ t.lang }}"><head><meta charset="utf-8"><title>{{ t.subject }}</title></head>
<body style="font-family:'Pretendard','Apple SD Gothic Neo','Malgun Gothic',sans-serif;color:#111827;
 margin:0;padding:16px">
<h2 style="margin:0 0 12px;font-size:18px">{{ t.headline }}</h2>
{% for ln in t.lines %}
<div style="border-left:6px solid {{ colours[ln.level] }};padding:8px 12px;margin:0 0 10px;background:#f9fafb">
 <div style="font-weight:700">[{{ ln.severity }}] {{ ln.what }} — {{ ln.where }}</div>
 {% if ln.message %}<div>{{ ln.message }}</div>{% endif %}
 <div style="color:#4b5563">{{ [ln.value, ln.threshold, ln.since] | select | join(", ") }}</div>
</div>
{% endfor %}
{% for cid in cids %}<img src="cid:{{ cid }}" alt="{{ chart_alt }}"
 style="max-width:100%;display:block;margin:8px 0">{% endfor %}
{% if other %}<hr style="border:0;border-top:1px solid #e5e7eb;margin:16px 0">
<div style="color:#6b7280;font-size:13px;white-space:pre-wrap">{{ other }}</div>{% endif %}
<p style="color:#6b7280;font-size:12px">{{ t.footer }}</p>
</body></html>
""")
COLOURS = {0: status.BY_ID["none"].colour, **{lv: s.colour for lv, s in status.BY_LEVEL.items() if lv}}
"""The bar beside each alert, by crisis level, from the one status scale."""


class EmailConfig(ChannelConfig):
    host: str
    port: int = Field(default=25, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    sender: str
    """From address, with a display name if wanted: `포항시 상황실 <situation@city.example>`."""
    chart: Literal["inline", "attach", "none"] = "inline"
    """The last hour of the alert's series as a PNG: in the HTML part, as an attachment, or not at all."""
    charts: int = Field(default=1, ge=0, le=5)
    """Charts per e-mail at most (one per alert, the most severe first)."""
    contact: str = "email"


def message_id(key: str, sender: str) -> str:
    # The same delivery key always gives the same Message-ID, so a mail client drops a repeat.
    domain = sender.rsplit("@", 1)[-1].strip(" >") or "situationroom"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


@register
class Email(Channel):
    kind = "email"
    Config = EmailConfig
    contact = "email"

    def _headed(self, delivery: Delivery, subject: str) -> EmailMessage:
        cfg = self.config
        assert isinstance(cfg, EmailConfig)
        lang = delivery.recipient.lang
        msg = EmailMessage(policy=SMTP)
        msg["Subject"] = subject
        msg["From"] = cfg.sender
        name = delivery.recipient.name_ko if lang == "ko" else delivery.recipient.name_en
        msg["To"] = formataddr((name, delivery.address or ""))
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = message_id(delivery.key, cfg.sender)
        msg["X-Idempotency-Key"] = delivery.header_key
        msg["Auto-Submitted"] = "auto-generated"
        return msg

    async def build_briefing(self, delivery: Delivery) -> EmailMessage:
        """A briefing: its title and period, the link to its page, the PDF attached."""
        b = delivery.notification["briefing"]
        ko = delivery.recipient.lang == "ko"
        title = b["title_ko"] if ko else b["title_en"]
        msg = self._headed(delivery, title)
        tz = ZoneInfo(self.ctx.catalog.city.timezone)
        period = " ~ ".join(dt.datetime.fromtimestamp(b[k] / 1000, tz).strftime("%Y-%m-%d %H:%M")
                            for k in ("from", "to"))
        msg.set_content(f"{title}\n기간 {period}\n\n보고서 PDF를 첨부했습니다. 상황실 화면: {b['link']}" if ko
                         else f"{title}\nPeriod {period}\n\nThe briefing is attached as PDF. On the desk: {b['link']}")
        where = archive.path_of(self.ctx.settings.briefings_archive, b["id"], "pdf")
        try:
            pdf = await asyncio.to_thread(where.read_bytes)
        except FileNotFoundError:
            # Not there now, not there on a retry: past the retention, or this role does not see the archive.
            raise DeliveryError(f"briefing {b['id']}: its PDF is not in the archive ({where}); the notify role "
                                "needs the briefings folder of the data dir", permanent=True) from None
        msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=f"{b['id']}.pdf")
        return msg

    async def build(self, delivery: Delivery) -> EmailMessage:
        cfg = self.config
        assert isinstance(cfg, EmailConfig)
        if delivery.kind == "briefing":
            return await self.build_briefing(delivery)
        lang = delivery.recipient.lang
        text = render(delivery.notification, delivery.alerts, self.ctx.catalog, lang)
        other: Text = render(delivery.notification, delivery.alerts, self.ctx.catalog, "en" if lang == "ko" else "ko")
        msg = self._headed(delivery, text.subject)
        msg.set_content(text.plain() + "\n\n" + "-" * 40 + "\n" + other.plain())
        pngs: list[bytes] = []
        if cfg.chart != "none" and cfg.charts and delivery.kind != "resolved":
            seen: set[tuple[str, str]] = set()
            for ln in text.lines:
                alert = next((a for a in delivery.alerts if str(a.get("fingerprint", "")) == ln.fingerprint), None)
                if alert is None or (alert.get("indicator"), alert.get("entity")) in seen:
                    continue
                seen.add((alert.get("indicator"), alert.get("entity")))
                try:
                    image = await chart.png(self.ctx.client, self.ctx.catalog, alert, lang)
                except Exception as exc:  # a chart is a nicety: the alert still goes out without it
                    log.warning("chart for %s failed: %s", alert.get("fingerprint"), exc)
                    image = None
                if image:
                    pngs.append(image)
                if len(pngs) >= cfg.charts:
                    break
        cids = [f"chart{i}.{message_id(delivery.key, cfg.sender)[1:-1]}" for i in range(len(pngs))]
        inline = cfg.chart == "inline"
        html = HTML.render(t=text, colours=COLOURS, cids=cids if inline else [], other=other.plain(),
                           chart_alt="최근 1시간 추이" if lang == "ko" else "Last hour")
        msg.add_alternative(html, subtype="html")
        if inline:
            html_part = msg.get_payload()[1]
            for cid, image in zip(cids, pngs, strict=True):
                html_part.add_related(image, "image", "png", cid=f"<{cid}>", filename=f"{cid.split('.')[0]}.png")
        else:
            for i, image in enumerate(pngs):
                msg.add_attachment(image, maintype="image", subtype="png", filename=f"chart{i + 1}.png")
        return msg

    async def send(self, delivery: Delivery) -> str:
        cfg = self.config
        assert isinstance(cfg, EmailConfig)
        if not delivery.address:
            raise DeliveryError("no e-mail address", permanent=True)
        msg = await self.build(delivery)
        try:
            await aiosmtplib.send(
                msg, hostname=cfg.host, port=cfg.port, timeout=cfg.timeout,
                use_tls=cfg.security == "tls", start_tls=True if cfg.security == "starttls" else False,
                username=cfg.username or None,
                password=cfg.password.get_secret_value() if cfg.password is not None else None,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"the SMTP server refused the recipient: {self.ctx.redact(str(exc))}",
                                permanent=True) from None
        except aiosmtplib.SMTPResponseException as exc:
            permanent = 500 <= exc.code < 600  # 4xx is the server asking to come back later
            raise DeliveryError(f"SMTP {cfg.host}:{cfg.port} answered {exc.code} {self.ctx.redact(exc.message)}",
                                permanent=permanent) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise DeliveryError(f"SMTP {cfg.host}:{cfg.port}: {exc.__class__.__name__}: "
                                f"{self.ctx.redact(str(exc))}") from None
        return f"SMTP {cfg.host}:{cfg.port}"
